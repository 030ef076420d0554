//! Edge cases after login (design document): expiry and refresh, single-flight refresh,
//! revoked grants and tokens, token storage across restarts, timeouts, an MCP server that
//! refuses every token, and outages of the authorization server.

use std::sync::Arc;
use std::time::Duration;

use auth_server::Fault;
use http_oauth2_client::{ClientError, FileTokenStore, McpClient};
use serde_json::json;
use shared::clock::TestClock;
use shared::oauth::ErrorCode;
use tests::mcp::{LEGACY, challenge, jsonrpc};
use tests::*;

use super::{client_config, connect, echo, logged_in, mcp_for};

/// CL-33: an expired access token is refreshed once before the call.
#[tokio::test]
async fn expired_access_token_is_refreshed_automatically_before_the_mcp_call() {
    let s = stack(|_| {}, |_| {}).await;
    let c = logged_in(&s).await;
    echo(&c.mcp).await.unwrap();
    let before = s.auth.hits("token");
    c.clock.advance(Duration::from_secs(301));
    echo(&c.mcp).await.unwrap();
    assert_eq!(s.auth.hits("token"), before + 1, "exactly one refresh");
}

/// CL-33, P-12: 100 concurrent callers, one refresh.
#[tokio::test]
async fn concurrent_callers_with_an_expired_token_cause_exactly_one_refresh_cl() {
    let s = stack(|_| {}, |_| {}).await;
    let c = logged_in(&s).await;
    let mcp = Arc::new(c.mcp);
    echo(&mcp).await.unwrap();
    let before = s.auth.hits("token");
    c.clock.advance(Duration::from_secs(400));
    let barrier = Arc::new(tokio::sync::Barrier::new(100));
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (mcp, barrier) = (mcp.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            echo(&mcp).await
        }));
    }
    for t in tasks {
        t.await.unwrap().expect("every caller succeeds");
    }
    assert_eq!(s.auth.hits("token"), before + 1, "single-flight refresh");
}

/// CL-34: a revoked grant (`invalid_grant` on refresh) leads to a new login.
#[tokio::test]
async fn refresh_failure_with_invalid_grant_falls_back_to_login() {
    let s = stack(|_| {}, |_| {}).await;
    let c = logged_in(&s).await;
    // Revoke the grant at the AS: the next refresh gets invalid_grant.
    let rt = c.tokens().refresh_token.clone().unwrap();
    c.revoke(&s, rt.secret()).await;
    let authorizations = s.auth.hits("authorize");
    c.clock.advance(Duration::from_secs(400));
    // A headless session logs in again by itself: one new authorization, the call succeeds.
    echo(&c.mcp)
        .await
        .expect("the call succeeds after a new headless login");
    assert_eq!(s.auth.hits("authorize"), authorizations + 1);
}

/// CL-32: an unreadable token file means a fresh login.
#[tokio::test]
async fn corrupted_token_storage_gives_a_fresh_login_not_a_crash() {
    let s = stack(|_| {}, |_| {}).await;
    let dir = TempDir::new("store");
    let (path, key) = (dir.join("tokens.jwe"), dir.join("tokens.key"));
    std::fs::write(&path, b"this is not a JWE \x00\xff").unwrap();
    let store = FileTokenStore::with_key_file(&path, &key).expect("a corrupted file is not fatal");
    let session = connect(client_config(s.mcp_url()).with_token_store(Arc::new(store)))
        .await
        .expect("fresh login");
    assert!(session.token_manager().tokens().is_some());
    assert_eq!(s.auth.hits("authorize"), 1);
}

/// CL-32: tokens are stored encrypted with 0600 files and refreshed after a restart.
#[tokio::test]
async fn stored_tokens_survive_a_restart_and_refresh_works_after_it() {
    let s = stack(|_| {}, |_| {}).await;
    let dir = TempDir::new("store");
    let (path, key) = (dir.join("tokens.jwe"), dir.join("tokens.key"));
    let store = || Arc::new(FileTokenStore::with_key_file(&path, &key).unwrap());
    let cli = || client_config(s.mcp_url()).client_id("mcp-cli");
    connect(cli().with_token_store(store())).await.unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let raw = std::fs::read_to_string(&path).unwrap();
    assert!(
        !raw.contains("eyJhbGciOiJFUzI1NiI"),
        "the store is encrypted at rest"
    );
    let clock = TestClock::starting_now();
    clock.advance(Duration::from_secs(400));
    let restarted = cli().with_clock(Arc::new(clock)).with_token_store(store());
    let session = connect(restarted).await.unwrap();
    assert_eq!(
        s.auth.hits("authorize"),
        1,
        "no second login after the restart"
    );
    let mcp = mcp_for(&session).await;
    echo(&mcp).await.unwrap();
    assert!(
        s.auth.hits("token") >= 2,
        "the restored, expired token was refreshed"
    );
}

/// CL-34, RS-13: a 401 for a revoked token leads to one refresh and one retry.
#[tokio::test]
async fn revoked_access_token_is_replaced_after_a_401() {
    let s = stack(
        |_| {},
        |c| {
            let mut i = mcp_server::config::IntrospectionSettings::new(
                "mcp-server",
                "dev-mcp-server-secret",
            );
            i.cache_ttl_secs = 0;
            c.introspection = Some(i);
        },
    )
    .await;
    let c = logged_in(&s).await;
    echo(&c.mcp).await.unwrap();
    c.revoke(&s, c.tokens().access_token.secret()).await;
    let before = s.auth.hits("token");
    echo(&c.mcp).await.expect("401 -> refresh -> one retry");
    assert_eq!(s.auth.hits("token"), before + 1);
}

