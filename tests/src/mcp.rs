//! Raw MCP requests over real HTTP: JSON-RPC bodies and a request builder whose defaults are
//! a correct Streamable HTTP POST, so a test states only what differs:
//! `McpRequest::post(&http, url).token(t).session(sid).rpc("ping", json!({}))`.

use std::time::Duration;

use serde_json::{Value, json};

/// The `2026-07-28` protocol version (stateless era).
pub const MODERN: &str = "2026-07-28";
/// The newest session-era protocol version.
pub const LEGACY: &str = "2025-11-25";

/// JSON-RPC 2.0 message bodies.
pub mod jsonrpc {
    use serde_json::{Value, json};

    pub fn request(id: impl Into<Value>, method: &str, params: Value) -> Value {
        json!({"jsonrpc": "2.0", "id": id.into(), "method": method, "params": params})
    }

    pub fn notification(method: &str, params: Value) -> Value {
        json!({"jsonrpc": "2.0", "method": method, "params": params})
    }

    /// `initialize` (id 0) for a session-era `version`.
    pub fn initialize(version: &str) -> Value {
        request(
            0,
            "initialize",
            json!({"protocolVersion": version, "capabilities": {},
                   "clientInfo": {"name": "e2e", "version": "1"}}),
        )
    }

    /// The `_meta` a 2026-07-28 request carries.
    pub fn modern_meta() -> Value {
        json!({
            "io.modelcontextprotocol/protocolVersion": super::MODERN,
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "e2e", "version": "1"},
        })
    }
}

/// One HTTP request to an MCP endpoint.
#[derive(Debug)]
pub struct McpRequest {
    rb: reqwest::RequestBuilder,
    id: Value,
}

impl McpRequest {
    /// A POST with `Accept: application/json, text/event-stream` and a JSON content type.
    pub fn post(http: &reqwest::Client, url: &str) -> Self {
        Self::from(
            http.post(url)
                .header("accept", "application/json, text/event-stream")
                .header("content-type", "application/json"),
        )
    }

    /// A GET asking for an event stream.
    pub fn get_stream(http: &reqwest::Client, url: &str) -> Self {
        Self::from(http.get(url).header("accept", "text/event-stream"))
    }

    fn from(rb: reqwest::RequestBuilder) -> Self {
        Self { rb, id: json!(1) }
    }

    pub fn token(self, token: &str) -> Self {
        self.map(|rb| rb.bearer_auth(token))
    }

    pub fn session(self, sid: &str) -> Self {
        self.header("mcp-session-id", sid)
    }

    /// `MCP-Protocol-Version`.
    pub fn version(self, version: &str) -> Self {
        self.header("mcp-protocol-version", version)
    }

    pub fn header(self, name: &str, value: &str) -> Self {
        let (name, value) = (name.to_owned(), value.to_owned());
        self.map(|rb| rb.header(name, value))
    }

    /// Headers that replace (not add to) those already set.
    pub fn replace_headers(self, pairs: &[(&'static str, &str)]) -> Self {
        let mut m = reqwest::header::HeaderMap::new();
        for (k, v) in pairs {
            m.insert(*k, v.parse().expect("header value"));
        }
        self.map(|rb| rb.headers(m))
    }

    /// The JSON-RPC id of [`Self::rpc`] (default 1).
    pub fn id(mut self, id: impl Into<Value>) -> Self {
        self.id = id.into();
        self
    }

    fn map(self, f: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder) -> Self {
        Self {
            rb: f(self.rb),
            id: self.id,
        }
    }

    /// Sends a JSON-RPC request.
    pub async fn rpc(self, method: &str, params: Value) -> reqwest::Response {
        let body = jsonrpc::request(self.id.clone(), method, params);
        self.json(&body).await
    }

    /// Sends a JSON-RPC notification.
    pub async fn notify(self, method: &str, params: Value) -> reqwest::Response {
        self.json(&jsonrpc::notification(method, params)).await
    }

    /// Sends any JSON body.
    pub async fn json(self, body: &Value) -> reqwest::Response {
        self.body(body.to_string()).await
    }

    /// Sends a raw body.
    pub async fn body(self, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.rb.body(body).send().await.expect("MCP request")
    }

    /// Sends without a body.
    pub async fn send(self) -> reqwest::Response {
        self.rb.send().await.expect("MCP request")
    }
}

/// The `WWW-Authenticate` header, or "".
pub fn challenge(r: &reqwest::Response) -> String {
    r.headers()
        .get("www-authenticate")
        .map(|v| v.to_str().expect("ASCII challenge").to_owned())
        .unwrap_or_default()
}

/// The `Content-Type` header, or "".
pub fn content_type(r: &reqwest::Response) -> String {
    r.headers()
        .get("content-type")
        .map(|v| v.to_str().expect("ASCII content type").to_owned())
        .unwrap_or_default()
}

/// Status and JSON-RPC error code of a response (code 0 when there is none).
pub async fn status_and_code(r: reqwest::Response) -> (u16, i64) {
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    (status, v["error"]["code"].as_i64().unwrap_or(0))
}

/// Parses SSE text into (event, data) pairs.
pub fn sse_events(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let mut ev = "message".to_owned();
        let mut data = String::new();
        for line in block.lines() {
            if let Some(e) = line.strip_prefix("event:") {
                ev = e.trim().to_owned();
            } else if let Some(d) = line.strip_prefix("data:") {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(d.strip_prefix(' ').unwrap_or(d));
            }
        }
        if !data.is_empty() {
            out.push((ev, data));
        }
    }
    out
}

/// Reads an open event stream into `buf` until it contains `needle` (at most 5 s).
pub async fn read_stream_until(stream: &mut reqwest::Response, buf: &mut String, needle: &str) {
    tokio::time::timeout(Duration::from_secs(5), async {
        while !buf.contains(needle) {
            let chunk = stream.chunk().await.expect("stream").expect("stream ended");
            buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {needle:?} on the stream: {buf}"));
}
