//! Streamable HTTP (both eras): one POST per message, the answer as JSON or as an SSE
//! stream (TR-07), notifications accepted on any empty 2xx (pitfall P-15), a session id kept
//! from `initialize` and a 404 with it reported as [`Posted::SessionGone`] (TR-39).

use eventsource_stream::Eventsource as _;
use futures_util::StreamExt as _;
use serde_json::Value;
use shared::mcp::header;

use super::jsonrpc::{handle_incoming, is_error_response};
use super::{McpClient, ProgressFn, TransportKind};
use crate::error::ClientError;
use crate::oauth::challenge::bearer_challenge;

/// What came back from one POST.
pub(super) enum Posted {
    /// 202 / empty 2xx.
    Accepted,
    /// A JSON-RPC response message.
    Message(Value),
    /// 404 while a session id was sent (TR-39).
    SessionGone,
}

impl McpClient {
    pub(super) async fn post(
        &self,
        msg: &Value,
        id: Option<u64>,
        progress_token: &str,
        progress: Option<&ProgressFn>,
    ) -> Result<Posted, ClientError> {
        let method = msg
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let (kind, version, session) = {
            let s = self.lock();
            (s.kind, s.version.clone(), s.session_id.clone())
        };
        let mut req = self
            .http
            .post(self.url.clone())
            .timeout(self.timeout)
            .header(http::header::ACCEPT, "application/json, text/event-stream")
            .header(http::header::CONTENT_TYPE, "application/json");
        if method != "initialize" {
            req = req.header(header::PROTOCOL_VERSION, version.as_str());
        }
        if let Some(sid) = &session {
            req = req.header(header::SESSION_ID, sid.as_str());
        }
        if kind == TransportKind::Stateless {
            req = req.header(header::METHOD, header_value(method));
            let name = match method {
                "tools/call" | "prompts/get" => msg["params"].get("name"),
                "resources/read" => msg["params"].get("uri"),
                _ => None,
            };
            if let Some(n) = name.and_then(Value::as_str) {
                req = req.header(header::NAME, header_value(n));
                if method == "tools/call" {
                    for (k, v) in self
                        .tool_headers
                        .headers_for(n, &msg["params"]["arguments"])
                    {
                        req = req.header(k, v);
                    }
                }
            }
        }
        let body = serde_json::to_vec(msg).map_err(|e| ClientError::Protocol(e.to_string()))?;
        let resp = req.body(body).send().await?;
        let status = resp.status();
        if method == "initialize"
            && let Some(sid) = resp
                .headers()
                .get(header::SESSION_ID)
                .and_then(|v| v.to_str().ok())
        {
            self.lock().session_id = Some(sid.to_owned());
        }
        if status == http::StatusCode::UNAUTHORIZED {
            return Err(ClientError::AuthorizationRequired(
                "the MCP server rejected the access token (401) even after a refresh; log in again"
                    .into(),
            ));
        }
        if status == http::StatusCode::FORBIDDEN
            && let Some(ch) = crate::oauth::challenge::insufficient_scope_challenge(resp.headers())
        {
            return Err(ClientError::InsufficientScope {
                required: ch.scope().unwrap_or_default().to_owned(),
            });
        }
        if status == http::StatusCode::NOT_FOUND && session.is_some() {
            return Ok(Posted::SessionGone);
        }
        if !status.is_success() {
            return error_or_jsonrpc(resp).await.map(Posted::Message);
        }
        let is_sse = resp
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| {
                ct.get(..17)
                    .is_some_and(|p| p.eq_ignore_ascii_case("text/event-stream"))
            });
        if is_sse {
            let mut events = resp.bytes_stream().eventsource();
            while let Some(ev) = events.next().await {
                let ev =
                    ev.map_err(|e| ClientError::transport("reading the SSE stream failed", e))?;
                if ev.data.trim().is_empty() {
                    continue;
                }
                let Ok(v) = serde_json::from_str::<Value>(&ev.data) else {
                    continue;
                };
                if let Some(done) = handle_incoming(v, id, progress_token, progress) {
                    return Ok(Posted::Message(done));
                }
            }
            return match id {
                None => Ok(Posted::Accepted),
                Some(_) => Err(ClientError::Protocol(format!(
                    "the SSE stream for `{method}` ended without a response"
                ))),
            };
        }
        let bytes = resp.bytes().await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Posted::Accepted);
        }
        let v: Value = serde_json::from_slice(&bytes)
            .map_err(|e| ClientError::Protocol(format!("invalid JSON from the MCP server: {e}")))?;
        if id.is_none() {
            return Ok(Posted::Accepted);
        }
        Ok(Posted::Message(v))
    }
}

