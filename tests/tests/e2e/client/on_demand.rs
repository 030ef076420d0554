//! Issue 12 part A: authentication on demand ([`AuthOnDemand`], ADR 0006), against the real
//! servers with auth on and off. A recording proxy in front of the MCP server shows what the
//! client sent (no probe, no discovery against an open server); a watched token store shows
//! what was stored; a counted login flow shows how often the client logged in (CL-01..CL-05).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use http_oauth2_client::oauth::login::{LoginContext, LoginFlow};
use http_oauth2_client::token::StoredClient;
use http_oauth2_client::{
    AuthOnDemand, ClientError, InMemoryTokenStore, LoginMode, McpClient, OAuthConfig, StoreKey,
    TokenSet, TokenStore, TransportPreference,
};
use serde_json::{Value, json};
use shared::scope::ScopeSet;
use tests::Stack;

// ---------------------------------------------------------------------------------------
// Fixtures

/// One request the proxy forwarded.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    bearer: bool,
    /// The JSON-RPC method of a POST body, if any.
    rpc: Option<String>,
}

struct ProxyState {
    backend: Mutex<String>,
    log: Mutex<Vec<Seen>>,
    http: reqwest::Client,
}

/// A recording reverse proxy on `127.0.0.1:0`: forwards everything to the current backend
/// origin and streams the answer back.
#[derive(Clone)]
struct Proxy {
    state: Arc<ProxyState>,
}

impl Proxy {
    async fn start(listener: tokio::net::TcpListener, backend: &str) -> Self {
        let state = Arc::new(ProxyState {
            backend: Mutex::new(backend.to_owned()),
            log: Mutex::new(Vec::new()),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        });
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { state }
    }
    fn switch_to(&self, backend: &str) {
        *self.state.backend.lock().unwrap() = backend.to_owned();
    }
    fn log(&self) -> Vec<Seen> {
        self.state.log.lock().unwrap().clone()
    }
}

async fn forward(State(st): State<Arc<ProxyState>>, req: axum::extract::Request) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 1 << 20).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let rpc = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["method"].as_str().map(str::to_owned));
    st.log.lock().unwrap().push(Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        bearer: parts.headers.contains_key(header::AUTHORIZATION),
        rpc,
    });
    let pq = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let backend = st.backend.lock().unwrap().clone();
    let mut rb = st.http.request(parts.method, format!("{backend}{pq}"));
    for (k, v) in &parts.headers {
        if k != header::HOST && k != header::CONTENT_LENGTH {
            rb = rb.header(k, v);
        }
    }
    let Ok(resp) = rb.body(body).send().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let mut out = Response::builder().status(resp.status());
    let skip: [HeaderName; 2] = [header::TRANSFER_ENCODING, header::CONTENT_LENGTH];
    for (k, v) in resp.headers() {
        if !skip.contains(k) {
            out = out.header(k, v);
        }
    }
    out.body(Body::from_stream(resp.bytes_stream())).unwrap()
}

/// MCP server(s) behind one proxy URL: backend `i` trusts authorization server `i`; both
/// authorization servers and both MCP servers use the proxy's URL as the resource.
struct Proxied {
    proxy: Proxy,
    url: String,
    ases: Vec<auth_server::RunningServer>,
    backends: Vec<mcp_server::RunningServer>,
}

impl Proxied {
    async fn start(n: usize) -> Self {
        let listener = tests::loopback_listener().await;
        let url = format!("http://{}/mcp", listener.local_addr().unwrap());
        let mut ases = Vec::new();
        let mut backends = Vec::new();
        for _ in 0..n {
            let u = url.clone();
            let a = tests::auth_server(move |c| c.resources = vec![u]).await;
            let cfg = mcp_server::Config::new(a.issuer(), &url);
            let m = mcp_server::serve(tests::loopback_listener().await, cfg)
                .await
                .unwrap();
            ases.push(a);
            backends.push(m);
        }
        let proxy = Proxy::start(listener, &backend_base(&backends[0])).await;
        Self {
            proxy,
            url,
            ases,
            backends,
        }
    }
    fn issuer(&self, i: usize) -> &str {
        self.ases[i].issuer()
    }
    fn switch_to(&self, i: usize) {
        self.proxy.switch_to(&backend_base(&self.backends[i]));
    }
}

fn backend_base(m: &mcp_server::RunningServer) -> String {
    format!("http://{}", m.local_addr())
}

/// A token store that records what was read and written.
#[derive(Debug, Default)]
struct Watched {
    inner: InMemoryTokenStore,
    reads: AtomicUsize,
    saved: Mutex<Vec<StoreKey>>,
    clients: Mutex<Vec<StoredClient>>,
}

