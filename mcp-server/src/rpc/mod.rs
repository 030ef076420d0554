//! The MCP methods as a jsonrpsee [`RpcModule`]. The HTTP front (`transport`) parses the
//! JSON-RPC envelope, checks auth/scopes/headers and calls `dispatch`, which runs the
//! registered jsonrpsee method with per-request [`Extensions`] carrying a [`RequestCtx`]
//! (validated [`AuthContext`], protocol era, progress sink).
//!
//! Calling the registered callback directly (instead of jsonrpsee's HTTP service) avoids a
//! second body parse and HTTP framing that MCP does not want (200 + `null` for
//! notifications, no SSE); jsonrpsee still owns parameter handling, error objects and
//! response serialisation.

mod prompts;
mod resources;
mod tools;

use std::sync::Arc;

use jsonrpsee::core::server::{MethodCallback, MethodResponse, Methods};
use jsonrpsee::types::{ErrorObjectOwned, Id, Params};
use jsonrpsee::{ConnectionId, Extensions, RpcModule};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::auth::AuthContext;
use crate::config::Config;

pub(crate) use resources::FileStore;

/// The newest (stateless) protocol version.
pub const MODERN_VERSION: &str = "2026-07-28";
/// Versions negotiated through `initialize`, newest first.
pub const LEGACY_VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

/// JSON-RPC error codes used here (MCP schema constants).
pub mod codes {
    /// Invalid request.
    pub const INVALID_REQUEST: i32 = -32600;
    /// Method not found.
    pub const METHOD_NOT_FOUND: i32 = -32601;
    /// Invalid params.
    pub const INVALID_PARAMS: i32 = -32602;
    /// Internal error.
    pub const INTERNAL_ERROR: i32 = -32603;
    /// Parse error.
    pub const PARSE_ERROR: i32 = -32700;
    /// Legacy "resource not found".
    pub const RESOURCE_NOT_FOUND: i32 = -32002;
    /// 2026-07-28 `HeaderMismatch`.
    pub const HEADER_MISMATCH: i32 = -32020;
    /// 2026-07-28 `MissingRequiredClientCapability`.
    pub const MISSING_CAPABILITY: i32 = -32021;
    /// 2026-07-28 `UnsupportedProtocolVersion`.
    pub const UNSUPPORTED_VERSION: i32 = -32022;
}

/// Which protocol rules a request follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Era {
    /// `initialize`-negotiated version (2024-11-05 .. 2025-11-25).
    Legacy(&'static str),
    /// Stateless 2026-07-28.
    Modern,
}

/// Sink for notifications tied to one request (progress): serialised JSON-RPC messages.
pub type NotificationSink = mpsc::Sender<String>;

/// A legacy session's server-to-client channel (GET stream or HTTP+SSE stream) with the
/// level set by `logging/setLevel` (PR-18). Logging is off until the client sets a level.
#[derive(Debug, Default)]
pub struct LogChannel {
    level: std::sync::atomic::AtomicUsize,
    sink: std::sync::Mutex<Option<NotificationSink>>,
}

const LOG_OFF: usize = usize::MAX;

impl LogChannel {
    /// A channel with logging off and no stream.
    pub fn new() -> Self {
        Self {
            level: std::sync::atomic::AtomicUsize::new(LOG_OFF),
            sink: std::sync::Mutex::new(None),
        }
    }
    /// The stream sender, if a stream is open.
    pub fn sink(&self) -> Option<NotificationSink> {
        self.sink.lock().ok().and_then(|g| g.clone())
    }
    /// Attaches (or detaches) the stream.
    pub fn set_sink(&self, tx: Option<NotificationSink>) {
        if let Ok(mut g) = self.sink.lock() {
            *g = tx;
        }
    }
    fn set_level(&self, idx: usize) {
        self.level.store(idx, std::sync::atomic::Ordering::Relaxed);
    }
    /// Sends `notifications/message` if `level` passes the client's threshold and a stream
    /// is open; never blocks (a full stream drops the message).
    pub fn log(&self, level: &str, logger: &str, data: Value) {
        let min = self.level.load(std::sync::atomic::Ordering::Relaxed);
        let Some(idx) = LOG_LEVELS.iter().position(|l| *l == level) else {
            return;
        };
        if min == LOG_OFF || idx < min {
            return;
        }
        if let Some(tx) = self.sink() {
            let n = json!({"jsonrpc": "2.0", "method": "notifications/message",
                "params": {"level": level, "logger": logger, "data": data}});
            let _ = tx.try_send(n.to_string());
        }
    }
}

