//! One JSON-RPC message: a borrowed envelope parse (no copy of `params`), a peek at the few
//! `params` members the transport needs, the call into the jsonrpsee methods, and the one
//! shape of a JSON-RPC error response (jsonrpsee's [`ErrorObject`] with the request's raw id).

use std::borrow::Cow;

use axum::response::Response;
use http::StatusCode;
use jsonrpsee::Extensions;
use jsonrpsee::types::error::{ErrorCode, INVALID_REQUEST_CODE};
use jsonrpsee::types::{ErrorObject, Id};
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::App;
use super::respond::json_response;
use crate::rpc::{self, RequestCtx};

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(default, borrow, deserialize_with = "rpc::opt_cow_str")]
    jsonrpc: Option<Cow<'a, str>>,
    // Not `Option<&RawValue>` directly: that would turn `"id": null` into "no id" (a
    // notification) instead of an invalid request (PR-01).
    #[serde(default, borrow, deserialize_with = "present_raw")]
    id: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "rpc::opt_cow_str")]
    method: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    params: Option<&'a RawValue>,
    #[serde(default, borrow)]
    result: Option<&'a RawValue>,
    #[serde(default, borrow)]
    error: Option<&'a RawValue>,
}

fn present_raw<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue as Deserialize>::deserialize(d).map(Some)
}

/// The `_meta` members the transport looks at.
#[derive(Deserialize, Default, Debug)]
pub(crate) struct MetaPeek<'a> {
    #[serde(rename = "progressToken", default)]
    pub(crate) progress_token: Option<Value>,
    // serde needs literals here; a unit test checks them against `shared::mcp::meta`.
    #[serde(
        rename = "io.modelcontextprotocol/protocolVersion",
        default,
        borrow,
        deserialize_with = "rpc::opt_cow_str"
    )]
    pub(crate) version: Option<Cow<'a, str>>,
    #[serde(rename = "io.modelcontextprotocol/clientCapabilities", default, borrow)]
    pub(crate) client_capabilities: Option<&'a RawValue>,
}

/// The `params` members the transport looks at.
#[derive(Deserialize, Default, Debug)]
pub(crate) struct ParamsPeek<'a> {
    #[serde(rename = "_meta", default, borrow)]
    pub(crate) meta: Option<MetaPeek<'a>>,
    #[serde(default, borrow, deserialize_with = "rpc::opt_cow_str")]
    pub(crate) name: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "rpc::opt_cow_str")]
    pub(crate) uri: Option<Cow<'a, str>>,
    #[serde(
        rename = "protocolVersion",
        default,
        borrow,
        deserialize_with = "rpc::opt_cow_str"
    )]
    pub(crate) protocol_version: Option<Cow<'a, str>>,
    #[serde(rename = "requestId", default)]
    pub(crate) request_id: Option<Value>,
    /// `tools/call`'s `arguments` and `requestState`, raw: handed to the tool
    /// ([`rpc::CallHint`]) so that the params are not parsed a third time.
    #[serde(default, borrow)]
    pub(crate) arguments: Option<&'a RawValue>,
    #[serde(rename = "requestState", default, borrow)]
    pub(crate) request_state: Option<&'a RawValue>,
    /// `completion/complete`'s `ref`, kept raw: read only for that method.
    #[serde(rename = "ref", default, borrow)]
    pub(crate) reference: Option<&'a RawValue>,
}

impl ParamsPeek<'_> {
    /// `ref.type` of a `completion/complete` (`None` when absent or unreadable).
    pub(crate) fn reference_type(&self) -> Option<Cow<'_, str>> {
        #[derive(Deserialize)]
        struct Ref<'a> {
            #[serde(rename = "type", borrow)]
            kind: Cow<'a, str>,
        }
        serde_json::from_str::<Ref<'_>>(self.reference?.get())
            .ok()
            .map(|r| r.kind)
    }
}

/// A parsed message.
#[derive(Debug)]
pub(crate) struct Message<'a> {
    pub(crate) id: Option<&'a RawValue>,
    pub(crate) method: Option<Cow<'a, str>>,
    pub(crate) params: Option<&'a RawValue>,
    pub(crate) peek: ParamsPeek<'a>,
}

impl Message<'_> {
    /// A response from the client (legacy: gets 202).
    pub(crate) fn is_response(&self) -> bool {
        self.method.is_none()
    }
    /// A notification (no id).
    pub(crate) fn is_notification(&self) -> bool {
        self.method.is_some() && self.id.is_none()
    }
    pub(crate) fn method(&self) -> &str {
        self.method.as_deref().unwrap_or("")
    }
    pub(crate) fn progress_token(&self) -> Option<&Value> {
        self.peek.meta.as_ref()?.progress_token.as_ref()
    }
}

