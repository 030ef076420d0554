//! The mock's MCP servers: a legacy (2025-11-25) Streamable HTTP server with sessions and
//! JSON or SSE replies, a 2026-07-28 stateless server (`Behaviour::ModernMcp`), and a
//! 2024-11-05 HTTP+SSE server (`Behaviour::LegacyOnlyMcp`, `/sse` + `/messages`).

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Behaviour, Mock, SeenHeaders, json_resp};

#[derive(Debug, Default)]
pub(super) struct McpState {
    methods: Mutex<Vec<String>>,
    requests_without_session: AtomicUsize,
    sessions: AtomicUsize,
    modern_headers: Mutex<Vec<SeenHeaders>>,
    sse_tx: Mutex<Option<tokio::sync::mpsc::UnboundedSender<String>>>,
}

impl Mock {
    /// The JSON-RPC methods received, in order.
    pub(in crate::client) fn mcp_methods(&self) -> Vec<String> {
        self.mcp.methods.lock().unwrap().clone()
    }
    /// Session-era requests (other than initialize) that came without `Mcp-Session-Id`.
    pub(in crate::client) fn requests_without_session(&self) -> usize {
        self.mcp.requests_without_session.load(Ordering::SeqCst)
    }
    /// What the stateless server saw: (method, Mcp-Method, Mcp-Name).
    pub(in crate::client) fn modern_headers(&self) -> Vec<SeenHeaders> {
        self.mcp.modern_headers.lock().unwrap().clone()
    }
}