/// A non-2xx answer: a JSON-RPC error response is returned as the message (the server may
/// answer, say, 400 with `-32600`); anything else is [`ClientError::HttpStatus`].
pub(super) async fn error_or_jsonrpc(resp: reqwest::Response) -> Result<Value, ClientError> {
    let (status, challenge, body) = read_error(resp).await;
    match body {
        Some(v) if is_error_response(&v) => Ok(v),
        body => Err(status_error(
            "the MCP server".into(),
            status,
            challenge.as_ref(),
            body.as_ref(),
        )),
    }
}

/// The largest error body read to find a JSON-RPC or OAuth error in it.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// [`ClientError::HttpStatus`] for a non-2xx answer, with `error` and `description` from
/// the `WWW-Authenticate` challenge or an OAuth-style JSON body (`{"error", "error_description"}`).
pub(crate) async fn http_status_error(
    resp: reqwest::Response,
    from: impl Into<String>,
) -> ClientError {
    let (status, challenge, body) = read_error(resp).await;
    status_error(from.into(), status, challenge.as_ref(), body.as_ref())
}

/// The status, the Bearer challenge and the JSON body (if any, bounded) of an error answer.
async fn read_error(
    resp: reqwest::Response,
) -> (
    http::StatusCode,
    Option<crate::oauth::challenge::Challenge>,
    Option<Value>,
) {
    let status = resp.status();
    let challenge = bearer_challenge(resp.headers());
    let bytes = crate::oauth::read_limited(resp, MAX_ERROR_BODY)
        .await
        .unwrap_or_default();
    (status, challenge, serde_json::from_slice(&bytes).ok())
}

fn status_error(
    from: String,
    status: http::StatusCode,
    challenge: Option<&crate::oauth::challenge::Challenge>,
    body: Option<&Value>,
) -> ClientError {
    let text = |k: &str| {
        body.and_then(|b| b.get(k))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let (error, description) = match challenge.filter(|c| c.error().is_some()) {
        Some(c) => (
            c.error().map(str::to_owned),
            c.param("error_description").map(str::to_owned),
        ),
        None => (text("error"), text("error_description")),
    };
    ClientError::HttpStatus {
        from,
        status,
        error,
        description,
    }
}

/// Encodes a header value per TR-19 (see [`shared::mcp::header_value::encode`]).
pub fn header_value(v: &str) -> String {
    shared::mcp::header_value::encode(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_use_the_base64_sentinel_when_needed_tr19() {
        assert_eq!(header_value("echo"), "echo");
        assert_eq!(header_value(" x"), "=?base64?IHg=?=");
        assert!(header_value("é").starts_with("=?base64?"));
        assert!(header_value("=?base64?abc?=").starts_with("=?base64?PT9i"));
    }

    #[test]
    fn a_non_jsonrpc_error_shows_status_and_the_challenge_or_body_error() {
        let body = serde_json::json!({"error": "temporarily_unavailable", "error_description": "JWKS unreachable"});
        let e = status_error(
            "the MCP server".into(),
            http::StatusCode::SERVICE_UNAVAILABLE,
            None,
            Some(&body),
        );
        assert_eq!(
            e.to_string(),
            "HTTP 503 Service Unavailable from the MCP server: temporarily_unavailable (JWKS unreachable)"
        );
        assert_eq!(e.status(), Some(http::StatusCode::SERVICE_UNAVAILABLE));
    }
}
