//! The one path of a JSON-RPC message, whichever route brought it (stateless POST, session
//! POST, batch item, HTTP+SSE `/messages`): [`Exchange::admit`] (client responses and
//! notifications are accepted, `notifications/cancelled` aborts its request, unknown methods
//! under 2026-07-28, the per-method scope check), then [`Exchange::dispatch`] into the
//! jsonrpsee methods with the request context, answered as the [`Delivery`] asks.
//!
//! The routes keep only what differs between them: how the session is found, the version and
//! `Mcp-*` header rules, and where the answer goes.

use std::sync::Arc;

use axum::response::Response;
use http::{HeaderMap, StatusCode};
use jsonrpsee::types::error::ErrorCode;
use serde_json::Value;
use serde_json::value::RawValue;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::App;
use super::message::{Message, error_json, error_response};
use super::respond::{
    AbortOnDrop, StreamingGuard, accepted, accepts_sse, json_response, progress_stream,
};
use super::session::{Session, too_much_stream_work};
use crate::auth::{AuthContext, MethodDenied, forbidden_insufficient_scope};
use crate::rpc::{self, Era, NotificationSink, RequestCtx};

/// Who sent a message, under which protocol rules, in which session.
#[derive(Debug)]
pub(crate) struct Exchange<'a> {
    pub(crate) app: &'a Arc<App>,
    pub(crate) auth: Arc<AuthContext>,
    pub(crate) era: Era,
    pub(crate) session: Option<&'a Arc<Session>>,
}

/// Where the answer to a request goes.
#[derive(Debug)]
pub(crate) enum Delivery<'a> {
    /// In the HTTP response: JSON, or an SSE stream (progress, then the response) when the
    /// request carries a progress token and these request headers accept `text/event-stream`.
    Http(&'a HeaderMap),
    /// JSON text, run inline (`initialize`, batch items).
    Inline,
    /// On the session's HTTP+SSE stream; the POST itself gets 202.
    SessionStream(NotificationSink),
}

/// The outcome of one message.
#[derive(Debug)]
pub(crate) enum Handled {
    /// Nothing owed in the HTTP response (a notification, a client response, a request
    /// answered on another stream or cancelled): 202, or no batch entry.
    Accepted,
    /// A serialised JSON-RPC response.
    Json(String),
    /// A finished HTTP answer (403 insufficient scope, 404 unknown method, an SSE stream).
    Http(Response),
}

impl Handled {
    /// 202, 200 with the JSON body, or the finished answer.
    pub(crate) fn into_response(self) -> Response {
        match self {
            Self::Accepted => accepted(),
            Self::Json(body) => json_response(StatusCode::OK, body),
            Self::Http(r) => r,
        }
    }
}

/// [`Exchange::admit`], then [`Exchange::dispatch`].
pub(crate) async fn handle_message(
    x: Exchange<'_>,
    msg: &Message<'_>,
    delivery: Delivery<'_>,
) -> Handled {
    if let Err(h) = x.admit(msg) {
        return h;
    }
    x.dispatch(msg, delivery).await
}

