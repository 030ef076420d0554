//! In-crate tests of the client stack against small axum servers on 127.0.0.1:0 that play
//! the token endpoint, the resource server, the metadata endpoints and an MCP server, and
//! count their hits. Test names cite the checklist rows (CL-xx, TR-xx) they prove.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use http_oauth2_client::oauth::discovery;
use http_oauth2_client::oauth::oauth_http_client;
use http_oauth2_client::oauth::token_endpoint::{ClientCredentials, TokenEndpoint};
use http_oauth2_client::{
    Authorizer, BearerAuth, ClientError, InMemoryTokenStore, LoginMode, McpClient, OAuthConfig,
    OAuthSession, StoreKey, TokenManager, TokenSet, TokenStore, TransportKind,
};
use serde_json::{Value, json};
use shared::clock::TestClock;
use shared::scope::ScopeSet;
use shared::secret::{AccessToken, RefreshToken};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum TokenMode {
    #[default]
    Rotate,
    NoRefresh,
    InvalidGrant,
}

/// (JSON-RPC method, Mcp-Method header, Mcp-Name header)
type SeenHeaders = (String, Option<String>, Option<String>);

#[derive(Debug, Default)]
struct Mock {
    base: Mutex<String>,
    token_hits: AtomicUsize,
    api_hits: AtomicUsize,
    counter: AtomicUsize,
    mode: Mutex<TokenMode>,
    valid: Mutex<HashSet<String>>,
    forms: Mutex<Vec<HashMap<String, String>>>,
    docs: Mutex<HashMap<String, Value>>,
    gets: Mutex<Vec<String>>,
    other_saw_auth: AtomicBool,
    other_hits: AtomicUsize,
    challenges: Mutex<HashMap<String, String>>,
    mcp_methods: Mutex<Vec<String>>,
    session_requests_without_id: AtomicUsize,
    reject_all: AtomicBool,
    fail_next_token: AtomicUsize,
    basic_auth: Mutex<Vec<String>>,
    modern: AtomicBool,
    expire_session_once: AtomicBool,
    sessions: AtomicUsize,
    notification_200: AtomicBool,
    modern_headers: Mutex<Vec<SeenHeaders>>,
    sse_tx: Mutex<Option<tokio::sync::mpsc::UnboundedSender<String>>>,
    legacy_only: AtomicBool,
}

impl Mock {
    fn base(&self) -> String {
        self.base.lock().unwrap().clone()
    }
    fn doc(&self, path: &str, v: Value) {
        self.docs.lock().unwrap().insert(path.to_owned(), v);
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
        m.base()
    );
    (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, www)]).into_response()
}

