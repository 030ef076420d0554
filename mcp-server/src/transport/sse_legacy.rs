//! The deprecated HTTP+SSE transport (2024-11-05, checklist TR-50..TR-52): GET `/sse` opens
//! a stream whose first event is `endpoint` (the POST URI with the session id); POSTs to that
//! URI get 202 and their responses arrive on the stream. Token-protected like the rest, and
//! the session is bound to the token's subject and client.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::response::sse::Event;
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, StreamExt};
use http::StatusCode;
use serde::Deserialize;
use tokio::sync::mpsc;

use super::message;
use super::{App, accepted, message_event, rpc_error, sse_response};
use crate::auth::{Authenticated, forbidden_insufficient_scope};
use crate::rpc::{Era, RequestCtx, codes, negotiate};

/// Removes the session when the SSE stream is dropped (client gone).
struct SessionGuard {
    app: Arc<App>,
    id: Arc<str>,
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.app.sessions.remove(&self.id);
    }
}

/// GET /sse.
pub(crate) async fn get(
    State(app): State<Arc<App>>,
    Authenticated(auth): Authenticated,
) -> Response {
    let session = match app.sessions.create(&auth, "2024-11-05") {
        Ok(s) => s,
        Err(_) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    };
    let (tx, rx) = mpsc::channel::<String>(64);
    session.set_stream(Some(tx));
    let guard = SessionGuard {
        app: app.clone(),
        id: session.id.clone(),
    };
    let endpoint = Event::default()
        .event("endpoint")
        .data(format!("/messages?sessionId={}", session.id));
    let rest = stream::unfold((rx, guard), |(mut rx, g)| async move {
        rx.recv().await.map(|m| (message_event(m), (rx, g)))
    });
    sse_response(&app, stream::once(async move { endpoint }).chain(rest))
}

#[derive(Deserialize)]
pub(crate) struct SessionQuery {
    #[serde(rename = "sessionId")]
    session_id: String,
}

/// POST /messages?sessionId=...
pub(crate) async fn post(
    State(app): State<Arc<App>>,
    Authenticated(auth): Authenticated,
    Query(q): Query<SessionQuery>,
    body: Bytes,
) -> Response {
    let session = match app.sessions.get(&q.session_id) {
        Some(s) if s.bound_to(&auth) => s,
        _ => {
            return rpc_error(
                StatusCode::NOT_FOUND,
                None,
                codes::INVALID_REQUEST,
                "Session not found",
                None,
            );
        }
    };
    let Some(tx) = session.stream_sender() else {
        return rpc_error(
            StatusCode::NOT_FOUND,
            None,
            codes::INVALID_REQUEST,
            "Session not found",
            None,
        );
    };
    let msg = match message::parse(&body) {
        Ok(m) => m,
        Err(r) => return r,
    };
    if msg.is_response() {
        return accepted();
    }
    if msg.is_notification() {
        if msg.method() == "notifications/cancelled"
            && let Some(id) = &msg.peek.request_id
        {
            session.cancel(&id.to_string());
        }
        return accepted();
    }
    if let Err(required) = app.auth.check_method(&auth, msg.method()) {
        return forbidden_insufficient_scope(app.auth.resource_metadata_url(), &required);
    }
    let version = if msg.method() == "initialize" {
        negotiate(msg.peek.protocol_version.as_deref())
    } else {
        session.version
    };
    let ctx = RequestCtx {
        auth,
        era: Era::Legacy(version),
        progress: msg.progress_token().cloned().map(|t| (t, tx.clone())),
        log: Some(session.log.clone()),
    };
    let call = msg.to_owned_parts();
    let key = call.id.clone().unwrap_or_default();
    let app2 = app.clone();
    let sess = session.clone();
    let task = tokio::spawn(async move {
        let resp = call.run(&app2, ctx).await;
        sess.untrack(&key);
        let _ = tx.send(resp).await;
    });
    session.track(
        msg.id.map(|r| r.get().to_owned()).unwrap_or_default(),
        task.abort_handle(),
    );
    accepted()
}
