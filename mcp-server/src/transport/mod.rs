//! The HTTP front: owns MCP framing (202 for notifications, SSE, session headers, the
//! 2026-07-28 header rules) and calls the jsonrpsee methods per message.
//!
//! * [`streamable`]: POST on the MCP endpoint, routed to [`stateless`] (2026-07-28) or
//!   [`sessions`] (2025-03-26 .. 2025-11-25: initialize, messages, batches, GET, DELETE);
//! * [`sse_legacy`]: the HTTP+SSE transport (2024-11-05);
//! * [`handle`]: the one path every message takes from there (admit, scope check,
//!   dispatch into the jsonrpsee methods, answer), with [`message`] (parse, error shape) and
//!   [`respond`] (JSON, 202, SSE);
//! * [`session`], [`guard`] (Origin/Host, CORS), [`timeout`].
//!
//! Layers, outermost first: Origin/Host guard with CORS (TR-03, RS-23)
//! → router → [`JwtAuthLayer`] (not on the PRM routes) → body limit (413) → timeout. The
//! MCP endpoint's POST skips the router ([`front`]): guard → auth → timeout → handler, the
//! handler enforcing the body limit itself.
//!
//! [`JwtAuthLayer`]: crate::auth::JwtAuthLayer

mod front;
mod guard;
mod handle;
#[cfg(feature = "ladder")]
mod ladder;
mod message;
mod respond;
mod resume;
mod session;
mod sessions;
mod sse_legacy;
mod stateless;
mod streamable;
mod subscriptions;

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use http::{HeaderMap, HeaderName, header};
use jsonrpsee::core::server::Methods;
use serde_json::json;
use shared::mcp::header as mcp_header;
use tokio::sync::watch;
use tower::ServiceBuilder;

use crate::auth::{Authenticator, JwtAuthLayer};
use crate::config::Config;

pub(crate) use guard::HostPolicy;
pub(crate) use session::{SessionLimits, SessionStore};

/// Everything the handlers share.
#[derive(Debug)]
pub(crate) struct App {
    pub(crate) methods: Methods,
    /// The synchronous `tools/call` for the tools that never wait (`rpc::sync_tool_module`).
    pub(crate) sync_tools: Methods,
    pub(crate) auth: Arc<Authenticator>,
    pub(crate) sessions: SessionStore,
    pub(crate) shutdown: watch::Receiver<bool>,
    /// Largest accepted request body.
    pub(crate) max_body: usize,
    /// Requests whose answer is an SSE stream and whose work is still running (TR-13 tests:
    /// closing the stream must bring this back down).
    pub(crate) streaming: Arc<AtomicUsize>,
    /// The change bus (listen streams, legacy session streams).
    pub(crate) events: Arc<crate::rpc::Events>,
    /// `retry:` of a session GET stream's priming event (TR-32).
    pub(crate) sse_retry: Duration,
}

// Header names as constants: looking up by `&str` re-parses the name on every call.
static H_SESSION: HeaderName = HeaderName::from_static(mcp_header::SESSION_ID);
static H_VERSION: HeaderName = HeaderName::from_static(mcp_header::PROTOCOL_VERSION);
static H_METHOD: HeaderName = HeaderName::from_static(mcp_header::METHOD);
static H_NAME: HeaderName = HeaderName::from_static(mcp_header::NAME);

/// A header's value, if present and visible ASCII.
fn header<'a>(h: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// The whole HTTP service: outer layers applied around the router as plain tower services
/// (no per-layer boxing or per-request clones, which `Router::layer` would add), and the MCP
/// POST beside the router ([`front::Front`]).
pub(crate) type HttpService = guard::Guard<front::Front>;

/// The MCP endpoint's POST handler as a [`front::PostFn`].
fn mcp_post(
    app: Arc<App>,
    req: axum::extract::Request,
) -> futures_util::future::BoxFuture<
    'static,
    Result<axum::response::Response, std::convert::Infallible>,
> {
    Box::pin(async move { Ok(streamable::post(axum::extract::State(app), req).await) })
}

/// Builds the service. `mcp_path` is the resource URL's path (`/mcp` by default).
pub(crate) fn service(
    app: Arc<App>,
    auth_layer: Option<JwtAuthLayer>,
    config: &Config,
    resource_url: &str,
    mcp_path: &str,
) -> HttpService {
    #[cfg(feature = "ladder")] // benchmarks only: the cost ladder's cut-off services
    if let Some(svc) = ladder::service(&app, auth_layer.as_ref(), config, resource_url, mcp_path) {
        return svc;
    }
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
    let routes = Router::new()
        .route(
            mcp_path,
            post(streamable::post)
                .get(sessions::get)
                .delete(sessions::delete),
        )
        .route("/sse", get(sse_legacy::get))
        .route("/messages", post(sse_legacy::post))
        .with_state(app.clone());
    let limits = (
        DefaultBodyLimit::max(config.limits.max_body_bytes),
        request_timeout(config),
    );
    let Some(auth_layer) = auth_layer else {
        // The unprotected test fixture: no PRM (nothing to discover), an anonymous context.
        let anonymous = Arc::new(crate::auth::AuthContext {
            subject: "anonymous".to_owned(),
            client_id: String::new(),
            scopes: app.auth.scope_rules().all(),
            expires_at: u64::MAX,
        });
        let post = front::PostService::new(
            app.clone(),
            mcp_post,
            None,
            Some(anonymous.clone()),
            limits.1,
        );
        let routes = routes.layer(
            ServiceBuilder::new()
                .map_request(move |mut req: axum::extract::Request| {
                    req.extensions_mut().insert(anonymous.clone());
                    req
                })
                .layer(limits.0)
                .layer(limits.1),
        );
        return ServiceBuilder::new()
            .layer(guard::GuardLayer::new(policy))
            .service(front::Front::new(mcp_path, Some(post), routes));
    };
    let post = front::PostService::new(app.clone(), mcp_post, Some(&auth_layer), None, limits.1);
    // One ServiceBuilder, so the route is boxed once for the three layers.
    let protected = routes.layer(
        ServiceBuilder::new()
            .layer(auth_layer)
            .layer(limits.0)
            .layer(limits.1),
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
        .service(front::Front::new(
            mcp_path,
            Some(post),
            public.merge(protected),
        ))
}

/// RFC 9728 document (RS-01..RS-05): exact resource, issuer, scopes, header-only bearer.
fn prm_document(config: &Config, resource_url: &str) -> String {
    let mut doc = json!({
        "resource": resource_url,
        "authorization_servers": [config.auth_server_issuer],
        "scopes_supported": shared::scope::DEFAULT_SCOPES,
        "bearer_methods_supported": ["header"],
        "resource_name": "http-mcp-mock-server",
    });
    // RFC 9728 §2 / RFC 9449 §5.1: the DPoP proof algorithms and whether bearer is refused.
    if config.dpop.enabled {
        doc["dpop_signing_alg_values_supported"] = json!(config.dpop.algorithms);
        doc["dpop_bound_access_tokens_required"] = json!(config.dpop.required);
    }
    doc.to_string()
}

/// The request timeout of every MCP route: 408 when a request has not been answered within
/// `limits.request_timeout_secs` of its first `Pending` (no timer for a request answered on
/// its first poll: `shared::lazy_timeout`, ADR 0017).
pub(crate) fn request_timeout(config: &Config) -> shared::lazy_timeout::LazyTimeoutLayer {
    shared::lazy_timeout::LazyTimeoutLayer::new(
        Duration::from_secs(config.limits.request_timeout_secs),
        http::StatusCode::REQUEST_TIMEOUT,
    )
}
