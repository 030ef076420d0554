//! A scripted server for the client suite, on 127.0.0.1:0: token endpoint, authorization and
//! registration endpoints, metadata documents, a protected API, and MCP servers of each era
//! (`mcp.rs`). It counts hits and records what the client sent.
//!
//! Written by hand rather than with wiremock: the scenarios are stateful across endpoints
//! (the PKCE challenge seen at `/authorize` is checked at `/token`; issued access tokens are
//! the only ones `/api` and `/mcp` accept; sessions are numbered and expire on request), and
//! the HTTP+SSE server feeds an open event stream from later POSTs, which canned responses
//! cannot express. wiremock is also not in the workspace's dependency set.

mod mcp;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// How the token endpoint answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum TokenMode {
    /// A new access token and a rotated refresh token.
    #[default]
    Rotate,
    /// A new access token, no refresh token.
    NoRefresh,
    /// `invalid_grant` (e.g. a reused rotated refresh token).
    InvalidGrant,
}

/// Behaviours a test switches on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Behaviour {
    /// `/api` refuses every token.
    RejectAllTokens,
    /// `/mcp` is a 2026-07-28 stateless server.
    ModernMcp,
    /// `/mcp` answers POST with 405: a 2024-11-05 server reached over `/sse`.
    LegacyOnlyMcp,
    /// The next request in session `sess-1` gets 404 (once).
    ExpireSessionOnce,
    /// `notifications/initialized` gets an empty 200 instead of 202.
    NotificationGets200,
}

/// (JSON-RPC method, Mcp-Method header, Mcp-Name header)
pub(super) type SeenHeaders = (String, Option<String>, Option<String>);

#[derive(Debug, Default)]
pub(super) struct Mock {
    base: String,
    token_hits: AtomicUsize,
    api_hits: AtomicUsize,
    counter: AtomicUsize,
    fail_next_token: AtomicUsize,
    mode: Mutex<TokenMode>,
    behaviours: Mutex<HashSet<Behaviour>>,
    valid: Mutex<HashSet<String>>,
    forms: Mutex<Vec<HashMap<String, String>>>,
    basic_auth: Mutex<Vec<String>>,
    docs: Mutex<HashMap<String, Value>>,
    gets: Mutex<Vec<String>>,
    challenges: Mutex<HashMap<String, String>>,
    landing_hits: AtomicUsize,
    landing_saw_auth: AtomicUsize,
    mcp: mcp::McpState,
}

/// Starts a mock server.
pub(super) async fn spawn() -> Arc<Mock> {
    tests::init_tracing();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mock = Arc::new(Mock {
        base: format!("http://{}", listener.local_addr().unwrap()),
        ..Mock::default()
    });
    let app = axum::Router::new()
        .fallback(handle)
        .with_state(mock.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    mock
}

impl Mock {
    /// `http://127.0.0.1:PORT`.
    pub(super) fn base(&self) -> String {
        self.base.clone()
    }
    /// `{base}/mcp`.
    pub(super) fn mcp_url(&self) -> String {
        format!("{}/mcp", self.base)
    }
    /// Serves `v` as JSON at `path` (GET).
    pub(super) fn doc(&self, path: &str, v: Value) {
        self.docs.lock().unwrap().insert(path.to_owned(), v);
    }
    pub(super) fn enable(&self, b: Behaviour) {
        self.behaviours.lock().unwrap().insert(b);
    }
    fn is(&self, b: Behaviour) -> bool {
        self.behaviours.lock().unwrap().contains(&b)
    }
    fn take(&self, b: Behaviour) -> bool {
        self.behaviours.lock().unwrap().remove(&b)
    }
    pub(super) fn set_token_mode(&self, mode: TokenMode) {
        *self.mode.lock().unwrap() = mode;
    }
    /// The next `n` token requests get 503.
    pub(super) fn fail_next_token_requests(&self, n: usize) {
        self.fail_next_token.store(n, Ordering::SeqCst);
    }
    /// `/api` accepts `token` from now on.
    pub(super) fn accept_token(&self, token: &str) {
        self.valid.lock().unwrap().insert(token.to_owned());
    }
    pub(super) fn token_hits(&self) -> usize {
        self.token_hits.load(Ordering::SeqCst)
    }
    pub(super) fn api_hits(&self) -> usize {
        self.api_hits.load(Ordering::SeqCst)
    }
    /// The `n`th token request's form.
    pub(super) fn form(&self, n: usize) -> HashMap<String, String> {
        self.forms.lock().unwrap()[n].clone()
    }
    /// The `n`th token request's `Authorization` header.
    pub(super) fn basic_auth(&self, n: usize) -> String {
        self.basic_auth.lock().unwrap()[n].clone()
    }
    /// Paths of the document GETs so far; `clear` forgets them.
    pub(super) fn gets(&self) -> Vec<String> {
        self.gets.lock().unwrap().clone()
    }
    pub(super) fn clear_gets(&self) {
        self.gets.lock().unwrap().clear();
    }
    /// How often `/landing` was hit, and how often with an `Authorization` header.
    pub(super) fn landing(&self) -> (usize, usize) {
        (
            self.landing_hits.load(Ordering::SeqCst),
            self.landing_saw_auth.load(Ordering::SeqCst),
        )
    }
    fn bearer(headers: &HeaderMap) -> Option<String> {
        headers
            .get(header::AUTHORIZATION)?
            .to_str()
            .ok()?
            .strip_prefix("Bearer ")
            .map(str::to_owned)
    }
    fn authorized(&self, headers: &HeaderMap) -> bool {
        Self::bearer(headers).is_some_and(|t| self.valid.lock().unwrap().contains(&t))
    }
}

fn json_resp(status: StatusCode, v: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

fn unauthorized(m: &Mock) -> Response {
    let www = format!(
        r#"Bearer error="invalid_token", resource_metadata="{}/.well-known/oauth-protected-resource/mcp""#,
        m.base
    );
    (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, www)]).into_response()
}

