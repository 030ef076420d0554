//! Login edge cases (design document): failures of the authorization server, its token
//! endpoint and its metadata, of the user's browser round trip, of configuration, TLS and
//! discovery; each asserts the precise outcome (error variant, status, number of
//! token-endpoint calls).

use std::time::Duration;

use auth_server::Fault;
use http_oauth2_client::{ClientError, OAuthConfig, OAuthConfigBuilder};
use shared::oauth::ErrorCode;
use tests::oauth::CLI;
use tests::*;

use super::{client_config, connect};

/// A stack whose AS injects `fault` at `endpoint` (`times`: `None` for always), and the
/// outcome of a headless login to it.
async fn login_with_fault(
    endpoint: &str,
    fault: Fault,
    times: Option<u32>,
) -> (Stack, Result<http_oauth2_client::OAuthSession, ClientError>) {
    let s = stack(|_| {}, |_| {}).await;
    s.auth.faults().set(endpoint, fault, times);
    let login = connect(client_config(s.mcp_url())).await;
    (s, login)
}

/// CL-05: the AS metadata cannot be fetched.
#[tokio::test]
async fn authorization_server_down_during_login_is_a_transport_error() {
    let s = stack(|_| {}, |_| {}).await;
    let url = s.mcp_url().to_owned();
    let Stack { auth, mcp: _mcp } = s;
    auth.shutdown().await;
    // The MCP server's PRM is found; fetching the AS metadata cannot connect.
    let err = connect(client_config(&url)).await.unwrap_err();
    assert!(err.is_connect(), "expected a connect failure, got {err:?}");
    let text = http_oauth2_client::error::report(&err);
    assert!(
        text.contains("/.well-known/oauth-authorization-server"),
        "{text}"
    );
}

/// CL-29, CL-33 (issue 11 item 12): a dropped connection at the token endpoint ends the
/// login: the code exchange is never repeated (a replayed code revokes the grant).
#[tokio::test]
async fn network_failure_at_the_token_endpoint_during_login_is_not_retried_cl33() {
    let (s, login) = login_with_fault("token", Fault::CloseConnection, Some(1)).await;
    let err = login.unwrap_err();
    assert!(matches!(err, ClientError::Transport { .. }), "{err:?}");
    assert_eq!(s.auth.hits("token"), 1, "the code went out once");
}

/// CL-29, CL-33 (issue 11 item 12): a 503 at the token endpoint ends the login, no retry.
#[tokio::test]
async fn token_endpoint_503_during_login_is_not_retried_cl33() {
    let (s, login) = login_with_fault("token", Fault::Status { status: 503 }, Some(2)).await;
    let err = login.unwrap_err();
    assert_eq!(
        err.status(),
        Some(reqwest::StatusCode::SERVICE_UNAVAILABLE),
        "{err:?}"
    );
    assert_eq!(s.auth.hits("token"), 1);
}

/// CL-29, CL-33 (issue 11 item 12): even a short `Retry-After` does not repeat the code
/// exchange; the error goes to the caller at once.
#[tokio::test]
async fn token_endpoint_429_with_a_short_retry_after_does_not_repeat_the_code_cl33() {
    let limited = Fault::RateLimited {
        retry_after_secs: 1,
    };
    let (s, login) = login_with_fault("token", limited, Some(1)).await;
    let err = login.unwrap_err();
    assert_eq!(
        err.status(),
        Some(reqwest::StatusCode::TOO_MANY_REQUESTS),
        "{err:?}"
    );
    assert_eq!(s.auth.hits("token"), 1, "one 429, no second attempt");
}

/// CL-29: a long `Retry-After` ends the login with the server's error, no retry.
#[tokio::test]
async fn token_endpoint_429_with_a_long_retry_after_is_not_hammered() {
    let limited = Fault::RateLimited {
        retry_after_secs: 120,
    };
    let (s, login) = login_with_fault("token", limited, None).await;
    let err = login.unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::TokenEndpoint {
                code: ErrorCode::TemporarilyUnavailable,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        s.auth.hits("token"),
        1,
        "a server that asked for 120 s gets no retry from the client"
    );
}