async fn handle(State(m): State<Arc<Mock>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let path = parts.uri.path().to_owned();
    let query: HashMap<String, String> = parts
        .uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    match (parts.method.as_str(), path.as_str()) {
        ("POST", "/token") => {
            m.token_hits.fetch_add(1, Ordering::SeqCst);
            if m.fail_next_token.load(Ordering::SeqCst) > 0 {
                m.fail_next_token.fetch_sub(1, Ordering::SeqCst);
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
            if let Some(b) = parts
                .headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
            {
                m.basic_auth.lock().unwrap().push(b.to_owned());
            }
            let form: HashMap<String, String> =
                url::form_urlencoded::parse(&body).into_owned().collect();
            m.forms.lock().unwrap().push(form.clone());
            tokio::time::sleep(Duration::from_millis(20)).await;
            if form.get("grant_type").map(String::as_str) == Some("authorization_code") {
                let ok = m
                    .challenges
                    .lock()
                    .unwrap()
                    .remove(form.get("code").map(String::as_str).unwrap_or(""))
                    .is_some_and(|ch| {
                        let v = shared::pkce::PkceVerifier::new(
                            form.get("code_verifier").cloned().unwrap_or_default(),
                        );
                        v.is_ok_and(|v| shared::pkce::PkceChallenge::s256(&v).as_str() == ch)
                    });
                if !ok {
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
            m.valid.lock().unwrap().insert(at.clone());
            let mut r = json!({"access_token": at, "token_type": "Bearer", "expires_in": 3600});
            if let Some(s) = form.get("scope") {
                r["scope"] = json!(s);
            }
            if mode == TokenMode::Rotate {
                r["refresh_token"] = json!(format!("rt-{n}"));
            }
            json_resp(StatusCode::OK, r)
        }
        (_, "/api") => {
            m.api_hits.fetch_add(1, Ordering::SeqCst);
            if m.authorized(&parts.headers) && !m.reject_all.load(Ordering::SeqCst) {
                "ok".into_response()
            } else {
                unauthorized(&m)
            }
        }
        (_, "/scoped") => {
            m.api_hits.fetch_add(1, Ordering::SeqCst);
            if Mock::bearer(&parts.headers).as_deref() == Some("stepped") {
                "ok".into_response()
            } else {
                (
                    StatusCode::FORBIDDEN,
                    [(
                        header::WWW_AUTHENTICATE,
                        r#"Bearer error="insufficient_scope", scope="mcp:tools:call""#,
                    )],
                )
                    .into_response()
            }
        }
        (_, "/redirect") => {
            let to = query.get("to").cloned().unwrap_or_default();
            (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, to)]).into_response()
        }
        (_, "/landing") => {
            m.other_hits.fetch_add(1, Ordering::SeqCst);
            if parts.headers.contains_key(header::AUTHORIZATION) {
                m.other_saw_auth.store(true, Ordering::SeqCst);
            }
            "landed".into_response()
        }
        ("POST", "/register") => {
            let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            assert_eq!(v["token_endpoint_auth_method"], "none", "CL-14");
            assert_eq!(v["application_type"], "native", "CL-13");
            json_resp(
                StatusCode::CREATED,
                json!({"client_id": "dyn-1", "redirect_uris": v["redirect_uris"], "token_endpoint_auth_method": "none"}),
            )
        }
        ("GET", "/authorize") => {
            let code = format!("code-{}", m.counter.fetch_add(1, Ordering::SeqCst));
            m.challenges
                .lock()
                .unwrap()
                .insert(code.clone(), query["code_challenge"].clone());
            assert_eq!(query["code_challenge_method"], "S256");
            assert_eq!(query["resource"], format!("{}/mcp", m.base()), "CL-19");
            let mut loc = url::Url::parse(&query["redirect_uri"]).unwrap();
            loc.query_pairs_mut()
                .append_pair("code", &code)
                .append_pair("state", &query["state"])
                .append_pair("iss", &m.base());
            (StatusCode::SEE_OTHER, [(header::LOCATION, loc.to_string())]).into_response()
        }
        ("POST", "/mcp") if m.legacy_only.load(Ordering::SeqCst) => {
            if !m.authorized(&parts.headers) {
                return unauthorized(&m);
            }
            StatusCode::METHOD_NOT_ALLOWED.into_response()
        }
        ("POST", "/mcp") => mcp(&m, &parts.headers, &body),
        ("GET", "/sse") => {
            if !m.authorized(&parts.headers) {
                return unauthorized(&m);
            }
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<String>();
            let _ = tx.send("event: endpoint\ndata: /messages?session=1\n\n".into());
            *m.sse_tx.lock().unwrap() = Some(tx);
            let stream = futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv()
                    .await
                    .map(|s| (Ok::<_, std::convert::Infallible>(s), rx))
            });
            Response::builder()
                .header(header::CONTENT_TYPE, "text/event-stream")
                .body(Body::from_stream(stream))
                .unwrap()
        }
        ("POST", "/messages") => {
            if !m.authorized(&parts.headers) {
                return unauthorized(&m);
            }
            let msg: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let method = msg["method"].as_str().unwrap_or_default().to_owned();
            m.mcp_methods.lock().unwrap().push(method.clone());
            let id = msg["id"].clone();
            let reply = match method.as_str() {
                "initialize" => Some(
                    json!({"jsonrpc": "2.0", "id": id, "result": {"protocolVersion": "2024-11-05", "capabilities": {}, "serverInfo": {"name": "old", "version": "0"}}}),
                ),
                "tools/call" => Some(
                    json!({"jsonrpc": "2.0", "id": id, "result": {"content": [{"type": "text", "text": "over sse"}]}}),
                ),
                _ if id.is_null() => None,
                _ => Some(
                    json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "nope"}}),
                ),
            };
            if let (Some(r), Some(tx)) = (reply, m.sse_tx.lock().unwrap().as_ref()) {
                if method == "tools/call" {
                    let tok = &msg["params"]["_meta"]["progressToken"];
                    let _ = tx.send(format!("event: message\ndata: {}\n\n", json!({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": tok, "progress": 5}})));
                }
                let _ = tx.send(format!("event: message\ndata: {r}\n\n"));
            }
            StatusCode::ACCEPTED.into_response()
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

/// A legacy (2025-11-25) MCP server: no `server/discover`, sessions, JSON and SSE replies.
fn mcp(m: &Mock, headers: &HeaderMap, body: &[u8]) -> Response {
    if !m.authorized(headers) {
        return unauthorized(m);
    }
    let msg: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let method = msg["method"].as_str().unwrap_or_default().to_owned();
    m.mcp_methods.lock().unwrap().push(method.clone());
    let id = msg["id"].clone();
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    if m.modern.load(Ordering::SeqCst) {
        m.modern_headers
            .lock()
            .unwrap()
            .push((method.clone(), h("mcp-method"), h("mcp-name")));
        let meta = &msg["params"]["_meta"];
        if meta["io.modelcontextprotocol/protocolVersion"] != "2026-07-28"
            || h("mcp-protocol-version").as_deref() != Some("2026-07-28")
            || h("mcp-method").as_deref() != Some(method.as_str())
        {
            return json_resp(
                StatusCode::BAD_REQUEST,
                json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32020, "message": "header mismatch"}}),
            );
        }
        return match method.as_str() {
            "server/discover" => json_resp(
                StatusCode::OK,
                json!({"jsonrpc": "2.0", "id": id, "result": {"supportedVersions": ["2026-07-28"], "capabilities": {"tools": {}}, "resultType": "complete"}}),
            ),
            "tools/call" => json_resp(
                StatusCode::OK,
                json!({"jsonrpc": "2.0", "id": id, "result": {"content": [{"type": "text", "text": "modern"}], "resultType": "complete"}}),
            ),
            _ => json_resp(
                StatusCode::NOT_FOUND,
                json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "Method not found"}}),
            ),
        };
    }
    if method != "initialize"
        && h("mcp-session-id").as_deref() == Some("sess-1")
        && m.expire_session_once.swap(false, Ordering::SeqCst)
    {
        return StatusCode::NOT_FOUND.into_response();
    }
    if method != "initialize"
        && method != "server/discover"
        && !headers.contains_key("mcp-session-id")
    {
        m.session_requests_without_id.fetch_add(1, Ordering::SeqCst);
    }
    match method.as_str() {
        "server/discover" => json_resp(
            StatusCode::BAD_REQUEST,
            json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32000, "message": "Bad Request: no session"}}),
        ),
        "initialize" => {
            let mut r = json_resp(
                StatusCode::OK,
                json!({"jsonrpc": "2.0", "id": id, "result": {"protocolVersion": "2025-11-25", "capabilities": {"tools": {}}, "serverInfo": {"name": "mock", "version": "0"}}}),
            );
            let n = m.sessions.fetch_add(1, Ordering::SeqCst) + 1;
            r.headers_mut()
                .insert("mcp-session-id", format!("sess-{n}").parse().unwrap());
            r
        }
        "notifications/initialized" if m.notification_200.load(Ordering::SeqCst) => {
            StatusCode::OK.into_response()
        }
        "notifications/initialized" => StatusCode::ACCEPTED.into_response(),
        "tools/list" => json_resp(
            StatusCode::OK,
            json!({"jsonrpc": "2.0", "id": id, "result": {"tools": [{"name": "echo", "inputSchema": {"type": "object"}}]}}),
        ),
        "tools/call" => {
            let token = msg["params"]["_meta"]["progressToken"].clone();
            let progress = json!({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": token, "progress": 1, "total": 2}});
            let result = json!({"jsonrpc": "2.0", "id": id, "result": {"content": [{"type": "text", "text": msg["params"]["arguments"]["text"]}]}});
            let sse = format!(
                ": keep-alive\n\nevent: message\ndata: {progress}\n\nevent: message\ndata: {result}\n\n"
            );
            Response::builder()
                .header(header::CONTENT_TYPE, "text/event-stream")
                .body(Body::from(sse))
                .unwrap()
        }
        _ => json_resp(
            StatusCode::OK,
            json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "Method not found"}}),
        ),
    }
}

