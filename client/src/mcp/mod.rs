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

mod cache;
mod jsonrpc;
mod methods;
mod mrtr;
mod params;
mod sse_legacy;
mod streamable;
mod subscriptions;
mod types;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest_middleware::ClientWithMiddleware;
use serde_json::{Value, json};
use url::Url;

use crate::error::ClientError;
/// Re-exported so an application implements [`InputHandler`] without its own dependency.
pub use async_trait::async_trait;
pub use cache::ResponseCache;
pub(crate) use jsonrpc::handle_incoming;
use jsonrpc::{client_info, into_result, meta_mut};
pub use mrtr::{DEFAULT_MAX_INPUT_ROUNDS, ElicitResponse, InputCapabilities, InputHandler, Root};
use shared::mcp::error_code::UNSUPPORTED_VERSION;
use streamable::Posted;
pub use streamable::header_value;
pub(crate) use streamable::http_status_error;
pub use subscriptions::{ServerEvent, Subscription, SubscriptionFilter};
pub use types::{Progress, ProgressFn, TransportKind, TransportPreference};

/// The modern, stateless protocol version.
pub const MODERN_VERSION: &str = shared::mcp::STATELESS_VERSION;
/// The legacy version offered in `initialize` (the newest session version).
pub const LEGACY_VERSION: &str = shared::mcp::SESSION_VERSIONS[0];
/// The HTTP+SSE era version.
pub const SSE_VERSION: &str = shared::mcp::HTTP_SSE_VERSION;

#[derive(Debug)]
struct State {
    kind: TransportKind,
    version: String,
    session_id: Option<String>,
    server: Value,
    /// The session version to offer in `initialize`, learnt from a 2026-07-28
    /// `UnsupportedProtocolVersion` error's `supported` list (TR-24).
    offer: Option<String>,
}

/// An MCP client over HTTP. Cheap to share behind an `Arc`; methods take `&self`.
pub struct McpClient {
    http: ClientWithMiddleware,
    url: Url,
    timeout: Duration,
    next_id: AtomicU64,
    state: Mutex<State>,
    legacy: Option<sse_legacy::LegacySse>,
    /// Multi round-trip requests: the application's input handler and the round cap.
    input: mrtr::InputSettings,
    /// `x-mcp-header` annotations learnt from `tools/list`.
    tool_headers: params::ToolHeaders,
    /// This connection's cache of hinted results (PR-29).
    cache: Arc<ResponseCache>,
    /// A cache shared with other clients, for `cacheScope: "public"` results.
    shared_cache: Option<Arc<ResponseCache>>,
}

impl std::fmt::Debug for McpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpClient")
            .field("url", &self.url.as_str())
            .field("transport", &self.transport_kind())
            .finish_non_exhaustive()
    }
}

/// Errors that end the connection attempt instead of falling back to an older transport:
/// authorization failures, configuration, and a server that is not there at all.
fn ends_negotiation(e: &ClientError) -> bool {
    e.is_connect()
        || matches!(
            e,
            ClientError::AuthorizationRequired(_)
                | ClientError::InsufficientScope { .. }
                | ClientError::Config(_)
                | ClientError::AuthorizationDenied { .. }
                | ClientError::TokenEndpoint { .. }
        )
}