/// PR-42: a protected call slower than the client's timeout ends in `ClientError::Timeout`.
#[tokio::test]
async fn timeouts_on_protected_calls_are_typed_errors() {
    let s = stack(|_| {}, |_| {}).await;
    let session = connect(client_config(s.mcp_url())).await.unwrap();
    let mcp = McpClient::connect_with_timeout(
        session.client(),
        session.server_url().clone(),
        Duration::from_millis(300),
    )
    .await
    .unwrap();
    let started = std::time::Instant::now();
    let err = mcp
        .call_tool("slow_task", json!({"steps": 5, "delay_ms": 200}), None)
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Timeout { .. }), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

/// CL-34, RS-13: the MCP server names our AS (so discovery and login succeed there) but
/// takes its keys from another AS's JWKS, so it refuses every token with 401
/// `invalid_token`. The client refreshes once, retries once, and reports
/// `AuthorizationRequired`; no loop.
#[tokio::test]
async fn mcp_server_rejecting_the_token_ends_in_authorization_required_without_a_loop() {
    let rogue = auth_server(|_| {}).await;
    let rogue_jwks = format!("{}/jwks", rogue.issuer());
    let s = stack(|_| {}, |c| c.jwks_url = Some(rogue_jwks)).await;
    let session = connect(client_config(s.mcp_url()))
        .await
        .expect("discovery and login at the MCP server's own AS");
    let token = session
        .token_manager()
        .tokens()
        .unwrap()
        .access_token
        .clone();
    // The premise: the MCP server itself refuses this token.
    let res = mcp_post(
        s.mcp_url(),
        Some(token.secret()),
        jsonrpc::initialize(LEGACY),
    )
    .await;
    assert_eq!(res.status(), 401);
    assert!(challenge(&res).contains("error=\"invalid_token\""));
    let (logins, token_calls) = (s.auth.hits("authorize"), s.auth.hits("token"));
    let err = McpClient::connect(session.client(), session.server_url().clone())
        .await
        .unwrap_err();
    assert!(err.is_authorization_required(), "{err:?}");
    assert_eq!(
        s.auth.hits("token"),
        token_calls + 1,
        "one refresh, then no loop"
    );
    assert_eq!(s.auth.hits("authorize"), logins, "no new login");
}

/// RS-14: the MCP server keeps verifying with cached keys while the AS is down.
#[tokio::test]
async fn graceful_degradation_when_the_as_is_down_valid_tokens_keep_working() {
    let s = stack(|_| {}, |_| {}).await;
    let c = logged_in(&s).await;
    echo(&c.mcp).await.unwrap();
    let Stack { auth, mcp: _server } = s;
    auth.shutdown().await;
    echo(&c.mcp)
        .await
        .expect("MCP keeps working with cached keys and a fresh token");
}

/// CL-34: a token-endpoint error during a refresh reaches the MCP caller as
/// `ClientError::TokenEndpoint` with the server's code and description.
#[tokio::test]
async fn oauth_errors_propagate_to_the_mcp_layer_as_typed_errors() {
    let s = stack(|_| {}, |_| {}).await;
    let c = logged_in(&s).await;
    c.clock.advance(Duration::from_secs(400));
    s.auth
        .faults()
        .set("token", Fault::Status { status: 500 }, None);
    let err = echo(&c.mcp).await.unwrap_err();
    match err {
        ClientError::TokenEndpoint {
            status,
            code,
            description,
        } => {
            assert_eq!(status, 500);
            assert_eq!(code, ErrorCode::ServerError);
            assert_eq!(description.as_deref(), Some("injected fault"));
        }
        other => panic!("expected TokenEndpoint(server_error), got {other:?}"),
    }
}

/// RS-14: the MCP server cannot verify anything: it answers 503 (its problem, not the
/// token's), so clients do not throw away good tokens or loop on re-authorization.
#[tokio::test]
async fn malformed_jwks_makes_the_mcp_server_answer_503_not_accept() {
    let s = stack(|_| {}, |_| {}).await;
    s.auth.faults().set("jwks", Fault::MalformedJson, None);
    let token = service_token(s.issuer(), "mcp").await;
    let res = mcp_post(s.mcp_url(), Some(&token), jsonrpc::initialize(LEGACY)).await;
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(body.get("result").is_none(), "{body}");
}

/// A non-JSON-RPC error answer from the MCP server (its auth layer's 503 when the
/// authorization server's keys cannot be read) reaches the program as what it is: the HTTP
/// status with the challenge's error and description, not "MCP error 0: unknown error".
#[tokio::test]
async fn mcp_server_503_reaches_the_client_as_http_status_with_the_challenge_error() {
    let s = stack(|_| {}, |_| {}).await;
    let session = oauth_session(&s).await;
    s.auth.faults().set("jwks", Fault::MalformedJson, None);
    let err = McpClient::connect(session.client(), session.server_url().clone())
        .await
        .unwrap_err();
    match &err {
        ClientError::HttpStatus {
            status,
            error,
            description,
            ..
        } => {
            assert_eq!(*status, 503);
            assert_eq!(error.as_deref(), Some("temporarily_unavailable"));
            assert_eq!(
                description.as_deref(),
                Some("authorization server keys unavailable")
            );
        }
        other => panic!("expected HttpStatus 503, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "HTTP 503 Service Unavailable from the MCP server: temporarily_unavailable (authorization server keys unavailable)"
    );
}
