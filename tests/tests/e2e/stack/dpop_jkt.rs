//! RFC 9449 §10 end to end: a client that uses DPoP sends `dpop_jkt` (its key's thumbprint)
//! on `/authorize`; our authorization server binds the code to it and redeems it only with a
//! proof by that key; a bearer client sends nothing new (EX-04).

use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use http_oauth2_client::oauth::login::{LoginContext, LoginFlow};
use http_oauth2_client::{ClientError, DpopMode};
use shared::dpop::{Algorithm, SigningKey};
use shared::oauth::TokenResponse;
use shared::scope::ScopeSet;

use super::{client_config, connect};

/// A headless login done by hand through the public `LoginContext` API, so the test sees the
/// authorization URL the client built and can try the code with a foreign key first.
#[derive(Debug, Default)]
struct Watched {
    /// The `dpop_jkt` parameter of the authorization URL, if any.
    dpop_jkt: Mutex<Option<Option<String>>>,
    /// The answer to redeeming the code with a proof by another key.
    foreign_key: Mutex<Option<(u16, serde_json::Value)>>,
}

impl LoginFlow for Watched {
    fn login<'a>(
        &'a self,
        cx: &'a LoginContext,
        scopes: Option<ScopeSet>,
    ) -> BoxFuture<'a, Result<TokenResponse, ClientError>> {
        Box::pin(async move {
            let req = cx.authorization_request(cx.redirect_template().as_str(), scopes.as_ref())?;
            let jkt = req
                .url()
                .query_pairs()
                .find(|(k, _)| k == "dpop_jkt")
                .map(|(_, v)| v.into_owned());
            *self.dpop_jkt.lock().unwrap() = Some(jkt.clone());
            let http = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap();
            let res = http.get(req.url().as_str()).send().await.unwrap();
            assert_eq!(res.status(), 303);
            let location = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
            let code = req.validate_redirect(&location)?;
            if jkt.is_some() {
                // The code is bound: a proof by any other key is refused (and the code kept).
                let token_url = cx.metadata().token_endpoint.clone().unwrap();
                let other = SigningKey::generate(Algorithm::ES256).unwrap();
                let now = shared::clock::Clock::now_unix(&shared::clock::SystemClock);
                let proof =
                    shared::dpop::proof(&other, "POST", &token_url, None, None, now).unwrap();
                let res = http
                    .post(&token_url)
                    .header("dpop", proof)
                    .form(&[
                        ("grant_type", "authorization_code"),
                        ("client_id", cx.client_id()),
                        ("code", code.secret()),
                        ("code_verifier", req.verifier().secret()),
                        ("redirect_uri", req.redirect_uri()),
                    ])
                    .send()
                    .await
                    .unwrap();
                let status = res.status().as_u16();
                *self.foreign_key.lock().unwrap() = Some((status, res.json().await.unwrap()));
            }
            cx.token_endpoint()
                .exchange_code(&code, req.verifier(), req.redirect_uri())
                .await
        })
    }
}

/// `cnf.jkt` of an access token.
fn cnf_jkt(token: &str) -> Option<String> {
    use base64::Engine as _;
    let part = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims["cnf"]["jkt"].as_str().map(str::to_owned)
}

#[tokio::test]
async fn a_dpop_client_sends_dpop_jkt_and_the_code_is_bound_to_its_key_ex04() {
    let s = tests::stack(|_| {}, |c| c.dpop.enabled = true).await;
    let flow = Arc::new(Watched::default());
    let session = connect(client_config(s.mcp_url()).login_flow(flow.clone()))
        .await
        .expect("login with DPoP");
    session.ensure_authorized().await.unwrap();
    let key = session
        .token_manager()
        .dpop()
        .expect("DPoP-bound tokens")
        .thumbprint();
    let sent = flow.dpop_jkt.lock().unwrap().clone().expect("logged in");
    assert_eq!(
        sent.as_deref(),
        Some(key.as_str()),
        "dpop_jkt = the session key"
    );
    let (status, body) = flow.foreign_key.lock().unwrap().clone().unwrap();
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(
        body["error_description"],
        "DPoP proof key does not match the dpop_jkt of the authorization request"
    );
    let (token, _) = session.token_manager().access_token().await.unwrap();
    assert_eq!(cnf_jkt(token.secret()).as_deref(), Some(key.as_str()));
    s.shutdown().await;
}

#[tokio::test]
async fn a_bearer_client_sends_no_dpop_jkt_ex04() {
    let s = tests::stack(|_| {}, |c| c.dpop.enabled = true).await;
    let flow = Arc::new(Watched::default());
    let session = connect(
        client_config(s.mcp_url())
            .dpop(DpopMode::Never)
            .login_flow(flow.clone()),
    )
    .await
    .expect("login");
    session.ensure_authorized().await.unwrap();
    assert_eq!(*flow.dpop_jkt.lock().unwrap(), Some(None));
    assert!(flow.foreign_key.lock().unwrap().is_none());
    let (token, _) = session.token_manager().access_token().await.unwrap();
    assert_eq!(cnf_jkt(token.secret()), None);
    s.shutdown().await;
}
