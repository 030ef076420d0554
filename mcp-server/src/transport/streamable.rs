//! Streamable HTTP on the MCP endpoint, both eras on one path (checklist §2 item 2):
//! * a request whose `_meta` carries `io.modelcontextprotocol/protocolVersion` (or with
//!   `MCP-Protocol-Version: 2026-07-28` and no session) is served statelessly (2026-07-28);
//! * `initialize` opens a legacy session (2025-03-26 .. 2025-11-25);
//! * everything else needs `Mcp-Session-Id`.

use std::sync::Arc;

use axum::extract::{FromRequestParts as _, State};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use futures_util::StreamExt;
use futures_util::stream;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use super::message::{self, Message};
use super::session::Session;
use super::{
    App, SESSION_HEADER, StreamingGuard, VERSION_HEADER, accepted, accepts_sse, json_response,
    message_event, rpc_error, sse_response,
};
use crate::auth::{AuthContext, Authenticated, forbidden_insufficient_scope};
use crate::rpc::{Era, LEGACY_VERSIONS, MODERN_VERSION, RequestCtx, codes, legacy_only, negotiate};

// Header names as constants: looking up by `&str` re-parses the name on every call.
static H_SESSION: HeaderName = HeaderName::from_static(SESSION_HEADER);
static H_VERSION: HeaderName = HeaderName::from_static(VERSION_HEADER);
static H_METHOD: HeaderName = HeaderName::from_static("mcp-method");
static H_NAME: HeaderName = HeaderName::from_static("mcp-name");

fn header<'a>(h: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn bad_request(id: Option<&Value>, code: i32, msg: &str, data: Option<Value>) -> Response {
    rpc_error(StatusCode::BAD_REQUEST, id, code, msg, data)
}