/// Parses one message (-32700 / -32600 as HTTP 400 on failure, PR-01..PR-03).
///
/// The body is checked as UTF-8 once, then read as `str`: `serde_json` reading bytes would
/// validate each string and each borrowed raw value (`params`) again.
pub(crate) fn parse(body: &[u8]) -> Result<Message<'_>, Response> {
    let parse_error =
        || error_response(StatusCode::BAD_REQUEST, None, ErrorCode::ParseError.into());
    let text = std::str::from_utf8(body).map_err(|_| parse_error())?;
    let env: Envelope<'_> = serde_json::from_str(text).map_err(|_| parse_error())?;
    let invalid = |msg: &'static str| {
        error_response(
            StatusCode::BAD_REQUEST,
            None,
            ErrorObject::borrowed(INVALID_REQUEST_CODE, msg, None),
        )
    };
    if env.jsonrpc.as_deref() != Some("2.0") {
        return Err(invalid("jsonrpc must be \"2.0\""));
    }
    if let Some(id) = env.id {
        let s = id.get().as_bytes().first().copied();
        if !matches!(s, Some(b'"' | b'-' | b'0'..=b'9')) {
            return Err(invalid("id must be a string or a number"));
        }
    }
    if env.method.is_none() && (env.id.is_none() || (env.result.is_none() && env.error.is_none())) {
        return Err(invalid("not a JSON-RPC request, notification or response"));
    }
    let peek = env
        .params
        .and_then(|p| serde_json::from_str::<ParamsPeek<'_>>(p.get()).ok())
        .unwrap_or_default();
    Ok(Message {
        id: env.id,
        method: env.method,
        params: env.params,
        peek,
    })
}

/// A JSON-RPC id from its raw JSON (validated as string or number by [`parse`]). Done by hand:
/// jsonrpsee's `Id` deserialiser is an untagged enum that buffers the value first.
fn parse_id(raw: &str) -> Id<'static> {
    if raw.starts_with('"') {
        match serde_json::from_str::<Cow<'_, str>>(raw) {
            Ok(s) => Id::Str(Cow::Owned(s.into_owned())),
            Err(_) => Id::Null,
        }
    } else {
        match raw.parse::<u64>() {
            Ok(n) => Id::Number(n),
            // Negative or fractional ids: keep jsonrpsee's own handling.
            Err(_) => serde_json::from_str::<Id<'_>>(raw)
                .map(Id::into_owned)
                .unwrap_or(Id::Null),
        }
    }
}

/// Runs a request and returns the serialised JSON-RPC response (`id` is the raw JSON id).
pub(crate) async fn run(
    app: &App,
    id: Option<&str>,
    method: &str,
    params: Option<&str>,
    ctx: RequestCtx,
) -> String {
    run_coded(app, id, method, params, None, ctx).await.0
}

/// [`run`], with the JSON-RPC error code of the response when it is an error. `peek`: what
/// the transport read from `params`; a `tools/call` of a tool that never waits takes the
/// synchronous twin of the method ([`rpc::sync_tool_module`]), with the tool's name and
/// arguments located ([`rpc::CallHint`]).
pub(crate) async fn run_coded(
    app: &App,
    id: Option<&str>,
    method: &str,
    params: Option<&str>,
    peek: Option<&ParamsPeek<'_>>,
    mut ctx: RequestCtx,
) -> (String, Option<i32>) {
    let rpc_id = id.map_or(Id::Null, parse_id);
    let sync = method == "tools/call" && rpc::sync_tool(peek.and_then(|p| p.name.as_deref()));
    let methods = if sync {
        if let (Some(params), Some(peek)) = (params, peek) {
            ctx.call = rpc::CallHint::new(
                params,
                peek.name.as_ref(),
                peek.arguments,
                peek.request_state,
            );
        }
        &app.sync_tools
    } else {
        &app.methods
    };
    let mut ext = Extensions::new();
    ext.insert(ctx);
    match rpc::dispatch(methods, rpc_id, method, params, ext).await {
        Some(resp) => {
            let code = resp.as_error_code();
            let (raw, _, _ext) = resp.into_parts();
            let s: Box<str> = raw.into();
            (String::from(s), code)
        }
        None => {
            let code = ErrorCode::MethodNotFound;
            (error_json(id, &code.into()), Some(code.code()))
        }
    }
}

/// The HTTP status of a 2026-07-28 JSON response carrying the JSON-RPC error `code`
/// (SEP-2575, PR-24, TR-20): request, parameter, header, capability and version errors are
/// 400, an unknown method 404; any other error (and every result) 200.
pub(crate) fn modern_status(code: Option<i32>) -> StatusCode {
    use shared::mcp::error_code::{HEADER_MISMATCH, MISSING_CAPABILITY, UNSUPPORTED_VERSION};
    match code {
        Some(
            -32700 | -32600 | -32602 | HEADER_MISMATCH | MISSING_CAPABILITY | UNSUPPORTED_VERSION,
        ) => StatusCode::BAD_REQUEST,
        Some(-32601) => StatusCode::NOT_FOUND,
        _ => StatusCode::OK,
    }
}

