//! DPoP at our authorization server's token endpoint with the real client's token endpoint
//! (issue 15 A, EX-04, EX-08): proofs (with the nonce retry) get DPoP-bound tokens whose
//! `cnf.jkt` is the client key's thumbprint; the public client's refresh token works only
//! with a proof by the same key.

use std::sync::Arc;
use std::time::Duration;

use http_oauth2_client::ClientError;
use http_oauth2_client::dpop::DpopKey;
use http_oauth2_client::oauth::token_endpoint::{ClientCredentials, TokenEndpoint};
use shared::dpop::Algorithm;
use shared::secret::AuthorizationCode;
use tests::oauth::{CLI, CLI_REDIRECT};

use super::{RESOURCE, code_for_cli};

fn endpoint(issuer: &str, dpop: Option<&DpopKey>) -> TokenEndpoint {
    let http = http_oauth2_client::oauth::oauth_http_client(
        Duration::from_secs(5),
        Duration::from_secs(5),
        0,
    );
    let url = url::Url::parse(&format!("{issuer}/token")).unwrap();
    let e = TokenEndpoint::new(
        url,
        ClientCredentials::public(CLI),
        Some(RESOURCE.into()),
        http,
    );
    match dpop {
        Some(k) => e.with_dpop(k.clone()),
        None => e,
    }
}

fn key() -> DpopKey {
    DpopKey::generate(Algorithm::ES256, Arc::new(shared::clock::SystemClock)).unwrap()
}

fn claims(jwt: &str) -> serde_json::Value {
    use base64::Engine as _;
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(jwt.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn the_real_clients_proofs_get_bound_tokens_and_a_bound_refresh_with_nonces_ex04_ex08() {
    let s = tests::auth_server(|c| c.dpop.nonce = true).await;
    let k = key();
    let (code, verifier) = code_for_cli(s.issuer()).await;
    let t = endpoint(s.issuer(), Some(&k))
        .exchange_code(&AuthorizationCode::new(code), &verifier, CLI_REDIRECT)
        .await
        .expect("code exchange with DPoP (nonce retry)");
    assert_eq!(t.token_type, "DPoP");
    assert_eq!(
        claims(t.access_token.secret())["cnf"]["jkt"],
        k.thumbprint()
    );
    let rt = t.refresh_token.expect("refresh token");
    // Another key: invalid_grant (the client maps it to "log in again"); no key at all:
    // invalid_dpop_proof. Neither consumes the token.
    let other = endpoint(s.issuer(), Some(&key())).refresh(&rt, None).await;
    assert!(
        matches!(other, Err(ClientError::AuthorizationRequired(ref d)) if d.contains("bound to another DPoP key")),
        "{other:?}"
    );
    match endpoint(s.issuer(), None).refresh(&rt, None).await {
        Err(ClientError::TokenEndpoint { status, code, .. }) => {
            assert_eq!(status, 400);
            assert_eq!(code.as_str(), "invalid_dpop_proof");
        }
        other => panic!("{other:?}"),
    }
    let r = endpoint(s.issuer(), Some(&k))
        .refresh(&rt, None)
        .await
        .expect("refresh with the same key");
    assert_eq!(r.token_type, "DPoP");
    assert_eq!(
        claims(r.access_token.secret())["cnf"]["jkt"],
        k.thumbprint()
    );
    s.shutdown().await;
}
