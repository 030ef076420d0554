//! Stateless 2026-07-28 requests on the MCP endpoint (TR-15..TR-20, PR-20..PR-23): no
//! session; the version travels in `MCP-Protocol-Version` and `_meta`, and `Mcp-Method` /
//! `Mcp-Name` must repeat what the body says.

use axum::response::Response;
use http::HeaderMap;
use jsonrpsee::types::ErrorObject;
use jsonrpsee::types::error::{INVALID_PARAMS_CODE, INVALID_REQUEST_CODE};
use serde_json::json;
use serde_json::value::RawValue;
use shared::mcp::error_code::{HEADER_MISMATCH, UNSUPPORTED_VERSION};
use shared::mcp::header_value;
use shared::mcp::{SESSION_VERSIONS, STATELESS_VERSION};

use super::message::{Message, bad_request};
use super::{H_METHOD, H_NAME, H_VERSION};
use crate::rpc;

/// `params.arguments` of a `tools/call`, raw.
fn arguments_of(params: &RawValue) -> Option<&RawValue> {
    #[derive(serde::Deserialize)]
    struct Args<'a> {
        #[serde(default, borrow)]
        arguments: Option<&'a RawValue>,
    }
    serde_json::from_str::<Args<'_>>(params.get())
        .ok()?
        .arguments
}

fn mismatch(id: Option<&RawValue>, what: &'static str) -> Response {
    bad_request(id, ErrorObject::borrowed(HEADER_MISMATCH, what, None))
}

/// Checks the 2026-07-28 header and `_meta` rules (the message then takes the common path
/// with no session).
pub(super) fn check(headers: &HeaderMap, msg: &Message<'_>) -> Result<(), Response> {
    let id = msg.id;
    // Each header looked up once: its value, and whether it is repeated.
    let mut values = [None; 3];
    for (value, h) in values.iter_mut().zip([&H_VERSION, &H_METHOD, &H_NAME]) {
        let mut all = headers.get_all(h).iter();
        *value = all.next().and_then(|v| v.to_str().ok());
        if all.next().is_some() {
            return Err(mismatch(id, "Duplicate MCP header"));
        }
    }
    let [version_header, method_header, name_header] = values;
    let meta = msg.peek.meta.as_ref();
    let meta_version = meta.and_then(|m| m.version.as_deref());
    let Some(hdr_version) = version_header else {
        return Err(mismatch(id, "Missing MCP-Protocol-Version header"));
    };
    if let Some(mv) = meta_version
        && mv != hdr_version
    {
        return Err(mismatch(
            id,
            "MCP-Protocol-Version header does not match _meta protocolVersion",
        ));
    }
    let requested = meta_version.unwrap_or(hdr_version);
    if requested != STATELESS_VERSION {
        let mut supported = vec![STATELESS_VERSION];
        supported.extend_from_slice(SESSION_VERSIONS);
        return Err(bad_request(
            id,
            ErrorObject::owned(
                UNSUPPORTED_VERSION,
                "Unsupported protocol version",
                Some(json!({"supported": supported, "requested": requested})),
            ),
        ));
    }
    if msg.is_response() {
        return Err(bad_request(
            id,
            ErrorObject::borrowed(
                INVALID_REQUEST_CODE,
                "Clients do not send responses in 2026-07-28",
                None,
            ),
        ));
    }
    match method_header.and_then(header_value::decode) {
        None => return Err(mismatch(id, "Missing Mcp-Method header")),
        Some(m) if m != msg.method() => {
            return Err(mismatch(id, "Mcp-Method header does not match the body"));
        }
        Some(_) => {}
    }
    let named = match msg.method() {
        "tools/call" | "prompts/get" => Some(msg.peek.name.as_deref()),
        "resources/read" => Some(msg.peek.uri.as_deref()),
        _ => None,
    };
    if let Some(expected) = named {
        match name_header.and_then(header_value::decode) {
            None => return Err(mismatch(id, "Missing Mcp-Name header")),
            Some(n) if Some(&*n) != expected => {
                return Err(mismatch(id, "Mcp-Name header does not match the body"));
            }
            Some(_) => {}
        }
    }
    // TR-21: `Mcp-Param-*` headers of a tool with `x-mcp-header` parameters must match the
    // arguments. Other tools: one string match, nothing parsed.
    if msg.method() == "tools/call"
        && let Some(spec) = msg.peek.name.as_deref().and_then(rpc::param_headers)
    {
        let arguments = msg.params.and_then(arguments_of);
        rpc::validate_param_headers(spec, headers, arguments.map(RawValue::get))
            .map_err(|what| mismatch(id, what))?;
    }
    // Notifications are accepted without `_meta` (handle_message answers 202).
    if msg.is_notification() {
        return Ok(());
    }
    if meta_version.is_none() {
        return Err(bad_request(
            id,
            ErrorObject::borrowed(
                INVALID_PARAMS_CODE,
                "Missing _meta io.modelcontextprotocol/protocolVersion",
                None,
            ),
        ));
    }
    if meta.and_then(|m| m.client_capabilities).is_none() {
        return Err(bad_request(
            id,
            ErrorObject::borrowed(
                INVALID_PARAMS_CODE,
                "Missing _meta io.modelcontextprotocol/clientCapabilities",
                None,
            ),
        ));
    }
    Ok(())
}