impl Watched {
    fn saved(&self) -> Vec<StoreKey> {
        self.saved.lock().unwrap().clone()
    }
    fn clients(&self) -> Vec<StoredClient> {
        self.clients.lock().unwrap().clone()
    }
}

impl TokenStore for Watched {
    fn load(&self, key: &StoreKey) -> Result<Option<TokenSet>, ClientError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.load(key)
    }
    fn save(&self, key: &StoreKey, tokens: &TokenSet) -> Result<(), ClientError> {
        self.saved.lock().unwrap().push(key.clone());
        self.inner.save(key, tokens)
    }
    fn remove(&self, key: &StoreKey) -> Result<(), ClientError> {
        self.inner.remove(key)
    }
    fn load_client(&self, issuer: &str) -> Result<Option<StoredClient>, ClientError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.load_client(issuer)
    }
    fn save_client(&self, client: &StoredClient) -> Result<(), ClientError> {
        self.clients.lock().unwrap().push(client.clone());
        self.inner.save_client(client)
    }
}

/// The headless login, counted.
#[derive(Debug, Default)]
struct CountedLogin(AtomicUsize);

impl LoginFlow for CountedLogin {
    fn login<'a>(
        &'a self,
        cx: &'a LoginContext,
        scopes: Option<ScopeSet>,
    ) -> BoxFuture<'a, Result<shared::oauth::TokenResponse, ClientError>> {
        Box::pin(async move {
            self.0.fetch_add(1, Ordering::SeqCst);
            let mode = LoginMode::Headless;
            mode.login(cx, scopes).await
        })
    }
}

fn config(url: &str, store: &Arc<Watched>, login: &Arc<CountedLogin>) -> OAuthConfig {
    OAuthConfig::builder(url)
        .login_flow(login.clone())
        .with_token_store(store.clone())
        .build()
        .unwrap()
}

fn text(v: &Value) -> &str {
    v["content"][0]["text"].as_str().unwrap_or_default()
}

/// A stateless `tools/call echo` body, as the MCP client sends it.
fn echo_body(id: u64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
        "name": "echo", "arguments": {"message": format!("m{id}")},
        "_meta": tests::mcp::jsonrpc::modern_meta(),
    }})
}

// ---------------------------------------------------------------------------------------
// Auth off

