//! [`McpClient`]: JSON-RPC over MCP's HTTP transports, driven through any
//! `ClientWithMiddleware` (normally [`crate::OAuthSession::client`], which adds the bearer
//! token).
//!
//! Connection (TR-24, TR-42): a stateless 2026-07-28 `server/discover` first; on anything but
//! an authorization failure, the legacy `initialize` handshake (2025-11-25, session id kept,
//! re-initialized on 404, TR-39); when that POST gets 400/404/405, HTTP+SSE (2024-11-05:
//! GET the URL, or its `/sse` sibling, and wait for the `endpoint` event). Responses may be
//! JSON or SSE (TR-07); notifications accept any empty 2xx (pitfall P-15).
//!
//! ```no_run
//! # async fn f(http: reqwest_middleware::ClientWithMiddleware) -> Result<(), http_oauth2_client::ClientError> {
//! use http_oauth2_client::{McpClient, Progress};
//! use std::sync::Arc;
//! let url = url::Url::parse("http://127.0.0.1:3003/mcp").unwrap();
//! let mcp = McpClient::connect(http, url).await?;
//! let on_progress = Arc::new(|p: Progress| eprintln!("{}/{:?}", p.progress, p.total));
//! let r = mcp.call_tool("slow_task", serde_json::json!({"steps": 3}), Some(on_progress)).await?;
//! # Ok(()) }
//! ```

mod sse_legacy;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventsource_stream::Eventsource as _;
use futures_util::StreamExt as _;
use reqwest_middleware::ClientWithMiddleware;
use serde_json::{Value, json};
use url::Url;

use crate::error::ClientError;
use crate::oauth::challenge::bearer_challenge;

/// The modern, stateless protocol version.
pub const MODERN_VERSION: &str = "2026-07-28";
/// The legacy version offered in `initialize`.
pub const LEGACY_VERSION: &str = "2025-11-25";
/// The HTTP+SSE era version.
pub const SSE_VERSION: &str = "2024-11-05";

const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const META_CAPS: &str = "io.modelcontextprotocol/clientCapabilities";
const META_INFO: &str = "io.modelcontextprotocol/clientInfo";

/// Which transport/era the connection uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportKind {
    /// Streamable HTTP, stateless 2026-07-28 (`server/discover`, `_meta` per request).
    Stateless,
    /// Streamable HTTP with `initialize` and an optional `Mcp-Session-Id` (2025-03-26 … 2025-11-25).
    Session,
    /// HTTP+SSE (2024-11-05).
    HttpSse,
}

/// Which transport [`McpClient::connect_with`] should use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TransportPreference {
    /// Stateless first, then `initialize`, then HTTP+SSE (TR-24, TR-42).
    #[default]
    Auto,
    /// Only the stateless 2026-07-28 protocol.
    Stateless,
    /// Only the `initialize` session protocol (2025-11-25 offered).
    Session,
    /// Only HTTP+SSE (2024-11-05); for an `/mcp` URL the sibling `/sse` is tried first.
    HttpSse,
}

/// A `notifications/progress` update (PR-39).
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Progress so far (increasing).
    pub progress: f64,
    /// Total, if known.
    pub total: Option<f64>,
    /// Message, if any.
    pub message: Option<String>,
}

/// A progress callback.
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

#[derive(Debug)]
struct State {
    kind: TransportKind,
    version: String,
    session_id: Option<String>,
    server: Value,
}

/// An MCP client over HTTP. Cheap to share behind an `Arc`; methods take `&self`.
pub struct McpClient {
    http: ClientWithMiddleware,
    url: Url,
    timeout: Duration,
    next_id: AtomicU64,
    state: Mutex<State>,
    legacy: Option<sse_legacy::LegacySse>,
}

impl std::fmt::Debug for McpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpClient")
            .field("url", &self.url.as_str())
            .field("transport", &self.transport_kind())
            .finish_non_exhaustive()
    }
}