async fn spawn() -> Arc<Mock> {
    let mock = Arc::new(Mock::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    *mock.base.lock().unwrap() = format!("http://{addr}");
    let app = axum::Router::new()
        .fallback(handle)
        .with_state(mock.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    mock
}

fn manager(m: &Mock, store: Arc<dyn TokenStore>, clock: &TestClock) -> TokenManager {
    let base = m.base();
    let ep = TokenEndpoint::new(
        url::Url::parse(&format!("{base}/token")).unwrap(),
        ClientCredentials::public("cli"),
        Some(format!("{base}/mcp")),
        oauth_http_client(Duration::from_secs(5), Duration::from_secs(5), 0),
    );
    TokenManager::new(
        ep,
        store,
        StoreKey::new(&base, format!("{base}/mcp"), "cli"),
        Arc::new(clock.clone()),
    )
}

fn expired_set(clock: &TestClock) -> TokenSet {
    TokenSet::new(
        AccessToken::new("at-0".into()),
        Some(RefreshToken::new("rt-0".into())),
        Some(60),
        clock.now() - 120,
        Some("mcp:tools:read".into()),
    )
}

trait Now {
    fn now(&self) -> u64;
}
impl Now for TestClock {
    fn now(&self) -> u64 {
        use shared::clock::Clock as _;
        self.now_unix()
    }
}

/// CL-33 / P-12: 100 concurrent callers with an expired token cause exactly one
/// token-endpoint call, and all of them get the new token.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refresh_concurrent_callers_hit_token_endpoint_once_cl33() {
    let m = spawn().await;
    let clock = TestClock::starting_now();
    let mgr = manager(&m, Arc::new(InMemoryTokenStore::default()), &clock);
    mgr.set_tokens(expired_set(&clock), None);
    let barrier = Arc::new(tokio::sync::Barrier::new(100));
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (mgr, barrier) = (mgr.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            mgr.access_token().await.map(|(t, _)| t.secret().to_owned())
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), "at-1");
    }
    assert_eq!(m.token_hits.load(Ordering::SeqCst), 1);
}

/// CL-33: a late 401 for a token that was already replaced does not refresh again
/// (generation counter).
#[tokio::test]
async fn late_401_for_replaced_token_does_not_refresh_again_cl33() {
    let m = spawn().await;
    let clock = TestClock::starting_now();
    let mgr = manager(&m, Arc::new(InMemoryTokenStore::default()), &clock);
    let g0 = mgr.set_tokens(expired_set(&clock), None);
    let (t1, g1) = mgr.refresh_if_current(g0).await.unwrap();
    assert_eq!(t1.secret(), "at-1");
    let (t2, g2) = mgr.refresh_if_current(g0).await.unwrap();
    assert_eq!((t2.secret(), g2), ("at-1", g1));
    assert_eq!(m.token_hits.load(Ordering::SeqCst), 1);
    // A 401 for the *current* generation does refresh.
    let (t3, _) = mgr.refresh_if_current(g1).await.unwrap();
    assert_eq!(t3.secret(), "at-2");
    assert_eq!(m.token_hits.load(Ordering::SeqCst), 2);
}

/// CL-33, CL-19: a rotated refresh token replaces the old one in memory and in the store;
/// `resource` is sent on refresh.
#[tokio::test]
async fn refresh_rotation_is_stored_and_resource_sent_cl33_cl19() {
    let m = spawn().await;
    let clock = TestClock::starting_now();
    let store: Arc<dyn TokenStore> = Arc::new(InMemoryTokenStore::default());
    let mgr = manager(&m, store.clone(), &clock);
    mgr.set_tokens(expired_set(&clock), None);
    mgr.access_token().await.unwrap();
    let stored = store.load(mgr.key()).unwrap().unwrap();
    assert_eq!(stored.refresh_token.unwrap().secret(), "rt-1");
    assert_eq!(stored.expires_at, Some(clock.now() + 3600));
    let form = m.forms.lock().unwrap()[0].clone();
    assert_eq!(form["grant_type"], "refresh_token");
    assert_eq!(form["refresh_token"], "rt-0");
    assert_eq!(form["resource"], format!("{}/mcp", m.base()));
    assert_eq!(form["client_id"], "cli");
    // Next refresh spends the rotated token.
    mgr.refresh_if_current(mgr.generation()).await.unwrap();
    assert_eq!(m.forms.lock().unwrap()[1]["refresh_token"], "rt-1");
}

/// CL-33: when the response carries no refresh token the old one is kept.
#[tokio::test]
async fn refresh_without_new_refresh_token_keeps_the_old_one_cl33() {
    let m = spawn().await;
    *m.mode.lock().unwrap() = TokenMode::NoRefresh;
    let clock = TestClock::starting_now();
    let mgr = manager(&m, Arc::new(InMemoryTokenStore::default()), &clock);
    mgr.set_tokens(expired_set(&clock), None);
    mgr.access_token().await.unwrap();
    let t = mgr.tokens().unwrap();
    assert_eq!(t.access_token.secret(), "at-1");
    assert_eq!(t.refresh_token.as_ref().unwrap().secret(), "rt-0");
    assert_eq!(t.scope.as_deref(), Some("mcp:tools:read"));
}