/// CL-01/CL-02, auth off: against a server that needs no authorization the client lists and
/// calls as usual; it sends no probe and no discovery request (only MCP POSTs reach the
/// server), never logs in, and leaves the token store untouched.
#[tokio::test]
async fn open_server_needs_no_oauth_and_leaves_no_trace_cl01_cl02() {
    let stack = Stack::builder().unprotected_mcp().start().await.unwrap();
    let listener = tests::loopback_listener().await;
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let origin = stack.mcp_url().trim_end_matches("/mcp").to_owned();
    let proxy = Proxy::start(listener, &origin).await;
    let store = Arc::new(Watched::default());
    let login = Arc::new(CountedLogin::default());
    let auth = AuthOnDemand::new(config(&url, &store, &login));
    let mcp = auth.mcp_client(TransportPreference::Auto).await.unwrap();
    let tools = mcp.list_tools().await.unwrap();
    assert!(tools.iter().any(|t| t["name"] == "echo"), "{tools:?}");
    let r = mcp
        .call_tool("echo", json!({"message": "open"}), None)
        .await
        .unwrap();
    assert_eq!(text(&r), "open");

    assert!(auth.session().is_none());
    assert_eq!(auth.authorizations(), 0);
    assert_eq!(login.0.load(Ordering::SeqCst), 0);
    assert_eq!(store.reads.load(Ordering::SeqCst), 0, "store never read");
    assert!(store.saved().is_empty() && store.clients().is_empty());
    let log = proxy.log();
    let rpcs: Vec<_> = log
        .iter()
        .map(|s| s.rpc.as_deref().unwrap_or("-"))
        .collect();
    assert!(
        log.iter()
            .all(|s| s.method == "POST" && s.path == "/mcp" && !s.bearer),
        "only MCP requests, no discovery: {log:?}"
    );
    assert_eq!(
        rpcs.first(),
        Some(&"server/discover"),
        "the first request is a real MCP request, not a probe: {rpcs:?}"
    );
    assert!(
        rpcs.contains(&"tools/call") && !rpcs.contains(&"ping"),
        "{rpcs:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Auth on

/// CL-01..CL-05, auth on: the first MCP request (not a probe) gets the 401; the client
/// discovers PRM from the challenge and the AS metadata, registers, logs in once, retries
/// that request with the token, and stores the tokens under (issuer, resource, client).
#[tokio::test]
async fn protected_server_logs_in_on_the_first_401_and_retries_once_cl01_cl04() {
    let p = Proxied::start(1).await;
    let store = Arc::new(Watched::default());
    let login = Arc::new(CountedLogin::default());
    let auth = AuthOnDemand::new(config(&p.url, &store, &login));
    assert!(auth.session().is_none());
    let mcp = auth.mcp_client(TransportPreference::Auto).await.unwrap();
    let r = mcp
        .call_tool("echo", json!({"message": "closed"}), None)
        .await
        .unwrap();
    assert_eq!(text(&r), "closed");

    let s = auth.session().expect("a session after the 401");
    assert_eq!(s.issuer(), p.issuer(0));
    assert_eq!(s.resource(), p.url);
    assert_eq!(auth.authorizations(), 1);
    assert_eq!(login.0.load(Ordering::SeqCst), 1);
    assert_eq!(
        store.saved(),
        [StoreKey::new(p.issuer(0), p.url.clone(), s.client_id())]
    );
    assert_eq!(store.clients().len(), 1, "one dynamic registration");
    let log = p.proxy.log();
    let first = &log[0];
    assert_eq!(
        (first.rpc.as_deref(), first.bearer),
        (Some("server/discover"), false),
        "the first request is the real one, without a token: {log:?}"
    );
    assert!(
        !log.iter().any(|s| s.rpc.as_deref() == Some("ping")),
        "no probe: {log:?}"
    );
    // The 401'd request was sent again once, with the token.
    let discovers: Vec<_> = log
        .iter()
        .filter(|s| s.rpc.as_deref() == Some("server/discover"))
        .map(|s| s.bearer)
        .collect();
    assert_eq!(discovers, [false, true]);

    // A second program sharing the store: its first 401 finds the stored registration and
    // tokens under (issuer, resource, client): no new registration, no new login.
    let again = AuthOnDemand::new(config(&p.url, &store, &login));
    let mcp = again.mcp_client(TransportPreference::Auto).await.unwrap();
    mcp.list_tools().await.unwrap();
    assert_eq!(again.session().unwrap().client_id(), s.client_id());
    assert_eq!(login.0.load(Ordering::SeqCst), 1, "stored tokens reused");
    assert_eq!(store.clients().len(), 1, "stored registration reused");
}

fn assert_send_sync<T: Send + Sync>(_: &T) {}
fn assert_send<T: Send>(_: &T) {}

/// The middleware is shareable across tasks, and its futures are Send.
#[test]
fn auth_on_demand_is_send_and_sync() {
    let cfg = OAuthConfig::builder("http://127.0.0.1:1/mcp")
        .build()
        .unwrap();
    let auth = AuthOnDemand::new(cfg);
    assert_send_sync(&auth);
    assert_send(&auth.mcp_client(TransportPreference::Auto));
}

/// Single-flight: N requests that hit the first 401 together cause one discovery, one
/// registration and one login; every one of them is retried with that token.
#[tokio::test]
async fn concurrent_first_401s_trigger_one_login_cl04() {
    const N: usize = 8;
    let p = Proxied::start(1).await;
    let store = Arc::new(Watched::default());
    let login = Arc::new(CountedLogin::default());
    let auth = AuthOnDemand::new(config(&p.url, &store, &login));
    let http = auth.client().unwrap();
    let calls = (0..N as u64).map(|i| {
        let http = http.clone();
        let url = p.url.clone();
        async move {
            let r = http
                .post(url)
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", tests::mcp::MODERN)
                .header("mcp-method", "tools/call")
                .header("mcp-name", "echo")
                .json(&echo_body(i))
                .send()
                .await
                .unwrap();
            (r.status(), r.text().await.unwrap())
        }
    });
    let results = futures_util::future::join_all(calls).await;
    for (i, (status, body)) in results.iter().enumerate() {
        assert_eq!(*status, 200, "request {i}: {body}");
        assert!(body.contains(&format!("m{i}")), "request {i}: {body}");
    }
    assert_eq!(login.0.load(Ordering::SeqCst), 1, "one login");
    assert_eq!(store.clients().len(), 1, "one registration");
    assert_eq!(auth.authorizations(), 1);
    let log = p.proxy.log();
    let without = log.iter().filter(|s| s.path == "/mcp" && !s.bearer).count();
    let with = log.iter().filter(|s| s.path == "/mcp" && s.bearer).count();
    assert_eq!(
        (without, with),
        (N, N),
        "all {N} hit the 401, all retried once"
    );
}

/// `LoginMode::Never`: a program that must not log in gets `AuthorizationRequired` from
/// the first challenged request, and nothing is stored.
#[tokio::test]
async fn never_login_fails_with_authorization_required_cl01() {
    let p = Proxied::start(1).await;
    let store = Arc::new(Watched::default());
    let cfg = OAuthConfig::builder(&p.url)
        .login_mode(LoginMode::Never)
        .with_token_store(store.clone())
        .build()
        .unwrap();
    let auth = AuthOnDemand::new(cfg);
    let e = McpClient::connect(auth.client().unwrap(), p.url.parse().unwrap())
        .await
        .unwrap_err();
    assert!(e.is_authorization_required(), "{e}");
    assert!(e.to_string().contains(p.issuer(0)), "{e}");
    assert!(auth.session().is_none());
    assert!(store.saved().is_empty());
}

/// A plain REST client with the middleware: an axum API protected by the MCP server's
/// `JwtAuthLayer` answers 401 with a real challenge; the first GET logs in and succeeds. A
/// request whose body is a stream cannot be replayed: it fails with `NotReplayed` (the
/// login ran), and sent again it succeeds.
#[tokio::test]
async fn rest_client_logs_in_on_its_first_401_cl01_cl02() {
    let (api, a) = tests::protected_rest_api(
        axum::Router::new()
            .route("/api/items", axum::routing::get(|| async { "[1,2,3]" }))
            .route(
                "/api/upload",
                axum::routing::post(|body: String| async move { format!("got {}", body.len()) }),
            ),
    )
    .await;

    // Before: the API really refuses anonymous requests.
    let anon = reqwest::get(format!("{api}/items")).await.unwrap();
    assert_eq!(anon.status(), 401);

    let login = Arc::new(CountedLogin::default());
    let store = Arc::new(Watched::default());
    let auth = AuthOnDemand::new(config(&api, &store, &login));
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(auth.clone())
        .build();
    let r = client.get(format!("{api}/items")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "[1,2,3]");
    assert_eq!(login.0.load(Ordering::SeqCst), 1);
    assert_eq!(auth.session().unwrap().issuer(), a.issuer());

    // A streamed body on a fresh client: the 401 cannot be answered by a replay.
    let auth2 = AuthOnDemand::new(config(&api, &Arc::new(Watched::default()), &login));
    let client2 = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(auth2.clone())
        .build();
    let stream = || {
        let chunks: Vec<Result<&'static str, std::io::Error>> = vec![Ok("ab"), Ok("cd")];
        reqwest::Body::wrap_stream(futures_util::stream::iter(chunks))
    };
    let e = client2
        .post(format!("{api}/upload"))
        .body(stream())
        .send()
        .await
        .unwrap_err();
    let e = ClientError::from(e);
    assert!(
        matches!(e, ClientError::NotReplayed { status } if status == 401),
        "{e}"
    );
    assert_eq!(login.0.load(Ordering::SeqCst), 2, "the login ran");
    let r = client2
        .post(format!("{api}/upload"))
        .body(stream())
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "got 4");
    assert_eq!(login.0.load(Ordering::SeqCst), 2, "no second login");
}

/// Issue 12 B, authorization-server migration (CL-04, CL-16): the client holds tokens from
/// issuer A (pre-registered client `mcp-cli`); the MCP server starts naming issuer B. The
/// next request's 401 makes the client read the PRM again, discover B, register there (the
/// pre-registered client stays bound to A and is not offered to B), log in, and retry; the
/// tokens of both issuers are stored under their own keys.
#[tokio::test]
async fn authorization_server_migration_registers_and_logs_in_at_the_new_issuer_cl04_cl16() {
    let p = Proxied::start(2).await;
    let store = Arc::new(Watched::default());
    let login = Arc::new(CountedLogin::default());
    let cfg = OAuthConfig::builder(&p.url)
        .client_id("mcp-cli")
        .login_flow(login.clone())
        .with_token_store(store.clone())
        .build()
        .unwrap();
    let auth = AuthOnDemand::new(cfg);
    let mcp = auth.mcp_client(TransportPreference::Auto).await.unwrap();
    let r = mcp
        .call_tool("echo", json!({"message": "at A"}), None)
        .await
        .unwrap();
    assert_eq!(text(&r), "at A");
    let a = auth.session().unwrap();
    assert_eq!((a.issuer(), a.client_id()), (p.issuer(0), "mcp-cli"));

    p.switch_to(1);
    let r = mcp
        .call_tool("echo", json!({"message": "at B"}), None)
        .await
        .unwrap();
    assert_eq!(text(&r), "at B");
    let b = auth.session().unwrap();
    assert_eq!(b.issuer(), p.issuer(1));
    assert_ne!(
        b.client_id(),
        "mcp-cli",
        "pre-registered credentials are bound to A"
    );
    assert_eq!(auth.authorizations(), 2);
    assert_eq!(login.0.load(Ordering::SeqCst), 2);
    let clients = store.clients();
    assert_eq!(clients.len(), 1, "{clients:?}");
    assert_eq!(
        (clients[0].issuer.as_str(), clients[0].client_id.as_str()),
        (p.issuer(1), b.client_id())
    );
    assert_eq!(
        store.saved(),
        [
            StoreKey::new(p.issuer(0), p.url.clone(), "mcp-cli"),
            StoreKey::new(p.issuer(1), p.url.clone(), b.client_id()),
        ]
    );
    // Later requests use B's tokens at once (no 401 on the way).
    let before = p.proxy.log().len();
    mcp.call_tool("echo", json!({"message": "again"}), None)
        .await
        .unwrap();
    let after = p.proxy.log();
    assert_eq!(after.len() - before, 1);
    assert!(after[before].bearer);
}

/// The CLI against an open server (human output and `--json`): lists and calls as usual,
/// says that no authorization was needed, and writes no token file.
#[test]
fn cli_against_an_open_server_says_no_authorization_was_needed_cl01() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let stack = rt
        .block_on(Stack::builder().unprotected_mcp().start())
        .unwrap();
    let dir = std::env::temp_dir().join(format!("on-demand-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = dir.join("tokens.jwe");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(tests::workspace_binary("http-oauth2-client"))
            .args(args)
            .args(["--token-store", store.to_str().unwrap(), "--headless"])
            .arg(stack.mcp_url())
            .current_dir(&dir)
            .env("RUST_LOG", "warn")
            .output()
            .expect("run the CLI (built by `cargo build --workspace --bins`)");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (json_out, _) = run(&["--json"]);
    let report: Value = serde_json::from_str(&json_out).unwrap();
    assert_eq!(report["authorization"], "none", "{report:#}");
    assert_eq!(report["issuer"], Value::Null);
    assert!(
        report["calls"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["tool"] == "echo"),
        "{report:#}"
    );
    let (human, _) = run(&[]);
    assert!(human.contains("authorization: none needed"), "{human}");
    let (list, note) = run(&["tools", "list"]);
    assert!(list.contains("echo"), "{list}");
    assert!(note.contains("no authorization was needed"), "{note}");
    let (list_json, _) = run(&["--json", "tools", "list"]);
    let v: Value = serde_json::from_str(&list_json).unwrap();
    assert_eq!(v["authorization"], "none");
    assert!(
        !store.exists(),
        "nothing stored for a server that never asked"
    );
    let _ = std::fs::remove_dir_all(&dir);
    drop(stack);
}

/// The CLI against a protected server (auth on): the report logs in on the first 401
/// (headless), names the issuer and client, and the tokens land in the token file; a second
/// run reuses them.
#[test]
fn cli_against_a_protected_server_logs_in_on_the_first_401_cl01() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let stack = rt.block_on(Stack::start()).unwrap();
    let dir = std::env::temp_dir().join(format!("on-demand-cli-auth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = dir.join("tokens.jwe");
    let run = || {
        let out = std::process::Command::new(tests::workspace_binary("http-oauth2-client"))
            .args(["--json", "--headless", "--client-id", "mcp-cli"])
            .args(["--token-store", store.to_str().unwrap()])
            .arg(stack.mcp_url())
            .current_dir(&dir)
            .env("RUST_LOG", "warn")
            .output()
            .expect("run the CLI (built by `cargo build --workspace --bins`)");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let first = run();
    assert_eq!(first["authorization"], "oauth", "{first:#}");
    assert_eq!(first["issuer"], stack.issuer());
    assert_eq!(first["client_id"], "mcp-cli");
    assert!(first["token"].is_object(), "{first:#}");
    assert!(store.exists(), "tokens stored");
    assert!(first["token"]["claims"]["jti"].is_string(), "{first:#}");
    let second = run();
    assert_eq!(
        second["token"]["claims"]["jti"], first["token"]["claims"]["jti"],
        "the stored token is reused"
    );
    let _ = std::fs::remove_dir_all(&dir);
    drop(stack);
}