/// Aborts a spawned request when the response stream (or handler) is dropped: closing the
/// stream cancels the request (TR-13).
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Answers a request: `application/json`, or `text/event-stream` (progress notifications,
/// then the result) when the request carries a progress token and the client accepts SSE.
async fn respond(
    app: &Arc<App>,
    session: Option<&Arc<Session>>,
    auth: Arc<AuthContext>,
    era: Era,
    headers: &HeaderMap,
    msg: &Message<'_>,
) -> Response {
    let token = msg.progress_token().cloned();
    let cancellable = session.is_some()
        && msg.method() == "tools/call"
        && msg.peek.name.as_deref() == Some("slow_task");
    match token {
        Some(token) if accepts_sse(headers) => {
            let (tx, rx) = mpsc::channel::<String>(32);
            let (ftx, frx) = oneshot::channel::<String>();
            let ctx = RequestCtx {
                auth,
                era,
                progress: Some((token, tx)),
                log: session.map(|s| s.log.clone()),
            };
            let call = msg.to_owned_parts();
            let app2 = app.clone();
            let sess = session.cloned();
            let id_key = msg.id.map(|r| r.get().to_owned()).unwrap_or_default();
            let live = StreamingGuard::new(&app.streaming);
            let task = tokio::spawn(async move {
                let _live = live;
                let resp = call.run(&app2, ctx).await;
                if let Some(s) = &sess {
                    s.untrack(&id_key);
                }
                let _ = ftx.send(resp);
            });
            if let (Some(s), true) = (session, cancellable) {
                s.track(
                    msg.id.map(|r| r.get().to_owned()).unwrap_or_default(),
                    task.abort_handle(),
                );
            }
            let guard = AbortOnDrop(task.abort_handle());
            let st = stream::unfold(Some((rx, frx, guard)), |state| async move {
                let (mut rx, mut frx, guard) = state?;
                tokio::select! {
                    biased;
                    Some(m) = rx.recv() => Some((vec![m], Some((rx, frx, guard)))),
                    r = &mut frx => {
                        let mut out = Vec::new();
                        while let Ok(m) = rx.try_recv() {
                            out.push(m);
                        }
                        if let Ok(f) = r {
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
        _ if cancellable => {
            let Some(s) = session else {
                return json_response(
                    StatusCode::OK,
                    msg.run(
                        app,
                        RequestCtx {
                            auth,
                            era,
                            progress: None,
                            log: session.map(|s| s.log.clone()),
                        },
                    )
                    .await,
                );
            };
            let call = msg.to_owned_parts();
            let key = call.id.clone().unwrap_or_default();
            let app2 = app.clone();
            let ctx = RequestCtx {
                auth,
                era,
                progress: None,
                log: session.map(|s| s.log.clone()),
            };
            let task = tokio::spawn(async move { call.run(&app2, ctx).await });
            s.track(key.clone(), task.abort_handle());
            let guard = AbortOnDrop(task.abort_handle());
            let r = task.await;
            drop(guard);
            s.untrack(&key);
            match r {
                Ok(body) => json_response(StatusCode::OK, body),
                // Cancelled by `notifications/cancelled`: no response is owed (PR-40).
                Err(_) => accepted(),
            }
        }
        _ => {
            let ctx = RequestCtx {
                auth,
                era,
                progress: None,
                log: session.map(|s| s.log.clone()),
            };
            json_response(StatusCode::OK, msg.run(app, ctx).await)
        }
    }
}

fn session_for(
    app: &App,
    auth: &AuthContext,
    headers: &HeaderMap,
) -> Result<Arc<Session>, Response> {
    let Some(sid) = header(headers, &H_SESSION) else {
        return Err(bad_request(
            None,
            codes::INVALID_REQUEST,
            "Mcp-Session-Id header required (send initialize first)",
            None,
        ));
    };
    match app.sessions.get(sid) {
        // A session presented by another user or client is treated as unknown (RS-21).
        Some(s) if s.bound_to(auth) => Ok(s),
        _ => Err(rpc_error(
            StatusCode::NOT_FOUND,
            None,
            codes::INVALID_REQUEST,
            "Session not found",
            None,
        )),
    }
}

fn scope_check(app: &App, auth: &AuthContext, method: &str) -> Result<(), Response> {
    app.auth.check_method(auth, method).map_err(|required| {
        forbidden_insufficient_scope(app.auth.resource_metadata_url(), &required)
    })
}

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
        return batch(&app, auth, &headers, &body).await;
    }
    let msg = match message::parse(&body) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let has_session = headers.contains_key(&H_SESSION);
    let hdr_version = header(&headers, &H_VERSION);
    let meta_version = msg
        .peek
        .meta
        .as_ref()
        .and_then(|m| m.version.is_some().then_some(()));
    let modern = !has_session
        && msg.method() != "initialize"
        && (meta_version.is_some()
            || hdr_version == Some(MODERN_VERSION)
            || msg.method() == "server/discover");
    if modern {
        return stateless(&app, auth, &headers, &msg).await;
    }
    if msg.method() == "initialize" && msg.id.is_some() {
        return initialize(&app, auth, &headers, &msg).await;
    }
    let session = match session_for(&app, &auth, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    // TR-41: absent means 2025-03-26; an unsupported value gets 400.
    if let Some(v) = hdr_version
        && !LEGACY_VERSIONS.contains(&v)
    {
        return bad_request(
            msg.id_value().as_ref(),
            codes::INVALID_REQUEST,
            "Unsupported MCP-Protocol-Version",
            Some(json!({"supported": LEGACY_VERSIONS, "requested": v})),
        );
    }
    in_session(&app, &session, auth, &headers, &msg).await
}

async fn in_session(
    app: &Arc<App>,
    session: &Arc<Session>,
    auth: Arc<AuthContext>,
    headers: &HeaderMap,
    msg: &Message<'_>,
) -> Response {
    if msg.is_response() {
        return accepted();
    }
    if msg.is_notification() {
        if msg.method() == "notifications/cancelled"
            && let Some(id) = &msg.peek.request_id
        {
            session.cancel(&id.to_string());
        }
        // TR-06: an accepted notification gets 202 with no body.
        return accepted();
    }
    if let Err(r) = scope_check(app, &auth, msg.method()) {
        return r;
    }
    respond(
        app,
        Some(session),
        auth,
        Era::Legacy(session.version),
        headers,
        msg,
    )
    .await
}

async fn initialize(
    app: &Arc<App>,
    auth: Arc<AuthContext>,
    headers: &HeaderMap,
    msg: &Message<'_>,
) -> Response {
    let requested = msg.peek.protocol_version.as_deref();
    // §10 P-16: the version header must not block initialize, but if present it must agree.
    if let (Some(h), Some(r)) = (header(headers, &H_VERSION), requested)
        && h != r
        && LEGACY_VERSIONS.contains(&r)
        && h != MODERN_VERSION
    {
        return bad_request(
            msg.id_value().as_ref(),
            codes::INVALID_REQUEST,
            "MCP-Protocol-Version header does not match protocolVersion",
            None,
        );
    }
    let version = negotiate(requested);
    let session = match app.sessions.create(&auth, version) {
        Ok(s) => s,
        Err(_) => {
            return rpc_error(
                StatusCode::SERVICE_UNAVAILABLE,
                msg.id_value().as_ref(),
                codes::INTERNAL_ERROR,
                "Too many sessions",
                None,
            );
        }
    };
    let ctx = RequestCtx {
        auth,
        era: Era::Legacy(version),
        progress: None,
        log: Some(session.log.clone()),
    };
    let mut r = json_response(StatusCode::OK, msg.run(app, ctx).await);
    if let Ok(v) = HeaderValue::from_str(&session.id) {
        r.headers_mut().insert(SESSION_HEADER, v);
    }
    r
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

/// TR-19: `=?base64?...?=` sentinel values are decoded before comparing.
fn decode_header_value(v: &str) -> Option<String> {
    match v
        .strip_prefix("=?base64?")
        .and_then(|r| r.strip_suffix("?="))
    {
        Some(b) => base64::engine::general_purpose::STANDARD
            .decode(b)
            .ok()
            .and_then(|b| String::from_utf8(b).ok()),
        None => Some(v.to_owned()),
    }
}

fn mismatch(id: Option<&Value>, what: &str) -> Response {
    bad_request(id, codes::HEADER_MISMATCH, what, None)
}

/// Stateless 2026-07-28 request (TR-15..TR-20, PR-20..PR-23).
async fn stateless(
    app: &Arc<App>,
    auth: Arc<AuthContext>,
    headers: &HeaderMap,
    msg: &Message<'_>,
) -> Response {
    let id = msg.id_value();
    let id = id.as_ref();
    for h in [&H_VERSION, &H_METHOD, &H_NAME] {
        if headers.get_all(h).iter().nth(1).is_some() {
            return mismatch(id, "Duplicate MCP header");
        }
    }
    let meta = msg.peek.meta.as_ref();
    let meta_version = meta.and_then(|m| m.version.as_deref());
    let Some(hdr_version) = header(headers, &H_VERSION) else {
        return mismatch(id, "Missing MCP-Protocol-Version header");
    };
    if let Some(mv) = meta_version
        && mv != hdr_version
    {
        return mismatch(
            id,
            "MCP-Protocol-Version header does not match _meta protocolVersion",
        );
    }
    let requested = meta_version.unwrap_or(hdr_version);
    if requested != MODERN_VERSION {
        let mut supported = vec![MODERN_VERSION];
        supported.extend_from_slice(LEGACY_VERSIONS);
        return bad_request(
            id,
            codes::UNSUPPORTED_VERSION,
            "Unsupported protocol version",
            Some(json!({"supported": supported, "requested": requested})),
        );
    }
    if msg.is_response() {
        return bad_request(
            id,
            codes::INVALID_REQUEST,
            "Clients do not send responses in 2026-07-28",
            None,
        );
    }
    match header(headers, &H_METHOD).and_then(decode_header_value) {
        None => return mismatch(id, "Missing Mcp-Method header"),
        Some(m) if m != msg.method() => {
            return mismatch(id, "Mcp-Method header does not match the body");
        }
        Some(_) => {}
    }
    let named = match msg.method() {
        "tools/call" | "prompts/get" => Some(msg.peek.name.as_deref()),
        "resources/read" => Some(msg.peek.uri.as_deref()),
        _ => None,
    };
    if let Some(expected) = named {
        match header(headers, &H_NAME).and_then(decode_header_value) {
            None => return mismatch(id, "Missing Mcp-Name header"),
            Some(n) if Some(n.as_str()) != expected => {
                return mismatch(id, "Mcp-Name header does not match the body");
            }
            Some(_) => {}
        }
    }
    if msg.is_notification() {
        return accepted();
    }
    if meta_version.is_none() {
        return bad_request(
            id,
            codes::INVALID_PARAMS,
            "Missing _meta io.modelcontextprotocol/protocolVersion",
            None,
        );
    }
    if meta.and_then(|m| m.client_capabilities).is_none() {
        return bad_request(
            id,
            codes::INVALID_PARAMS,
            "Missing _meta io.modelcontextprotocol/clientCapabilities",
            None,
        );
    }
    if legacy_only(msg.method()) || app.methods.method(msg.method()).is_none() {
        return rpc_error(
            StatusCode::NOT_FOUND,
            id,
            codes::METHOD_NOT_FOUND,
            "Method not found",
            None,
        );
    }
    if let Err(r) = scope_check(app, &auth, msg.method()) {
        return r;
    }
    respond(app, None, auth, Era::Modern, headers, msg).await
}

/// JSON-RPC batches, accepted only in 2025-03-26 sessions (TR-08, TR-30).
async fn batch(
    app: &Arc<App>,
    auth: Arc<AuthContext>,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let session = match session_for(app, &auth, headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if session.version != "2025-03-26" {
        return bad_request(
            None,
            codes::INVALID_REQUEST,
            "JSON-RPC batches are not supported in this protocol version",
            None,
        );
    }
    let items: Vec<&RawValue> = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => return bad_request(None, codes::PARSE_ERROR, "Parse error", None),
    };
    if items.is_empty() || items.len() > 100 {
        return bad_request(None, codes::INVALID_REQUEST, "Invalid batch size", None);
    }
    let mut out = Vec::new();
    for item in items {
        let msg = match message::parse(item.get().as_bytes()) {
            Ok(m) => m,
            Err(_) => {
                out.push(format!(
                    r#"{{"jsonrpc":"2.0","id":null,"error":{{"code":{},"message":"Invalid Request"}}}}"#,
                    codes::INVALID_REQUEST
                ));
                continue;
            }
        };
        if msg.is_response() {
            continue;
        }
        if msg.is_notification() {
            if msg.method() == "notifications/cancelled"
                && let Some(id) = &msg.peek.request_id
            {
                session.cancel(&id.to_string());
            }
            continue;
        }
        if let Err(r) = scope_check(app, &auth, msg.method()) {
            return r;
        }
        let ctx = RequestCtx {
            auth: auth.clone(),
            era: Era::Legacy(session.version),
            progress: None,
            log: Some(session.log.clone()),
        };
        out.push(msg.run(app, ctx).await);
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
    let session = match session_for(&app, &auth, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !accepts_sse(&headers) {
        return StatusCode::NOT_ACCEPTABLE.into_response();
    }
    let (tx, rx) = mpsc::channel::<String>(64);
    session.set_stream(Some(tx));
    let st = stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|m| (message_event(m), rx))
    });
    sse_response(&app, st)
}

/// DELETE on the MCP endpoint ends the session (TR-40).
pub(crate) async fn delete(
    State(app): State<Arc<App>>,
    Authenticated(auth): Authenticated,
    headers: HeaderMap,
) -> Response {
    let session = match session_for(&app, &auth, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    session.set_stream(None);
    app.sessions.remove(&session.id);
    StatusCode::OK.into_response()
}
