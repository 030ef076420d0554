//! The session eras on the MCP endpoint (2025-03-26 .. 2025-11-25): `initialize` opens a
//! session, later POSTs (single messages or 2025-03-26 batches) name it in `Mcp-Session-Id`,
//! GET opens its server-to-client stream and DELETE ends it.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode};
use jsonrpsee::types::ErrorObject;
use jsonrpsee::types::error::{ErrorCode, INVALID_REQUEST_CODE};
use serde_json::json;
use serde_json::value::RawValue;
use shared::mcp::{SESSION_VERSIONS, STATELESS_VERSION, header as mcp_header};
use tokio::sync::mpsc;

use super::handle::{Delivery, Exchange, Handled, handle_message};
use super::message::{self, Message, bad_request, error_json};
use futures_util::StreamExt as _;

use super::respond::{accepted, accepts_sse, json_response, sse_frames_response, token_expiry};
use super::resume::ResumeError;
use super::session::Session;
use super::{App, H_SESSION, H_VERSION, header, subscriptions};
use crate::auth::{AuthContext, Authenticated};
use crate::rpc::{Era, negotiate};

/// How often an open GET stream checks that its session still exists in the shared store.
const ENDED_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

fn invalid_request(id: Option<&RawValue>, msg: &'static str) -> Response {
    bad_request(id, ErrorObject::borrowed(INVALID_REQUEST_CODE, msg, None))
}

/// The session named by `Mcp-Session-Id` (400 without the header, 404 when unknown, 503
/// when the shared store cannot answer).
async fn session_for(
    app: &App,
    auth: &AuthContext,
    headers: &HeaderMap,
) -> Result<Arc<Session>, Response> {
    let Some(sid) = header(headers, &H_SESSION) else {
        return Err(invalid_request(
            None,
            "Mcp-Session-Id header required (send initialize first)",
        ));
    };
    app.sessions.bound(sid, auth).await
}

/// The session a (non-`initialize`) POST names, after the version header check (TR-41:
/// absent means 2025-03-26; an unsupported value gets 400).
pub(super) async fn check(
    app: &App,
    auth: &AuthContext,
    headers: &HeaderMap,
    msg: &Message<'_>,
) -> Result<Arc<Session>, Response> {
    let session = session_for(app, auth, headers).await?;
    if let Some(v) = header(headers, &H_VERSION)
        && !SESSION_VERSIONS.contains(&v)
    {
        return Err(bad_request(
            msg.id,
            ErrorObject::owned(
                INVALID_REQUEST_CODE,
                "Unsupported MCP-Protocol-Version",
                Some(json!({"supported": SESSION_VERSIONS, "requested": v})),
            ),
        ));
    }
    Ok(session)
}

/// `initialize` (a request, not a notification): opens a session with the negotiated
/// version (PR-12) and names it in `Mcp-Session-Id`.
pub(super) async fn initialize(
    app: &Arc<App>,
    auth: Arc<AuthContext>,
    headers: &HeaderMap,
    msg: &Message<'_>,
) -> Response {
    let requested = msg.peek.protocol_version.as_deref();
    // §10 P-16: the version header must not block initialize, but if present it must agree.
    if let (Some(h), Some(r)) = (header(headers, &H_VERSION), requested)
        && h != r
        && SESSION_VERSIONS.contains(&r)
        && h != STATELESS_VERSION
    {
        return invalid_request(
            msg.id,
            "MCP-Protocol-Version header does not match protocolVersion",
        );
    }
    let version = negotiate(requested);
    let mut x = Exchange {
        app,
        auth,
        era: Era::Legacy(version),
        session: None,
    };
    if let Err(h) = x.admit(msg) {
        return h.into_response();
    }
    let session = match app.sessions.create(&x.auth, version).await {
        Ok(s) => s,
        Err(e) => return e.response(msg.id),
    };
    x.session = Some(&session);
    let mut r = x.dispatch(msg, Delivery::Inline).await.into_response();
    if let Ok(v) = HeaderValue::from_str(&session.id) {
        r.headers_mut().insert(H_SESSION.clone(), v);
    }
    r
}

