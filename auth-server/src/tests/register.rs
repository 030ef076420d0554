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
        "private_key_jwt needs jwks (the client's public keys)",
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
            .await
            .unwrap()
            .is_some()
    );
}

const IAT: &str = "initial-access-token-for-tests";

async fn register_with_token(s: &Server, token: &str, body: &str) -> Reply {
    s.send(
        Request::builder()
            .method(Method::POST)
            .uri("/register")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::from(body.to_owned()))
            .unwrap(),
    )
    .await
}

fn with_initial_access_token(c: &mut crate::Config) {
    c.registration_policy.initial_access_token =
        Some(shared::secret::ClientSecret::new(IAT.into()));
}

/// With the initial access token (RFC 7591 §3) a confidential client may be registered.
#[tokio::test]
async fn a_confidential_client_gets_a_secret_that_never_expires() {
    let s = Server::with(with_initial_access_token);
    let reg = register_with_token(
        &s,
        IAT,
        r#"{"redirect_uris":["https://app.example/cb"],"token_endpoint_auth_method":"client_secret_post"}"#,
    )
    .await
    .assert_no_store_json(StatusCode::CREATED);
    assert_eq!(
        [&reg["token_endpoint_auth_method"], &reg["application_type"]],
        ["client_secret_post", "web"]
    );
    assert_eq!(reg["client_secret"].as_str().unwrap().len(), 43);
    assert_eq!(reg["client_secret_expires_at"], 0);
}

/// Issue 11 item 1: the initial access token unlocks `client_credentials`; a wrong one is
/// 401 `invalid_token` with a Bearer challenge; it can also be made mandatory.
#[tokio::test]
async fn initial_access_token_unlocks_service_clients_and_a_wrong_one_is_401_as63() {
    let s = Server::with(with_initial_access_token);
    let body = r#"{"grant_types":["client_credentials"],"token_endpoint_auth_method":"client_secret_basic"}"#;
    let r = register_with_token(&s, "not-the-initial-access-token", body).await;
    r.assert_oauth_error(
        StatusCode::UNAUTHORIZED,
        "invalid_token",
        "the initial access token is invalid",
    );
    assert_eq!(
        r.header(header::WWW_AUTHENTICATE),
        Some("Bearer error=\"invalid_token\"")
    );
    let reg = register_with_token(&s, IAT, body)
        .await
        .assert_no_store_json(StatusCode::CREATED);
    let id = reg["client_id"].as_str().unwrap();
    let secret = reg["client_secret"].as_str().unwrap();
    let t = s
        .post_form(
            "/token",
            &[("grant_type", "client_credentials")],
            Some((id, secret)),
        )
        .await
        .assert_no_store_json(StatusCode::OK);
    assert_eq!(t["scope"], "mcp");
    // Still no introspection rights.
    assert_eq!(
        s.post_form("/introspect", &[("token", "x")], Some((id, secret)))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );

    let s = Server::with(|c| {
        with_initial_access_token(c);
        c.registration_policy.require_initial_access_token = true;
    });
    register(
        &s,
        "application/json",
        r#"{"redirect_uris":["http://127.0.0.1/cb"]}"#,
    )
    .await
    .assert_oauth_error(
        StatusCode::UNAUTHORIZED,
        "invalid_token",
        "registration requires an initial access token",
    );
}

/// Issue 11 item 1: the anonymous allow-lists can be widened in configuration.
#[tokio::test]
async fn anonymous_allow_lists_can_be_widened_in_configuration_as63() {
    let s = Server::with(|c| {
        let p = &mut c.registration_policy;
        p.anonymous_grant_types.push("client_credentials".into());
        p.anonymous_auth_methods.push("client_secret_basic".into());
    });
    let reg = registered(
        &s,
        r#"{"grant_types":["client_credentials"],"token_endpoint_auth_method":"client_secret_basic"}"#,
    )
    .await;
    assert!(reg["client_secret"].is_string());
}

