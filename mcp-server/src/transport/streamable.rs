//! POST on the Streamable HTTP endpoint, both eras on one path (checklist §2 item 2):
//! * a request whose `_meta` carries `io.modelcontextprotocol/protocolVersion` (or with
//!   `MCP-Protocol-Version: 2026-07-28` and no session) is served statelessly (2026-07-28,
//!   [`stateless`](super::stateless));
//! * `initialize` opens a legacy session (2025-03-26 .. 2025-11-25, [`sessions`](super::sessions));
//! * everything else, batches included, needs `Mcp-Session-Id`.

use std::sync::Arc;

use axum::extract::{FromRequestParts as _, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use shared::mcp::STATELESS_VERSION;

use super::handle::{Delivery, Exchange, handle_message};
use super::{App, H_SESSION, H_VERSION, header, message, sessions, stateless};
use crate::auth::Authenticated;
use crate::rpc::Era;

/// POST on the MCP endpoint.
///
/// Takes the whole request rather than `HeaderMap` + `Bytes` extractors: axum's `HeaderMap`
/// extractor clones the map (every name and value) on each request.
pub(crate) async fn post(State(app): State<Arc<App>>, req: axum::extract::Request) -> Response {
    let (mut parts, body) = req.into_parts();
    let auth = match Authenticated::from_request_parts(&mut parts, &()).await {
        Ok(Authenticated(auth)) => auth,
        Err(status) => return status.into_response(),
    };
    let body = match axum::body::to_bytes(body, app.max_body).await {
        Ok(b) => b,
        Err(e) => return body_error(&e),
    };
    let headers = parts.headers;
    if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return sessions::batch(&app, auth, &headers, &body).await;
    }
    let msg = match message::parse(&body) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let meta_version = msg.peek.meta.as_ref().is_some_and(|m| m.version.is_some());
    let modern = !headers.contains_key(&H_SESSION)
        && msg.method() != "initialize"
        && (meta_version
            || header(&headers, &H_VERSION) == Some(STATELESS_VERSION)
            || msg.method() == "server/discover");
    let session;
    let (era, session) = if modern {
        if let Err(r) = stateless::check(&headers, &msg) {
            return r;
        }
        (Era::Modern, None)
    } else if msg.method() == "initialize" && msg.id.is_some() {
        return sessions::initialize(&app, auth, &headers, &msg).await;
    } else {
        session = match sessions::check(&app, &auth, &headers, &msg).await {
            Ok(s) => s,
            Err(r) => return r,
        };
        (Era::Legacy(session.version), Some(&session))
    };
    let x = Exchange {
        app: &app,
        auth,
        era,
        session,
    };
    handle_message(x, &msg, Delivery::Http(&headers))
        .await
        .into_response()
}

/// 413 when the body exceeds the limit, 400 when it cannot be read.
fn body_error(e: &axum::Error) -> Response {
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = src {
        if err.is::<http_body_util::LengthLimitError>() {
            return StatusCode::PAYLOAD_TOO_LARGE.into_response();
        }
        src = err.source();
    }
    StatusCode::BAD_REQUEST.into_response()
}
