//! The cost ladder (issue 16 A; benchmarks only, behind the `ladder` feature, never in a
//! deployment build): the MCP endpoint's POST cut off after a chosen layer, so
//! `scripts/ladder.sh` can measure what each layer adds to a `tools/call`. Every step keeps
//! the layers of the step before and adds one:
//!
//! 1. `stack`: the Origin/Host guard, the MCP POST beside the router ([`super::front`]) and
//!    the timeout around a handler answering a fixed JSON-RPC reply (the body of
//!    `bare_hyper`);
//! 2. `auth`: + the JWT auth layer (warm verified-token cache) and the `Authenticated`
//!    extraction;
//! 3. `envelope`: + reading the body and the borrowed JSON-RPC envelope parse (with the
//!    `params` peek) and the era decision; still the fixed reply;
//! 4. `dispatch`: + admission (scope check) and dispatch into the jsonrpsee methods, answered
//!    as the real path answers, but with no session lookup and no 2026-07-28 header rules;
//! 5. `checks` (or no step): the real service ([`super::service`]): + the session lookup
//!    (legacy) or the `_meta` / `Mcp-*` header validation (stateless).
//!
//! The step is read once, from `MCP_LADDER_STEP`, when the service is built.

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts as _, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post as post_route;
use http::header::CONTENT_TYPE;
use tower::ServiceBuilder;

use super::front::{Front, PostFn, PostService};
use super::handle::{Delivery, Exchange, handle_message};
use super::{App, H_SESSION, H_VERSION, HttpService, guard, header, message};
use crate::auth::{Authenticated, JwtAuthLayer};
use crate::config::Config;
use crate::rpc::Era;

/// The fixed reply of steps 1 to 3 (the same bytes as `auth-server/examples/bare_hyper.rs`).
const BODY: &str = r#"{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"hello"}],"resultType":"complete"}}"#;

/// The service for the step named in `MCP_LADDER_STEP`; `None` (the real service) when the
/// variable is unset, `checks` or `real`.
pub(super) fn service(
    app: &Arc<App>,
    auth_layer: Option<&JwtAuthLayer>,
    config: &Config,
    resource_url: &str,
    mcp_path: &str,
) -> Option<HttpService> {
    let step = std::env::var("MCP_LADDER_STEP").ok()?;
    let handler: PostFn = match step.as_str() {
        "stack" => |_, _| Box::pin(async { Ok(fixed_reply()) }),
        "auth" => |_, req| Box::pin(async move { Ok(auth(req).await) }),
        "envelope" => |app, req| Box::pin(async move { Ok(envelope(State(app), req).await) }),
        "dispatch" => |app, req| Box::pin(async move { Ok(dispatch(State(app), req).await) }),
        "checks" | "real" | "" => return None,
        other => panic!("MCP_LADDER_STEP={other}: expected stack|auth|envelope|dispatch|checks"),
    };
    // The real service's shape: the POST beside an (unused here) router, inside the guard.
    let timeout = super::request_timeout(config);
    let auth_layer = if step == "stack" { None } else { auth_layer };
    let post = PostService::new(app.clone(), handler, auth_layer, None, timeout);
    let routes = Router::new()
        .route(mcp_path, post_route(fixed))
        .with_state(app.clone());
    let policy = Arc::new(guard::HostPolicy::new(config, resource_url));
    Some(
        ServiceBuilder::new()
            .layer(guard::GuardLayer::new(policy))
            .service(Front::new(mcp_path, Some(post), routes)),
    )
}

fn fixed_reply() -> Response {
    ([(CONTENT_TYPE, "application/json")], BODY).into_response()
}

async fn fixed() -> Response {
    fixed_reply()
}

async fn auth(req: axum::extract::Request) -> Response {
    let (mut parts, _body) = req.into_parts();
    match Authenticated::from_request_parts(&mut parts, &()).await {
        Ok(Authenticated(_auth)) => fixed_reply(),
        Err(status) => status.into_response(),
    }
}

async fn envelope(State(app): State<Arc<App>>, req: axum::extract::Request) -> Response {
    let (mut parts, body) = req.into_parts();
    let _auth = match Authenticated::from_request_parts(&mut parts, &()).await {
        Ok(Authenticated(auth)) => auth,
        Err(status) => return status.into_response(),
    };
    let body = match super::streamable::read_body(body, app.max_body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let msg = match message::parse(&body) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let era = era_of(&parts.headers, &msg);
    std::hint::black_box(era);
    fixed_reply()
}

async fn dispatch(State(app): State<Arc<App>>, req: axum::extract::Request) -> Response {
    let (mut parts, body) = req.into_parts();
    let auth = match Authenticated::from_request_parts(&mut parts, &()).await {
        Ok(Authenticated(auth)) => auth,
        Err(status) => return status.into_response(),
    };
    let body = match super::streamable::read_body(body, app.max_body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let msg = match message::parse(&body) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let headers = parts.headers;
    let x = Exchange {
        app: &app,
        auth,
        era: era_of(&headers, &msg),
        session: None,
    };
    handle_message(x, &msg, Delivery::Http(&headers))
        .await
        .into_response()
}

/// The era decision of `streamable::post` (stateless when no session header and a
/// 2026-07-28 marker; otherwise the latest session-era version).
fn era_of(headers: &http::HeaderMap, msg: &message::Message<'_>) -> Era {
    let meta_version = msg.peek.meta.as_ref().is_some_and(|m| m.version.is_some());
    if !headers.contains_key(&H_SESSION)
        && (meta_version || header(headers, &H_VERSION) == Some(shared::mcp::STATELESS_VERSION))
    {
        Era::Modern
    } else {
        Era::Legacy("2025-11-25")
    }
}