/// CL-34 / P-12: `invalid_grant` (e.g. a reused rotated token) becomes
/// AuthorizationRequired, clears the tokens and never loops.
#[tokio::test]
async fn invalid_grant_becomes_authorization_required_without_loop_cl34() {
    let m = spawn().await;
    *m.mode.lock().unwrap() = TokenMode::InvalidGrant;
    let clock = TestClock::starting_now();
    let store: Arc<dyn TokenStore> = Arc::new(InMemoryTokenStore::default());
    let mgr = manager(&m, store.clone(), &clock);
    mgr.set_tokens(expired_set(&clock), None);
    let e = mgr.access_token().await.unwrap_err();
    assert!(e.is_authorization_required(), "{e}");
    let e = mgr.access_token().await.unwrap_err();
    assert!(e.is_authorization_required(), "{e}");
    assert_eq!(m.token_hits.load(Ordering::SeqCst), 1);
    assert!(store.load(mgr.key()).unwrap().is_none());
}

fn bearer_client(mgr: &TokenManager, m: &Mock) -> reqwest_middleware::ClientWithMiddleware {
    let url = url::Url::parse(&m.base()).unwrap();
    reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(BearerAuth::new(mgr.clone(), &url))
        .build()
}

/// CL-34: a 401 triggers exactly one refresh and one retry of the request.
#[tokio::test]
async fn middleware_401_refreshes_once_and_retries_once_cl34() {
    let m = spawn().await;
    let clock = TestClock::starting_now();
    let mgr = manager(&m, Arc::new(InMemoryTokenStore::default()), &clock);
    // Fresh by the clock but unknown to the server (revoked): 401 -> refresh -> retry OK.
    let mut t = expired_set(&clock);
    t.issued_at = clock.now();
    t.expires_at = Some(clock.now() + 3600);
    mgr.set_tokens(t, None);
    let c = bearer_client(&mgr, &m);
    let r = c.get(format!("{}/api", m.base())).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(m.token_hits.load(Ordering::SeqCst), 1);
    assert_eq!(m.api_hits.load(Ordering::SeqCst), 2);
    // A server that rejects every token: still one refresh and one retry, then the 401.
    m.reject_all.store(true, Ordering::SeqCst);
    let r = c.get(format!("{}/api", m.base())).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(m.token_hits.load(Ordering::SeqCst), 2);
    assert_eq!(m.api_hits.load(Ordering::SeqCst), 4);
}

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
    let m = spawn().await;
    let clock = TestClock::starting_now();
    let auth = Arc::new(RecordingAuthorizer::default());
    let mgr =
        manager(&m, Arc::new(InMemoryTokenStore::default()), &clock).with_authorizer(auth.clone());
    let mut t = expired_set(&clock);
    t.issued_at = clock.now();
    t.expires_at = Some(clock.now() + 3600);
    mgr.set_tokens(t, Some(ScopeSet::parse("mcp:tools:read")));
    let c = bearer_client(&mgr, &m);
    let r = c.get(format!("{}/scoped", m.base())).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        *auth.calls.lock().unwrap(),
        vec![Some("mcp:tools:call mcp:tools:read".to_owned())]
    );
    assert_eq!(m.api_hits.load(Ordering::SeqCst), 2);
    // The server keeps refusing even the stepped-up token: no second step-up.
    mgr.set_tokens(
        TokenSet::new(
            AccessToken::new("still-not-enough".into()),
            None,
            None,
            0,
            None,
        ),
        None,
    );
    let r = c.get(format!("{}/scoped", m.base())).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(auth.calls.lock().unwrap().len(), 1);
}

/// CL-30 / CL-31: the token is never sent to another origin, neither directly nor after a
/// redirect.
#[tokio::test]
async fn token_is_never_sent_to_another_origin_cl31() {
    let m = spawn().await;
    let other = spawn().await;
    let clock = TestClock::starting_now();
    let mgr = manager(&m, Arc::new(InMemoryTokenStore::default()), &clock);
    m.valid.lock().unwrap().insert("at-x".into());
    mgr.set_tokens(
        TokenSet::new(AccessToken::new("at-x".into()), None, None, 0, None),
        None,
    );
    let c = bearer_client(&mgr, &m);
    let r = c
        .get(format!("{}/redirect?to={}/landing", m.base(), other.base()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    c.get(format!("{}/landing", other.base()))
        .send()
        .await
        .unwrap();
    assert_eq!(other.other_hits.load(Ordering::SeqCst), 2);
    assert!(!other.other_saw_auth.load(Ordering::SeqCst));
    // Same origin does get it.
    assert_eq!(
        c.get(format!("{}/api", m.base()))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

/// CL-08: plain http to a non-loopback host is refused unless explicitly allowed.
#[tokio::test]
async fn plain_http_to_non_loopback_is_refused_unless_insecure_cl08() {
    assert!(
        OAuthConfig::builder("http://mcp.example/mcp")
            .build()
            .is_err()
    );
    assert!(
        OAuthConfig::builder("http://mcp.example/mcp")
            .allow_insecure_http()
            .build()
            .is_ok()
    );
    assert!(
        OAuthConfig::builder("https://mcp.example/mcp")
            .build()
            .is_ok()
    );
    let m = spawn().await;
    let clock = TestClock::starting_now();
    let mgr = manager(&m, Arc::new(InMemoryTokenStore::default()), &clock);
    mgr.set_tokens(
        TokenSet::new(AccessToken::new("at-x".into()), None, None, 0, None),
        None,
    );
    let remote = url::Url::parse("http://mcp.invalid/").unwrap();
    let c = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(BearerAuth::new(mgr.clone(), &remote))
        .build();
    let e = ClientError::from(c.get("http://mcp.invalid/x").send().await.unwrap_err());
    assert!(matches!(e, ClientError::Config(_)), "{e}");
}

fn prm(m: &Mock, resource: &str) -> Value {
    json!({"resource": resource, "authorization_servers": [m.base()], "scopes_supported": ["mcp"]})
}

fn asm(issuer: &str) -> Value {
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "code_challenge_methods_supported": ["S256"],
    })
}

fn http() -> reqwest_middleware::ClientWithMiddleware {
    oauth_http_client(Duration::from_secs(5), Duration::from_secs(5), 0)
}

/// CL-02: the `resource_metadata` URL from the challenge is used first.
#[tokio::test]
async fn discovery_uses_resource_metadata_from_header_cl02() {
    let m = spawn().await;
    let server = url::Url::parse(&format!("{}/mcp", m.base())).unwrap();
    m.doc("/custom/prm", prm(&m, server.as_str()));
    let got = discovery::protected_resource_metadata(
        &http(),
        &server,
        Some(&format!("{}/custom/prm", m.base())),
        false,
    )
    .await
    .unwrap();
    assert_eq!(got.resource, server.as_str());
    assert_eq!(*m.gets.lock().unwrap(), vec!["/custom/prm"]);
    // The probe finds the header on a 401.
    let ch = discovery::probe(&http(), &server).await.unwrap().unwrap();
    assert!(
        ch.resource_metadata()
            .unwrap()
            .ends_with("/.well-known/oauth-protected-resource/mcp")
    );
}

/// CL-02 / P-01: path-inserted well-known first, then the root.
#[tokio::test]
async fn discovery_probes_path_inserted_then_root_cl02() {
    let m = spawn().await;
    let server = url::Url::parse(&format!("{}/mcp", m.base())).unwrap();
    m.doc(
        "/.well-known/oauth-protected-resource",
        prm(&m, server.as_str()),
    );
    let got = discovery::protected_resource_metadata(&http(), &server, None, false)
        .await
        .unwrap();
    assert_eq!(got.resource, server.as_str());
    assert_eq!(
        *m.gets.lock().unwrap(),
        vec![
            "/.well-known/oauth-protected-resource/mcp",
            "/.well-known/oauth-protected-resource"
        ]
    );
    m.gets.lock().unwrap().clear();
    m.doc(
        "/.well-known/oauth-protected-resource/mcp",
        prm(&m, server.as_str()),
    );
    discovery::protected_resource_metadata(&http(), &server, None, false)
        .await
        .unwrap();
    assert_eq!(
        *m.gets.lock().unwrap(),
        vec!["/.well-known/oauth-protected-resource/mcp"]
    );
}

/// CL-03 / P-02: PRM naming another resource is refused.
#[tokio::test]
async fn discovery_refuses_resource_mismatch_cl03() {
    let m = spawn().await;
    let server = url::Url::parse(&format!("{}/mcp", m.base())).unwrap();
    m.doc(
        "/.well-known/oauth-protected-resource/mcp",
        prm(&m, "https://evil.example/mcp"),
    );
    let e = discovery::protected_resource_metadata(&http(), &server, None, false)
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::Discovery(_)), "{e}");
}

