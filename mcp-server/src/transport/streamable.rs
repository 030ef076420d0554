//! POST on the Streamable HTTP endpoint, both eras on one path (checklist §2 item 2):
//! * a request whose `_meta` carries `io.modelcontextprotocol/protocolVersion` (or with
//!   `MCP-Protocol-Version: 2026-07-28` and no session) is served statelessly (2026-07-28,
//!   [`stateless`](super::stateless));
//! * `initialize` opens a legacy session (2025-03-26 .. 2025-11-25, [`sessions`](super::sessions));
//! * everything else, batches included, needs `Mcp-Session-Id`.

use std::sync::Arc;

use axum::extract::{FromRequestParts as _, State};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
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
    let body = match read_body(body, app.max_body).await {
        Ok(b) => b,
        Err(r) => return r,
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

/// The request body, at most `limit` bytes (413 beyond, 400 when it cannot be read). A body
/// that arrives in one chunk (the usual case) is kept as it is, with no copy and no buffer
/// list (`to_bytes` collects into a `VecDeque` first); more chunks are joined.
pub(super) async fn read_body(mut body: axum::body::Body, limit: usize) -> Result<Bytes, Response> {
    use http_body_util::BodyExt as _;
    let mut first: Option<Bytes> = None;
    let mut joined: Option<BytesMut> = None;
    let mut len = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Err(StatusCode::BAD_REQUEST.into_response());
        };
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        len = len.saturating_add(data.len());
        if len > limit {
            return Err(StatusCode::PAYLOAD_TOO_LARGE.into_response());
        }
        match (&mut joined, first.take()) {
            (Some(j), _) => j.extend_from_slice(&data),
            (None, None) => first = Some(data),
            (None, Some(f)) => {
                let mut j = BytesMut::with_capacity(f.len() + data.len());
                j.extend_from_slice(&f);
                j.extend_from_slice(&data);
                joined = Some(j);
            }
        }
    }
    Ok(match joined {
        Some(j) => j.freeze(),
        None => first.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunked(parts: &[&'static [u8]]) -> axum::body::Body {
        let chunks = parts
            .iter()
            .map(|p| Ok::<_, std::convert::Infallible>(Bytes::from_static(p)))
            .collect::<Vec<_>>();
        axum::body::Body::from_stream(futures_util::stream::iter(chunks))
    }

    #[tokio::test]
    async fn read_body_joins_chunks_and_enforces_the_limit() {
        let one = read_body(chunked(&[b"{\"a\":1}"]), 8).await.unwrap();
        assert_eq!(&one[..], b"{\"a\":1}");
        let three = read_body(chunked(&[b"ab", b"cd", b"ef"]), 6).await.unwrap();
        assert_eq!(&three[..], b"abcdef");
        let empty = read_body(chunked(&[]), 6).await.unwrap();
        assert!(empty.is_empty());
        let over = read_body(chunked(&[b"abcd", b"efg"]), 6).await.unwrap_err();
        assert_eq!(over.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let over_one = read_body(chunked(&[b"abcdefg"]), 6).await.unwrap_err();
        assert_eq!(over_one.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
}
