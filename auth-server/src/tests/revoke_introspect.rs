//! `POST /revoke` (RFC 7009) and `POST /introspect` (RFC 7662).

use axum::http::{StatusCode, header};

use super::{ISSUER, PUBLIC_CLIENT, RESOURCE, SERVICE, Server};

const INACTIVE: &str = r#"{"active":false}"#;

/// `POST /revoke` answered 200 with an empty `no-store` body.
async fn revoked(s: &Server, form: &[(&str, &str)], basic: Option<(&str, &str)>) {
    let r = s.post_form("/revoke", form, basic).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(r.body.is_empty());
    assert_eq!(r.header(header::CACHE_CONTROL), Some("no-store"));
}

#[tokio::test]
async fn revoking_a_refresh_token_revokes_the_grant() {
    let s = Server::new();
    let t = s.tokens().await;
    let refresh = t["refresh_token"].as_str().unwrap();
    let access = t["access_token"].as_str().unwrap();
    revoked(
        &s,
        &[("token", refresh), ("client_id", PUBLIC_CLIENT)],
        None,
    )
    .await;
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
    assert_eq!(s.introspect(access).await.to_string(), INACTIVE);
}

#[tokio::test]
async fn revoke_answers_200_for_unknown_tokens_and_needs_a_token() {
    let s = Server::new();
    revoked(&s, &[("token", "unknown")], Some(SERVICE)).await;
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
    s.post_form(
        "/introspect",
        &[("token", "x"), ("client_id", PUBLIC_CLIENT)],
        None,
    )
    .await
    .assert_invalid_client(
        "introspection requires an authenticated confidential client",
        "Basic realm=\"oauth\"",
    );
}

#[tokio::test]
async fn introspection_describes_active_access_tokens_and_nothing_else() {
    let s = Server::new();
    let t = s.service_token().await;
    let access = t["access_token"].as_str().unwrap();
    let i = s.introspect(access).await;
    assert_eq!(i["active"], true);
    assert_eq!(i["client_id"], SERVICE.0);
    assert_eq!(i["sub"], SERVICE.0);
    assert_eq!(i["aud"], RESOURCE);
    assert_eq!(i["iss"], ISSUER);
    assert_eq!(i["scope"], "mcp");
    assert_eq!(i["token_type"], "Bearer");
    assert_eq!(s.introspect("not-a-token").await.to_string(), INACTIVE);
    // Revoked by its owner: inactive.
    revoked(&s, &[("token", access)], Some(SERVICE)).await;
    assert_eq!(s.introspect(access).await.to_string(), INACTIVE);
}

/// Issue 11 item 1: a dynamically registered client has no introspection rights, even a
/// confidential one (which only an initial access token can create).
#[tokio::test]
async fn dynamically_registered_clients_may_not_introspect_as54() {
    use crate::store::{ClientRecord, digest};
    let s = Server::new();
    let record = ClientRecord {
        client_id: "dyn-client".into(),
        secret_digest: Some(digest("dyn-client-secret")),
        auth_method: shared::oauth::TokenEndpointAuthMethod::ClientSecretBasic,
        redirect_uris: vec!["https://app.example/cb".into()],
        grant_types: vec!["authorization_code".into()],
        scopes: None,
        client_name: None,
        application_type: "web".into(),
        dynamic: true,
        issued_at: 0,
        keys: Default::default(),
    };
    assert!(s.state.store.register_client(record).await.unwrap());
    let t = s.tokens().await;
    let access = t["access_token"].as_str().unwrap();
    s.post_form(
        "/introspect",
        &[("token", access)],
        Some(("dyn-client", "dyn-client-secret")),
    )
    .await
    .assert_invalid_client(
        "introspection is reserved for configured confidential clients",
        "Basic realm=\"oauth\", charset=\"UTF-8\"",
    );
}