/// What came back from one POST.
enum Posted {
    /// 202 / empty 2xx.
    Accepted,
    /// A JSON-RPC response message.
    Message(Value),
    /// 404 while a session id was sent (TR-39).
    SessionGone,
}

fn client_info() -> Value {
    json!({"name": "http-oauth2-client", "version": env!("CARGO_PKG_VERSION")})
}

fn is_auth_error(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::AuthorizationRequired(_)
            | ClientError::InsufficientScope { .. }
            | ClientError::Config(_)
            | ClientError::AuthorizationDenied { .. }
            | ClientError::TokenEndpoint { .. }
    )
}

impl McpClient {
    /// Connects with the default per-request timeout (60 s).
    pub async fn connect(http: ClientWithMiddleware, url: Url) -> Result<Self, ClientError> {
        Self::connect_with_timeout(http, url, Duration::from_secs(60)).await
    }

    /// Connects; `timeout` bounds every request (a hard maximum, even while progress
    /// arrives; PR-42).
    pub async fn connect_with_timeout(
        http: ClientWithMiddleware,
        url: Url,
        timeout: Duration,
    ) -> Result<Self, ClientError> {
        Self::connect_with(http, url, timeout, TransportPreference::Auto).await
    }

    /// Connects with an explicit transport preference.
    #[tracing::instrument(skip_all, fields(mcp.url = %url, mcp.transport = ?preference))]
    pub async fn connect_with(
        http: ClientWithMiddleware,
        url: Url,
        timeout: Duration,
        preference: TransportPreference,
    ) -> Result<Self, ClientError> {
        let c = Self {
            http,
            url,
            timeout,
            next_id: AtomicU64::new(1),
            state: Mutex::new(State {
                kind: TransportKind::Stateless,
                version: MODERN_VERSION.into(),
                session_id: None,
                server: Value::Null,
            }),
            legacy: None,
        };
        match preference {
            TransportPreference::HttpSse => return c.connect_http_sse(true).await,
            TransportPreference::Stateless => return c.discover().await.map(|()| c),
            TransportPreference::Session => return c.initialize().await.map(|()| c),
            TransportPreference::Auto => {}
        }
        if c.url.path().ends_with("/sse") {
            return c.connect_http_sse(false).await;
        }
        match c.discover().await {
            Ok(()) => return Ok(c),
            Err(e) if is_auth_error(&e) => return Err(e),
            Err(ClientError::Transport(t)) if t.contains("connect") => {
                return Err(ClientError::Transport(t));
            }
            Err(e) => tracing::debug!(error = %e, "no stateless MCP; falling back to initialize"),
        }
        match c.initialize().await {
            Ok(()) => Ok(c),
            Err(e) if is_auth_error(&e) => Err(e),
            Err(ClientError::Transport(t)) if t.starts_with("HTTP 40") => {
                tracing::debug!(error = %t, "initialize refused; trying HTTP+SSE");
                c.connect_http_sse(false).await
            }
            Err(e) => Err(e),
        }
    }

