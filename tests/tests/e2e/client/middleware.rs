//! The bearer middleware: one refresh and one retry on 401 (CL-34), step-up with the union of
//! scopes on 403 (CL-35, P-11), tokens only to the configured origin (CL-30, CL-31), and no
//! plain http off loopback (CL-08).

use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use http_oauth2_client::{Authorizer, BearerAuth, ClientError, OAuthConfig, TokenSet};
use shared::clock::TestClock;
use shared::scope::ScopeSet;
use shared::secret::AccessToken;

use super::mock::{self, Behaviour};
use super::{bare_set, bearer_client, fresh_set, manager};

/// CL-34: a 401 triggers exactly one refresh and one retry of the request.
#[tokio::test]
async fn middleware_401_refreshes_once_and_retries_once_cl34() {
    let m = mock::spawn().await;
    let clock = TestClock::starting_now();
    let mgr = manager(&m, &clock);
    // Fresh by the clock but unknown to the server (revoked): 401 -> refresh -> retry OK.
    mgr.set_tokens(fresh_set(&clock), None);
    let c = bearer_client(&mgr, &m);
    let api = format!("{}/api", m.base());
    assert_eq!(c.get(&api).send().await.unwrap().status(), 200);
    assert_eq!((m.token_hits(), m.api_hits()), (1, 2));
    // A server that rejects every token: still one refresh and one retry, then the 401.
    m.enable(Behaviour::RejectAllTokens);
    assert_eq!(c.get(&api).send().await.unwrap().status(), 401);
    assert_eq!((m.token_hits(), m.api_hits()), (2, 4));
}

/// Answers every authorization with the token `stepped` and records the scopes asked for.
#[derive(Debug, Default)]
struct RecordingAuthorizer {
    calls: Mutex<Vec<Option<String>>>,
}

impl Authorizer for RecordingAuthorizer {
    fn authorize(&self, scopes: Option<ScopeSet>) -> BoxFuture<'_, Result<TokenSet, ClientError>> {
        self.calls
            .lock()
            .unwrap()
            .push(scopes.as_ref().map(ToString::to_string));
        Box::pin(async move {
            Ok(TokenSet::new(
                AccessToken::new("stepped".into()),
                None,
                None,
                0,
                scopes.map(|s| s.to_string()),
            ))
        })
    }
}

/// CL-35 / P-11: a 403 insufficient_scope re-authorizes once with the union of requested
/// and challenged scopes, retries once; a repeated challenge for already-requested scopes
/// does not loop.
#[tokio::test]
async fn step_up_requests_union_of_scopes_once_cl35() {
    let m = mock::spawn().await;
    let clock = TestClock::starting_now();
    let auth = Arc::new(RecordingAuthorizer::default());
    let mgr = manager(&m, &clock).with_authorizer(auth.clone());
    mgr.set_tokens(fresh_set(&clock), Some(ScopeSet::parse("mcp:tools:read")));
    let c = bearer_client(&mgr, &m);
    let scoped = format!("{}/scoped", m.base());
    assert_eq!(c.get(&scoped).send().await.unwrap().status(), 200);
    assert_eq!(
        *auth.calls.lock().unwrap(),
        vec![Some("mcp:tools:call mcp:tools:read".to_owned())]
    );
    assert_eq!(m.api_hits(), 2);
    // The server keeps refusing even the stepped-up token: no second step-up.
    mgr.set_tokens(bare_set("still-not-enough"), None);
    assert_eq!(c.get(&scoped).send().await.unwrap().status(), 403);
    assert_eq!(auth.calls.lock().unwrap().len(), 1);
}

/// CL-30 / CL-31: the token is never sent to another origin, neither directly nor after a
/// redirect.
#[tokio::test]
async fn token_is_never_sent_to_another_origin_cl31() {
    let m = mock::spawn().await;
    let other = mock::spawn().await;
    let clock = TestClock::starting_now();
    let mgr = manager(&m, &clock);
    m.accept_token("at-x");
    mgr.set_tokens(bare_set("at-x"), None);
    let c = bearer_client(&mgr, &m);
    let landing = format!("{}/landing", other.base());
    let redirect = format!("{}/redirect?to={landing}", m.base());
    assert_eq!(c.get(&redirect).send().await.unwrap().status(), 200);
    c.get(&landing).send().await.unwrap();
    assert_eq!(other.landing(), (2, 0), "two hits, none with a token");
    // Same origin does get it.
    let api = format!("{}/api", m.base());
    assert_eq!(c.get(&api).send().await.unwrap().status(), 200);
}

/// CL-08: plain http to a non-loopback host is refused unless explicitly allowed.
#[tokio::test]
async fn plain_http_to_non_loopback_is_refused_unless_insecure_cl08() {
    let builds = |url: &str, insecure: bool| {
        let b = OAuthConfig::builder(url);
        if insecure { b.allow_insecure_http() } else { b }
            .build()
            .is_ok()
    };
    assert!(!builds("http://mcp.example/mcp", false));
    assert!(builds("http://mcp.example/mcp", true));
    assert!(builds("https://mcp.example/mcp", false));
    let m = mock::spawn().await;
    let clock = TestClock::starting_now();
    let mgr = manager(&m, &clock);
    mgr.set_tokens(bare_set("at-x"), None);
    let remote = url::Url::parse("http://mcp.invalid/").unwrap();
    let c = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(BearerAuth::new(mgr.clone(), &remote))
        .build();
    let e = ClientError::from(c.get("http://mcp.invalid/x").send().await.unwrap_err());
    assert!(matches!(e, ClientError::Config(_)), "{e}");
}