/// Per-request context inserted into the jsonrpsee [`Extensions`].
#[derive(Debug)]
pub struct RequestCtx {
    /// The validated token.
    pub auth: Arc<AuthContext>,
    /// Protocol era of this request.
    pub era: Era,
    /// `_meta.progressToken` and where to send progress, when the transport can deliver it.
    pub progress: Option<(Value, NotificationSink)>,
    /// The legacy session's log channel, if any.
    pub log: Option<Arc<LogChannel>>,
}

impl RequestCtx {
    fn modern(&self) -> bool {
        self.era == Era::Modern
    }

    /// Adds `resultType` (and cache hints for cacheable results) under 2026-07-28
    /// (checklist PR-23, PR-29).
    fn finish(&self, mut v: Value, cache: Option<&'static str>) -> Value {
        if self.modern()
            && let Some(o) = v.as_object_mut()
        {
            o.insert("resultType".into(), json!("complete"));
            if let Some(scope) = cache {
                o.insert("ttlMs".into(), json!(0));
                o.insert("cacheScope".into(), json!(scope));
            }
        }
        v
    }
}

/// Shared server state for the methods.
#[derive(Debug)]
pub struct State {
    pub(crate) config: Config,
    pub(crate) resource_url: String,
    pub(crate) files: Option<FileStore>,
}

pub(crate) fn invalid_params(msg: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(codes::INVALID_PARAMS, msg.into(), None::<()>)
}

pub(crate) fn internal(msg: &str) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(codes::INTERNAL_ERROR, msg.to_owned(), None::<()>)
}

/// Parses object params, treating absent params as `{}`.
pub(crate) fn parse<T: DeserializeOwned>(p: &Params<'_>) -> Result<T, ErrorObjectOwned> {
    serde_json::from_str(p.as_str().unwrap_or("{}"))
        .map_err(|e| invalid_params(format!("invalid params: {e}")))
}

fn ctx(ext: &Extensions) -> Result<&Arc<RequestCtx>, ErrorObjectOwned> {
    ext.get::<Arc<RequestCtx>>()
        .ok_or_else(|| internal("missing request context"))
}

/// Opaque pagination cursor (PR-38): base64url of `o:<offset>`.
pub(crate) fn page<T: Clone>(
    items: &[T],
    cursor: Option<&str>,
    size: usize,
) -> Result<(Vec<T>, Option<String>), ErrorObjectOwned> {
    let start = match cursor {
        None => 0,
        Some(c) => {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(c)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|s| s.strip_prefix("o:").and_then(|n| n.parse::<usize>().ok()))
                .filter(|n| *n <= items.len())
                .ok_or_else(|| invalid_params("invalid cursor"))?
        }
    };
    let end = (start + size).min(items.len());
    let next = (end < items.len()).then(|| shared::random::b64url(format!("o:{end}").as_bytes()));
    Ok((items[start..end].to_vec(), next))
}

#[derive(serde::Deserialize, Default)]
struct CursorParams {
    cursor: Option<String>,
}

