//! The transport side of subscriptions (PR-27, PR-35, TR-25):
//! * `subscriptions/listen` (2026-07-28): the response is an SSE stream: the
//!   acknowledgement first, then the granted notifications, each stamped with the listen
//!   request's id; on server shutdown a `complete` result ends it gracefully;
//! * `resources/subscribe` / `unsubscribe` (sessions): the session's URI set;
//! * the per-session pump that feeds the change bus into a session's stream (the GET stream's
//!   [`Outbox`](super::resume::Outbox), or the HTTP+SSE stream).
//!
//! Only these three methods look here; every other request passes by one string compare.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::{StreamExt as _, stream};
use http::StatusCode;
use jsonrpsee::types::ErrorObject;
use jsonrpsee::types::error::{ErrorCode, INVALID_PARAMS_CODE, INVALID_REQUEST_CODE};
use serde_json::value::RawValue;
use shared::mcp::meta::SUBSCRIPTION_ID;
use tokio::sync::{broadcast, mpsc};

use super::App;
use super::handle::{Delivery, Exchange, Handled};
use super::message::{Message, error_json, error_response};
use super::respond::{AbortOnDrop, accepts_sse, message_event, sse_stream_response, token_expiry};
use super::resume::Outbox;
use super::session::Session;
use crate::auth::{MethodDenied, forbidden_insufficient_scope};
use crate::rpc::Era;
use crate::rpc::subscriptions::{Event as Change, Filter, MAX_RESOURCE_SUBSCRIPTIONS};

/// Answers the subscription methods; `None` for every other message.
pub(super) fn intercept(
    x: &Exchange<'_>,
    msg: &Message<'_>,
    delivery: &Delivery<'_>,
) -> Option<Handled> {
    let method = msg.method();
    let subscribe = match method {
        "subscriptions/listen" => return Some(listen(x, msg, delivery)),
        "resources/subscribe" => true,
        "resources/unsubscribe" => false,
        _ => return None,
    };
    let id = msg.id.map(RawValue::get);
    let Some(session) = x.session else {
        return Some(Handled::Json(error_json(
            id,
            &ErrorCode::MethodNotFound.into(),
        )));
    };
    let Some(uri) = msg.peek.uri.as_deref() else {
        let e = ErrorObject::borrowed(INVALID_PARAMS_CODE, "params.uri is required", None);
        return Some(Handled::Json(error_json(id, &e)));
    };
    let mut set = session
        .subscribed
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if subscribe {
        if set.len() >= MAX_RESOURCE_SUBSCRIPTIONS && !set.contains(uri) {
            let e = ErrorObject::borrowed(
                INVALID_PARAMS_CODE,
                "too many resource subscriptions in this session",
                None,
            );
            return Some(Handled::Json(error_json(id, &e)));
        }
        set.insert(uri.into());
    } else {
        set.remove(uri);
    }
    let id = id.unwrap_or("null");
    Some(Handled::Json(format!(
        r#"{{"jsonrpc":"2.0","id":{id},"result":{{}}}}"#
    )))
}

