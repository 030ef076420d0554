//! `POST /revoke` (RFC 7009) and `POST /introspect` (RFC 7662).

use axum::http::{StatusCode, header};

use super::{INTROSPECTOR, ISSUER, PUBLIC_CLIENT, RESOURCE, SERVICE, Server};

#[tokio::test]
async fn revoking_a_refresh_token_revokes_the_grant() {
    let s = Server::new();
    let t = s.tokens().await;
    let refresh = t["refresh_token"].as_str().unwrap();
    let access = t["access_token"].as_str().unwrap();
    let r = s
        .post_form(
            "/revoke",
            &[("token", refresh), ("client_id", PUBLIC_CLIENT)],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.is_empty());
    assert_eq!(r.header(header::CACHE_CONTROL), Some("no-store"));
    s.post_form(
        "/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", PUBLIC_CLIENT),
        ],
        None,
    )
    .await
    .assert_oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "refresh token is invalid, expired or revoked",
    );
    let i = s
        .post_form("/introspect", &[("token", access)], Some(INTROSPECTOR))
        .await;
    assert_eq!(i.json(), serde_json::json!({ "active": false }));
}

#[tokio::test]
async fn revoke_answers_200_for_unknown_tokens_and_needs_a_token() {
    let s = Server::new();
    let r = s
        .post_form("/revoke", &[("token", "unknown")], Some(SERVICE))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    s.post_form("/revoke", &[], Some(SERVICE))
        .await
        .assert_oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "missing parameter token",
        );
}

#[tokio::test]
async fn introspection_needs_a_confidential_caller() {
    let s = Server::new();
    let r = s
        .post_form(
            "/introspect",
            &[("token", "x"), ("client_id", PUBLIC_CLIENT)],
            None,
        )
        .await;
    r.assert_oauth_error(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        "introspection requires an authenticated confidential client",
    );
    assert_eq!(
        r.header(header::WWW_AUTHENTICATE),
        Some("Basic realm=\"oauth\"")
    );
}

#[tokio::test]
async fn introspection_describes_active_access_tokens_and_nothing_else() {
    let s = Server::new();
    let t = s
        .post_form(
            "/token",
            &[("grant_type", "client_credentials")],
            Some(SERVICE),
        )
        .await
        .json();
    let access = t["access_token"].as_str().unwrap();
    let r = s
        .post_form("/introspect", &[("token", access)], Some(INTROSPECTOR))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header(header::CACHE_CONTROL), Some("no-store"));
    let i = r.json();
    assert_eq!(i["active"], true);
    assert_eq!(i["client_id"], SERVICE.0);
    assert_eq!(i["sub"], SERVICE.0);
    assert_eq!(i["aud"], RESOURCE);
    assert_eq!(i["iss"], ISSUER);
    assert_eq!(i["scope"], "mcp");
    assert_eq!(i["token_type"], "Bearer");
    let garbage = s
        .post_form(
            "/introspect",
            &[("token", "not-a-token")],
            Some(INTROSPECTOR),
        )
        .await;
    assert_eq!(garbage.json(), serde_json::json!({ "active": false }));
    // Revoked by its owner: inactive.
    let r = s
        .post_form("/revoke", &[("token", access)], Some(SERVICE))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let after = s
        .post_form("/introspect", &[("token", access)], Some(INTROSPECTOR))
        .await;
    assert_eq!(after.json(), serde_json::json!({ "active": false }));
}
