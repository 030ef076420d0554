//! The MCP server under test behind the [`MockAs`](crate::mock_as::MockAs) authorization
//! server: tokens are signed here, so a test can forge any of them. (The whole real stack is
//! [`crate::Stack`].)

use serde_json::{Value, json};

use crate::mcp::{LEGACY, MODERN, McpRequest, jsonrpc};
use crate::mock_as::{Key, MockAs, claims, es256, sign};

/// The umbrella scope: implies every `mcp:*` scope.
pub const ALL: &str = "mcp";

/// An MCP server trusting a [`MockAs`] that publishes `key`.
#[allow(missing_debug_implementations)] // holds a signing key
pub struct McpFixture {
    pub as_: MockAs,
    pub key: Key,
    pub server: mcp_server::RunningServer,
    pub http: reqwest::Client,
    pub url: String,
}

/// Starts the MCP server with `tweak` applied to its config, trusting a fresh [`MockAs`].
pub async fn mcp_fixture_with(tweak: impl FnOnce(&mut mcp_server::Config)) -> McpFixture {
    crate::init_tracing();
    let key = es256();
    let as_ = MockAs::start(&[&key], 300).await;
    let server = mcp_server_for(&as_.issuer, |c| {
        c.resources_dir = Some(crate::mcp_resources_dir());
        tweak(c);
    })
    .await;
    let url = server.resource_url().to_owned();
    McpFixture {
        as_,
        key,
        server,
        http: reqwest::Client::new(),
        url,
    }
}

/// [`mcp_fixture_with`] with the default config.
pub async fn mcp_fixture() -> McpFixture {
    mcp_fixture_with(|_| {}).await
}

/// A fixture with `tweak` applied, a token with every scope and an open 2025-11-25 session:
/// `(fixture, token, session id)`.
pub async fn mcp_session_with(
    tweak: impl FnOnce(&mut mcp_server::Config),
) -> (McpFixture, String, String) {
    let s = mcp_fixture_with(tweak).await;
    let t = s.token(ALL);
    let sid = s.session(&t, LEGACY).await;
    (s, t, sid)
}

/// [`mcp_session_with`] with the default config.
pub async fn mcp_session() -> (McpFixture, String, String) {
    mcp_session_with(|_| {}).await
}

/// An MCP server on loopback trusting `issuer`, resource URL derived from its address.
pub async fn mcp_server_for(
    issuer: &str,
    tweak: impl FnOnce(&mut mcp_server::Config),
) -> mcp_server::RunningServer {
    let mut cfg = mcp_server::Config::new(issuer, "");
    tweak(&mut cfg);
    mcp_server::serve(crate::loopback_listener().await, cfg)
        .await
        .expect("MCP server starts")
}

impl McpFixture {
    /// A valid `at+jwt` for this server with `scope`, for subject `alice`.
    pub fn token(&self, scope: &str) -> String {
        self.token_with(scope, |_| {})
    }

    /// A token whose claims `edit` changed (e.g. `c["sub"] = json!("mallory")`).
    pub fn token_with(&self, scope: &str, edit: impl FnOnce(&mut Value)) -> String {
        let mut c = claims(&self.as_.issuer, &self.url, scope);
        edit(&mut c);
        sign(&self.key, &c, Some("at+jwt"))
    }

    /// `http://ADDR` of the MCP server.
    pub fn base(&self) -> String {
        format!("http://{}", self.server.local_addr())
    }

    /// The path-inserted Protected Resource Metadata URL.
    pub fn prm_url(&self) -> String {
        format!("{}/.well-known/oauth-protected-resource/mcp", self.base())
    }

    /// A POST to the MCP endpoint with `token`.
    pub fn post(&self, token: &str) -> McpRequest {
        McpRequest::post(&self.http, &self.url).token(token)
    }

    /// A POST inside session `sid` with `MCP-Protocol-Version: 2025-11-25`.
    pub fn in_session(&self, token: &str, sid: &str) -> McpRequest {
        self.post(token).session(sid).version(LEGACY)
    }