async fn handle(State(m): State<Arc<Mock>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let query: HashMap<String, String> = parts
        .uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let headers = &parts.headers;
    match (parts.method.as_str(), parts.uri.path()) {
        ("POST", "/token") => token(&m, headers, &body).await,
        ("POST", "/register") => register(&body),
        ("GET", "/authorize") => authorize(&m, &query),
        (_, "/api") => {
            m.api_hits.fetch_add(1, Ordering::SeqCst);
            if m.authorized(headers) && !m.is(Behaviour::RejectAllTokens) {
                "ok".into_response()
            } else {
                unauthorized(&m)
            }
        }
        (_, "/scoped") => {
            m.api_hits.fetch_add(1, Ordering::SeqCst);
            if Mock::bearer(headers).as_deref() == Some("stepped") {
                return "ok".into_response();
            }
            let challenge = r#"Bearer error="insufficient_scope", scope="mcp:tools:call""#;
            (
                StatusCode::FORBIDDEN,
                [(header::WWW_AUTHENTICATE, challenge)],
            )
                .into_response()
        }
        (_, "/redirect") => {
            let to = query.get("to").cloned().unwrap_or_default();
            (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, to)]).into_response()
        }
        (_, "/landing") => {
            m.landing_hits.fetch_add(1, Ordering::SeqCst);
            if headers.contains_key(header::AUTHORIZATION) {
                m.landing_saw_auth.fetch_add(1, Ordering::SeqCst);
            }
            "landed".into_response()
        }
        ("POST", "/mcp") | ("GET", "/sse") | ("POST", "/messages") => {
            if !m.authorized(headers) {
                return unauthorized(&m);
            }
            mcp::handle(&m, parts.uri.path(), headers, &body)
        }
        ("GET", p) => {
            m.gets.lock().unwrap().push(p.to_owned());
            match m.docs.lock().unwrap().get(p) {
                Some(v) => json_resp(StatusCode::OK, v.clone()),
                None => StatusCode::NOT_FOUND.into_response(),
            }
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The token endpoint: PKCE-checked codes, numbered tokens `at-N`/`rt-N`, scripted failures.
async fn token(m: &Mock, headers: &HeaderMap, body: &[u8]) -> Response {
    m.token_hits.fetch_add(1, Ordering::SeqCst);
    if m.fail_next_token
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    if let Some(b) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        m.basic_auth.lock().unwrap().push(b.to_owned());
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    m.forms.lock().unwrap().push(form.clone());
    tokio::time::sleep(Duration::from_millis(20)).await;
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    if field("grant_type") == "authorization_code" {
        let challenge = m.challenges.lock().unwrap().remove(field("code"));
        let verified = challenge.is_some_and(|ch| {
            shared::pkce::PkceVerifier::new(field("code_verifier").to_owned())
                .is_ok_and(|v| shared::pkce::PkceChallenge::s256(&v).as_str() == ch)
        });
        if !verified {
            return json_resp(StatusCode::BAD_REQUEST, json!({"error": "invalid_grant"}));
        }
    }
    let mode = *m.mode.lock().unwrap();
    if mode == TokenMode::InvalidGrant {
        return json_resp(
            StatusCode::BAD_REQUEST,
            json!({"error": "invalid_grant", "error_description": "refresh token reused"}),
        );
    }
    let n = m.counter.fetch_add(1, Ordering::SeqCst) + 1;
    let at = format!("at-{n}");
    m.accept_token(&at);
    let mut r = json!({"access_token": at, "token_type": "Bearer", "expires_in": 3600});
    if let Some(s) = form.get("scope") {
        r["scope"] = json!(s);
    }
    if mode == TokenMode::Rotate {
        r["refresh_token"] = json!(format!("rt-{n}"));
    }
    json_resp(StatusCode::OK, r)
}

/// Dynamic registration: checks the public-client metadata (CL-13, CL-14), returns `dyn-1`.
fn register(body: &[u8]) -> Response {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    assert_eq!(v["token_endpoint_auth_method"], "none", "CL-14");
    assert_eq!(v["application_type"], "native", "CL-13");
    json_resp(
        StatusCode::CREATED,
        json!({"client_id": "dyn-1", "redirect_uris": v["redirect_uris"], "token_endpoint_auth_method": "none"}),
    )
}

/// Headless authorization: records the S256 challenge, checks `resource` (CL-19), and
/// redirects with `code`, `state` and `iss`.
fn authorize(m: &Mock, query: &HashMap<String, String>) -> Response {
    let code = format!("code-{}", m.counter.fetch_add(1, Ordering::SeqCst));
    m.challenges
        .lock()
        .unwrap()
        .insert(code.clone(), query["code_challenge"].clone());
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["resource"], m.mcp_url(), "CL-19");
    let mut loc = url::Url::parse(&query["redirect_uri"]).unwrap();
    loc.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &query["state"])
        .append_pair("iss", &m.base);
    (StatusCode::SEE_OTHER, [(header::LOCATION, loc.to_string())]).into_response()
}
