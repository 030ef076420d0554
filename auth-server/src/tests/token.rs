//! `POST /token`: error rendering, client authentication, PKCE.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};

use super::{PUBLIC_CLIENT, RESOURCE, SERVICE, Server};

#[tokio::test]
async fn unknown_grant_type_is_unsupported_grant_type() {
    let s = Server::new();
    let r = s
        .token(
            &[("grant_type", "password"), ("client_id", PUBLIC_CLIENT)],
            None,
        )
        .await;
    r.assert_oauth_error(
        StatusCode::BAD_REQUEST,
        "unsupported_grant_type",
        "unsupported grant_type",
    );
    assert!(r.header(header::WWW_AUTHENTICATE).is_none());
}

#[tokio::test]
async fn bad_credentials_get_401_with_a_basic_challenge_naming_charset_after_basic() {
    let s = Server::new();
    let after_basic = s
        .token(
            &[("grant_type", "client_credentials")],
            Some((SERVICE.0, "wrong-secret")),
        )
        .await;
    after_basic.assert_invalid_client(
        "unknown client or bad credentials",
        "Basic realm=\"oauth\", charset=\"UTF-8\"",
    );
    let in_body = [
        ("grant_type", "client_credentials"),
        ("client_id", "nobody"),
        ("client_secret", "whatever-secret"),
    ];
    s.token(&in_body, None)
        .await
        .assert_invalid_client("unknown client or bad credentials", "Basic realm=\"oauth\"");
}

#[tokio::test]
async fn two_client_authentication_methods_are_invalid_request() {
    let s = Server::new();
    s.token(
        &[
            ("grant_type", "client_credentials"),
            ("client_secret", SERVICE.1),
        ],
        Some(SERVICE),
    )
    .await
    .assert_oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "use exactly one client authentication method",
    );
}

#[tokio::test]
async fn non_form_bodies_and_repeated_parameters_are_invalid_request() {
    let s = Server::new();
    let json = Request::builder()
        .method(Method::POST)
        .uri("/token")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"grant_type\":\"client_credentials\"}"))
        .unwrap();
    s.send(json).await.assert_oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "content type must be application/x-www-form-urlencoded",
    );
    s.token(
        &[
            ("grant_type", "client_credentials"),
            ("grant_type", "client_credentials"),
        ],
        Some(SERVICE),
    )
    .await
    .assert_oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "parameter grant_type is repeated",
    );
}

#[tokio::test]
async fn unknown_code_is_invalid_grant() {
    let s = Server::new();
    let verifier = "a".repeat(43);
    s.exchange("no-such-code", &verifier)
        .await
        .assert_oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "authorization code is invalid or expired",
        );
}

#[tokio::test]
async fn pkce_mismatch_is_invalid_grant_and_leaves_the_code_usable() {
    let s = Server::new();
    let (code, verifier) = s.code().await;
    let other = shared::pkce::PkceVerifier::generate();
    s.exchange(&code, other.secret()).await.assert_oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "PKCE verification failed",
    );
    // Validation happens before the code is consumed (AS-45).
    let t = s
        .exchange(&code, verifier.secret())
        .await
        .assert_no_store_json(StatusCode::OK);
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["expires_in"], 300);
    assert_eq!(t["scope"], "mcp");
    assert!(t["refresh_token"].is_string());
    // And a code works once only.
    s.exchange(&code, verifier.secret())
        .await
        .assert_oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "authorization code was already used",
        );
}

#[tokio::test]
async fn a_resource_other_than_the_authorized_one_is_invalid_target() {
    let s = Server::with(|c| c.resources.push("http://127.0.0.1:4000/other".into()));
    let (reply, verifier) = s.authorize(&[("resource", RESOURCE)]).await;
    let (_, query) = reply.redirect();
    let code = &query.iter().find(|(k, _)| k == "code").unwrap().1;
    s.token(
        &[
            ("grant_type", "authorization_code"),
            ("client_id", PUBLIC_CLIENT),
            ("code", code),
            ("code_verifier", verifier.secret()),
            ("redirect_uri", super::REDIRECT),
            ("resource", "http://127.0.0.1:4000/other"),
        ],
        None,
    )
    .await
    .assert_oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_target",
        "resource differs from the one authorized",
    );
}

#[tokio::test]
async fn client_credentials_issues_an_access_token_without_refresh_token() {
    let t = Server::new().service_token().await;
    assert_eq!(
        (&t["token_type"], &t["scope"], &t["expires_in"]),
        (&"Bearer".into(), &"mcp".into(), &300.into())
    );
    assert!(t.get("refresh_token").is_none());
}
