//! JSON-RPC plumbing shared by the transports: building messages, routing what arrives on a
//! response stream, turning a response into a result or a typed error.

use serde_json::{Value, json};

use super::{Progress, ProgressFn};
use crate::error::ClientError;

/// `clientInfo` of this client.
pub(super) fn client_info() -> Value {
    json!({"name": "http-oauth2-client", "version": env!("CARGO_PKG_VERSION")})
}

/// A JSON-RPC request message.
pub(super) fn request(id: u64, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

/// A JSON-RPC notification message.
pub(super) fn notification(method: &str, params: Option<Value>) -> Value {
    let mut msg = json!({"jsonrpc": "2.0", "method": method});
    if let Some(p) = params {
        msg["params"] = p;
    }
    msg
}

/// Whether `v` is a JSON-RPC 2.0 error response (as opposed to, say, an OAuth-style
/// `{"error": "invalid_token"}` body from an auth layer).
pub(super) fn is_error_response(v: &Value) -> bool {
    v.get("jsonrpc").and_then(Value::as_str) == Some("2.0")
        && v.get("error")
            .and_then(|e| e.get("code"))
            .is_some_and(Value::is_i64)
}

/// Handles one message from a response stream: progress goes to the callback; returns the
/// message if it is the response to `id`.
pub(crate) fn handle_incoming(
    v: Value,
    id: Option<u64>,
    progress_token: &str,
    progress: Option<&ProgressFn>,
) -> Option<Value> {
    if v.get("method").and_then(Value::as_str) == Some("notifications/progress") {
        let p = &v["params"];
        let tok_matches = match &p["progressToken"] {
            Value::String(s) => s == progress_token,
            Value::Number(n) => n.to_string() == progress_token,
            _ => false,
        };
        if tok_matches && let Some(cb) = progress {
            cb(Progress {
                progress: p["progress"].as_f64().unwrap_or(0.0),
                total: p["total"].as_f64(),
                message: p["message"].as_str().map(str::to_owned),
            });
        }
        return None;
    }
    if v.get("result").is_some() || v.get("error").is_some() {
        let matches = match (&v["id"], id) {
            (Value::Number(n), Some(id)) => n.as_u64() == Some(id),
            (Value::String(s), Some(id)) => s == &id.to_string(),
            _ => false,
        };
        if matches {
            return Some(v);
        }
    }
    None
}

/// The `result` of a response, or its `error` as [`ClientError::Mcp`].
pub(super) fn into_result(v: Value) -> Result<Value, ClientError> {
    if let Some(e) = v.get("error") {
        let code = e.get("code").and_then(Value::as_i64);
        let message = e.get("message").and_then(Value::as_str);
        let (Some(code), Some(message)) = (code, message) else {
            return Err(ClientError::Protocol(
                "an error response without an integer code and a message".into(),
            ));
        };
        return Err(ClientError::Mcp {
            code,
            message: message.to_owned(),
            data: e.get("data").cloned(),
        });
    }
    let r = v
        .get("result")
        .cloned()
        .ok_or_else(|| ClientError::Protocol("response without result or error".into()))?;
    match r.get("resultType").and_then(Value::as_str) {
        // `input_required`: answered by the multi round-trip loop (`mrtr.rs`).
        None | Some("complete" | "input_required") => Ok(r),
        Some(other) => Err(ClientError::Protocol(format!(
            "unsupported resultType `{other}`"
        ))),
    }
}

/// The newest version of an `UnsupportedProtocolVersion` error's `data.supported` that this
/// client speaks (TR-24).
pub(super) fn pick_version(data: Option<&Value>) -> Option<&'static str> {
    let supported = data?.get("supported")?.as_array()?;
    shared::mcp::PROTOCOL_VERSIONS
        .iter()
        .copied()
        .find(|v| supported.iter().any(|s| s.as_str() == Some(v)))
}

/// The `_meta` object of `params`, created if absent.
pub(super) fn meta_mut(params: &mut Value) -> &mut serde_json::Map<String, Value> {
    if !params.get("_meta").is_some_and(Value::is_object) {
        params["_meta"] = json!({});
    }
    match params.get_mut("_meta") {
        Some(Value::Object(m)) => m,
        _ => unreachable!("_meta was just set to an object"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[test]
    fn progress_is_routed_and_response_matched() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        let cb: ProgressFn = Arc::new(move |p| s2.lock().unwrap().push(p.progress));
        let n = json!({"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"p7","progress":1,"total":3}});
        assert!(handle_incoming(n, Some(7), "p7", Some(&cb)).is_none());
        let other = json!({"jsonrpc":"2.0","id":8,"result":{}});
        assert!(handle_incoming(other, Some(7), "p7", Some(&cb)).is_none());
        let mine = json!({"jsonrpc":"2.0","id":7,"result":{}});
        assert!(handle_incoming(mine, Some(7), "p7", Some(&cb)).is_some());
        assert_eq!(*seen.lock().unwrap(), vec![1.0]);
    }

    #[test]
    fn unknown_result_types_are_refused_and_errors_mapped() {
        assert!(into_result(json!({"id":1,"result":{"resultType":"input_required"}})).is_ok());
        assert!(into_result(json!({"id":1,"result":{"resultType":"later"}})).is_err());
        assert!(into_result(json!({"id":1,"result":{"x":1}})).is_ok());
        let e = into_result(json!({"id":1,"error":{"code":-32602,"message":"bad"}})).unwrap_err();
        assert!(matches!(e, ClientError::Mcp { code: -32602, .. }));
    }

    #[test]
    fn the_newest_supported_version_we_speak_is_picked_tr24() {
        let d = json!({"supported": ["1999-01-01", "2025-06-18", "2025-03-26"], "requested": "2026-07-28"});
        assert_eq!(pick_version(Some(&d)), Some("2025-06-18"));
        assert_eq!(pick_version(Some(&json!({"supported": ["x"]}))), None);
        assert_eq!(pick_version(Some(&json!({}))), None);
        assert_eq!(pick_version(None), None);
    }

    #[test]
    fn an_error_without_code_and_message_is_a_protocol_error_not_mcp_error_0() {
        let e = into_result(json!({"jsonrpc":"2.0","id":1,"error":"invalid_token"})).unwrap_err();
        assert!(matches!(e, ClientError::Protocol(_)), "{e:?}");
    }

    #[test]
    fn only_jsonrpc_error_objects_count_as_error_responses() {
        assert!(is_error_response(
            &json!({"jsonrpc":"2.0","id":1,"error":{"code":-32600,"message":"x"}})
        ));
        assert!(!is_error_response(
            &json!({"error":"temporarily_unavailable","error_description":"JWKS unreachable"})
        ));
        assert!(!is_error_response(&json!({"jsonrpc":"2.0","error":"x"})));
    }
}
