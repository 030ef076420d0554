//! The deprecated HTTP+SSE transport (2024-11-05, checklist TR-50..TR-52): GET `/sse` opens
//! a stream whose first event is `endpoint` (the POST URI with the session id); POSTs to that
//! URI get 202 and their responses arrive on the stream. Token-protected like the rest, and
//! the session is bound to the token's subject and client.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::response::sse::Event;
use serde::Deserialize;
use tokio::sync::mpsc;

use super::App;
use super::handle::{Delivery, Exchange, Handled, handle_message};
use super::message;
use super::respond::{accepted, session_stream};
use super::{session, subscriptions};
use crate::auth::Authenticated;
use crate::rpc::{Era, negotiate};

/// Removes the session when the SSE stream is dropped (client gone).
struct SessionGuard {
    app: Arc<App>,
    id: Arc<str>,
    subject: String,
    client_id: String,
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.app
            .sessions
            .remove_later(&self.id, &self.subject, &self.client_id);
    }
}

/// GET /sse.
pub(crate) async fn get(
    State(app): State<Arc<App>>,
    Authenticated(auth): Authenticated,
) -> Response {
    let session = match app.sessions.create(&auth, "2024-11-05").await {
        Ok(s) => s,
        Err(e) => return e.response(None),
    };
    let (tx, rx) = mpsc::channel::<String>(64);
    session.set_stream(Some(tx.clone()));
    subscriptions::start_pump(&app, &session, || subscriptions::Sink::Stream(tx));
    let guard = SessionGuard {
        app: app.clone(),
        id: session.id.clone(),
        subject: auth.subject.clone(),
        client_id: auth.client_id.clone(),
    };
    let endpoint = Event::default()
        .event("endpoint")
        .data(format!("/messages?sessionId={}", session.id));
    session_stream(&app, &auth, Some(endpoint), rx, guard)
}

#[derive(Deserialize)]
pub(crate) struct SessionQuery {
    #[serde(rename = "sessionId")]
    session_id: String,
}

/// POST /messages?sessionId=...: 202, the answer goes to the session's stream.
pub(crate) async fn post(
    State(app): State<Arc<App>>,
    Authenticated(auth): Authenticated,
    Query(q): Query<SessionQuery>,
    body: Bytes,
) -> Response {
    let session = match app.sessions.bound(&q.session_id, &auth).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(tx) = session.stream_sender() else {
        return session::not_found();
    };
    let msg = match message::parse(&body) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let version = if msg.method() == "initialize" {
        negotiate(msg.peek.protocol_version.as_deref())
    } else {
        session.version
    };
    let x = Exchange {
        app: &app,
        auth,
        era: Era::Legacy(version),
        session: Some(&session),
    };
    match handle_message(x, &msg, Delivery::SessionStream(tx)).await {
        // A JSON-RPC answer decided before dispatch (a refused method) goes where every
        // answer of this transport goes: on the stream.
        Handled::Json(body) => match session.stream_sender() {
            Some(tx) if tx.send(body).await.is_ok() => accepted(),
            _ => session::not_found(),
        },
        h => h.into_response(),
    }
}