    /// Which transport is in use.
    pub fn transport_kind(&self) -> TransportKind {
        self.lock().kind
    }
    /// The protocol version in use.
    pub fn protocol_version(&self) -> String {
        self.lock().version.clone()
    }
    /// The session id (legacy Streamable HTTP), if the server issued one.
    pub fn session_id(&self) -> Option<String> {
        self.lock().session_id.clone()
    }
    /// The `server/discover` or `initialize` result.
    pub fn server_info(&self) -> Value {
        self.lock().server.clone()
    }
    /// The MCP endpoint URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn discover(&self) -> Result<(), ClientError> {
        let result = self.request("server/discover", json!({})).await?;
        let supported: Vec<String> = result
            .get("supportedVersions")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default();
        if !supported.iter().any(|v| v == MODERN_VERSION) {
            return Err(ClientError::Protocol(format!(
                "server/discover lists no version we speak ({supported:?})"
            )));
        }
        self.lock().server = result;
        Ok(())
    }

    async fn initialize(&self) -> Result<(), ClientError> {
        {
            let mut s = self.lock();
            s.kind = TransportKind::Session;
            s.version = LEGACY_VERSION.into();
            s.session_id = None;
        }
        let params = json!({
            "protocolVersion": LEGACY_VERSION,
            "capabilities": {},
            "clientInfo": client_info(),
        });
        let result = self.request("initialize", params).await?;
        let version = result
            .get("protocolVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if !shared::MCP_PROTOCOL_VERSIONS.contains(&version.as_str()) {
            return Err(ClientError::Protocol(format!(
                "the server chose protocol version `{version}`, which this client does not speak (PR-12)"
            )));
        }
        {
            let mut s = self.lock();
            s.version = version;
            s.server = result;
        }
        self.notify("notifications/initialized", None).await
    }

    async fn connect_http_sse(mut self, sibling_first: bool) -> Result<Self, ClientError> {
        let legacy =
            sse_legacy::LegacySse::open(&self.http, &self.url, self.timeout, sibling_first).await?;
        self.legacy = Some(legacy);
        {
            let mut s = self.lock();
            s.kind = TransportKind::HttpSse;
            s.version = SSE_VERSION.into();
            s.session_id = None;
        }
        let params = json!({
            "protocolVersion": SSE_VERSION,
            "capabilities": {},
            "clientInfo": client_info(),
        });
        let result = self.request("initialize", params).await?;
        self.lock().server = result;
        self.notify("notifications/initialized", None).await?;
        Ok(self)
    }

    /// Sends a request and returns its `result` (JSON-RPC errors become [`ClientError::Mcp`]).
    pub async fn request(&self, method: &str, params: Value) -> Result<Value, ClientError> {
        self.request_with_progress(method, params, None).await
    }

    /// Sends a request with a progress callback (a `progressToken` is added to `_meta`).
    #[tracing::instrument(name = "request", skip_all, fields(mcp.method = %method))]
    pub async fn request_with_progress(
        &self,
        method: &str,
        mut params: Value,
        progress: Option<ProgressFn>,
    ) -> Result<Value, ClientError> {
        if !params.is_object() {
            params = json!({});
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let token = format!("p{id}");
        if progress.is_some() {
            meta_mut(&mut params).insert("progressToken".into(), Value::String(token.clone()));
        }
        let kind = self.transport_kind();
        if kind == TransportKind::HttpSse {
            let legacy = self
                .legacy
                .as_ref()
                .ok_or_else(|| ClientError::Protocol("no SSE stream".into()))?;
            let msg = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
            let resp = legacy
                .request(&self.http, id, &token, msg, progress)
                .await?;
            return into_result(resp);
        }
        let mut retried = false;
        loop {
            let mut p = params.clone();
            if self.transport_kind() == TransportKind::Stateless {
                let m = meta_mut(&mut p);
                m.insert(META_VERSION.into(), json!(MODERN_VERSION));
                m.insert(META_CAPS.into(), json!({}));
                m.insert(META_INFO.into(), client_info());
            }
            let msg = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": p});
            match self.post(&msg, Some(id), &token, progress.as_ref()).await? {
                Posted::Message(v) => return into_result(v),
                Posted::Accepted => {
                    return Err(ClientError::Protocol(format!(
                        "the server accepted `{method}` without a response"
                    )));
                }
                Posted::SessionGone if !retried && method != "initialize" => {
                    tracing::info!("MCP session expired (404); initializing a new one");
                    retried = true;
                    Box::pin(self.initialize()).await?;
                }
                Posted::SessionGone => {
                    return Err(ClientError::Protocol(
                        "the MCP session was lost (404)".into(),
                    ));
                }
            }
        }
    }

    /// Sends a notification (accepts any empty 2xx).
    pub async fn notify(&self, method: &str, params: Option<Value>) -> Result<(), ClientError> {
        let mut msg = json!({"jsonrpc": "2.0", "method": method});
        if let Some(p) = params {
            msg["params"] = p;
        }
        if let Some(legacy) = &self.legacy {
            return legacy.post(&self.http, &msg, self.timeout).await;
        }
        match self.post(&msg, None, "", None).await? {
            Posted::Accepted | Posted::Message(_) => Ok(()),
            Posted::SessionGone => Err(ClientError::Protocol(
                "the MCP session was lost (404)".into(),
            )),
        }
    }

    async fn post(
        &self,
        msg: &Value,
        id: Option<u64>,
        progress_token: &str,
        progress: Option<&ProgressFn>,
    ) -> Result<Posted, ClientError> {
        let method = msg
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let (kind, version, session) = {
            let s = self.lock();
            (s.kind, s.version.clone(), s.session_id.clone())
        };
        let mut req = self
            .http
            .post(self.url.clone())
            .timeout(self.timeout)
            .header(http::header::ACCEPT, "application/json, text/event-stream")
            .header(http::header::CONTENT_TYPE, "application/json");
        if method != "initialize" {
            req = req.header("MCP-Protocol-Version", version.as_str());
        }
        if let Some(sid) = &session {
            req = req.header("Mcp-Session-Id", sid.as_str());
        }
        if kind == TransportKind::Stateless {
            req = req.header("Mcp-Method", header_value(method));
            let name = match method {
                "tools/call" | "prompts/get" => msg["params"].get("name"),
                "resources/read" => msg["params"].get("uri"),
                _ => None,
            };
            if let Some(n) = name.and_then(Value::as_str) {
                req = req.header("Mcp-Name", header_value(n));
            }
        }
        let body = serde_json::to_vec(msg).map_err(|e| ClientError::Protocol(e.to_string()))?;
        let resp = req.body(body).send().await?;
        let status = resp.status();
        if method == "initialize"
            && let Some(sid) = resp
                .headers()
                .get("mcp-session-id")
                .and_then(|v| v.to_str().ok())
        {
            self.lock().session_id = Some(sid.to_owned());
        }
        if status == http::StatusCode::UNAUTHORIZED {
            return Err(ClientError::AuthorizationRequired(
                "the MCP server rejected the access token (401) even after a refresh; log in again"
                    .into(),
            ));
        }
        if status == http::StatusCode::FORBIDDEN {
            if let Some(ch) = bearer_challenge(resp.headers())
                && ch.error() == Some("insufficient_scope")
            {
                return Err(ClientError::InsufficientScope {
                    required: ch.scope().unwrap_or_default().to_owned(),
                });
            }
            return Err(ClientError::Transport(
                "HTTP 403 Forbidden from the MCP server".into(),
            ));
        }
        if status == http::StatusCode::NOT_FOUND && session.is_some() {
            return Ok(Posted::SessionGone);
        }
        let ct = resp
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        if !status.is_success() {
            let bytes = resp.bytes().await.unwrap_or_default();
            if let Ok(v) = serde_json::from_slice::<Value>(&bytes)
                && v.get("error").is_some()
            {
                return Ok(Posted::Message(v));
            }
            return Err(ClientError::Transport(format!(
                "HTTP {status} from the MCP server"
            )));
        }
        if ct.starts_with("text/event-stream") {
            let mut events = resp.bytes_stream().eventsource();
            while let Some(ev) = events.next().await {
                let ev = ev.map_err(|e| ClientError::Transport(format!("SSE stream: {e}")))?;
                if ev.data.trim().is_empty() {
                    continue;
                }
                let Ok(v) = serde_json::from_str::<Value>(&ev.data) else {
                    continue;
                };
                if let Some(done) = handle_incoming(v, id, progress_token, progress) {
                    return Ok(Posted::Message(done));
                }
            }
            return match id {
                None => Ok(Posted::Accepted),
                Some(_) => Err(ClientError::Protocol(format!(
                    "the SSE stream for `{method}` ended without a response"
                ))),
            };
        }
        let bytes = resp.bytes().await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Posted::Accepted);
        }
        let v: Value = serde_json::from_slice(&bytes)
            .map_err(|e| ClientError::Protocol(format!("invalid JSON from the MCP server: {e}")))?;
        if id.is_none() {
            return Ok(Posted::Accepted);
        }
        Ok(Posted::Message(v))
    }

    /// Lists every tool (follows `nextCursor`, at most 100 pages).
    pub async fn list_tools(&self) -> Result<Vec<Value>, ClientError> {
        self.list_all("tools/list", "tools").await
    }
    /// Calls a tool; the result (`content`, `structuredContent`, `isError`) is returned as is.
    pub async fn call_tool(
        &self,
        name: &str,
        arguments: Value,
        progress: Option<ProgressFn>,
    ) -> Result<Value, ClientError> {
        self.request_with_progress(
            "tools/call",
            json!({"name": name, "arguments": arguments}),
            progress,
        )
        .await
    }
    /// Lists every resource.
    pub async fn list_resources(&self) -> Result<Vec<Value>, ClientError> {
        self.list_all("resources/list", "resources").await
    }
    /// Reads a resource.
    pub async fn read_resource(&self, uri: &str) -> Result<Value, ClientError> {
        self.request("resources/read", json!({"uri": uri})).await
    }
    /// Lists every prompt.
    pub async fn list_prompts(&self) -> Result<Vec<Value>, ClientError> {
        self.list_all("prompts/list", "prompts").await
    }
    /// Gets a prompt.
    pub async fn get_prompt(
        &self,
        name: &str,
        arguments: Option<Value>,
    ) -> Result<Value, ClientError> {
        let mut p = json!({"name": name});
        if let Some(a) = arguments {
            p["arguments"] = a;
        }
        self.request("prompts/get", p).await
    }
    /// Liveness check: `ping` (legacy eras) or `server/discover` (2026-07-28 has no ping).
    pub async fn ping(&self) -> Result<(), ClientError> {
        let method = if self.transport_kind() == TransportKind::Stateless {
            "server/discover"
        } else {
            "ping"
        };
        self.request(method, json!({})).await.map(|_| ())
    }

    /// Ends a legacy session (DELETE with the session id; 405 is fine; TR-40).
    pub async fn close(&self) -> Result<(), ClientError> {
        let sid = self.lock().session_id.take();
        if let Some(sid) = sid {
            let _ = self
                .http
                .delete(self.url.clone())
                .timeout(self.timeout)
                .header("Mcp-Session-Id", sid)
                .header("MCP-Protocol-Version", self.protocol_version())
                .send()
                .await;
        }
        Ok(())
    }

    async fn list_all(&self, method: &str, field: &str) -> Result<Vec<Value>, ClientError> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..100 {
            let params = match &cursor {
                Some(c) => json!({"cursor": c}),
                None => json!({}),
            };
            let r = self.request(method, params).await?;
            if let Some(items) = r.get(field).and_then(Value::as_array) {
                out.extend(items.iter().cloned());
            }
            cursor = r
                .get("nextCursor")
                .and_then(Value::as_str)
                .map(str::to_owned);
            if cursor.is_none() {
                break;
            }
        }
        Ok(out)
    }
}

