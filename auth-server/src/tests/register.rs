//! `POST /register` (RFC 7591) validation.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};

use super::{Reply, Server};

async fn register(s: &Server, content_type: &str, body: &str) -> Reply {
    s.send(
        Request::builder()
            .method(Method::POST)
            .uri("/register")
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body.to_owned()))
            .unwrap(),
    )
    .await
}

/// A successful registration: 201, `no-store`, the JSON body.
async fn registered(s: &Server, body: &str) -> serde_json::Value {
    register(s, "application/json", body)
        .await
        .assert_no_store_json(StatusCode::CREATED)
}

#[tokio::test]
async fn registration_validates_content_type_and_metadata() {
    let s = Server::new();
    let json = "application/json";
    register(&s, "text/plain", "{}").await.assert_oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_client_metadata",
        "content type must be application/json",
    );
    register(&s, json, "not json").await.assert_oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_client_metadata",
        "body is not valid JSON",
    );
    register(&s, json, r#"{"client_name":"x"}"#)
        .await
        .assert_oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_redirect_uri",
            "redirect_uris is required",
        );
    register(&s, json, r#"{"redirect_uris":["http://evil.example/cb"]}"#)
        .await
        .assert_oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_redirect_uri",
            "redirect URI http is allowed only for loopback hosts",
        );
    register(
        &s,
        json,
        r#"{"redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"private_key_jwt"}"#,
    )
    .await
    .assert_oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_client_metadata",
        "unsupported token_endpoint_auth_method private_key_jwt",
    );
    register(
        &s,
        json,
        r#"{"grant_types":["client_credentials"],"token_endpoint_auth_method":"none"}"#,
    )
    .await
    .assert_oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_client_metadata",
        "client_credentials needs a confidential client",
    );
}

#[tokio::test]
async fn a_public_native_client_is_registered_with_method_none() {
    let s = Server::new();
    let reg = registered(
        &s,
        r#"{"redirect_uris":["http://127.0.0.1/cb"],"client_name":"demo"}"#,
    )
    .await;
    assert_eq!(
        [
            &reg["token_endpoint_auth_method"],
            &reg["application_type"],
            &reg["client_name"]
        ],
        ["none", "native", "demo"]
    );
    assert!(reg.get("client_secret").is_none());
    assert!(
        s.state
            .store
            .client(reg["client_id"].as_str().unwrap())
            .is_some()
    );
}

#[tokio::test]
async fn a_confidential_client_gets_a_secret_that_never_expires() {
    let s = Server::new();
    let reg = registered(
        &s,
        r#"{"redirect_uris":["https://app.example/cb"],"token_endpoint_auth_method":"client_secret_post"}"#,
    )
    .await;
    assert_eq!(
        [&reg["token_endpoint_auth_method"], &reg["application_type"]],
        ["client_secret_post", "web"]
    );
    assert_eq!(reg["client_secret"].as_str().unwrap().len(), 43);
    assert_eq!(reg["client_secret_expires_at"], 0);
}

#[tokio::test]
async fn registration_can_be_disabled() {
    let s = Server::with(|c| c.registration_enabled = false);
    register(&s, "application/json", "{}")
        .await
        .assert_oauth_error(
            StatusCode::FORBIDDEN,
            "invalid_request",
            "dynamic registration is disabled",
        );
}
