//! `POST /introspect` (RFC 7662: AS-54, AS-55) and `POST /revoke` (RFC 7009: AS-52, AS-53).

use serde_json::json;
use tests::auth_server;
use tests::oauth::{CLI, SERVICE, introspect, introspect_request, revoke_request};

use super::{server_with_cli_tokens, str_of};

#[tokio::test]
async fn introspection_requires_client_authentication_as54_as55() {
    let s = auth_server(|_| {}).await;
    let issuer = s.issuer();
    let res = introspect_request(issuer, "abc").send().await;
    assert_eq!(res.status(), 401);
    let res = introspect_request(issuer, "abc")
        .client_id(CLI)
        .send()
        .await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        introspect(issuer, "not-a-token").await,
        json!({"active": false})
    );
}

#[tokio::test]
async fn revoking_an_access_token_makes_introspection_inactive_as52_as53() {
    let (s, t) = server_with_cli_tokens(|_| {}).await;
    let issuer = s.issuer();
    let at = str_of(&t, "access_token");
    // Another client cannot revoke it (silently ignored, still 200).
    let res = revoke_request(issuer, at)
        .basic(SERVICE.0, SERVICE.1)
        .send()
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(introspect(issuer, at).await["active"], true);
    let res = revoke_request(issuer, at)
        .client_id(CLI)
        .param("token_type_hint", "access_token")
        .send()
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(introspect(issuer, at).await["active"], false);
    // Unknown tokens also get 200 (RFC 7009 §2.2).
    let res = revoke_request(issuer, "garbage")
        .client_id(CLI)
        .send()
        .await;
    assert_eq!(res.status(), 200);
}