/// JSON-RPC batches, accepted only in 2025-03-26 sessions (TR-08, TR-30); each item takes
/// the same path as a single message, answered inline.
pub(super) async fn batch(
    app: &Arc<App>,
    auth: Arc<AuthContext>,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let session = match session_for(app, &auth, headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if session.version != "2025-03-26" {
        return invalid_request(
            None,
            "JSON-RPC batches are not supported in this protocol version",
        );
    }
    let items: Vec<&RawValue> = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => return bad_request(None, ErrorCode::ParseError.into()),
    };
    if items.is_empty() || items.len() > 100 {
        return invalid_request(None, "Invalid batch size");
    }
    let mut out = Vec::new();
    for item in items {
        let Ok(msg) = message::parse(item.get().as_bytes()) else {
            let e = ErrorObject::borrowed(INVALID_REQUEST_CODE, "Invalid Request", None);
            out.push(error_json(None, &e));
            continue;
        };
        let x = Exchange {
            app,
            auth: auth.clone(),
            era: Era::Legacy(session.version),
            session: Some(&session),
        };
        match handle_message(x, &msg, Delivery::Inline).await {
            Handled::Accepted => {}
            Handled::Json(s) => out.push(s),
            Handled::Http(r) => return r,
        }
    }
    if out.is_empty() {
        return accepted();
    }
    json_response(StatusCode::OK, format!("[{}]", out.join(",")))
}

/// GET on the MCP endpoint: the session's server-to-client SSE stream (TR-34).
pub(crate) async fn get(
    State(app): State<Arc<App>>,
    Authenticated(auth): Authenticated,
    headers: HeaderMap,
) -> Response {
    if !headers.contains_key(&H_SESSION) {
        // Stateless (2026-07-28) servers have no GET stream (TR-23).
        let mut r = StatusCode::METHOD_NOT_ALLOWED.into_response();
        r.headers_mut()
            .insert(http::header::ALLOW, HeaderValue::from_static("POST"));
        return r;
    }
    let session = match session_for(&app, &auth, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !accepts_sse(&headers) {
        return StatusCode::NOT_ACCEPTABLE.into_response();
    }
    // TR-36: resume after `Last-Event-ID`, from the session's bounded buffer.
    let last = match headers.get(mcp_header::LAST_EVENT_ID) {
        None => None,
        Some(v) => match v.to_str().ok().and_then(|s| s.trim().parse::<u64>().ok()) {
            Some(n) => Some(n),
            None => return subscriptions::resume_unknown(),
        },
    };
    subscriptions::start_pump(&app, &session, || {
        let (tx, rx) = mpsc::channel::<String>(64);
        session.set_stream(Some(tx));
        subscriptions::Sink::Outbox(session.outbox.clone(), rx)
    });
    match session.outbox.attach(last) {
        Ok(reader) => {
            let frames = reader.into_frames(app.sse_retry);
            // The stream ends with the session (TR-40): a DELETE here at once; on Redis a
            // DELETE or expiry on another instance within ENDED_CHECK (decisions/0010).
            let ended = {
                let (app, session) = (app.clone(), session.clone());
                async move { app.sessions.until_ended(&session, ENDED_CHECK).await }
            };
            let end = futures_util::future::select(Box::pin(token_expiry(&auth)), Box::pin(ended));
            sse_frames_response(&app, frames.take_until(end))
        }
        Err(ResumeError::Gone) => subscriptions::resume_gone(),
        Err(ResumeError::Unknown) => subscriptions::resume_unknown(),
    }
}

/// DELETE on the MCP endpoint ends the session (TR-40).
pub(crate) async fn delete(
    State(app): State<Arc<App>>,
    Authenticated(auth): Authenticated,
    headers: HeaderMap,
) -> Response {
    let session = match session_for(&app, &auth, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(e) = app.sessions.remove(&session).await {
        return super::session::store_unavailable(None, &e);
    }
    StatusCode::OK.into_response()
}
