//! Tools: `echo`, `add`, `whoami`, `slow_task` (progress + cancellation), `get_weather`
//! (`outputSchema` + `structuredContent`) and `always_fails` (`isError`).
//!
//! Unknown tools get -32602; argument-validation failures are tool execution errors
//! (`isError: true`) as 2025-11-25 asks (checklist PR-32).

use std::sync::LazyLock;
use std::time::Duration;

use std::borrow::Cow;

use jsonrpsee::types::{ErrorObjectOwned, Params};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::{RequestCtx, State, invalid_params};

static DEFINITIONS: LazyLock<Vec<Value>> = LazyLock::new(|| {
    let mut tools = vec![
        json!({
            "name": "echo",
            "title": "Echo",
            "description": "Returns the message it was given.",
            "inputSchema": {"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]},
            "annotations": {"readOnlyHint": true, "idempotentHint": true},
        }),
        json!({
            "name": "add",
            "title": "Add",
            "description": "Adds two numbers.",
            "inputSchema": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}, "required": ["a", "b"]},
            "annotations": {"readOnlyHint": true, "idempotentHint": true},
        }),
        json!({
            "name": "whoami",
            "title": "Who am I",
            "description": "Returns the subject, client and scopes of the access token used.",
            "inputSchema": {"type": "object", "properties": {}},
            "outputSchema": {
                "type": "object",
                "properties": {"sub": {"type": "string"}, "client_id": {"type": "string"}, "scopes": {"type": "array", "items": {"type": "string"}}},
                "required": ["sub", "client_id", "scopes"],
            },
            "annotations": {"readOnlyHint": true},
        }),
        json!({
            "name": "slow_task",
            "title": "Slow task",
            "description": "Works for steps x delay_ms, sending a progress notification per step; honours cancellation.",
            "inputSchema": {"type": "object", "properties": {
                "steps": {"type": "integer", "minimum": 1, "maximum": 1000},
                "delay_ms": {"type": "integer", "minimum": 0, "maximum": 10000}
            }, "required": ["steps"]},
        }),
        json!({
            "name": "get_weather",
            "title": "Weather (fixed data)",
            "description": "Returns deterministic weather data for a city as structured content.",
            "inputSchema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            "outputSchema": {
                "type": "object",
                "properties": {
                    "city": {"type": "string"},
                    "temperature_c": {"type": "number"},
                    "conditions": {"type": "string"}
                },
                "required": ["city", "temperature_c", "conditions"],
            },
            "annotations": {"readOnlyHint": true, "openWorldHint": false},
        }),
        json!({
            "name": "always_fails",
            "title": "Always fails",
            "description": "Reports a tool execution error (isError: true).",
            "inputSchema": {"type": "object", "properties": {}},
        }),
    ];
    tools.extend(super::mrtr::definitions());
    tools.extend(super::headers::definitions());
    tools
});

/// Tools that run long enough to be cancelled (`notifications/cancelled`, PR-40).
const LONG_RUNNING: &[&str] = &["slow_task"];

/// Whether the tool `name` is long-running (see [`super::runs_long`]).
pub(crate) fn runs_long(name: &str) -> bool {
    LONG_RUNNING.contains(&name)
}

/// The tool list in a deterministic order (PR-31).
pub(crate) fn definitions() -> &'static [Value] {
    &DEFINITIONS
}

#[derive(Deserialize)]
struct CallParams<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(default, borrow)]
    arguments: Option<&'a RawValue>,
    /// Only looked at for its presence (a tool without rounds refuses one).
    #[serde(rename = "requestState", default, borrow)]
    request_state: Option<&'a RawValue>,
}

/// What `tools/call` returns to jsonrpsee.
#[derive(Serialize, Clone, Debug)]
#[serde(untagged)]
pub(crate) enum ToolResult {
    /// Text.
    Text(TextResult),
    /// Anything else.
    Json(Value),
}

/// A tool result: plain text (the hot path, serialised without building a `Value`) or any
/// JSON result.
#[derive(Debug)]
pub(crate) enum ToolOut {
    /// One text content block.
    Text { text: String, is_error: bool },
    /// A result built as JSON (structured content).
    Json(Value),
    /// An `InputRequiredResult` (multi round-trip request, PR-26), complete with its
    /// `resultType`.
    InputRequired(Value),
}

#[derive(Serialize, Clone, Debug)]
pub(crate) struct TextItem {
    #[serde(rename = "type")]
    kind: &'static str,
    text: String,
}