/// CL-05: RFC 8414 path insertion, then the OIDC variants, in order.
#[tokio::test]
async fn discovery_as_metadata_tries_rfc8414_then_oidc_variants_cl05() {
    let m = spawn().await;
    let issuer = format!("{}/tenant", m.base());
    m.doc("/tenant/.well-known/openid-configuration", asm(&issuer));
    let got = discovery::authorization_server_metadata(&http(), &issuer, false)
        .await
        .unwrap();
    assert_eq!(got.issuer, issuer);
    assert_eq!(
        *m.gets.lock().unwrap(),
        vec![
            "/.well-known/oauth-authorization-server/tenant",
            "/.well-known/openid-configuration/tenant",
            "/tenant/.well-known/openid-configuration",
        ]
    );
    m.gets.lock().unwrap().clear();
    m.doc(
        "/.well-known/oauth-authorization-server/tenant",
        asm(&issuer),
    );
    discovery::authorization_server_metadata(&http(), &issuer, false)
        .await
        .unwrap();
    assert_eq!(
        *m.gets.lock().unwrap(),
        vec!["/.well-known/oauth-authorization-server/tenant"]
    );
}

/// CL-06: metadata with another issuer is refused.
#[tokio::test]
async fn discovery_refuses_issuer_mismatch_cl06() {
    let m = spawn().await;
    m.doc(
        "/.well-known/oauth-authorization-server",
        asm(&format!("{}/", m.base())),
    );
    let e = discovery::authorization_server_metadata(&http(), &m.base(), false)
        .await
        .unwrap_err();
    assert!(
        matches!(e, ClientError::Discovery(ref s) if s.contains("CL-06")),
        "{e}"
    );
}

/// CL-07 / P-08: no S256 (or no list at all) means refusal.
#[tokio::test]
async fn discovery_refuses_missing_s256_cl07() {
    let m = spawn().await;
    let mut doc = asm(&m.base());
    doc.as_object_mut()
        .unwrap()
        .remove("code_challenge_methods_supported");
    m.doc("/.well-known/oauth-authorization-server", doc);
    let e = discovery::authorization_server_metadata(&http(), &m.base(), false)
        .await
        .unwrap_err();
    assert!(
        matches!(e, ClientError::Discovery(ref s) if s.contains("S256")),
        "{e}"
    );
    let mut doc = asm(&m.base());
    doc["code_challenge_methods_supported"] = json!(["plain"]);
    m.doc("/.well-known/oauth-authorization-server", doc);
    assert!(
        discovery::authorization_server_metadata(&http(), &m.base(), false)
            .await
            .is_err()
    );
}