/// Handles one message from a response stream: progress goes to the callback; returns the
/// message if it is the response to `id`.
pub(crate) fn handle_incoming(
    v: Value,
    id: Option<u64>,
    progress_token: &str,
    progress: Option<&ProgressFn>,
) -> Option<Value> {
    if v.get("method").and_then(Value::as_str) == Some("notifications/progress") {
        let p = &v["params"];
        let tok_matches = match &p["progressToken"] {
            Value::String(s) => s == progress_token,
            Value::Number(n) => n.to_string() == progress_token,
            _ => false,
        };
        if tok_matches && let Some(cb) = progress {
            cb(Progress {
                progress: p["progress"].as_f64().unwrap_or(0.0),
                total: p["total"].as_f64(),
                message: p["message"].as_str().map(str::to_owned),
            });
        }
        return None;
    }
    if v.get("result").is_some() || v.get("error").is_some() {
        let matches = match (&v["id"], id) {
            (Value::Number(n), Some(id)) => n.as_u64() == Some(id),
            (Value::String(s), Some(id)) => s == &id.to_string(),
            _ => false,
        };
        if matches {
            return Some(v);
        }
    }
    None
}

fn into_result(v: Value) -> Result<Value, ClientError> {
    if let Some(e) = v.get("error") {
        return Err(ClientError::Mcp {
            code: e.get("code").and_then(Value::as_i64).unwrap_or(0),
            message: e
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("unknown error")
                .to_owned(),
            data: e.get("data").cloned(),
        });
    }
    let r = v
        .get("result")
        .cloned()
        .ok_or_else(|| ClientError::Protocol("response without result or error".into()))?;
    match r.get("resultType").and_then(Value::as_str) {
        None | Some("complete") => Ok(r),
        Some(other) => Err(ClientError::Protocol(format!(
            "unsupported resultType `{other}` (multi round-trip requests are not supported)"
        ))),
    }
}

