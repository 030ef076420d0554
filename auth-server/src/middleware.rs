//! The HTTP layers around every route: sensitive headers hidden from traces (outside the
//! trace layer), a trace span with method and path only (no query: it may carry `state`),
//! error logging in one place, bare 4xx statuses rewritten to RFC-shaped JSON, fault injection,
//! rate limits, body limits and timeouts.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;

use crate::AppState;
use crate::error::{LoggedError, OAuthError};
use crate::faults::{Fault, endpoint_of};
use crate::ratelimit::Bucket;

/// Wraps the routes in every layer, once, around the whole router: the layered stack is the
/// fallback service of an outer router with no routes, so every request (404 and 405
/// included) passes through it exactly as through `Router::layer`. Not `Router::layer`: that
/// wraps and boxes every route's service once per layer, and each box is cloned per request
/// (eight boxed clones and their frees per `/token` request, about 10k instructions,
/// issue 16 C). `ServiceBuilder` lists the outermost layer first.
pub(crate) fn apply(router: axum::Router, state: Arc<AppState>) -> axum::Router {
    let timeout = Duration::from_millis(state.config.request_timeout_ms);
    let limit = state.config.max_body_bytes;
    let stack = tower::ServiceBuilder::new()
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
            header::COOKIE,
        ]))
        .layer(
            TraceLayer::new_for_http().make_span_with(make_span as fn(&Request) -> tracing::Span),
        )
        .layer(axum::middleware::from_fn(log_and_shape))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(limit))
        // Back to axum's body type (what `Route` does for a layer inside the router).
        .map_request(|req: axum::http::Request<_>| req.map(Body::new))
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        // Lazy: no timer (and no driver wake-up, a `write(2)`) for a request that finishes on
        // its first poll, e.g. a `client_credentials` token (issue 16 C, ADR 0017).
        .layer(shared::lazy_timeout::LazyTimeoutLayer::new(
            timeout,
            StatusCode::SERVICE_UNAVAILABLE,
        ))
        .layer(axum::middleware::from_fn_with_state(state, guard))
        .service(router);
    axum::Router::new().fallback_service(stack)
}

fn make_span(req: &Request) -> tracing::Span {
    tracing::info_span!("request", http.method = %req.method(), http.path = %req.uri().path())
}

/// Logs errors once (4xx at DEBUG, 5xx at ERROR, with the private source) and turns bare
/// error statuses produced by layers (413, 405, 404, 503 timeout) into RFC 6749 JSON.
async fn log_and_shape(req: Request, next: Next) -> Response {
    {
        let res = next.run(req).await;
        if let Some(LoggedError(e)) = res.extensions().get::<LoggedError>() {
            let source = e.source.as_ref().map(|s| s.to_string()).unwrap_or_default();
            if res.status().is_server_error() {
                tracing::error!(oauth.error = %e.code, error.source = %source, "request failed");
            } else {
                tracing::debug!(oauth.error = %e.code, error.source = %source, "request refused");
            }
            return res;
        }
        let status = res.status();
        let is_json_or_html = res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
        if (status.is_client_error() || status.is_server_error()) && !is_json_or_html {
            let (code, text) = match status {
                StatusCode::PAYLOAD_TOO_LARGE => ("invalid_request", "request body too large"),
                StatusCode::METHOD_NOT_ALLOWED => ("invalid_request", "method not allowed"),
                StatusCode::NOT_FOUND => ("invalid_request", "no such endpoint"),
                StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                    ("invalid_request", "unsupported content type")
                }
                StatusCode::SERVICE_UNAVAILABLE => {
                    ("temporarily_unavailable", "the request timed out")
                }
                s if s.is_server_error() => ("server_error", "internal error"),
                _ => ("invalid_request", "bad request"),
            };
            let mut shaped = OAuthError::new(shared::oauth::ErrorCode::parse(code), text)
                .with_status(status)
                .into_response();
            shaped.extensions_mut().remove::<LoggedError>();
            if let Some(allow) = res.headers().get(header::ALLOW) {
                shaped.headers_mut().insert(header::ALLOW, allow.clone());
            }
            return shaped;
        }
        res
    }
}

/// Rate limits and fault injection, per endpoint.
async fn guard(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    {
        let path = req.uri().path();
        let bucket = match path {
            "/token" | "/revoke" | "/introspect" => Some(Bucket::Token),
            "/register" => Some(Bucket::Register),
            "/authorize" | "/authorize/decision" => Some(Bucket::Authorize),
            _ => None,
        };
        if let Some(bucket) = bucket {
            let ip = req
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip())
                .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
            if let Err(retry) = state.limiter.check(&*state.store, bucket, ip).await {
                return too_many_requests(retry.as_secs().max(1));
            }
        }
        let endpoint = endpoint_of(path);
        if let Some(e) = endpoint {
            state.hits.hit(e);
        }
        let fault = endpoint.and_then(|e| state.faults.take(e));
        match fault {
            None => next.run(req).await,
            Some(Fault::Delay { ms }) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                next.run(req).await
            }
            Some(Fault::RateLimited { retry_after_secs }) => too_many_requests(retry_after_secs),
            Some(Fault::Status { status }) => {
                let status =
                    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let e = if status == StatusCode::SERVICE_UNAVAILABLE {
                    OAuthError::temporarily_unavailable("injected fault")
                } else {
                    OAuthError::new(shared::oauth::ErrorCode::ServerError, "injected fault")
                };
                let mut res = e.with_status(status).into_response();
                res.extensions_mut().remove::<LoggedError>();
                res
            }
            Some(Fault::MalformedJson) => (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                "{\"access_token\": <<not json",
            )
                .into_response(),
            Some(Fault::CloseConnection) => {
                let stream = futures_util::stream::once(async {
                    Err::<bytes::Bytes, std::io::Error>(std::io::Error::other("injected close"))
                });
                Response::builder()
                    .status(StatusCode::OK)
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from_stream(stream))
                    .unwrap_or_default()
            }
        }
    }
}

/// 429 with `Retry-After` (seconds) and an RFC 6749-shaped body.
fn too_many_requests(retry_after_secs: u64) -> Response {
    let mut res = OAuthError::temporarily_unavailable("rate limit exceeded")
        .with_status(StatusCode::TOO_MANY_REQUESTS)
        .into_response();
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    res
}
