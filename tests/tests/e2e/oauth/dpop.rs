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

/// EX-04, EX-05, EX-08, EX-30: a `private_key_jwt` service client registered with
/// `dpop_bound_access_tokens` gets a DPoP-bound client-credentials token from the real
/// client's token endpoint (fresh assertion and proof on the nonce retry); without a proof it
/// gets none.
#[tokio::test]
async fn a_dpop_bound_key_client_gets_a_bound_token_through_the_nonce_retry_ex05_ex08_ex30() {
    let assertion_key = shared::dpop::SigningKey::generate(Algorithm::ES256).unwrap();
    let jwks = shared::dpop::JwkSet {
        keys: vec![assertion_key.public_jwk().clone()],
    };
    let s = tests::auth_server(move |c| {
        c.dpop.nonce = true;
        c.clients.push(auth_server::config::ClientConfig {
            client_id: "bound-service".into(),
            client_secret: None,
            client_name: None,
            redirect_uris: vec![],
            grant_types: vec!["client_credentials".into()],
            scopes: vec![],
            dpop_bound_access_tokens: true,
            jwks: Some(jwks),
            jwks_uri: None,
        });
    })
    .await;
    let assertion_key = Arc::new(assertion_key);
    let service = |dpop: Option<&DpopKey>| {
        let http = http_oauth2_client::oauth::oauth_http_client(
            Duration::from_secs(5),
            Duration::from_secs(5),
            0,
        );
        let url = url::Url::parse(&format!("{}/token", s.issuer())).unwrap();
        let e = TokenEndpoint::new(
            url,
            ClientCredentials::private_key_jwt("bound-service", assertion_key.clone()),
            Some(RESOURCE.into()),
            http,
        )
        .with_issuer(s.issuer());
        match dpop {
            Some(k) => e.with_dpop(k.clone()),
            None => e,
        }
    };
    let k = key();
    let t = service(Some(&k))
        .client_credentials(None)
        .await
        .expect("bound client-credentials token");
    assert_eq!(t.token_type, "DPoP");
    assert_eq!(
        claims(t.access_token.secret())["cnf"]["jkt"],
        k.thumbprint()
    );
    match service(None).client_credentials(None).await {
        Err(ClientError::TokenEndpoint { code, .. }) => {
            assert_eq!(code.as_str(), "invalid_dpop_proof");
        }
        other => panic!("{other:?}"),
    }
    s.shutdown().await;
}