/// The whole headless flow against mock servers: probe -> PRM from the header -> AS
/// metadata -> dynamic registration (CL-13, CL-14) -> headless authorize with PKCE, state,
/// iss and resource (CL-18, CL-19, CL-23, CL-25) -> code exchange -> McpClient falls back
/// from `server/discover` to `initialize` (TR-24), keeps the session id (TR-38), reads JSON
/// and SSE responses with progress (TR-07, PR-39).
#[tokio::test]
async fn headless_session_registers_logs_in_and_talks_mcp_cl10_tr24() {
    let m = spawn().await;
    let base = m.base();
    m.doc(
        "/.well-known/oauth-protected-resource/mcp",
        prm(&m, &format!("{base}/mcp")),
    );
    let mut doc = asm(&base);
    doc["registration_endpoint"] = json!(format!("{base}/register"));
    doc["authorization_response_iss_parameter_supported"] = json!(true);
    m.doc("/.well-known/oauth-authorization-server", doc);
    let store: Arc<dyn TokenStore> = Arc::new(InMemoryTokenStore::default());
    let cfg = OAuthConfig::builder(format!("{base}/mcp"))
        .login_mode(LoginMode::Headless)
        .with_token_store(store.clone())
        .build()
        .unwrap();
    let session = OAuthSession::connect(cfg).await.unwrap();
    assert_eq!(session.client_id(), "dyn-1");
    assert_eq!(session.resource(), format!("{base}/mcp"));
    let form = m.forms.lock().unwrap()[0].clone();
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["resource"], format!("{base}/mcp"));
    assert_eq!(form["redirect_uri"], "http://127.0.0.1/callback");
    assert_eq!(
        store.load_client(&base).unwrap().unwrap().client_id,
        "dyn-1"
    );

    let mcp = McpClient::connect(session.client(), session.server_url().clone())
        .await
        .unwrap();
    assert_eq!(mcp.transport_kind(), TransportKind::Session);
    assert_eq!(mcp.session_id().as_deref(), Some("sess-1"));
    let tools = mcp.list_tools().await.unwrap();
    assert_eq!(tools[0]["name"], "echo");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let r = mcp
        .call_tool(
            "echo",
            json!({"text": "hi"}),
            Some(Arc::new(move |p| s2.lock().unwrap().push(p.progress))),
        )
        .await
        .unwrap();
    assert_eq!(r["content"][0]["text"], "hi");
    assert_eq!(*seen.lock().unwrap(), vec![1.0]);
    let e = mcp.list_prompts().await.unwrap_err();
    assert!(matches!(e, ClientError::Mcp { code: -32601, .. }));
    assert_eq!(m.session_requests_without_id.load(Ordering::SeqCst), 0);
    assert_eq!(
        m.mcp_methods.lock().unwrap()[..3],
        ["server/discover", "initialize", "notifications/initialized"]
    );

    // A second session reuses the stored registration and tokens: no new login.
    let hits = m.token_hits.load(Ordering::SeqCst);
    let cfg = OAuthConfig::builder(format!("{base}/mcp"))
        .headless()
        .with_token_store(store)
        .build()
        .unwrap();
    let again = OAuthSession::connect(cfg).await.unwrap();
    assert_eq!(again.client_id(), "dyn-1");
    assert_eq!(m.token_hits.load(Ordering::SeqCst), hits);
}

async fn headless_session(m: &Mock) -> OAuthSession {
    let base = m.base();
    m.doc(
        "/.well-known/oauth-protected-resource/mcp",
        prm(m, &format!("{base}/mcp")),
    );
    let mut doc = asm(&base);
    doc["registration_endpoint"] = json!(format!("{base}/register"));
    m.doc("/.well-known/oauth-authorization-server", doc);
    let cfg = OAuthConfig::builder(format!("{base}/mcp"))
        .headless()
        .build()
        .unwrap();
    OAuthSession::connect(cfg).await.unwrap()
}

/// TR-39 / P-16: a 404 for a request carrying a session id starts a new session and the
/// request is retried once.
#[tokio::test]
async fn unknown_session_404_reinitializes_and_retries_tr39() {
    let m = spawn().await;
    let s = headless_session(&m).await;
    let mcp = McpClient::connect(s.client(), s.server_url().clone())
        .await
        .unwrap();
    assert_eq!(mcp.session_id().as_deref(), Some("sess-1"));
    m.expire_session_once.store(true, Ordering::SeqCst);
    assert_eq!(mcp.list_tools().await.unwrap().len(), 1);
    assert_eq!(mcp.session_id().as_deref(), Some("sess-2"));
    let inits = m
        .mcp_methods
        .lock()
        .unwrap()
        .iter()
        .filter(|x| *x == "initialize")
        .count();
    assert_eq!(inits, 2);
}

/// TR-06 / P-15: a notification answered with an empty 200 (not 202) is accepted.
#[tokio::test]
async fn notification_with_empty_200_is_accepted_p15() {
    let m = spawn().await;
    m.notification_200.store(true, Ordering::SeqCst);
    let s = headless_session(&m).await;
    let mcp = McpClient::connect(s.client(), s.server_url().clone())
        .await
        .unwrap();
    assert_eq!(mcp.transport_kind(), TransportKind::Session);
}

/// TR-15, TR-18, PR-20: a stateless server gets `_meta` protocol fields, MCP-Protocol-Version,
/// Mcp-Method and Mcp-Name; no initialize is sent.
#[tokio::test]
async fn stateless_requests_carry_meta_and_standard_headers_tr15_tr18() {
    let m = spawn().await;
    m.modern.store(true, Ordering::SeqCst);
    let s = headless_session(&m).await;
    let mcp = McpClient::connect(s.client(), s.server_url().clone())
        .await
        .unwrap();
    assert_eq!(mcp.transport_kind(), TransportKind::Stateless);
    let r = mcp
        .call_tool("echo", json!({"message": "x"}), None)
        .await
        .unwrap();
    assert_eq!(r["content"][0]["text"], "modern");
    let e = mcp.list_prompts().await.unwrap_err();
    assert!(matches!(e, ClientError::Mcp { code: -32601, .. }), "{e}");
    let h = m.modern_headers.lock().unwrap().clone();
    assert!(h.contains(&(
        "tools/call".into(),
        Some("tools/call".into()),
        Some("echo".into())
    )));
    assert!(
        !m.mcp_methods
            .lock()
            .unwrap()
            .iter()
            .any(|x| x == "initialize")
    );
}

/// Proactive refresh: a stale (past 75% of its lifetime) token is refreshed before use.
#[tokio::test]
async fn stale_token_is_refreshed_proactively_cl33() {
    let m = spawn().await;
    let clock = TestClock::starting_now();
    let mgr = manager(&m, Arc::new(InMemoryTokenStore::default()), &clock);
    let mut t = expired_set(&clock);
    t.issued_at = clock.now();
    t.expires_at = Some(clock.now() + 100);
    mgr.set_tokens(t, None);
    assert_eq!(mgr.access_token().await.unwrap().0.secret(), "at-0");
    clock.advance(Duration::from_secs(80));
    assert_eq!(mgr.access_token().await.unwrap().0.secret(), "at-1");
    assert_eq!(m.token_hits.load(Ordering::SeqCst), 1);
}