/// Server capabilities for `initialize` / `server/discover` (PR-30).
pub(crate) fn capabilities(modern: bool) -> Value {
    let mut c = json!({
        "tools": {"listChanged": false},
        "resources": {"subscribe": false, "listChanged": false},
        "prompts": {"listChanged": false},
        "completions": {},
    });
    if !modern {
        c["logging"] = json!({});
    }
    c
}

fn server_info() -> Value {
    json!({"name": "http-mcp-mock-server", "title": "OAuth-protected mock MCP server", "version": env!("CARGO_PKG_VERSION")})
}

/// Version negotiation (PR-12): echo a supported legacy version, else our latest legacy one.
pub fn negotiate(requested: Option<&str>) -> &'static str {
    requested
        .and_then(|r| LEGACY_VERSIONS.iter().find(|v| **v == r).copied())
        .unwrap_or(LEGACY_VERSIONS[0])
}

const LOG_LEVELS: &[&str] = &[
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
];

fn listed(key: &str, items: Vec<Value>, next: Option<String>) -> Value {
    let mut r = json!({ key: items });
    if let Some(n) = next {
        r["nextCursor"] = json!(n);
    }
    r
}

/// Builds the module with every MCP method.
pub(crate) fn rpc_module(
    state: Arc<State>,
) -> Result<RpcModule<State>, jsonrpsee::core::RegisterMethodError> {
    let mut m = RpcModule::from_arc(state);
    m.register_async_method("initialize", |_p, st, ext| async move {
        let c = ctx(&ext)?;
        let version = match c.era {
            Era::Legacy(v) => v,
            Era::Modern => LEGACY_VERSIONS[0],
        };
        let mut r = json!({
            "protocolVersion": version,
            "capabilities": capabilities(false),
            "serverInfo": server_info(),
        });
        if let Some(i) = &st.config.instructions {
            r["instructions"] = json!(i);
        }
        Ok::<_, ErrorObjectOwned>(r)
    })?;
    m.register_async_method("server/discover", |_p, st, ext| async move {
        let c = ctx(&ext)?;
        let mut supported = vec![MODERN_VERSION];
        supported.extend_from_slice(LEGACY_VERSIONS);
        let mut r = json!({
            "supportedVersions": supported,
            "capabilities": capabilities(true),
            "_meta": {"io.modelcontextprotocol/serverInfo": server_info()},
        });
        if let Some(i) = &st.config.instructions {
            r["instructions"] = json!(i);
        }
        Ok::<_, ErrorObjectOwned>(c.finish(r, Some("public")))
    })?;
    m.register_async_method("ping", |_p, _st, ext| async move {
        let c = ctx(&ext)?;
        Ok::<_, ErrorObjectOwned>(c.finish(json!({}), None))
    })?;
    m.register_async_method("logging/setLevel", |p, _st, ext| async move {
        let c = ctx(&ext)?;
        #[derive(serde::Deserialize)]
        struct L {
            level: String,
        }
        let l: L = parse(&p)?;
        let Some(idx) = LOG_LEVELS.iter().position(|x| *x == l.level) else {
            return Err(invalid_params("invalid log level"));
        };
        if let Some(log) = &c.log {
            log.set_level(idx);
        }
        Ok(json!({}))
    })?;
    m.register_async_method("tools/list", |p, st, ext| async move {
        let c = ctx(&ext)?;
        let cp: CursorParams = parse(&p)?;
        let (items, next) = page(
            tools::definitions(),
            cp.cursor.as_deref(),
            st.config.limits.page_size,
        )?;
        Ok::<_, ErrorObjectOwned>(c.finish(listed("tools", items, next), Some("public")))
    })?;
    m.register_async_method("tools/call", |p, st, ext| async move {
        let c = ctx(&ext)?.clone();
        let r = tools::call(&st, &c, &p).await?;
        if let Some(log) = &c.log {
            log.log(
                "info",
                "tools",
                json!({"event": "tools/call", "error": r.is_error()}),
            );
        }
        Ok::<_, ErrorObjectOwned>(r.into_result(&c))
    })?;
    m.register_async_method("resources/list", |p, st, ext| async move {
        let c = ctx(&ext)?;
        let cp: CursorParams = parse(&p)?;
        let all = resources::list(&st).await;
        let (items, next) = page(&all, cp.cursor.as_deref(), st.config.limits.page_size)?;
        Ok::<_, ErrorObjectOwned>(c.finish(listed("resources", items, next), Some("public")))
    })?;
    m.register_async_method("resources/templates/list", |p, st, ext| async move {
        let c = ctx(&ext)?;
        let cp: CursorParams = parse(&p)?;
        let (items, next) = page(
            &resources::templates(),
            cp.cursor.as_deref(),
            st.config.limits.page_size,
        )?;
        Ok::<_, ErrorObjectOwned>(
            c.finish(listed("resourceTemplates", items, next), Some("public")),
        )
    })?;
    m.register_async_method("resources/read", |p, st, ext| async move {
        let c = ctx(&ext)?;
        let r = resources::read(&st, c.modern(), &p).await?;
        Ok::<_, ErrorObjectOwned>(c.finish(r, Some("public")))
    })?;
    m.register_async_method("prompts/list", |p, st, ext| async move {
        let c = ctx(&ext)?;
        let cp: CursorParams = parse(&p)?;
        let (items, next) = page(
            &prompts::definitions(),
            cp.cursor.as_deref(),
            st.config.limits.page_size,
        )?;
        Ok::<_, ErrorObjectOwned>(c.finish(listed("prompts", items, next), Some("public")))
    })?;
    m.register_async_method("prompts/get", |p, _st, ext| async move {
        let c = ctx(&ext)?;
        let r = prompts::get(&p)?;
        Ok::<_, ErrorObjectOwned>(c.finish(r, None))
    })?;
    m.register_async_method("completion/complete", |p, st, ext| async move {
        let c = ctx(&ext)?;
        let r = prompts::complete(&st, &p).await?;
        Ok::<_, ErrorObjectOwned>(c.finish(r, None))
    })?;
    Ok(m)
}