impl Exchange<'_> {
    /// Decides whether `msg` is dispatched: client responses and notifications are accepted
    /// (TR-06; `notifications/cancelled` aborts the named request of this session, PR-40),
    /// a method unknown under 2026-07-28 is a 404 (checklist §9.1; in a session it is the
    /// jsonrpsee "Method not found" answer after the scope check), a method without a scope
    /// rule is refused like an unknown one (deny by default), and the token must carry the
    /// scopes the method needs (403 `insufficient_scope`, RS-07).
    pub(crate) fn admit(&self, msg: &Message<'_>) -> Result<(), Handled> {
        if msg.is_response() {
            return Err(Handled::Accepted);
        }
        if msg.is_notification() {
            if let Some(s) = self.session
                && msg.method() == "notifications/cancelled"
                && let Some(id) = &msg.peek.request_id
            {
                s.cancel(&id.to_string());
            }
            return Err(Handled::Accepted);
        }
        let method = msg.method();
        if self.era == Era::Modern
            && (rpc::legacy_only(method) || self.app.methods.method(method).is_none())
        {
            return Err(Handled::Http(error_response(
                StatusCode::NOT_FOUND,
                msg.id,
                ErrorCode::MethodNotFound.into(),
            )));
        }
        let auth = &self.app.auth;
        let checked =
            auth.check_method(&self.auth, method).and_then(|()| {
                match rpc::also_requires(method, msg.peek.reference_type().as_deref()) {
                    Some(also) => auth.check_method(&self.auth, also),
                    None => Ok(()),
                }
            });
        checked.map_err(|denied| match denied {
            MethodDenied::InsufficientScope(required) => {
                Handled::Http(forbidden_insufficient_scope(auth, &required))
            }
            // Deny by default: answered exactly like a method that does not exist.
            _ if self.era == Era::Modern => Handled::Http(error_response(
                StatusCode::NOT_FOUND,
                msg.id,
                ErrorCode::MethodNotFound.into(),
            )),
            _ => Handled::Json(error_json(
                msg.id.map(RawValue::get),
                &ErrorCode::MethodNotFound.into(),
            )),
        })
    }

    /// Runs an admitted request and answers it as `delivery` asks. A request runs in its own
    /// task when its answer streams, or when the method declares it long-running
    /// ([`rpc::runs_long`]) and a session can cancel it; otherwise inline. In a session,
    /// long-running requests (and every HTTP+SSE request) can be cancelled.
    pub(crate) async fn dispatch(self, msg: &Message<'_>, delivery: Delivery<'_>) -> Handled {
        if let Some(h) = super::subscriptions::intercept(&self, msg, &delivery) {
            return h;
        }
        let (app, session) = (self.app, self.session);
        let long = session.is_some() && rpc::runs_long(msg.method(), msg.peek.name.as_deref());
        match delivery {
            Delivery::SessionStream(tx) => {
                // Bounded work per stream: the place is held until the answer is on it.
                let Some(place) = session.and_then(|s| s.stream_work()) else {
                    return Handled::Http(too_much_stream_work(msg.id));
                };
                let progress = msg.progress_token().map(|t| (t.clone(), tx.clone()));
                spawn(app, session, msg, self.into_ctx(progress), Some(tx), place);
                Handled::Accepted
            }
            Delivery::Http(headers) => match msg.progress_token() {
                Some(token) if accepts_sse(headers) => {
                    let (tx, rx) = mpsc::channel::<String>(32);
                    let ctx = self.into_ctx(Some((token.clone(), tx)));
                    let live = StreamingGuard::new(&app.streaming);
                    let cancel = session.filter(|_| long);
                    let task = spawn(app, cancel, msg, ctx, None, live);
                    Handled::Http(progress_stream(app, rx, task))
                }
                _ if long => {
                    let task = spawn(app, session, msg, self.into_ctx(None), None, ());
                    let guard = AbortOnDrop(task.abort_handle());
                    let r = task.await;
                    drop(guard);
                    match r {
                        Ok(Some(body)) => Handled::Json(body),
                        // Cancelled by `notifications/cancelled`: no response is owed (PR-40).
                        _ => Handled::Accepted,
                    }
                }
                _ if self.era == Era::Modern => {
                    let (body, code) = msg.run_coded(app, self.into_ctx(None)).await;
                    match super::message::modern_status(code) {
                        StatusCode::OK => Handled::Json(body),
                        status => Handled::Http(json_response(status, body)),
                    }
                }
                _ => Handled::Json(msg.run(app, self.into_ctx(None)).await),
            },
            Delivery::Inline => Handled::Json(msg.run(app, self.into_ctx(None)).await),
        }
    }

    /// The request context handed to the method (the one place it is built).
    fn into_ctx(self, progress: Option<(Value, NotificationSink)>) -> RequestCtx {
        RequestCtx {
            auth: self.auth,
            era: self.era,
            progress,
            log: self.session.map(|s| s.log.clone()),
            call: None,
        }
    }
}

/// Runs `msg` in its own task, registered with the `cancel` session (if any) so that
/// `notifications/cancelled` can abort it. The task's output is the response, or `None` when
/// it was sent to `reply`. `hold` (a streaming guard, a place on the session's stream) is
/// held until the task ends.
fn spawn(
    app: &Arc<App>,
    cancel: Option<&Arc<Session>>,
    msg: &Message<'_>,
    ctx: RequestCtx,
    reply: Option<NotificationSink>,
    hold: impl Send + 'static,
) -> JoinHandle<Option<String>> {
    let call = msg.to_owned_parts();
    let app = app.clone();
    let owned = cancel.cloned();
    let task = tokio::spawn(async move {
        let _hold = hold;
        let resp = call.run(&app, ctx).await;
        if let Some(s) = &owned {
            s.untrack(call.id.as_deref().unwrap_or_default());
        }
        match reply {
            Some(tx) => {
                let _ = tx.send(resp).await;
                None
            }
            None => Some(resp),
        }
    });
    if let Some(s) = cancel {
        s.track(
            msg.id.map(|r| r.get().to_owned()).unwrap_or_default(),
            task.abort_handle(),
        );
    }
    task
}