/// CL-32: tokens saved by one process are found (with their expiry) by the next, which
/// refreshes with the stored refresh token once the access token has expired.
#[tokio::test]
async fn file_store_restores_expiry_so_refresh_works_after_restart_cl32() {
    let m = spawn().await;
    let clock = TestClock::starting_now();
    let dir = std::env::temp_dir().join(format!(
        "client-restart-{}-{}",
        std::process::id(),
        shared::random::token()
    ));
    let path = dir.join("tokens.jwe");
    {
        let store = Arc::new(http_oauth2_client::FileTokenStore::open(&path).unwrap());
        let mgr = manager(&m, store, &clock);
        let mut t = expired_set(&clock);
        t.issued_at = clock.now();
        t.expires_at = Some(clock.now() + 60);
        mgr.set_tokens(t, None);
    }
    let store = Arc::new(http_oauth2_client::FileTokenStore::open(&path).unwrap());
    let mgr = manager(&m, store, &clock);
    assert_eq!(mgr.tokens().unwrap().expires_at, Some(clock.now() + 60));
    assert_eq!(mgr.access_token().await.unwrap().0.secret(), "at-0");
    clock.advance(Duration::from_secs(120));
    assert_eq!(mgr.access_token().await.unwrap().0.secret(), "at-1");
    assert_eq!(m.forms.lock().unwrap()[0]["refresh_token"], "rt-0");
    let _ = std::fs::remove_dir_all(dir);
}

/// Transient token-endpoint failures (503) are retried with backoff (reqwest-retry).
#[tokio::test]
async fn token_endpoint_503_is_retried() {
    let m = spawn().await;
    m.fail_next_token.store(1, Ordering::SeqCst);
    let base = m.base();
    let ep = TokenEndpoint::new(
        url::Url::parse(&format!("{base}/token")).unwrap(),
        ClientCredentials::public("cli"),
        None,
        oauth_http_client(Duration::from_secs(5), Duration::from_secs(5), 2),
    );
    let r = ep
        .refresh(&RefreshToken::new("rt-0".into()), None)
        .await
        .unwrap();
    assert_eq!(r.access_token.secret(), "at-1");
    assert_eq!(m.token_hits.load(Ordering::SeqCst), 2);
}

/// A confidential pre-registered client uses client_secret_basic and the
/// client_credentials grant, with `resource` (CL-11, CL-19).
#[tokio::test]
async fn client_credentials_session_uses_basic_auth_cl11() {
    let m = spawn().await;
    let base = m.base();
    m.doc(
        "/.well-known/oauth-protected-resource/mcp",
        prm(&m, &format!("{base}/mcp")),
    );
    m.doc("/.well-known/oauth-authorization-server", asm(&base));
    let cfg = OAuthConfig::builder(format!("{base}/mcp"))
        .client_id("svc")
        .client_secret(shared::secret::ClientSecret::new("s3cret".into()))
        .login_mode(LoginMode::ClientCredentials)
        .build()
        .unwrap();
    let s = OAuthSession::connect(cfg).await.unwrap();
    assert_eq!(s.client_id(), "svc");
    let form = m.forms.lock().unwrap()[0].clone();
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["resource"], format!("{base}/mcp"));
    assert!(!form.contains_key("client_secret"));
    use base64::Engine as _;
    let basic = m.basic_auth.lock().unwrap()[0].clone();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(basic.strip_prefix("Basic ").unwrap())
        .unwrap();
    assert_eq!(decoded, b"svc:s3cret");
}

/// CL-10: a Client ID Metadata Document URL is used as client_id when the AS supports it;
/// otherwise the client registers dynamically.
#[tokio::test]
async fn cimd_url_is_the_client_id_when_supported_cl10() {
    let m = spawn().await;
    let base = m.base();
    m.doc(
        "/.well-known/oauth-protected-resource/mcp",
        prm(&m, &format!("{base}/mcp")),
    );
    let mut doc = asm(&base);
    doc["registration_endpoint"] = json!(format!("{base}/register"));
    doc["client_id_metadata_document_supported"] = json!(true);
    m.doc("/.well-known/oauth-authorization-server", doc.clone());
    let cimd = "https://app.example/oauth/client.json";
    let cfg = || {
        OAuthConfig::builder(format!("{base}/mcp"))
            .client_metadata_url(cimd)
            .headless()
            .build()
            .unwrap()
    };
    assert_eq!(
        OAuthSession::prepare(cfg()).await.unwrap().client_id(),
        cimd
    );
    doc["client_id_metadata_document_supported"] = json!(false);
    m.doc("/.well-known/oauth-authorization-server", doc);
    assert_eq!(
        OAuthSession::prepare(cfg()).await.unwrap().client_id(),
        "dyn-1"
    );
}