fn rpc_result(id: &Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

fn rpc_error(id: &Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

fn event(data: &Value) -> String {
    format!("event: message\ndata: {data}\n\n")
}

/// An authorized request to `/mcp`, `/sse` or `/messages`.
pub(super) fn handle(m: &Mock, path: &str, headers: &HeaderMap, body: &[u8]) -> Response {
    let msg: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    match path {
        "/sse" => return open_sse(m),
        "/messages" => return http_sse_message(m, &msg),
        _ if m.is(Behaviour::LegacyOnlyMcp) => {
            return StatusCode::METHOD_NOT_ALLOWED.into_response();
        }
        _ => {}
    }
    let method = msg["method"].as_str().unwrap_or_default().to_owned();
    m.mcp.methods.lock().unwrap().push(method.clone());
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    if m.is(Behaviour::ModernMcp) {
        let seen = (method.clone(), h("mcp-method"), h("mcp-name"));
        m.mcp.modern_headers.lock().unwrap().push(seen);
        let consistent = msg["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"]
            == "2026-07-28"
            && h("mcp-protocol-version").as_deref() == Some("2026-07-28")
            && h("mcp-method").as_deref() == Some(method.as_str());
        return modern(&msg, &method, consistent);
    }
    let sid = h("mcp-session-id");
    if method != "initialize"
        && sid.as_deref() == Some("sess-1")
        && m.take(Behaviour::ExpireSessionOnce)
    {
        return StatusCode::NOT_FOUND.into_response();
    }
    if method != "initialize" && method != "server/discover" && sid.is_none() {
        m.mcp
            .requests_without_session
            .fetch_add(1, Ordering::SeqCst);
    }
    legacy(m, &msg, &method)
}

/// The 2026-07-28 server: `server/discover`, `tools/call`; headers must match the body.
fn modern(msg: &Value, method: &str, consistent: bool) -> Response {
    let id = &msg["id"];
    if !consistent {
        return json_resp(
            StatusCode::BAD_REQUEST,
            rpc_error(id, -32020, "header mismatch"),
        );
    }
    match method {
        "server/discover" => json_resp(
            StatusCode::OK,
            rpc_result(
                id,
                json!({"supportedVersions": ["2026-07-28"], "capabilities": {"tools": {}}, "resultType": "complete"}),
            ),
        ),
        "tools/call" => json_resp(
            StatusCode::OK,
            rpc_result(
                id,
                json!({"content": [{"type": "text", "text": "modern"}], "resultType": "complete"}),
            ),
        ),
        _ => json_resp(
            StatusCode::NOT_FOUND,
            rpc_error(id, -32601, "Method not found"),
        ),
    }
}

/// The 2025-11-25 server: no `server/discover`, sessions `sess-N`, `tools/call` over SSE.
fn legacy(m: &Mock, msg: &Value, method: &str) -> Response {
    let id = &msg["id"];
    match method {
        "server/discover" => json_resp(
            StatusCode::BAD_REQUEST,
            rpc_error(&Value::Null, -32000, "Bad Request: no session"),
        ),
        "initialize" => {
            let mut r = json_resp(
                StatusCode::OK,
                rpc_result(
                    id,
                    json!({"protocolVersion": "2025-11-25", "capabilities": {"tools": {}}, "serverInfo": {"name": "mock", "version": "0"}}),
                ),
            );
            let n = m.mcp.sessions.fetch_add(1, Ordering::SeqCst) + 1;
            r.headers_mut()
                .insert("mcp-session-id", format!("sess-{n}").parse().unwrap());
            r
        }
        "notifications/initialized" if m.is(Behaviour::NotificationGets200) => {
            StatusCode::OK.into_response()
        }
        "notifications/initialized" => StatusCode::ACCEPTED.into_response(),
        "tools/list" => json_resp(
            StatusCode::OK,
            rpc_result(
                id,
                json!({"tools": [{"name": "echo", "inputSchema": {"type": "object"}}]}),
            ),
        ),
        "tools/call" => {
            let token = &msg["params"]["_meta"]["progressToken"];
            let progress = json!({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": token, "progress": 1, "total": 2}});
            let text = &msg["params"]["arguments"]["text"];
            let result = rpc_result(id, json!({"content": [{"type": "text", "text": text}]}));
            let sse = format!(": keep-alive\n\n{}{}", event(&progress), event(&result));
            Response::builder()
                .header(header::CONTENT_TYPE, "text/event-stream")
                .body(Body::from(sse))
                .unwrap()
        }
        _ => json_resp(StatusCode::OK, rpc_error(id, -32601, "Method not found")),
    }
}

/// `GET /sse`: the `endpoint` event, then whatever later POSTs to `/messages` send.
fn open_sse(m: &Mock) -> Response {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let _ = tx.send("event: endpoint\ndata: /messages?session=1\n\n".into());
    *m.mcp.sse_tx.lock().unwrap() = Some(tx);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|s| (Ok::<_, std::convert::Infallible>(s), rx))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from_stream(stream))
        .unwrap()
}

/// `POST /messages`: 202, the reply (after a progress event for `tools/call`) on the stream.
fn http_sse_message(m: &Mock, msg: &Value) -> Response {
    let method = msg["method"].as_str().unwrap_or_default().to_owned();
    m.mcp.methods.lock().unwrap().push(method.clone());
    let id = &msg["id"];
    let reply = match method.as_str() {
        "initialize" => Some(rpc_result(
            id,
            json!({"protocolVersion": "2024-11-05", "capabilities": {}, "serverInfo": {"name": "old", "version": "0"}}),
        )),
        "tools/call" => Some(rpc_result(
            id,
            json!({"content": [{"type": "text", "text": "over sse"}]}),
        )),
        _ if id.is_null() => None,
        _ => Some(rpc_error(id, -32601, "nope")),
    };
    if let (Some(r), Some(tx)) = (reply, m.mcp.sse_tx.lock().unwrap().as_ref()) {
        if method == "tools/call" {
            let token = &msg["params"]["_meta"]["progressToken"];
            let progress = json!({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": token, "progress": 5}});
            let _ = tx.send(event(&progress));
        }
        let _ = tx.send(event(&r));
    }
    StatusCode::ACCEPTED.into_response()
}