/// CL-34: an unparseable token response is a protocol error that does not echo the body.
#[tokio::test]
async fn malformed_token_response_is_a_typed_error_not_a_panic() {
    let (_stack, login) = login_with_fault("token", Fault::MalformedJson, None).await;
    let err = login.unwrap_err();
    match &err {
        ClientError::Protocol(m) => assert!(m.starts_with("malformed token response"), "{m}"),
        other => panic!("expected Protocol(malformed token response), got {other:?}"),
    }
    let text = err.to_string();
    assert!(
        !text.contains("<<not json"),
        "the raw body is not echoed: {text}"
    );
}

/// CL-05, CL-06: unparseable AS metadata is a discovery error.
#[tokio::test]
async fn malformed_authorization_server_metadata_is_a_discovery_error() {
    let (_stack, login) = login_with_fault("metadata", Fault::MalformedJson, None).await;
    let err = login.unwrap_err();
    assert!(matches!(err, ClientError::Discovery { .. }), "{err:?}");
}

/// CL-28: the loopback listener is open only for the flow and times out.
#[tokio::test]
async fn authorization_timeout_when_nobody_comes_back_to_the_loopback_listener() {
    let s = stack(|_| {}, |_| {}).await;
    let cfg = client_config(s.mcp_url())
        .login_mode(http_oauth2_client::LoginMode::InteractiveNoBrowser)
        .login_timeout(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let err = connect(cfg).await.unwrap_err();
    assert!(matches!(err, ClientError::Timeout { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// A login as `mcp-cli` with `adjust` applied to the config; its error and the stack.
async fn cli_login_error(
    adjust: impl FnOnce(OAuthConfigBuilder) -> OAuthConfigBuilder,
) -> (Stack, ClientError) {
    let s = stack(|_| {}, |_| {}).await;
    let cfg = adjust(client_config(s.mcp_url()).client_id(CLI));
    let err = connect(cfg).await.unwrap_err();
    (s, err)
}

/// AS-14, AS-17, CL-17: an unregistered redirect URI is refused without a redirect.
#[tokio::test]
async fn unregistered_redirect_uri_is_refused_by_the_as_and_reported() {
    // mcp-cli registered http://127.0.0.1/callback; this path differs, so the AS shows an
    // error page (400) instead of redirecting.
    let (s, err) = cli_login_error(|b| b.redirect_uri("http://127.0.0.1/elsewhere")).await;
    match err {
        ClientError::AuthorizationResponse(m) => assert!(m.contains("HTTP 400"), "{m}"),
        other => panic!("expected AuthorizationResponse, got {other:?}"),
    }
    assert_eq!(s.auth.hits("token"), 0, "no code, so no token request");
}

/// AS-25: an error redirect reaches the client as `AuthorizationDenied`.
#[tokio::test]
async fn denied_authorization_is_access_denied_at_the_client() {
    // The consent page is off in headless mode; a server-side denial comes back as an error
    // redirect. An unknown scope makes the AS refuse with invalid_scope.
    let (_stack, err) = cli_login_error(|b| b.scopes("admin:everything")).await;
    match err {
        ClientError::AuthorizationDenied { code, .. } => assert_eq!(code.as_str(), "invalid_scope"),
        other => panic!("{other:?}"),
    }
}

/// CL-08: bad URLs and plain http off loopback are refused at build time.
#[tokio::test]
async fn invalid_configuration_is_refused_before_any_network_call() {
    let e = OAuthConfig::builder("not a url").build().unwrap_err();
    assert!(e.to_string().to_lowercase().contains("url"), "{e}");
    let e = OAuthConfig::builder("http://mcp.example/mcp")
        .build()
        .unwrap_err();
    assert!(
        e.to_string().to_lowercase().contains("http"),
        "plain http off loopback: {e}"
    );
    assert!(
        OAuthConfig::builder("http://127.0.0.1:1/mcp")
            .allow_insecure_http()
            .build()
            .is_ok()
    );
}

/// CL-11: client credentials mode without a secret is a configuration error.
#[tokio::test]
async fn missing_client_credentials_for_client_credentials_mode_is_a_config_error() {
    let e = OAuthConfig::builder("http://127.0.0.1:1/mcp")
        .allow_insecure_http()
        .login_mode(http_oauth2_client::LoginMode::ClientCredentials)
        .build()
        .err();
    let e = match e {
        Some(e) => ClientError::from(e),
        None => connect(
            client_config("http://127.0.0.1:1/mcp")
                .login_mode(http_oauth2_client::LoginMode::ClientCredentials),
        )
        .await
        .unwrap_err(),
    };
    assert!(matches!(e, ClientError::Config(_)), "{e:?}");
}

/// AS-10: an untrusted certificate fails the TLS handshake; a configured CA fixes it.
#[tokio::test]
async fn tls_certificate_validation_failure_is_reported_clearly() {
    let pki = TestPki::generate();
    let listener = loopback_listener().await;
    let resource = format!("http://{}/mcp", listener.local_addr().unwrap());
    let auth = pki.https_auth_server(&[&resource]).await;
    let mut cfg = mcp_server::Config::new(auth.issuer(), &resource);
    cfg.resources_dir = Some(mcp_resources_dir());
    let _mcp = mcp_server::serve(listener, cfg).await.unwrap();
    // The client does not trust the throw-away CA.
    let err = connect(client_config(&resource)).await.unwrap_err();
    assert!(
        matches!(err, ClientError::Transport { .. }),
        "expected Transport (certificate), got {err:?}"
    );
    let text = http_oauth2_client::error::report(&err);
    assert!(text.contains("invalid peer certificate"), "{text}");
    assert_eq!(
        auth.hits("metadata"),
        0,
        "the TLS handshake failed before any request"
    );
    // Trusted through config, the same login succeeds over HTTPS.
    let trusted = client_config(&resource)
        .add_root_certificate_pem(pki.ca_pem.as_bytes())
        .expect("CA PEM");
    let session = connect(trusted)
        .await
        .expect("login over HTTPS with the configured CA");
    assert!(session.issuer().starts_with("https://"));
    assert!(
        OAuthConfig::builder(&resource)
            .add_root_certificate_pem(b"not a certificate")
            .is_err()
    );
}

/// CL-02: no `resource_metadata` and no PRM is a discovery error.
#[tokio::test]
async fn discovery_failure_when_the_server_publishes_no_metadata() {
    // A plain HTTP server that answers 401 without resource_metadata and has no PRM.
    let listener = loopback_listener().await;
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(|| async {
        (
            axum::http::StatusCode::UNAUTHORIZED,
            [("www-authenticate", "Bearer")],
            "",
        )
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let err = connect(client_config(&url)).await.unwrap_err();
    assert!(matches!(err, ClientError::Discovery { .. }), "{err:?}");
}

/// CL-03: PRM naming another resource is refused before any login.
#[tokio::test]
async fn resource_mismatch_in_protected_resource_metadata_is_refused() {
    // The MCP server claims to be another resource.
    let s = stack(|_| {}, |_| {}).await;
    let listener = loopback_listener().await;
    let addr = listener.local_addr().unwrap();
    let url = format!("http://{addr}/mcp");
    let mut cfg = mcp_server::Config::new(s.issuer(), &format!("http://{addr}/not-this-server"));
    cfg.resources_dir = Some(mcp_resources_dir());
    let _m = mcp_server::serve(listener, cfg).await.unwrap();
    let err = connect(client_config(&url)).await.unwrap_err();
    assert!(matches!(err, ClientError::Discovery { .. }), "{err:?}");
    assert_eq!(
        s.auth.hits("authorize"),
        0,
        "no login against a mismatching resource"
    );
}