/// Methods that do not exist under 2026-07-28 (checklist §9.1).
pub(crate) fn legacy_only(method: &str) -> bool {
    matches!(method, "initialize" | "ping" | "logging/setLevel")
}

/// Runs a registered method with the given extensions. `None`: no such method.
pub(crate) async fn dispatch(
    methods: &Methods,
    id: Id<'static>,
    method: &str,
    params: Option<&str>,
    ext: Extensions,
) -> Option<MethodResponse> {
    let params = Params::new(params).into_owned();
    match methods.method(method)? {
        MethodCallback::Async(cb) => Some(cb(id, params, ConnectionId(0), usize::MAX, ext).await),
        MethodCallback::Sync(cb) => Some(cb(id, params, usize::MAX, ext)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pr38_cursor_pagination_is_opaque_and_validated() {
        let items: Vec<u32> = (0..5).collect();
        let (p1, c1) = page(&items, None, 2).unwrap();
        assert_eq!(p1, vec![0, 1]);
        let (p2, c2) = page(&items, c1.as_deref(), 2).unwrap();
        assert_eq!(p2, vec![2, 3]);
        let (p3, c3) = page(&items, c2.as_deref(), 2).unwrap();
        assert_eq!(p3, vec![4]);
        assert!(c3.is_none());
        assert_eq!(
            page(&items, Some("garbage"), 2).unwrap_err().code(),
            codes::INVALID_PARAMS
        );
    }

    #[test]
    fn pr12_negotiation_echoes_supported_else_latest() {
        assert_eq!(negotiate(Some("2025-06-18")), "2025-06-18");
        assert_eq!(negotiate(Some("2024-11-05")), "2024-11-05");
        assert_eq!(negotiate(Some("1999-01-01")), "2025-11-25");
        assert_eq!(negotiate(None), "2025-11-25");
    }
}