/// CL-28: the interactive flow's loopback listener gets the browser's redirect on an
/// ephemeral 127.0.0.1 port, ignores other paths, answers with a small page, validates
/// state/iss (a forged redirect without the state is discarded, CL-23), and times out
/// when nothing arrives.
#[tokio::test]
async fn loopback_listener_receives_the_browser_redirect_cl28() {
    use http_oauth2_client::oauth::authorize::AuthorizationRequest;
    use http_oauth2_client::oauth::login::LoopbackListener;
    let m = spawn().await;
    let meta: shared::oauth::AuthorizationServerMetadata =
        serde_json::from_value(asm(&m.base())).unwrap();
    let template = url::Url::parse("http://127.0.0.1/callback").unwrap();
    let listener = LoopbackListener::bind(&template).await.unwrap();
    assert!(listener.redirect_uri().starts_with("http://127.0.0.1:"));
    let req = AuthorizationRequest::new(
        &meta,
        "cli",
        listener.redirect_uri(),
        None,
        &format!("{}/mcp", m.base()),
        false,
    )
    .unwrap();
    let auth_url = req.url().clone();
    let browser = tokio::spawn(async move {
        let c = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let r = c.get(auth_url).send().await.unwrap();
        let loc = url::Url::parse(r.headers()[header::LOCATION].to_str().unwrap()).unwrap();
        let mut fav = loc.clone();
        fav.set_path("/favicon.ico");
        fav.set_query(None);
        assert_eq!(c.get(fav).send().await.unwrap().status(), 404);
        let mut forged = loc.clone();
        forged.set_query(Some("code=evil&state=forged"));
        assert_eq!(c.get(forged).send().await.unwrap().status(), 400);
        let page = c.get(loc).send().await.unwrap();
        assert_eq!(page.status(), 200);
        page.text().await.unwrap()
    });
    let code = listener.wait(&req, Duration::from_secs(10)).await.unwrap();
    assert!(code.secret().starts_with("code-"));
    assert!(browser.await.unwrap().contains("Authorization complete"));

    let listener = LoopbackListener::bind(&template).await.unwrap();
    let req =
        AuthorizationRequest::new(&meta, "cli", listener.redirect_uri(), None, "r", false).unwrap();
    let e = listener
        .wait(&req, Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::Timeout(_)), "{e}");
}

/// CL-16: pre-registered credentials bound to an issuer are never offered to a server whose
/// PRM names another authorization server.
#[tokio::test]
async fn preregistered_client_is_bound_to_its_issuer_cl16() {
    let m = spawn().await;
    let base = m.base();
    m.doc(
        "/.well-known/oauth-protected-resource/mcp",
        prm(&m, &format!("{base}/mcp")),
    );
    m.doc("/.well-known/oauth-authorization-server", asm(&base));
    let cfg = |issuer: &str| {
        OAuthConfig::builder(format!("{base}/mcp"))
            .client_id("mcp-cli")
            .issuer(issuer)
            .headless()
            .build()
            .unwrap()
    };
    let e = OAuthSession::prepare(cfg("https://other-as.example"))
        .await
        .unwrap_err();
    assert!(
        matches!(e, ClientError::Discovery(ref s) if s.contains("CL-16")),
        "{e}"
    );
    assert_eq!(
        OAuthSession::prepare(cfg(&base)).await.unwrap().issuer(),
        base
    );
}

/// A failing token endpoint is not hammered: callers queued behind the single-flight gate
/// reuse the failure for a moment instead of each trying again (P-12).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failing_token_endpoint_is_called_once_for_concurrent_callers() {
    let m = spawn().await;
    m.fail_next_token.store(1_000, Ordering::SeqCst);
    let clock = TestClock::starting_now();
    let mgr = manager(&m, Arc::new(InMemoryTokenStore::default()), &clock);
    mgr.set_tokens(expired_set(&clock), None);
    let barrier = Arc::new(tokio::sync::Barrier::new(20));
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (mgr, barrier) = (mgr.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            mgr.access_token().await
        }));
    }
    for t in tasks {
        assert!(matches!(t.await.unwrap(), Err(ClientError::Transport(_))));
    }
    assert_eq!(m.token_hits.load(Ordering::SeqCst), 1);
    // After the hold time a new attempt is made.
    clock.advance(Duration::from_secs(3));
    m.fail_next_token.store(0, Ordering::SeqCst);
    assert_eq!(mgr.access_token().await.unwrap().0.secret(), "at-1");
}

/// TR-42, TR-50: a 2024-11-05 server (POST /mcp answers 405) is reached over HTTP+SSE: GET
/// the `/sse` sibling, read the `endpoint` event, POST there, responses and progress arrive
/// on the stream, and the bearer token goes on every request (CL-30).
#[tokio::test]
async fn legacy_server_is_reached_over_http_sse_tr42() {
    let m = spawn().await;
    let s = headless_session(&m).await;
    m.legacy_only.store(true, Ordering::SeqCst);
    let mcp = McpClient::connect(s.client(), s.server_url().clone())
        .await
        .unwrap();
    assert_eq!(mcp.transport_kind(), TransportKind::HttpSse);
    assert_eq!(mcp.protocol_version(), "2024-11-05");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let r = mcp
        .call_tool(
            "echo",
            json!({}),
            Some(Arc::new(move |p| s2.lock().unwrap().push(p.progress))),
        )
        .await
        .unwrap();
    assert_eq!(r["content"][0]["text"], "over sse");
    assert_eq!(*seen.lock().unwrap(), vec![5.0]);
    assert!(matches!(
        mcp.list_prompts().await.unwrap_err(),
        ClientError::Mcp { code: -32601, .. }
    ));
    assert_eq!(
        m.mcp_methods.lock().unwrap()[..],
        [
            "initialize",
            "notifications/initialized",
            "tools/call",
            "prompts/list"
        ]
    );
}

fn assert_send<T: Send>(_: &T) {}
fn assert_send_sync<T: Send + Sync>() {}

/// The public handles are Send + Sync and their futures are Send, so callers can share them
/// across tasks and `tokio::spawn` the calls.
#[test]
fn public_handles_and_futures_are_send() {
    assert_send_sync::<McpClient>();
    assert_send_sync::<OAuthSession>();
    assert_send_sync::<TokenManager>();
    assert_send_sync::<BearerAuth>();
    assert_send_sync::<http_oauth2_client::FileTokenStore>();
    let cfg = OAuthConfig::builder("http://127.0.0.1:1/mcp")
        .build()
        .unwrap();
    let f = OAuthSession::connect(cfg);
    assert_send(&f);
    let http: reqwest_middleware::ClientWithMiddleware = reqwest::Client::new().into();
    let f = McpClient::connect(http, url::Url::parse("http://127.0.0.1:1/mcp").unwrap());
    assert_send(&f);
}

/// The futures of an McpClient's operations are Send.
#[allow(dead_code)]
fn mcp_operation_futures_are_send(c: &McpClient) {
    assert_send(&c.list_tools());
    assert_send(&c.call_tool("x", json!({}), None));
    assert_send(&c.read_resource("x"));
    assert_send(&c.get_prompt("x", None));
    assert_send(&c.ping());
}
