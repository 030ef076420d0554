//! The checklist's attack cases end to end, and the no-secrets-in-logs rule.

use serde_json::json;
use tests::mcp::{LEGACY, McpRequest, challenge, jsonrpc, status_and_code};
use tests::oauth::{CLI, SERVICE, introspect, revoke_request, token_request};
use tests::*;

#[tokio::test]
async fn auth_server_logs_never_contain_tokens_codes_verifiers_or_secrets() {
    let logs = LogCapture::default();
    let _guard = logs.install();
    let mut cfg = auth_server::Config::default();
    cfg.faults.enabled = true;
    // Issue 11's paths too: registration with an initial access token (item 1).
    cfg.registration_policy.initial_access_token = Some(shared::secret::ClientSecret::new(
        "initial-access-token-for-the-log-test".into(),
    ));
    let s = auth_server::serve(loopback_listener().await, cfg)
        .await
        .unwrap();
    let issuer = s.issuer().to_owned();
    let redirect = "http://127.0.0.1:41000/callback";
    let (v, c) = pkce();
    let code = authorize_code(&issuer, CLI, redirect, &c, &[]).await;
    let t = token_request(&issuer)
        .authorization_code(&code, v.secret())
        .client_id(CLI)
        .redirect_uri(redirect)
        .json()
        .await;
    let at = t["access_token"].as_str().unwrap().to_owned();
    let rt = t["refresh_token"].as_str().unwrap().to_owned();
    let t2 = token_request(&issuer)
        .refresh(&rt)
        .client_id(CLI)
        .json()
        .await;
    let rt2 = t2["refresh_token"].as_str().unwrap().to_owned();
    // Item 3: a replay inside the grace window gets the already-issued successor.
    let replay = token_request(&issuer)
        .refresh(&rt)
        .client_id(CLI)
        .json()
        .await;
    assert_eq!(
        replay["refresh_token"].as_str(),
        Some(rt2.as_str()),
        "{replay}"
    );
    let replay_at = replay["access_token"].as_str().unwrap().to_owned();
    // Item 1: a confidential registration with the initial access token, and one with a
    // wrong token.
    let registered: serde_json::Value = http()
        .post(format!("{issuer}/register"))
        .bearer_auth("initial-access-token-for-the-log-test")
        .json(&json!({
            "redirect_uris": ["http://127.0.0.1:41000/callback"],
            "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": "client_secret_basic",
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let issued_secret = registered["client_secret"]
        .as_str()
        .expect("a secret")
        .to_owned();
    let wrong = http()
        .post(format!("{issuer}/register"))
        .bearer_auth("wrong-initial-access-token-value")
        .json(
            &json!({"redirect_uris": ["http://127.0.0.1:41000/callback"],
            "token_endpoint_auth_method": "client_secret_basic"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    // Item 15: an authenticated revocation by a confidential client.
    let svc_at = token_request(&issuer)
        .service_credentials()
        .access_token()
        .await;
    revoke_request(&issuer, &svc_at)
        .basic(SERVICE.0, SERVICE.1)
        .send()
        .await;
    // Failures log their reasons too: replayed code, reused refresh token, wrong secret.
    for req in [
        token_request(&issuer)
            .authorization_code(&code, v.secret())
            .client_id(CLI),
        token_request(&issuer)
            .grant("client_credentials")
            .client_id(SERVICE.0)
            .param("client_secret", "wrong-secret-value"),
    ] {
        req.send().await;
    }
    introspect(&issuer, &at).await;
    revoke_request(&issuer, &rt2).client_id(CLI).send().await;
    let text = logs.text();
    // The capture saw every path this test drives.
    for event in [
        "token issued",
        "client registered",
        "access token revoked",
        "within the grace",
    ] {
        assert!(text.contains(event), "no {event:?} in the capture: {text}");
    }
    for (what, secret) in [
        ("access token", at.as_str()),
        ("refresh token", rt.as_str()),
        ("rotated refresh token", rt2.as_str()),
        ("authorization code", code.as_str()),
        ("PKCE verifier", v.secret()),
        ("client secret", "dev-mcp-server-secret"),
        ("wrong client secret", "wrong-secret-value"),
        ("access token of a grace-window replay", replay_at.as_str()),
        (
            "initial access token",
            "initial-access-token-for-the-log-test",
        ),
        (
            "wrong initial access token",
            "wrong-initial-access-token-value",
        ),
        ("issued client secret", issued_secret.as_str()),
        ("revoked service access token", svc_at.as_str()),
        ("service client secret", SERVICE.1),
    ] {
        assert!(!text.contains(secret), "{what} leaked into the logs");
    }
    // The Basic credentials as sent on the wire.
    assert!(!text.contains("bWNwLXNlcnZlcjpkZXYtbWNwLXNlcnZlci1zZWNyZXQ"));
}

fn ping() -> serde_json::Value {
    jsonrpc::initialize(LEGACY)
}

/// The status of `initialize` at `url` with `token`.
async fn initialize_status(url: &str, token: &str) -> u16 {
    mcp_post(url, Some(token), ping()).await.status().as_u16()
}

/// A client-credentials token of the service client for `resource`.
async fn service_token_for(issuer: &str, resource: &str) -> String {
    token_request(issuer)
        .service_credentials()
        .resource(resource)
        .access_token()
        .await
}

#[tokio::test]
async fn token_for_another_resource_is_refused_rs13_as48() {
    let other = "http://127.0.0.1:9/other-mcp";
    let s = stack(|c| c.resources.push(other.to_owned()), |_| {}).await;
    let t = service_token_for(s.issuer(), other).await;
    let res = mcp_post(s.mcp_url(), Some(&t), ping()).await;
    assert_eq!(res.status(), 401);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\"")
    );
    // The same client's token for this resource works (with two resources, naming it is required).
    let good = service_token_for(s.issuer(), s.mcp_url()).await;
    assert_eq!(initialize_status(s.mcp_url(), &good).await, 200);
}

#[tokio::test]
async fn token_from_another_authorization_server_is_refused_rs16() {
    let s = stack(|_| {}, |_| {}).await;
    // A second, unrelated AS that also accepts this resource.
    let rogue = auth_server(|c| c.resources = vec![s.mcp_url().to_owned()]).await;
    let t = service_token(rogue.issuer(), "mcp").await;
    assert_eq!(initialize_status(s.mcp_url(), &t).await, 401);
}

#[tokio::test]
async fn revoked_token_stops_working_in_introspection_mode_as53_rs12() {
    let s = stack(
        |_| {},
        |c| {
            c.introspection = Some(mcp_server::config::IntrospectionSettings::new(
                "mcp-server",
                "dev-mcp-server-secret",
            ));
            if let Some(i) = c.introspection.as_mut() {
                i.cache_ttl_secs = 0;
            }
        },
    )
    .await;
    let issuer = s.issuer().to_owned();
    let t = service_token(&issuer, "mcp").await;
    assert_eq!(initialize_status(s.mcp_url(), &t).await, 200);
    let res = revoke_request(&issuer, &t)
        .basic(SERVICE.0, SERVICE.1)
        .send()
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(initialize_status(s.mcp_url(), &t).await, 401);
}

#[tokio::test]
async fn key_rotation_at_the_as_is_followed_and_old_tokens_keep_working_as51_rs14() {
    let s = stack(|_| {}, |_| {}).await;
    let old = service_token(s.issuer(), "mcp").await;
    assert_eq!(initialize_status(s.mcp_url(), &old).await, 200);
    let fetches = s.mcp.jwks_fetch_count();
    s.auth.faults().rotate_keys().expect("rotation");
    let new = service_token(s.issuer(), "mcp").await;
    assert_ne!(
        jsonwebtoken::decode_header(&old).unwrap().kid,
        jsonwebtoken::decode_header(&new).unwrap().kid
    );
    // The unknown kid triggers one refetch; the retired key stays published.
    assert_eq!(initialize_status(s.mcp_url(), &new).await, 200);
    assert_eq!(s.mcp.jwks_fetch_count(), fetches + 1);
    assert_eq!(initialize_status(s.mcp_url(), &old).await, 200);
}

#[tokio::test]
async fn mcp_server_keeps_validating_with_cached_keys_when_the_as_is_down() {
    let s = stack(|_| {}, |_| {}).await;
    let t1 = service_token(s.issuer(), "mcp").await;
    let t2 = service_token(s.issuer(), "mcp:tools:read").await;
    assert_eq!(initialize_status(s.mcp_url(), &t1).await, 200);
    let Stack { auth, mcp } = s;
    auth.shutdown().await;
    // t2 was never seen by the MCP server: it is verified with the cached JWKS.
    assert_eq!(initialize_status(mcp.resource_url(), &t2).await, 200);
    assert_eq!(initialize_status(mcp.resource_url(), &t1).await, 200);
}

#[tokio::test]
async fn transport_attacks_are_refused_rs10_tr03() {
    let s = stack(|_| {}, |_| {}).await;
    let t = service_token(s.issuer(), "mcp").await;
    let post = |url: &str| McpRequest::post(&http(), url);
    // Token in the query string: a malformed request (RS-10, RS-09).
    let in_query = format!("{}?access_token={t}", s.mcp_url());
    assert_eq!(post(&in_query).json(&ping()).await.status(), 400);
    // A foreign Origin (DNS rebinding), a foreign Host.
    for (header, value) in [("origin", "https://evil.example"), ("host", "evil.example")] {
        let res = post(s.mcp_url())
            .token(&t)
            .header(header, value)
            .json(&ping())
            .await;
        assert_eq!(res.status(), 403, "{header}: {value}");
    }
    // Oversized body.
    let big = jsonrpc::request(
        1,
        "tools/call",
        json!({"name": "echo", "arguments": {"message": "x".repeat(2 * 1024 * 1024)}}),
    );
    assert_eq!(mcp_post(s.mcp_url(), Some(&t), big).await.status(), 413);
    // Malformed JSON.
    let res = post(s.mcp_url()).token(&t).body("{not json").await;
    assert_eq!(status_and_code(res).await, (400, -32700));
}

/// Session `sid` of the real MCP server with the service token `t`.
fn in_session(s: &Stack, t: &str, sid: &str) -> McpRequest {
    McpRequest::post(&http(), s.mcp_url())
        .token(t)
        .session(sid)
        .version(LEGACY)
        .id(2)
}

#[tokio::test]
async fn path_traversal_in_resources_is_impossible_pr34() {
    let s = stack(|_| {}, |_| {}).await;
    let t = service_token(s.issuer(), "mcp").await;
    let sid = mcp_initialize(s.mcp_url(), &t).await;
    for uri in [
        "file:///../Cargo.toml",
        "file:///%2e%2e/%2e%2e/Cargo.toml",
        "file:////etc/passwd",
        "file:///..%2fCargo.toml",
    ] {
        let res = in_session(&s, &t, &sid)
            .rpc("resources/read", json!({ "uri": uri }))
            .await;
        let body: serde_json::Value = res.json().await.unwrap();
        assert!(body.get("error").is_some(), "{uri}: {body}");
        assert!(
            !body.to_string().contains("[workspace]"),
            "{uri} leaked a file"
        );
    }
}

#[tokio::test]
async fn insufficient_scope_gets_403_with_the_needed_scope_rs07() {
    let s = stack(|_| {}, |_| {}).await;
    let t = service_token(s.issuer(), "mcp:tools:read").await;
    let sid = mcp_initialize(s.mcp_url(), &t).await;
    let echo = json!({"name": "echo", "arguments": {"message": "x"}});
    let res = in_session(&s, &t, &sid).rpc("tools/call", echo).await;
    assert_eq!(res.status(), 403);
    let c = challenge(&res);
    assert!(c.contains("error=\"insufficient_scope\""), "{c}");
    assert!(c.contains("mcp:tools:call"), "{c}");
    assert!(c.contains("resource_metadata="), "{c}");
}