/// A JSON-RPC error response: `{"jsonrpc":"2.0","id":<raw id or null>,"error":<object>}`. The
/// id is echoed exactly as the request spelled it.
pub(crate) fn error_json(id: Option<&str>, error: &ErrorObject<'_>) -> String {
    let id = id.unwrap_or("null");
    let error = serde_json::to_string(error).unwrap_or_default();
    format!(r#"{{"jsonrpc":"2.0","id":{id},"error":{error}}}"#)
}

/// [`error_response`] with 400.
pub(crate) fn bad_request(id: Option<&RawValue>, error: ErrorObject<'_>) -> Response {
    error_response(StatusCode::BAD_REQUEST, id, error)
}

/// [`error_json`] as an HTTP response with `status`.
pub(crate) fn error_response(
    status: StatusCode,
    id: Option<&RawValue>,
    error: ErrorObject<'_>,
) -> Response {
    json_response(status, error_json(id.map(RawValue::get), &error))
}

impl Message<'_> {
    /// Runs this message as a request.
    pub(crate) async fn run(&self, app: &App, ctx: RequestCtx) -> String {
        self.run_coded(app, ctx).await.0
    }

    /// Runs this message as a request; the error code too (see [`run_coded`]).
    pub(crate) async fn run_coded(&self, app: &App, ctx: RequestCtx) -> (String, Option<i32>) {
        run_coded(
            app,
            self.id.map(RawValue::get),
            self.method(),
            self.params.map(RawValue::get),
            Some(&self.peek),
            ctx,
        )
        .await
    }

    /// An owned copy of what [`run`] needs, for spawned tasks.
    pub(crate) fn to_owned_parts(&self) -> OwnedCall {
        OwnedCall {
            id: self.id.map(|r| r.get().to_owned()),
            method: self.method().to_owned(),
            params: self.params.map(|r| r.get().to_owned()),
        }
    }
}

/// An owned request, for spawned tasks.
#[derive(Debug)]
pub(crate) struct OwnedCall {
    pub(crate) id: Option<String>,
    pub(crate) method: String,
    pub(crate) params: Option<String>,
}

impl OwnedCall {
    pub(crate) async fn run(&self, app: &App, ctx: RequestCtx) -> String {
        run(
            app,
            self.id.as_deref(),
            &self.method,
            self.params.as_deref(),
            ctx,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::mcp::meta;

    #[test]
    fn error_json_echoes_the_raw_id_in_jsonrpsee_shape() {
        assert_eq!(
            error_json(Some("\"a\""), &ErrorCode::MethodNotFound.into()),
            r#"{"jsonrpc":"2.0","id":"a","error":{"code":-32601,"message":"Method not found"}}"#
        );
        let data = ErrorObject::owned(-32022, "Unsupported", Some(serde_json::json!([1])));
        assert_eq!(
            error_json(None, &data),
            r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32022,"message":"Unsupported","data":[1]}}"#
        );
    }

    #[test]
    fn tr01_a_body_that_is_not_utf8_is_a_parse_error() {
        let r = parse(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"p\xffing\"}").unwrap_err();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let r = parse(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"} \xc3").unwrap_err();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let m = parse(
            "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{\"name\":\"\u{e9}\"}}"
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(m.peek.name.as_deref(), Some("\u{e9}"));
    }

    /// Issue 16 B: serde's `Cow` impl copied every peeked string into a `String` (one
    /// allocation each, per request); they now borrow from the body unless escaped.
    #[test]
    fn peeked_strings_borrow_from_the_body_and_null_is_absent() {
        let m = parse(br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","uri":null,"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#).unwrap();
        assert!(matches!(m.method, Some(Cow::Borrowed("tools/call"))));
        assert!(matches!(m.peek.name, Some(Cow::Borrowed("echo"))));
        let meta = m.peek.meta.as_ref().unwrap();
        assert!(matches!(meta.version, Some(Cow::Borrowed("2026-07-28"))));
        assert!(m.peek.uri.is_none());
        let m = parse(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools\/call","params":{"name":"ech\u006f"}}"#,
        )
        .unwrap();
        assert_eq!(m.method(), "tools/call");
        assert!(matches!(&m.peek.name, Some(Cow::Owned(n)) if n == "echo"));
        // Not a string: the envelope is refused, the peek is empty, as before.
        assert!(parse(br#"{"jsonrpc":"2.0","id":1,"method":5}"#).is_err());
        assert!(parse(br#"{"jsonrpc":2,"id":1,"method":"ping"}"#).is_err());
        assert!(parse(br#"{"jsonrpc":"2.0","id":1,"method":null}"#).is_err());
        let m = parse(br#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"name":7}}"#).unwrap();
        assert!(m.peek.name.is_none());
    }

    #[test]
    fn meta_peek_reads_the_shared_meta_keys() {
        let body = serde_json::json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": {"name": "echo", "_meta": {
            meta::PROTOCOL_VERSION: "2026-07-28",
            meta::CLIENT_CAPABILITIES: {},
            "progressToken": "p",
        }}})
        .to_string();
        let m = parse(body.as_bytes()).unwrap();
        let peek = m.peek.meta.as_ref().unwrap();
        assert_eq!(peek.version.as_deref(), Some("2026-07-28"));
        assert!(peek.client_capabilities.is_some());
        assert_eq!(m.progress_token(), Some(&serde_json::json!("p")));
        assert_eq!(m.peek.name.as_deref(), Some("echo"));
        assert!(parse(br#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#).is_err());
    }
}
