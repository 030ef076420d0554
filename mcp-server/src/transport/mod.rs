//! The HTTP front: owns MCP framing (202 for notifications, SSE, session headers, the
//! 2026-07-28 header rules) and calls the jsonrpsee methods per message.
//!
//! Layers, outermost first: Origin/Host guard with CORS (TR-03, RS-23)
//! → router → [`JwtAuthLayer`] (not on the PRM routes) → body limit (413) → timeout.
//!
//! [`JwtAuthLayer`]: crate::auth::JwtAuthLayer

mod guard;
mod message;
mod session;
mod sse_legacy;
mod streamable;
mod timeout;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::{Stream, StreamExt};
use http::{HeaderValue, StatusCode, header};
use jsonrpsee::core::server::Methods;
use serde_json::{Value, json};
use tokio::sync::watch;
use tower::ServiceBuilder;

use crate::auth::{Authenticator, JwtAuthLayer};
use crate::config::Config;

pub(crate) use guard::HostPolicy;
pub(crate) use session::SessionStore;

/// Everything the handlers share.
#[derive(Debug)]
pub(crate) struct App {
    pub(crate) methods: Methods,
    pub(crate) auth: Arc<Authenticator>,
    pub(crate) sessions: SessionStore,
    pub(crate) shutdown: watch::Receiver<bool>,
    /// Largest accepted request body.
    pub(crate) max_body: usize,
    /// Requests whose answer is an SSE stream and whose work is still running (TR-13 tests:
    /// closing the stream must bring this back down).
    pub(crate) streaming: Arc<AtomicUsize>,
}

/// Counts one streamed request while alive (dropped when the task ends or is aborted).
pub(crate) struct StreamingGuard(Arc<AtomicUsize>);

impl StreamingGuard {
    pub(crate) fn new(n: &Arc<AtomicUsize>) -> Self {
        n.fetch_add(1, Ordering::Relaxed);
        Self(n.clone())
    }
}

impl Drop for StreamingGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

pub(crate) const SESSION_HEADER: &str = "mcp-session-id";
pub(crate) const VERSION_HEADER: &str = "mcp-protocol-version";

/// The whole HTTP service: outer layers applied around the router as plain tower services
/// (no per-layer boxing or per-request clones, which `Router::layer` would add).
pub(crate) type HttpService = guard::Guard<Router>;

/// Builds the service. `mcp_path` is the resource URL's path (`/mcp` by default).
pub(crate) fn service(
    app: Arc<App>,
    auth_layer: JwtAuthLayer,
    config: &Config,
    resource_url: &str,
    mcp_path: &str,
) -> HttpService {
    let policy = Arc::new(HostPolicy::new(config, resource_url));
    let prm = Arc::new(prm_document(config, resource_url));
    let prm_handler = {
        let prm = prm.clone();
        move || {
            let prm = prm.clone();
            async move {
                (
                    [
                        (header::CONTENT_TYPE, "application/json"),
                        (header::CACHE_CONTROL, "public, max-age=3600"),
                    ],
                    prm.as_str().to_owned(),
                )
            }
        }
    };
    let protected = Router::new()
        .route(
            mcp_path,
            post(streamable::post)
                .get(streamable::get)
                .delete(streamable::delete),
        )
        .route("/sse", get(sse_legacy::get))
        .route("/messages", post(sse_legacy::post))
        .with_state(app)
        // One ServiceBuilder, so the route is boxed once for the three layers.
        .layer(
            ServiceBuilder::new()
                .layer(auth_layer)
                .layer(DefaultBodyLimit::max(config.limits.max_body_bytes))
                .layer(timeout::LazyTimeoutLayer(Duration::from_secs(
                    config.limits.request_timeout_secs,
                ))),
        );
    let mcp_rel = mcp_path.trim_start_matches('/');
    let mut public = Router::new().route(
        "/.well-known/oauth-protected-resource",
        get(prm_handler.clone()),
    );
    if !mcp_rel.is_empty() {
        public = public.route(
            &format!("/.well-known/oauth-protected-resource/{mcp_rel}"),
            get(prm_handler),
        );
    }
    // No TraceLayer and no SetSensitiveRequestHeaders: both cost measurable work per request
    // (callgrind: ~3k instructions for the header marking alone) and nothing here logs
    // headers; the auth layer never records the token (RS-19).
    ServiceBuilder::new()
        .layer(guard::GuardLayer::new(policy))
        .service(public.merge(protected))
}

/// RFC 9728 document (RS-01..RS-05): exact resource, issuer, scopes, header-only bearer.
fn prm_document(config: &Config, resource_url: &str) -> String {
    json!({
        "resource": resource_url,
        "authorization_servers": [config.auth_server_issuer],
        "scopes_supported": shared::scope::DEFAULT_SCOPES,
        "bearer_methods_supported": ["header"],
        "resource_name": "http-mcp-mock-server",
    })
    .to_string()
}

/// A JSON-RPC error as an HTTP response.
pub(crate) fn rpc_error(
    status: StatusCode,
    id: Option<&Value>,
    code: i32,
    message: &str,
    data: Option<Value>,
) -> Response {
    let mut err = json!({"code": code, "message": message});
    if let Some(d) = data {
        err["data"] = d;
    }
    let body = json!({"jsonrpc": "2.0", "id": id.cloned().unwrap_or(Value::Null), "error": err});
    json_response(status, body.to_string())
}

pub(crate) fn json_response(status: StatusCode, body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

pub(crate) fn accepted() -> Response {
    StatusCode::ACCEPTED.into_response()
}

/// Whether `Accept` lists `text/event-stream` (or anything).
pub(crate) fn accepts_sse(headers: &http::HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            let t = t.split(';').next().unwrap_or("").trim();
            t.eq_ignore_ascii_case("text/event-stream") || t == "*/*"
        })
}

/// An SSE response (TR-12: `X-Accel-Buffering: no`, keep-alive comments) that ends on shutdown.
pub(crate) fn sse_response<S>(app: &App, stream: S) -> Response
where
    S: Stream<Item = Event> + Send + 'static,
{
    let mut rx = app.shutdown.clone();
    let stop = async move {
        let _ = rx.wait_for(|v| *v).await;
    };
    let s = stream.take_until(Box::pin(stop)).map(Ok::<_, Infallible>);
    let mut r = Sse::new(s)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    r.headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// An SSE `message` event carrying one JSON-RPC message.
pub(crate) fn message_event(json: String) -> Event {
    Event::default().event("message").data(json)
}
