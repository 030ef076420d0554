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