/// A text tool result, serialised directly (no `Value` tree, no re-validation).
#[derive(Serialize, Clone, Debug)]
pub(crate) struct TextResult {
    content: [TextItem; 1],
    #[serde(rename = "isError", skip_serializing_if = "std::ops::Not::not")]
    is_error: bool,
    #[serde(rename = "resultType", skip_serializing_if = "Option::is_none")]
    result_type: Option<&'static str>,
}

impl ToolOut {
    pub(crate) fn is_error(&self) -> bool {
        match self {
            Self::Text { is_error, .. } => *is_error,
            Self::Json(v) => v.get("isError").and_then(Value::as_bool).unwrap_or(false),
            Self::InputRequired(_) => false,
        }
    }

    /// The result to serialise (with `resultType` under 2026-07-28).
    pub(crate) fn into_result(self, ctx: &RequestCtx) -> ToolResult {
        match self {
            Self::Text { text, is_error } => ToolResult::Text(TextResult {
                content: [TextItem { kind: "text", text }],
                is_error,
                result_type: ctx.modern().then_some("complete"),
            }),
            Self::Json(v) => ToolResult::Json(ctx.finish(v, None)),
            Self::InputRequired(v) => ToolResult::Json(v),
        }
    }
}

fn text(t: impl Into<String>) -> ToolOut {
    ToolOut::Text {
        text: t.into(),
        is_error: false,
    }
}

fn tool_error(msg: impl Into<String>) -> ToolOut {
    ToolOut::Text {
        text: msg.into(),
        is_error: true,
    }
}

fn structured(v: Value) -> ToolOut {
    ToolOut::Json(
        json!({"content": [{"type": "text", "text": v.to_string()}], "structuredContent": v}),
    )
}

#[derive(Deserialize)]
struct EchoArgs<'a> {
    #[serde(borrow)]
    message: Cow<'a, str>,
}

#[derive(Deserialize)]
struct AddArgs {
    a: f64,
    b: f64,
}

fn args<'a, T: Deserialize<'a>>(raw: Option<&'a str>) -> Option<T> {
    serde_json::from_str(raw.unwrap_or("{}")).ok()
}

/// Where `name` and `arguments` are in a `tools/call`'s params, as the transport's peek
/// found them (issue 16 B: the params are then not parsed a third time). Only made when
/// that parse is exactly the one [`call_sync`] would do: params an object, `name` a string
/// without escapes, no `requestState` (or `null`); `None` otherwise, and the tool parses.
#[derive(Debug, Clone)]
pub(crate) struct CallHint {
    params_len: usize,
    name: std::ops::Range<usize>,
    arguments: Option<std::ops::Range<usize>>,
}

/// The byte range of `part` inside `whole` (`None` when it is not a slice of it).
fn range_in(whole: &str, part: &str) -> Option<std::ops::Range<usize>> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    (end <= whole.len()).then_some(start..end)
}

impl CallHint {
    /// The hint for `params` from the peeked members (see [`CallHint`]).
    pub(crate) fn new(
        params: &str,
        name: Option<&Cow<'_, str>>,
        arguments: Option<&RawValue>,
        request_state: Option<&RawValue>,
    ) -> Option<Self> {
        if !params.starts_with('{') || request_state.is_some_and(|s| s.get() != "null") {
            return None;
        }
        let Some(Cow::Borrowed(name)) = name else {
            return None;
        };
        Some(Self {
            params_len: params.len(),
            name: range_in(params, name)?,
            arguments: match arguments {
                Some(a) => Some(range_in(params, a.get())?),
                None => None,
            },
        })
    }

    /// `(name, arguments)` in `params` (the same params the hint was made from).
    fn read<'a>(&self, params: &'a str) -> Option<(&'a str, Option<&'a str>)> {
        if params.len() != self.params_len {
            return None;
        }
        let arguments = match &self.arguments {
            Some(r) => Some(params.get(r.clone())?),
            None => None,
        };
        Some((params.get(self.name.clone())?, arguments))
    }
}

/// Whether the tool `name` answers without waiting (every tool but the long-running and the
/// multi round-trip ones): its `tools/call` takes jsonrpsee's synchronous path.
pub(crate) fn is_sync(name: &str) -> bool {
    !runs_long(name) && !super::mrtr::handles(name)
}

fn call_params(raw: &str) -> Result<CallParams<'_>, ErrorObjectOwned> {
    let cp: CallParams<'_> =
        serde_json::from_str(raw).map_err(|e| invalid_params(format!("invalid params: {e}")))?;
    if cp.request_state.is_some_and(|s| s.get() != "null") && !super::mrtr::handles(&cp.name) {
        return Err(super::mrtr::foreign_state(&cp.name));
    }
    Ok(cp)
}

