//! The client stack against the scripted server of `mock`: token manager and refresh
//! (CL-32..CL-34), the bearer middleware (CL-08, CL-30, CL-31, CL-34, CL-35), discovery
//! (CL-02..CL-07), sessions and registration (CL-10, CL-11, CL-16, CL-28) and the MCP
//! transports (TR-xx). Test names cite the checklist rows they prove.

mod discovery;
mod dpop;
mod enterprise;
mod future_size;
mod middleware;
mod mock;
mod on_demand;
mod refresh;
mod replay;
mod session;
mod store_lock;
mod targets;
mod transport;

use std::sync::Arc;
use std::time::Duration;

use http_oauth2_client::oauth::oauth_http_client;
use http_oauth2_client::oauth::token_endpoint::{ClientCredentials, TokenEndpoint};
use http_oauth2_client::{
    BearerAuth, InMemoryTokenStore, OAuthConfig, OAuthSession, StoreKey, TokenManager, TokenSet,
    TokenStore,
};
use serde_json::{Value, json};
use shared::clock::{Clock as _, TestClock};
use shared::secret::{AccessToken, RefreshToken};

use mock::Mock;

/// The token endpoint of `m` for the public client `cli`, with `resource` and `retries`.
fn token_endpoint(m: &Mock, resource: Option<String>, retries: u32) -> TokenEndpoint {
    TokenEndpoint::new(
        url::Url::parse(&format!("{}/token", m.base())).unwrap(),
        ClientCredentials::public("cli"),
        resource,
        oauth_http_client(Duration::from_secs(5), Duration::from_secs(5), retries),
    )
}

/// A token manager for `m`'s MCP resource over `store`.
fn manager_with(m: &Mock, store: Arc<dyn TokenStore>, clock: &TestClock) -> TokenManager {
    TokenManager::new(
        token_endpoint(m, Some(m.mcp_url()), 0),
        store,
        StoreKey::new(m.base(), m.mcp_url(), "cli"),
        Arc::new(clock.clone()),
    )
}

/// A token manager for `m` with an in-memory store.
fn manager(m: &Mock, clock: &TestClock) -> TokenManager {
    manager_with(m, Arc::new(InMemoryTokenStore::default()), clock)
}

fn now(clock: &TestClock) -> u64 {
    clock.now_unix()
}

/// `at-0` (scope `mcp:tools:read`, refresh token `rt-0`), issued at `issued_at` for
/// `lifetime` seconds.
fn token_set(issued_at: u64, lifetime: u64) -> TokenSet {
    TokenSet::new(
        AccessToken::new("at-0".into()),
        Some(RefreshToken::new("rt-0".into())),
        Some(lifetime),
        issued_at,
        Some("mcp:tools:read".into()),
    )
}

/// `at-0`, expired a minute ago.
fn expired_set(clock: &TestClock) -> TokenSet {
    token_set(now(clock) - 120, 60)
}

/// `at-0`, fresh for an hour (the server may still refuse it).
fn fresh_set(clock: &TestClock) -> TokenSet {
    token_set(now(clock), 3600)
}

/// A bare access token with no expiry and no refresh token.
fn bare_set(token: &str) -> TokenSet {
    TokenSet::new(AccessToken::new(token.into()), None, None, 0, None)
}

/// A client that attaches `mgr`'s token to requests for `m`'s origin.
fn bearer_client(mgr: &TokenManager, m: &Mock) -> reqwest_middleware::ClientWithMiddleware {
    let url = url::Url::parse(&m.base()).unwrap();
    reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(BearerAuth::new(mgr.clone(), &url))
        .build()
}

/// Protected Resource Metadata naming `m` as the authorization server.
fn prm(m: &Mock, resource: &str) -> Value {
    json!({"resource": resource, "authorization_servers": [m.base()], "scopes_supported": ["mcp"]})
}

/// Minimal RFC 8414 metadata for `issuer`.
fn asm(issuer: &str) -> Value {
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "code_challenge_methods_supported": ["S256"],
    })
}

/// Publishes `m`'s PRM at the path-inserted URL and `as_metadata` as its AS metadata.
fn publish(m: &Mock, as_metadata: Value) {
    m.doc(
        "/.well-known/oauth-protected-resource/mcp",
        prm(m, &m.mcp_url()),
    );
    m.doc("/.well-known/oauth-authorization-server", as_metadata);
}

/// AS metadata for `m` with a registration endpoint.
fn asm_with_registration(m: &Mock) -> Value {
    let mut doc = asm(&m.base());
    doc["registration_endpoint"] = json!(format!("{}/register", m.base()));
    doc
}

/// A headless session against `m` (dynamic registration, code flow).
async fn headless_session(m: &Mock) -> OAuthSession {
    publish(m, asm_with_registration(m));
    let cfg = OAuthConfig::builder(m.mcp_url())
        .headless()
        .build()
        .unwrap();
    OAuthSession::connect(cfg).await.unwrap()
}
