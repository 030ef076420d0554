//! The checklist's attack cases end to end, and the no-secrets-in-logs rule.

use tests::*;

#[tokio::test]
async fn auth_server_logs_never_contain_tokens_codes_verifiers_or_secrets() {
    let logs = LogCapture::default();
    let _guard = logs.install();
    let mut cfg = auth_server::Config::default();
    cfg.faults.enabled = true;
    let s = auth_server::serve(loopback_listener().await, cfg)
        .await
        .unwrap();
    let issuer = s.issuer().to_owned();
    let redirect = "http://127.0.0.1:41000/callback";
    let (v, c) = pkce();
    let code = authorize_code(&issuer, "mcp-cli", redirect, &c, &[]).await;
    let t: serde_json::Value = http()
        .post(format!("{issuer}/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("code_verifier", v.secret()),
            ("client_id", "mcp-cli"),
            ("redirect_uri", redirect),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let at = t["access_token"].as_str().unwrap().to_owned();
    let rt = t["refresh_token"].as_str().unwrap().to_owned();
    let t2: serde_json::Value = http()
        .post(format!("{issuer}/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt.as_str()),
            ("client_id", "mcp-cli"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rt2 = t2["refresh_token"].as_str().unwrap().to_owned();
    // Failures log their reasons too: replayed code, reused refresh token, wrong secret.
    for body in [
        vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("code_verifier", v.secret()),
            ("client_id", "mcp-cli"),
        ],
        vec![
            ("grant_type", "client_credentials"),
            ("client_id", "mcp-service"),
            ("client_secret", "wrong-secret-value"),
        ],
    ] {
        let _ = http()
            .post(format!("{issuer}/token"))
            .form(&body)
            .send()
            .await
            .unwrap();
    }
    let _ = http()
        .post(format!("{issuer}/introspect"))
        .basic_auth("mcp-server", Some("dev-mcp-server-secret"))
        .form(&[("token", at.as_str())])
        .send()
        .await
        .unwrap();
    let _ = http()
        .post(format!("{issuer}/revoke"))
        .form(&[("token", rt2.as_str()), ("client_id", "mcp-cli")])
        .send()
        .await
        .unwrap();
    let text = logs.text();
    assert!(text.contains("token issued"), "the capture works: {text}");
    for (what, secret) in [
        ("access token", at.as_str()),
        ("refresh token", rt.as_str()),
        ("rotated refresh token", rt2.as_str()),
        ("authorization code", code.as_str()),
        ("PKCE verifier", v.secret()),
        ("client secret", "dev-mcp-server-secret"),
        ("wrong client secret", "wrong-secret-value"),
    ] {
        assert!(!text.contains(secret), "{what} leaked into the logs");
    }
    // The Basic credentials as sent on the wire.
    assert!(!text.contains("bWNwLXNlcnZlcjpkZXYtbWNwLXNlcnZlci1zZWNyZXQ"));
}

fn ping() -> serde_json::Value {
    serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})
}

#[tokio::test]
async fn token_for_another_resource_is_refused_rs13_as48() {
    let other = "http://127.0.0.1:9/other-mcp";
    let s = stack(|c| c.resources.push(other.to_owned()), |_| {}).await;
    let t: serde_json::Value = http()
        .post(format!("{}/token", s.issuer()))
        .basic_auth("mcp-service", Some("dev-service-secret"))
        .form(&[("grant_type", "client_credentials"), ("resource", other)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let res = mcp_post(s.mcp_url(), t["access_token"].as_str(), ping()).await;
    assert_eq!(res.status(), 401);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\"")
    );
    // The same client's token for this resource works (with two resources, naming it is required).
    let good: serde_json::Value = http()
        .post(format!("{}/token", s.issuer()))
        .basic_auth("mcp-service", Some("dev-service-secret"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("resource", s.mcp_url()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        mcp_post(s.mcp_url(), good["access_token"].as_str(), ping())
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn token_from_another_authorization_server_is_refused_rs16() {
    let s = stack(|_| {}, |_| {}).await;
    // A second, unrelated AS that also accepts this resource.
    let rogue = auth_server(|c| c.resources = vec![s.mcp_url().to_owned()]).await;
    let t = service_token(rogue.issuer(), "mcp").await;
    let res = mcp_post(s.mcp_url(), Some(&t), ping()).await;
    assert_eq!(res.status(), 401);
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
    assert_eq!(mcp_post(s.mcp_url(), Some(&t), ping()).await.status(), 200);
    let res = http()
        .post(format!("{issuer}/revoke"))
        .basic_auth("mcp-service", Some("dev-service-secret"))
        .form(&[("token", t.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = mcp_post(s.mcp_url(), Some(&t), ping()).await;
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn key_rotation_at_the_as_is_followed_and_old_tokens_keep_working_as51_rs14() {
    let s = stack(|_| {}, |_| {}).await;
    let old = service_token(s.issuer(), "mcp").await;
    assert_eq!(
        mcp_post(s.mcp_url(), Some(&old), ping()).await.status(),
        200
    );
    let fetches = s.mcp.jwks_fetch_count();
    s.auth.faults().rotate_keys().expect("rotation");
    let new = service_token(s.issuer(), "mcp").await;
    assert_ne!(
        jsonwebtoken::decode_header(&old).unwrap().kid,
        jsonwebtoken::decode_header(&new).unwrap().kid
    );
    // The unknown kid triggers one refetch; the retired key stays published.
    assert_eq!(
        mcp_post(s.mcp_url(), Some(&new), ping()).await.status(),
        200
    );
    assert_eq!(s.mcp.jwks_fetch_count(), fetches + 1);
    assert_eq!(
        mcp_post(s.mcp_url(), Some(&old), ping()).await.status(),
        200
    );
}

#[tokio::test]
async fn mcp_server_keeps_validating_with_cached_keys_when_the_as_is_down() {
    let s = stack(|_| {}, |_| {}).await;
    let t1 = service_token(s.issuer(), "mcp").await;
    let t2 = service_token(s.issuer(), "mcp:tools:read").await;
    assert_eq!(mcp_post(s.mcp_url(), Some(&t1), ping()).await.status(), 200);
    let Stack { auth, mcp } = s;
    auth.shutdown().await;
    // t2 was never seen by the MCP server: it is verified with the cached JWKS.
    assert_eq!(
        mcp_post(mcp.resource_url(), Some(&t2), ping())
            .await
            .status(),
        200
    );
    assert_eq!(
        mcp_post(mcp.resource_url(), Some(&t1), ping())
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn transport_attacks_are_refused_rs10_tr03() {
    let s = stack(|_| {}, |_| {}).await;
    let t = service_token(s.issuer(), "mcp").await;
    // Token in the query string.
    let res = http()
        .post(format!("{}?access_token={t}", s.mcp_url()))
        .header("content-type", "application/json")
        .body(ping().to_string())
        .send()
        .await
        .unwrap();
    assert!(
        matches!(res.status().as_u16(), 400 | 401),
        "{}",
        res.status()
    );
    // A foreign Origin (DNS rebinding).
    let res = http()
        .post(s.mcp_url())
        .bearer_auth(&t)
        .header("origin", "https://evil.example")
        .header("content-type", "application/json")
        .body(ping().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // A foreign Host.
    let res = http()
        .post(s.mcp_url())
        .bearer_auth(&t)
        .header("host", "evil.example")
        .header("content-type", "application/json")
        .body(ping().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // Oversized body.
    let big = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "echo", "arguments": {"message": "x".repeat(2 * 1024 * 1024)}}});
    let res = mcp_post(s.mcp_url(), Some(&t), big).await;
    assert_eq!(res.status(), 413);
    // Malformed JSON.
    let res = http()
        .post(s.mcp_url())
        .bearer_auth(&t)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32700);
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
        let res = http()
            .post(s.mcp_url())
            .bearer_auth(&t)
            .header("mcp-session-id", &sid)
            .header("mcp-protocol-version", "2025-11-25")
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(serde_json::json!({"jsonrpc": "2.0", "id": 2, "method": "resources/read", "params": {"uri": uri}}).to_string())
            .send()
            .await
            .unwrap();
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
    let res = http()
        .post(s.mcp_url())
        .bearer_auth(&t)
        .header("mcp-session-id", &sid)
        .header("mcp-protocol-version", "2025-11-25")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(serde_json::json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "echo", "arguments": {"message": "x"}}}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let c = res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(c.contains("error=\"insufficient_scope\""), "{c}");
    assert!(c.contains("mcp:tools:call"), "{c}");
    assert!(c.contains("resource_metadata="), "{c}");
}