    /// `initialize` for `version` with `token`, no session.
    pub async fn initialize(&self, token: &str, version: &str) -> reqwest::Response {
        self.post(token).json(&jsonrpc::initialize(version)).await
    }

    /// `initialize` and `notifications/initialized`; returns the session id.
    pub async fn session(&self, token: &str, version: &str) -> String {
        let r = self.initialize(token, version).await;
        assert_eq!(r.status(), 200);
        let sid = r.headers()["mcp-session-id"].to_str().unwrap().to_owned();
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["result"]["protocolVersion"], version);
        let r = self
            .post(token)
            .session(&sid)
            .version(version)
            .notify("notifications/initialized", json!({}))
            .await;
        assert_eq!(r.status(), 202);
        sid
    }

    /// One request inside a 2025-11-25 session; asserts a 200 JSON answer and returns it.
    pub async fn call(&self, token: &str, sid: &str, method: &str, params: Value) -> Value {
        let r = self.in_session(token, sid).id(7).rpc(method, params).await;
        assert_eq!(r.status(), 200, "{method}");
        assert_eq!(r.headers()["content-type"], "application/json");
        r.json().await.unwrap()
    }

    /// A stateless 2026-07-28 request with correct `_meta` and standard headers; `extra_meta`
    /// is merged into `_meta` (e.g. a progress token).
    /// Opens an HTTP+SSE (2024-11-05) stream with `token` and waits for its `endpoint` event:
    /// `(the open stream, what was read from it so far, the absolute /messages URL)`.
    pub async fn open_http_sse(&self, token: &str) -> (reqwest::Response, String, String) {
        let mut stream = McpRequest::get_stream(&self.http, &format!("{}/sse", self.base()))
            .token(token)
            .send()
            .await;
        let mut buf = String::new();
        crate::mcp::read_stream_until(&mut stream, &mut buf, "\n\n").await;
        let endpoint = crate::mcp::sse_events(&buf)
            .first()
            .map(|e| e.1.clone())
            .expect("an endpoint event");
        let messages = format!("{}{endpoint}", self.base());
        (stream, buf, messages)
    }

    pub fn modern(&self, token: &str, method: &str, params: Value) -> ModernRequest {
        self.modern_with_meta(token, method, params, json!({}))
    }

    pub fn modern_with_meta(
        &self,
        token: &str,
        method: &str,
        mut params: Value,
        extra_meta: Value,
    ) -> ModernRequest {
        let mut meta = jsonrpc::modern_meta();
        if let (Some(m), Some(extra)) = (meta.as_object_mut(), extra_meta.as_object()) {
            m.extend(extra.clone());
        }
        params["_meta"] = meta;
        let name = params
            .get("name")
            .or_else(|| params.get("uri"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let mut req = self
            .post(token)
            .version(MODERN)
            .header("mcp-method", method);
        if let Some(n) = name {
            req = req.header("mcp-name", &n);
        }
        ModernRequest {
            req,
            body: jsonrpc::request(1, method, params),
        }
    }
}

/// A 2026-07-28 request whose body is fixed; headers may still change.
#[derive(Debug)]
pub struct ModernRequest {
    req: McpRequest,
    body: Value,
}

impl ModernRequest {
    /// Adds a header (a second value if it is already set).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.req = self.req.header(name, value);
        self
    }

    /// Replaces headers set by default.
    pub fn replace_headers(mut self, pairs: &[(&'static str, &str)]) -> Self {
        self.req = self.req.replace_headers(pairs);
        self
    }

    /// The JSON-RPC id (default 1).
    pub fn id(mut self, id: impl Into<Value>) -> Self {
        self.body["id"] = id.into();
        self
    }

    pub async fn send(self) -> reqwest::Response {
        self.req.json(&self.body).await
    }

    /// Sends and returns the JSON body.
    pub async fn json(self) -> Value {
        self.send().await.json().await.unwrap()
    }
}