fn meta_mut(params: &mut Value) -> &mut serde_json::Map<String, Value> {
    if !params.get("_meta").is_some_and(Value::is_object) {
        params["_meta"] = json!({});
    }
    match params.get_mut("_meta") {
        Some(Value::Object(m)) => m,
        _ => unreachable!("_meta was just set to an object"),
    }
}

/// Encodes a header value per TR-19: plain visible ASCII as is, anything else (or anything
/// that looks like the sentinel) as `=?base64?...?=`.
pub fn header_value(v: &str) -> String {
    let sentinel = v.starts_with("=?") && v.ends_with("?=");
    let plain = !v.is_empty()
        && v.bytes().all(|b| (0x20..0x7f).contains(&b))
        && !v.starts_with(' ')
        && !v.ends_with(' ')
        && !sentinel;
    if plain {
        v.to_owned()
    } else {
        use base64::Engine as _;
        format!(
            "=?base64?{}?=",
            base64::engine::general_purpose::STANDARD.encode(v.as_bytes())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_use_the_base64_sentinel_when_needed_tr19() {
        assert_eq!(header_value("echo"), "echo");
        assert_eq!(header_value(" x"), "=?base64?IHg=?=");
        assert!(header_value("é").starts_with("=?base64?"));
        assert!(header_value("=?base64?abc?=").starts_with("=?base64?PT9i"));
    }

    #[test]
    fn progress_is_routed_and_response_matched() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        let cb: ProgressFn = Arc::new(move |p| s2.lock().unwrap().push(p.progress));
        let n = json!({"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"p7","progress":1,"total":3}});
        assert!(handle_incoming(n, Some(7), "p7", Some(&cb)).is_none());
        let other = json!({"jsonrpc":"2.0","id":8,"result":{}});
        assert!(handle_incoming(other, Some(7), "p7", Some(&cb)).is_none());
        let mine = json!({"jsonrpc":"2.0","id":7,"result":{}});
        assert!(handle_incoming(mine, Some(7), "p7", Some(&cb)).is_some());
        assert_eq!(*seen.lock().unwrap(), vec![1.0]);
    }

    #[test]
    fn input_required_results_are_refused_and_errors_mapped() {
        assert!(into_result(json!({"id":1,"result":{"resultType":"input_required"}})).is_err());
        assert!(into_result(json!({"id":1,"result":{"x":1}})).is_ok());
        let e = into_result(json!({"id":1,"error":{"code":-32602,"message":"bad"}})).unwrap_err();
        assert!(matches!(e, ClientError::Mcp { code: -32602, .. }));
    }
}