/// `tools/call`.
pub(crate) async fn call(
    st: &State,
    ctx: &RequestCtx,
    p: &Params<'_>,
) -> Result<ToolOut, ErrorObjectOwned> {
    let raw = p.as_str().unwrap_or("{}");
    let cp = call_params(raw)?;
    let arguments = cp.arguments.map(RawValue::get);
    match cp.name.as_ref() {
        "slow_task" => {
            let a: Map<String, Value> = args(arguments).unwrap_or_default();
            Ok(slow_task(st, ctx, &a).await)
        }
        other if super::mrtr::handles(other) => super::mrtr::call(st, ctx, other, raw).await,
        other => run_sync(st, ctx, other, arguments),
    }
}

/// `tools/call` of a tool that does not wait ([`is_sync`]); any other tool is an internal
/// error here (the transport routes only [`is_sync`] tools to this path).
pub(crate) fn call_sync(
    st: &State,
    ctx: &RequestCtx,
    p: &Params<'_>,
) -> Result<ToolOut, ErrorObjectOwned> {
    let raw = p.as_str().unwrap_or("{}");
    if let Some((name, arguments)) = ctx.call.as_ref().and_then(|h| h.read(raw))
        && is_sync(name)
    {
        return run_sync(st, ctx, name, arguments);
    }
    let cp = call_params(raw)?;
    if !is_sync(&cp.name) {
        return Err(super::internal("this tool needs the asynchronous path"));
    }
    run_sync(st, ctx, &cp.name, cp.arguments.map(RawValue::get))
}

/// The tools that answer without waiting.
fn run_sync(
    st: &State,
    ctx: &RequestCtx,
    name: &str,
    arguments: Option<&str>,
) -> Result<ToolOut, ErrorObjectOwned> {
    Ok(match name {
        "echo" => match args::<EchoArgs<'_>>(arguments) {
            Some(a) => text(a.message),
            None => tool_error("argument `message` (string) is required"),
        },
        "add" => match args::<AddArgs>(arguments) {
            Some(AddArgs { a, b }) => {
                let sum = a + b;
                if sum.fract() == 0.0 && sum.abs() < 9.0e15 {
                    text(format!("{}", sum as i64))
                } else {
                    text(format!("{sum}"))
                }
            }
            None => tool_error("arguments `a` and `b` (numbers) are required"),
        },
        "whoami" => structured(json!({
            "sub": ctx.auth.subject,
            "client_id": ctx.auth.client_id,
            "scopes": ctx.auth.scopes.iter().collect::<Vec<_>>(),
        })),
        "get_weather" => {
            let a: Map<String, Value> = args(arguments).unwrap_or_default();
            match a.get("city").and_then(Value::as_str) {
                Some(city) => {
                    let h = city
                        .bytes()
                        .fold(0u32, |a, b| a.wrapping_mul(31).wrapping_add(b.into()));
                    let conditions = ["sunny", "cloudy", "rainy", "windy"][(h % 4) as usize];
                    structured(json!({
                        "city": city,
                        "temperature_c": f64::from(h % 35) - 5.0,
                        "conditions": conditions,
                    }))
                }
                None => tool_error("argument `city` (string) is required"),
            }
        }
        "always_fails" => tool_error("this tool always fails (by design)"),
        other if super::headers::handles(other) => super::headers::call(arguments),
        other => {
            if let Some(out) = super::subscriptions::call(&st.events, other) {
                return Ok(out);
            }
            return Err(invalid_params(format!(
                "unknown tool: {}",
                other.chars().take(64).collect::<String>()
            )));
        }
    })
}

async fn slow_task(st: &State, ctx: &RequestCtx, args: &Map<String, Value>) -> ToolOut {
    let steps = args.get("steps").and_then(Value::as_u64);
    let delay = args.get("delay_ms").and_then(Value::as_u64).unwrap_or(100);
    let Some(steps) = steps.filter(|s| (1..=1000).contains(s)) else {
        return tool_error("argument `steps` must be an integer in 1..=1000");
    };
    if delay > 10_000 || steps.saturating_mul(delay) > st.config.limits.max_slow_task_ms {
        return tool_error("steps x delay_ms exceeds the server's limit");
    }
    for i in 1..=steps {
        tokio::time::sleep(Duration::from_millis(delay)).await;
        if let Some((token, sink)) = &ctx.progress {
            let n = json!({
                "jsonrpc": "2.0",
                "method": "notifications/progress",
                "params": {"progressToken": token, "progress": i, "total": steps, "message": format!("step {i}/{steps}")},
            });
            // The receiver is gone: the client closed the stream, which cancels the request
            // (TR-13); stop working.
            if sink.send(n.to_string()).await.is_err() {
                return tool_error("cancelled");
            }
        }
    }
    text(format!("completed {steps} steps"))
}
