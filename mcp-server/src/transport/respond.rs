//! Writing answers: `application/json`, 202 with no body, or `text/event-stream` (the
//! progress stream of one request, and the long-lived session streams).

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt, stream};
use http::{HeaderValue, StatusCode, header};
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinHandle};

use super::App;

/// A JSON body with `status`.
pub(crate) fn json_response(status: StatusCode, body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// 202 with no body: a notification or a client response was accepted (TR-06), or the
/// answer travels on another stream.
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
    sse_stream_response(stream.take_until(Box::pin(stop)))
}

/// An SSE response (TR-12) for a stream that ends itself on shutdown (a listen stream ends
/// with its result, PR-27).
pub(crate) fn sse_stream_response<S>(stream: S) -> Response
where
    S: Stream<Item = Event> + Send + 'static,
{
    let s = stream.map(Ok::<_, Infallible>);
    let mut r = Sse::new(s)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    r.headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// An SSE response from ready-made frames (see [`super::resume::Reader::into_frames`]), with
/// keep-alive comments every 15 s while idle; ends on shutdown.
pub(crate) fn sse_frames_response<S>(app: &App, frames: S) -> Response
where
    S: Stream<Item = axum::body::Bytes> + Send + 'static,
{
    let mut rx = app.shutdown.clone();
    let stop = async move {
        let _ = rx.wait_for(|v| *v).await;
    };
    let frames = Box::pin(frames.take_until(Box::pin(stop)));
    let body = stream::unfold(frames, |mut f| async move {
        let next = tokio::time::timeout(Duration::from_secs(15), f.next()).await;
        match next {
            Ok(Some(b)) => Some((b, f)),
            Ok(None) => None,
            Err(_) => Some((axum::body::Bytes::from_static(b":\n\n"), f)),
        }
    })
    .map(Ok::<_, Infallible>);
    let mut r = Response::new(Body::from_stream(body));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    r
}

/// Resolves when the access token behind `auth` expires (RS-11, RS-12): a stream opened with it ends
/// then, and the client reconnects with a fresh token. The system clock, like the `exp` check.
pub(crate) fn token_expiry(
    auth: &crate::auth::AuthContext,
) -> std::pin::Pin<Box<tokio::time::Sleep>> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // tokio clamps a deadline beyond its range (the unprotected fixture's `u64::MAX`).
    Box::pin(tokio::time::sleep(Duration::from_secs(
        auth.expires_at.saturating_sub(now),
    )))
}

/// An SSE `message` event carrying one JSON-RPC message.
pub(crate) fn message_event(json: String) -> Event {
    Event::default().event("message").data(json)
}

/// A session's server-to-client stream: every message sent to `rx`, each as an SSE event,
/// after the optional `first` event, until `auth`'s token expires; `keep` lives as long as
/// the stream.
pub(crate) fn session_stream<K: Send + 'static>(
    app: &App,
    auth: &crate::auth::AuthContext,
    first: Option<Event>,
    rx: mpsc::Receiver<String>,
    keep: K,
) -> Response {
    let rest = stream::unfold((rx, keep), |(mut rx, keep)| async move {
        rx.recv().await.map(|m| (message_event(m), (rx, keep)))
    });
    let events = stream::iter(first).chain(rest);
    sse_response(app, events.take_until(token_expiry(auth)))
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

/// Aborts a spawned request when the response stream (or handler) is dropped: closing the
/// stream cancels the request (TR-13).
#[derive(Debug)]
pub(crate) struct AbortOnDrop(pub(crate) AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The answer to one request as an SSE stream: its notifications (`rx`, progress) as they
/// come, then its response (the task's output). Dropping the stream aborts the task.
pub(crate) fn progress_stream(
    app: &App,
    rx: mpsc::Receiver<String>,
    task: JoinHandle<Option<String>>,
) -> Response {
    let guard = AbortOnDrop(task.abort_handle());
    let st = stream::unfold(Some((rx, task, guard)), |state| async move {
        let (mut rx, mut task, guard) = state?;
        tokio::select! {
            biased;
            Some(m) = rx.recv() => Some((vec![m], Some((rx, task, guard)))),
            r = &mut task => {
                let mut out = Vec::new();
                while let Ok(m) = rx.try_recv() {
                    out.push(m);
                }
                if let Ok(Some(f)) = r {
                    out.push(f);
                }
                drop(guard);
                Some((out, None))
            }
        }
    })
    .flat_map(stream::iter)
    .map(message_event);
    sse_response(app, st)
}
