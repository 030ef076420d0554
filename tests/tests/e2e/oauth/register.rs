//! `POST /register` (RFC 7591): validation (AS-63, AS-65, AS-66, AS-67) and rate limiting.

use serde_json::{Value, json};
use tests::{auth_server, http};

#[tokio::test]
async fn registration_rules_as63_as65_as66_as67() {
    let s = auth_server(|_| {}).await;
    let url = format!("{}/register", s.issuer());
    let register = |body: Value| http().post(&url).json(&body).send();
    let bad: Vec<(Value, &str)> = vec![
        (
            json!({"redirect_uris": ["http://evil.example/cb"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["https://app.example/cb#x"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["http://127.0.0.1/cb"], "application_type": "web"}),
            "invalid_redirect_uri",
        ),
        (json!({}), "invalid_redirect_uri"),
        (
            json!({"redirect_uris": "https://app.example/cb"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://app.example/cb"], "token_endpoint_auth_method": "private_key_jwt"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://app.example/cb"], "jwks": {}, "jwks_uri": "https://app.example/jwks"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://app.example/cb"], "client_name": "x".repeat(500)}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": vec!["https://app.example/cb"; 11]}),
            "invalid_redirect_uri",
        ),
    ];
    for (body, code) in bad {
        let res = register(body.clone()).await.unwrap();
        assert_eq!(res.status(), 400, "{body}");
        assert_eq!(res.json::<Value>().await.unwrap()["error"], code, "{body}");
    }
    let res = http()
        .post(&url)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_client_metadata"
    );
    // Issue 11: an anonymous confidential registration is refused by the registration policy
    // (it used to return a secret); the AS chooses the client_id (AS-67).
    let res = register(json!({
        "redirect_uris": ["https://app.example/cb"], "token_endpoint_auth_method": "client_secret_post"}))
    .await
    .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_client_metadata"
    );
    let res = register(json!({
        "redirect_uris": ["https://app.example/cb"], "client_id": "i-choose-my-id"}))
    .await
    .unwrap();
    assert_eq!(res.status(), 201);
    let reg: Value = res.json().await.unwrap();
    assert_ne!(reg["client_id"], "i-choose-my-id");
    assert!(reg.get("client_secret").is_none());
    assert_eq!(reg["application_type"], "web");
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let s = auth_server(|c| c.rate_limits.register_per_minute = 2).await;
    let url = format!("{}/register", s.issuer());
    let body = json!({"redirect_uris": ["http://127.0.0.1/cb"]});
    let register = || http().post(&url).json(&body).send();
    for _ in 0..2 {
        assert_eq!(register().await.unwrap().status(), 201);
    }
    let res = register().await.unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.headers().get("retry-after").is_some());
}