/// A legacy `initialize` refused with one of these statuses means "no Streamable HTTP
/// here": try HTTP+SSE (TR-42).
fn initialize_refused(e: &ClientError) -> bool {
    matches!(
        e.status(),
        Some(
            http::StatusCode::BAD_REQUEST
                | http::StatusCode::NOT_FOUND
                | http::StatusCode::METHOD_NOT_ALLOWED
        )
    ) && matches!(e, ClientError::HttpStatus { .. })
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
                offer: None,
            }),
            legacy: None,
            input: mrtr::InputSettings::default(),
            tool_headers: params::ToolHeaders::default(),
            cache: Arc::default(),
            shared_cache: None,
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
            Err(e) if ends_negotiation(&e) => return Err(e),
            Err(e) => tracing::debug!(error = %e, "no stateless MCP; falling back to initialize"),
        }
        match c.initialize().await {
            Ok(()) => Ok(c),
            Err(e) if initialize_refused(&e) => {
                tracing::debug!(error = %e, "initialize refused; trying HTTP+SSE");
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

    /// Also keeps `cacheScope: "public"` results in `cache`, shared with other clients
    /// (`"private"` ones stay in this connection's own cache; PR-29).
    pub fn with_shared_cache(mut self, cache: Arc<ResponseCache>) -> Self {
        self.shared_cache = Some(cache);
        self
    }

    /// This connection's own cache of hinted results.
    pub fn cache(&self) -> &Arc<ResponseCache> {
        &self.cache
    }

    /// [`Self::request`], answered from the cache when a previous result's `ttlMs` and
    /// `cacheScope` allow it (2026-07-28 `server/discover` and list methods only; PR-29).
    pub async fn cached_request(&self, method: &str, params: Value) -> Result<Value, ClientError> {
        if self.transport_kind() != TransportKind::Stateless || !cache::cacheable(method, &params) {
            return self.request(method, params).await;
        }
        let key = cache::key(method, &params);
        let hit = self
            .cache
            .get(&key)
            .or_else(|| self.shared_cache.as_ref().and_then(|c| c.get(&key)));
        if let Some(v) = hit {
            return Ok(v);
        }
        let r = self.request(method, params).await?;
        if let Some((ttl, public)) = cache::hints(&r) {
            match (&self.shared_cache, public) {
                (Some(shared), true) => shared.put(key, ttl, &r),
                _ => self.cache.put(key, ttl, &r),
            }
        }
        Ok(r)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn discover(&self) -> Result<(), ClientError> {
        let result = self.cached_request("server/discover", json!({})).await?;
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

    /// Switches to `kind` speaking `version` (no session yet) and sends `initialize`.
    async fn send_initialize(
        &self,
        kind: TransportKind,
        version: &str,
    ) -> Result<Value, ClientError> {
        {
            let mut s = self.lock();
            s.kind = kind;
            s.version = version.into();
            s.session_id = None;
        }
        let params = json!({
            "protocolVersion": version,
            "capabilities": {},
            "clientInfo": client_info(),
        });
        self.request("initialize", params).await
    }

    async fn initialize(&self) -> Result<(), ClientError> {
        let offer = self
            .lock()
            .offer
            .clone()
            .unwrap_or_else(|| LEGACY_VERSION.to_owned());
        let result = self.send_initialize(TransportKind::Session, &offer).await?;
        let version = result
            .get("protocolVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if !shared::mcp::PROTOCOL_VERSIONS.contains(&version.as_str()) {
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
        let result = self
            .send_initialize(TransportKind::HttpSse, SSE_VERSION)
            .await?;
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
        match params {
            Value::Object(_) => {}
            Value::Null => params = json!({}),
            // MCP params are always an object: an array or a scalar is a caller error, not
            // something to replace silently.
            _ => {
                return Err(ClientError::Protocol(format!(
                    "{method}: params must be a JSON object or null"
                )));
            }
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
            let msg = jsonrpc::request(id, method, params);
            let resp = legacy
                .request(&self.http, id, &token, msg, progress)
                .await?;
            return into_result(resp);
        }
        let mut retried = false;
        let mut renegotiated = false;
        loop {
            let mut p = params.clone();
            let stateless = self.transport_kind() == TransportKind::Stateless;
            if stateless {
                self.add_modern_meta(&mut p);
            }
            let msg = jsonrpc::request(id, method, p);
            match self.post(&msg, Some(id), &token, progress.as_ref()).await? {
                Posted::Message(v) => {
                    let r = into_result(v);
                    if stateless
                        && !renegotiated
                        && let Err(ClientError::Mcp { code, data, .. }) = &r
                        && *code == i64::from(UNSUPPORTED_VERSION)
                        && self.renegotiate(data.as_ref())
                    {
                        renegotiated = true;
                        continue;
                    }
                    return r;
                }
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

    /// After `UnsupportedProtocolVersion` (TR-24, PR-20): picks the newest version of its
    /// `supported` list that this client speaks. A stateless one other than the current one:
    /// `true`, retry with it. A session one: remembered for `initialize` (the caller's error
    /// then makes `connect` fall back to it); `false`.
    fn renegotiate(&self, data: Option<&Value>) -> bool {
        let Some(v) = jsonrpc::pick_version(data) else {
            return false;
        };
        let mut s = self.lock();
        if v == MODERN_VERSION {
            let retry = s.version != v;
            s.version = v.to_owned();
            return retry;
        }
        s.offer = Some(v.to_owned());
        false
    }

    /// Sends a notification (accepts any empty 2xx).
    pub async fn notify(&self, method: &str, params: Option<Value>) -> Result<(), ClientError> {
        let msg = jsonrpc::notification(method, params);
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_decisions_come_from_the_error_types() {
        let refused = |s| ClientError::HttpStatus {
            from: "the MCP server".into(),
            status: s,
            error: None,
            description: None,
        };
        assert!(initialize_refused(&refused(
            http::StatusCode::METHOD_NOT_ALLOWED
        )));
        assert!(initialize_refused(&refused(http::StatusCode::NOT_FOUND)));
        assert!(!initialize_refused(&refused(
            http::StatusCode::SERVICE_UNAVAILABLE
        )));
        let io = std::io::Error::other("HTTP 404 connect");
        assert!(!initialize_refused(&ClientError::transport("x", io)));
        assert!(ends_negotiation(&ClientError::AuthorizationRequired(
            "x".into()
        )));
        assert!(!ends_negotiation(&refused(http::StatusCode::NOT_FOUND)));
    }
}