/// `subscriptions/listen`: 404-equivalent outside 2026-07-28, 400 without an SSE `Accept`
/// or with bad params, 429 beyond `limits.max_listeners_per_subject`.
fn listen(x: &Exchange<'_>, msg: &Message<'_>, delivery: &Delivery<'_>) -> Handled {
    let id = msg.id;
    if x.era != Era::Modern {
        return Handled::Json(error_json(
            id.map(RawValue::get),
            &ErrorCode::MethodNotFound.into(),
        ));
    }
    let bad = |m: &'static str, code| {
        Handled::Http(error_response(
            StatusCode::BAD_REQUEST,
            id,
            ErrorObject::borrowed(code, m, None),
        ))
    };
    let Delivery::Http(headers) = delivery else {
        return bad(
            "subscriptions/listen needs its own stream",
            INVALID_REQUEST_CODE,
        );
    };
    if !accepts_sse(headers) {
        return bad(
            "subscriptions/listen answers with text/event-stream; accept it",
            INVALID_REQUEST_CODE,
        );
    }
    let mut filter = match Filter::from_params(msg.params.map(RawValue::get)) {
        Ok(f) => f,
        Err(m) => return bad(m, INVALID_PARAMS_CODE),
    };
    // What an event reveals is guarded like the method that reads it: tool list changes by
    // `tools/list`, resource updates by `resources/read`. Too few scopes: 403 (step-up);
    // no rule for it: left out of the grant.
    let auth = &x.app.auth;
    for (asked, guard) in [
        (filter.tools_list_changed, "tools/list"),
        (!filter.resources.is_empty(), "resources/read"),
    ] {
        match auth.check_method(&x.auth, guard) {
            _ if !asked => {}
            Ok(()) => {}
            Err(MethodDenied::InsufficientScope(required)) => {
                return Handled::Http(forbidden_insufficient_scope(auth, &required));
            }
            Err(_) if guard == "tools/list" => filter.tools_list_changed = false,
            Err(_) => filter.resources.clear(),
        }
    }
    let Some(slot) = x.app.events.listener(&x.auth.subject) else {
        let mut r = error_response(
            StatusCode::TOO_MANY_REQUESTS,
            id,
            ErrorObject::borrowed(
                jsonrpsee::types::error::INTERNAL_ERROR_CODE,
                "Too many subscription streams for this user",
                None,
            ),
        );
        r.headers_mut().insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from_static("1"),
        );
        return Handled::Http(r);
    };
    // Subscribed before the acknowledgement is written, so nothing published meanwhile is lost.
    let rx = x.app.events.subscribe();
    let sub: Arc<str> = id.map_or("null", RawValue::get).into();
    let ack = format!(
        r#"{{"jsonrpc":"2.0","method":"notifications/subscriptions/acknowledged","params":{{"notifications":{},"_meta":{{"{SUBSCRIPTION_ID}":{sub}}}}}}}"#,
        filter.to_json()
    );
    let state = Listen {
        rx,
        shutdown: x.app.shutdown.clone(),
        filter,
        sub,
        _slot: slot,
    };
    let rest = stream::unfold(Some(state), |state| async move {
        let mut s = state?;
        loop {
            let next = tokio::select! {
                _ = s.shutdown.wait_for(|v| *v) => None,
                r = s.rx.recv() => Some(r),
            };
            match next {
                None => {
                    // Graceful end: the `complete` result (PR-27).
                    let done = format!(
                        r#"{{"jsonrpc":"2.0","id":{sub},"result":{{"resultType":"complete","_meta":{{"{SUBSCRIPTION_ID}":{sub}}}}}}}"#,
                        sub = s.sub
                    );
                    return Some((done, None));
                }
                Some(Ok(e)) if s.filter.matches(&e) => {
                    let n = e.notification(Some(&s.sub));
                    return Some((n, Some(s)));
                }
                Some(Ok(_)) => {}
                Some(Err(broadcast::error::RecvError::Lagged(n))) => {
                    // A slow reader is dropped, not waited for: it listens again.
                    tracing::warn!(missed = n, "listen stream fell behind; ending it");
                    return None;
                }
                Some(Err(broadcast::error::RecvError::Closed)) => return None,
            }
        }
    });
    let events = stream::iter([ack]).chain(rest).map(message_event);
    // RS-11, RS-12: the stream ends when the token that opened it expires; the client listens again.
    let events = events.take_until(token_expiry(&x.auth));
    Handled::Http(sse_stream_response(events))
}

struct Listen {
    rx: broadcast::Receiver<Change>,
    shutdown: tokio::sync::watch::Receiver<bool>,
    filter: Filter,
    sub: Arc<str>,
    _slot: crate::rpc::subscriptions::ListenerSlot,
}

/// Where a session's pump writes.
pub(super) enum Sink {
    /// A Streamable HTTP session's GET stream: the log messages (`rx`, from the session's
    /// log channel) and the changes go into the outbox, with ids.
    Outbox(Arc<Outbox>, mpsc::Receiver<String>),
    /// An HTTP+SSE stream: changes are offered to it, dropped when it is full.
    Stream(mpsc::Sender<String>),
}

/// Starts the session's pump once: `tools/list_changed` always (the capability says
/// `listChanged`), `resources/updated` for the session's subscribed URIs (PR-35).
pub(super) fn start_pump(app: &App, session: &Session, sink: impl FnOnce() -> Sink) {
    session.pump.get_or_init(|| {
        let rx = app.events.subscribe();
        let subscribed = session.subscribed.clone();
        let task = tokio::spawn(pump(rx, subscribed, sink()));
        AbortOnDrop(task.abort_handle())
    });
}

fn wanted(e: &Change, subscribed: &Mutex<HashSet<Arc<str>>>) -> bool {
    match e {
        Change::ToolsListChanged => true,
        Change::ResourceUpdated(uri) => subscribed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(uri),
    }
}

async fn pump(
    mut rx: broadcast::Receiver<Change>,
    subscribed: Arc<Mutex<HashSet<Arc<str>>>>,
    sink: Sink,
) {
    match sink {
        Sink::Outbox(outbox, mut log) => loop {
            tokio::select! {
                m = log.recv() => match m {
                    Some(m) => outbox.push(m),
                    // The session ended (DELETE): its log channel let go.
                    None => return,
                },
                e = rx.recv() => match e {
                    Ok(e) if wanted(&e, &subscribed) => outbox.push(e.notification(None)),
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            }
        },
        Sink::Stream(tx) => loop {
            match rx.recv().await {
                Ok(e) if wanted(&e, &subscribed) => {
                    if let Err(mpsc::error::TrySendError::Closed(_)) =
                        tx.try_send(e.notification(None))
                    {
                        return;
                    }
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            }
        },
    }
}

/// 410 for a `Last-Event-ID` older than the session's buffer (TR-36).
pub(super) fn resume_gone() -> axum::response::Response {
    error_response(
        StatusCode::GONE,
        None,
        ErrorObject::borrowed(
            INVALID_REQUEST_CODE,
            "The events after Last-Event-ID are no longer buffered; open the stream without it and refetch",
            None,
        ),
    )
}

/// 400 for a `Last-Event-ID` this session never sent (or not a number).
pub(super) fn resume_unknown() -> axum::response::Response {
    error_response(
        StatusCode::BAD_REQUEST,
        None,
        ErrorObject::borrowed(INVALID_REQUEST_CODE, "Unknown Last-Event-ID", None),
    )
}
