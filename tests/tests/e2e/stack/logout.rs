//! Issue 11 item 15: logout revokes the refresh token at the real authorization server, for a
//! confidential client too (RFC 7009 §2.1: the revocation request is authenticated like a
//! token request).

use auth_server::config::ClientConfig;
use shared::secret::ClientSecret;
use tests::oauth::token_request;
use tests::*;

use super::{client_config, connect};

const CONFIDENTIAL: (&str, &str) = ("conf-cli", "conf-cli-secret-0123456789");

/// A confidential client logs in with the code flow, logs out, and its refresh token no
/// longer works at the token endpoint.
#[tokio::test]
async fn logout_of_a_confidential_client_really_revokes_the_refresh_token_cl32() {
    let s = stack(
        |c| {
            c.clients.push(ClientConfig {
                client_id: CONFIDENTIAL.0.into(),
                client_secret: Some(ClientSecret::new(CONFIDENTIAL.1.into())),
                client_name: None,
                redirect_uris: vec!["http://127.0.0.1/callback".into()],
                grant_types: vec!["authorization_code".into(), "refresh_token".into()],
                scopes: Vec::new(),
                dpop_bound_access_tokens: false,
                jwks: None,
                jwks_uri: None,
            });
        },
        |_| {},
    )
    .await;
    let session = connect(
        client_config(s.mcp_url())
            .client_id(CONFIDENTIAL.0)
            .client_secret(ClientSecret::new(CONFIDENTIAL.1.into()))
            .issuer(s.issuer()),
    )
    .await
    .expect("confidential login");
    let refresh = session
        .token_manager()
        .tokens()
        .and_then(|t| t.refresh_token.clone())
        .expect("a refresh token");
    // The refresh token works before the logout.
    let before = token_request(s.issuer())
        .refresh(refresh.secret())
        .basic(CONFIDENTIAL.0, CONFIDENTIAL.1)
        .send()
        .await;
    assert_eq!(before.status(), 200);
    let refresh = before.json::<serde_json::Value>().await.unwrap()["refresh_token"]
        .as_str()
        .expect("rotated refresh token")
        .to_owned();
    // The session still holds the old one; store the rotated one as the session's own.
    let mut t = (*session.token_manager().tokens().unwrap()).clone();
    t.refresh_token = Some(shared::secret::RefreshToken::new(refresh.clone()));
    session.token_manager().set_tokens(t, None);

    assert!(session.logout().await.unwrap(), "revocation accepted");
    assert!(session.token_manager().tokens().is_none());
    let after = token_request(s.issuer())
        .refresh(&refresh)
        .basic(CONFIDENTIAL.0, CONFIDENTIAL.1)
        .send()
        .await;
    assert_eq!(after.status(), 400, "the revoked refresh token is refused");
    assert_eq!(
        after.json::<serde_json::Value>().await.unwrap()["error"],
        "invalid_grant"
    );
}