#[test]
fn registration_policy_is_validated() {
    let mut c = crate::Config::default();
    c.registration_policy.require_initial_access_token = true;
    assert!(c.validate().is_err(), "required but not configured");
    c.registration_policy.initial_access_token =
        Some(shared::secret::ClientSecret::new("short".into()));
    assert!(c.validate().is_err(), "too short");
    let mut c = crate::Config::default();
    c.registration_policy
        .anonymous_grant_types
        .push("password".into());
    assert!(c.validate().is_err());
    let mut c = crate::Config::default();
    c.registration_policy
        .anonymous_auth_methods
        .push("client_secret_jwt".into());
    assert!(c.validate().is_err());
    let s = format!("{:?}", {
        let mut c = crate::Config::default();
        with_initial_access_token(&mut c);
        c.registration_policy
    });
    assert!(!s.contains(IAT), "{s}");
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

/// Issue 11 item 1: an anonymous registration creates a public client with the
/// authorization-code and refresh grants only; a service client with a secret (which
/// `client_credentials` would turn into `scope=mcp` without any consent) is refused.
#[tokio::test]
async fn anonymous_registration_creates_public_code_clients_only_as63() {
    let s = Server::new();
    let json = "application/json";
    register(
        &s,
        json,
        r#"{"grant_types":["client_credentials"],"token_endpoint_auth_method":"client_secret_basic"}"#,
    )
    .await
    .assert_oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_client_metadata",
        "grant type client_credentials needs an initial access token (registration policy)",
    );
    register(
        &s,
        json,
        r#"{"redirect_uris":["https://app.example/cb"],"token_endpoint_auth_method":"client_secret_post"}"#,
    )
    .await
    .assert_oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_client_metadata",
        "token_endpoint_auth_method client_secret_post needs an initial access token (registration policy)",
    );
    let reg = registered(
        &s,
        r#"{"redirect_uris":["http://127.0.0.1/cb"],"grant_types":["authorization_code","refresh_token"]}"#,
    )
    .await;
    assert_eq!(reg["token_endpoint_auth_method"], "none");
    assert!(reg.get("client_secret").is_none());
}

/// RFC 7591 §3.2.1: the response carries every registered member, including DPoP
/// (`dpop_bound_access_tokens`, RFC 9449 §5.2) and the client's keys (`jwks` / `jwks_uri`)
/// with the `token_endpoint_auth_method` they go with (EX-05, EX-30, AS-63).
#[tokio::test]
async fn the_response_echoes_dpop_and_key_metadata_as_registered_as63_ex05_ex30() {
    let s = Server::with(with_initial_access_token);
    let key = shared::dpop::SigningKey::generate(shared::dpop::Algorithm::ES256).unwrap();
    let jwks = serde_json::json!({ "keys": [key.public_jwk()] });
    let body = serde_json::json!({
        "redirect_uris": ["https://app.example/cb"],
        "token_endpoint_auth_method": "private_key_jwt",
        "dpop_bound_access_tokens": true,
        "jwks": jwks,
    });
    let reg = register_with_token(&s, IAT, &body.to_string())
        .await
        .assert_no_store_json(StatusCode::CREATED);
    assert_eq!(reg["token_endpoint_auth_method"], "private_key_jwt");
    assert_eq!(reg["dpop_bound_access_tokens"], true);
    assert_eq!(reg["jwks"], jwks, "the registered key set");
    assert!(reg.get("jwks_uri").is_none());
    assert!(reg.get("client_secret").is_none(), "no shared secret");

    let body = serde_json::json!({
        "redirect_uris": ["https://app.example/cb"],
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks_uri": "https://app.example/jwks.json",
    });
    let reg = register_with_token(&s, IAT, &body.to_string())
        .await
        .assert_no_store_json(StatusCode::CREATED);
    assert_eq!(reg["jwks_uri"], "https://app.example/jwks.json");
    assert!(reg.get("jwks").is_none());
    assert!(reg.get("dpop_bound_access_tokens").is_none(), "not sent");

    // A public client that asks for DPoP-bound tokens, or says it does not.
    for asked in [true, false] {
        let reg = registered(
            &s,
            &serde_json::json!({
                "redirect_uris": ["http://127.0.0.1/cb"],
                "dpop_bound_access_tokens": asked,
            })
            .to_string(),
        )
        .await;
        assert_eq!(reg["token_endpoint_auth_method"], "none");
        assert_eq!(reg["dpop_bound_access_tokens"], asked);
    }
    // Nothing DPoP- or key-related sent: nothing new in the answer.
    let reg = registered(&s, r#"{"redirect_uris":["http://127.0.0.1/cb"]}"#).await;
    for member in ["dpop_bound_access_tokens", "jwks", "jwks_uri"] {
        assert!(reg.get(member).is_none(), "{member}: {reg}");
    }
}
