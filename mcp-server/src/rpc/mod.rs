//! The MCP methods as a jsonrpsee [`RpcModule`]: the method table and its dispatcher. The
//! HTTP front (`transport`) parses each JSON-RPC message once, checks scopes and the MCP
//! header rules, and calls [`dispatch`], which runs the registered jsonrpsee method with
//! per-request [`Extensions`] carrying a [`RequestCtx`] (validated
//! [`AuthContext`](crate::auth::AuthContext), protocol era, progress sink, session log).
//!
//! What a method needs from the transport beyond a JSON answer is declared here, not in
//! the transport: [`runs_long`] (own task, so `notifications/cancelled` can abort it) and
//! [`legacy_only`] (absent under 2026-07-28). Any request may carry a progress token; the
//! methods that report progress send it through [`RequestCtx::progress`].
//!
//! Why the callbacks are called directly instead of through jsonrpsee's own server:
//! `docs/decisions/0003-jsonrpsee-behind-an-http-transport.md`.

mod context;
mod headers;
mod mrtr;
mod prompts;
mod resources;
pub(crate) mod subscriptions;
mod tools;

use std::sync::Arc;

use jsonrpsee::core::server::{MethodCallback, MethodResponse, Methods};
use jsonrpsee::types::error::{INTERNAL_ERROR_CODE, INVALID_PARAMS_CODE};
use jsonrpsee::types::{ErrorObjectOwned, Id, Params};
use jsonrpsee::{ConnectionId, Extensions, RpcModule};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use shared::mcp::{SESSION_VERSIONS, STATELESS_VERSION};

use crate::config::Config;

pub(crate) use context::{Era, LogChannel, NotificationSink, RequestCtx};
pub(crate) use headers::{param_headers, validate as validate_param_headers};
pub(crate) use mrtr::RequestStateKeys;
pub(crate) use resources::FileStore;
pub(crate) use subscriptions::Events;
pub(crate) use tools::CallHint;

/// Shared server state for the methods.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) config: Config,
    pub(crate) resource_url: String,
    pub(crate) files: Option<FileStore>,
    /// Seals and opens the `requestState` of multi round-trip tools.
    pub(crate) request_state: RequestStateKeys,
    /// The change bus and the mock state that changes (PR-27, PR-35).
    pub(crate) events: std::sync::Arc<Events>,
}

pub(crate) fn invalid_params(msg: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(INVALID_PARAMS_CODE, msg.into(), None::<()>)
}

pub(crate) fn internal(msg: &str) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(INTERNAL_ERROR_CODE, msg.to_owned(), None::<()>)
}

/// `Option<Cow<str>>` that borrows from the input when it can: serde's own `Cow` impl (used
/// for a `Cow` inside an `Option`, even with `#[serde(borrow)]`) always copies into a
/// `String`, which cost one allocation per peeked member per request (issue 16 B).
/// `null` is `None`, like the derived `Option`.
pub(crate) fn opt_cow_str<'de, D>(d: D) -> Result<Option<std::borrow::Cow<'de, str>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use std::borrow::Cow;
    struct Str;
    impl<'de> serde::de::Visitor<'de> for Str {
        type Value = Cow<'de, str>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a string")
        }
        fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Cow::Borrowed(v))
        }
        fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Cow::Owned(v.to_owned()))
        }
        fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
            Ok(Cow::Owned(v))
        }
    }
    struct Opt;
    impl<'de> serde::de::Visitor<'de> for Opt {
        type Value = Option<Cow<'de, str>>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a string or null")
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: serde::Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_str(Str).map(Some)
        }
    }
    d.deserialize_option(Opt)
}

/// Parses object params, treating absent params as `{}`.
pub(crate) fn parse<T: DeserializeOwned>(p: &Params<'_>) -> Result<T, ErrorObjectOwned> {
    serde_json::from_str(p.as_str().unwrap_or("{}"))
        .map_err(|e| invalid_params(format!("invalid params: {e}")))
}

fn ctx(ext: &Extensions) -> Result<&RequestCtx, ErrorObjectOwned> {
    ext.get::<RequestCtx>()
        .ok_or_else(|| internal("missing request context"))
}

/// Opaque pagination cursor (PR-38): base64url of `o:<offset>`.
pub(crate) fn page<T: Clone>(
    items: &[T],
    cursor: Option<&str>,
    size: usize,
) -> Result<(Vec<T>, Option<String>), ErrorObjectOwned> {
    let start = match cursor {
        None => 0,
        Some(c) => {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(c)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|s| s.strip_prefix("o:").and_then(|n| n.parse::<usize>().ok()))
                .filter(|n| *n <= items.len())
                .ok_or_else(|| invalid_params("invalid cursor"))?
        }
    };
    let end = (start + size).min(items.len());
    let next = (end < items.len()).then(|| shared::random::b64url(format!("o:{end}").as_bytes()));
    Ok((items[start..end].to_vec(), next))
}

#[derive(serde::Deserialize, Default)]
struct CursorParams {
    cursor: Option<String>,
}

/// Server capabilities for `initialize` / `server/discover` (PR-30).
pub(crate) fn capabilities(modern: bool) -> Value {
    let mut c = json!({
        "tools": {"listChanged": true},
        "resources": {"subscribe": true, "listChanged": false},
        "prompts": {"listChanged": false},
        "completions": {},
    });
    if !modern {
        c["logging"] = json!({});
    }
    c
}

fn server_info() -> Value {
    json!({"name": "http-mcp-mock-server", "title": "OAuth-protected mock MCP server", "version": env!("CARGO_PKG_VERSION")})
}

/// Version negotiation (PR-12): echo a supported legacy version, else our latest legacy one.
pub(crate) fn negotiate(requested: Option<&str>) -> &'static str {
    requested
        .and_then(|r| SESSION_VERSIONS.iter().find(|v| **v == r).copied())
        .unwrap_or(SESSION_VERSIONS[0])
}

pub(crate) const LOG_LEVELS: &[&str] = &[
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
];

/// A `*/list` result: one page of `all` under `key` (PR-38), with `nextCursor` when more
/// follow, and cache hints under 2026-07-28.
fn list(
    c: &RequestCtx,
    p: &Params<'_>,
    st: &State,
    key: &str,
    all: &[Value],
) -> Result<Value, ErrorObjectOwned> {
    let cp: CursorParams = parse(p)?;
    let (items, next) = page(all, cp.cursor.as_deref(), st.config.limits.page_size)?;
    let mut r = json!({ key: items });
    if let Some(n) = next {
        r["nextCursor"] = json!(n);
    }
    Ok(with_ttl(c.finish(r, Some("public")), st))
}

/// Sets the configured `ttlMs` on a result that [`RequestCtx::finish`] gave cache hints
/// (PR-29; `limits.cache_ttl_ms`).
fn with_ttl(mut v: Value, st: &State) -> Value {
    if let Some(t) = v.get_mut("ttlMs") {
        *t = json!(st.config.limits.cache_ttl_ms);
    }
    v
}

/// Builds the module with every MCP method.
pub(crate) fn rpc_module(
    state: Arc<State>,
) -> Result<RpcModule<State>, jsonrpsee::core::RegisterMethodError> {
    let mut m = RpcModule::from_arc(state);
    m.register_async_method("initialize", |_p, st, ext| async move {
        let c = ctx(&ext)?;
        let version = match c.era {
            Era::Legacy(v) => v,
            Era::Modern => SESSION_VERSIONS[0],
        };
        let mut r = json!({
            "protocolVersion": version,
            "capabilities": capabilities(false),
            "serverInfo": server_info(),
        });
        if let Some(i) = &st.config.instructions {
            r["instructions"] = json!(i);
        }
        Ok::<_, ErrorObjectOwned>(r)
    })?;
    m.register_async_method("server/discover", |_p, st, ext| async move {
        let c = ctx(&ext)?;
        let mut supported = vec![STATELESS_VERSION];
        supported.extend_from_slice(SESSION_VERSIONS);
        let mut r = json!({
            "supportedVersions": supported,
            "capabilities": capabilities(true),
            "_meta": {shared::mcp::meta::SERVER_INFO: server_info()},
        });
        if let Some(i) = &st.config.instructions {
            r["instructions"] = json!(i);
        }
        Ok::<_, ErrorObjectOwned>(with_ttl(c.finish(r, Some("public")), &st))
    })?;
    m.register_async_method("ping", |_p, _st, ext| async move {
        let c = ctx(&ext)?;
        Ok::<_, ErrorObjectOwned>(c.finish(json!({}), None))
    })?;
    m.register_async_method("logging/setLevel", |p, _st, ext| async move {
        let c = ctx(&ext)?;
        #[derive(serde::Deserialize)]
        struct L {
            level: String,
        }
        let l: L = parse(&p)?;
        let Some(idx) = LOG_LEVELS.iter().position(|x| *x == l.level) else {
            return Err(invalid_params("invalid log level"));
        };
        if let Some(log) = &c.log {
            log.set_level(idx);
        }
        Ok(json!({}))
    })?;
    m.register_async_method("tools/list", |p, st, ext| async move {
        let all = subscriptions::tool_definitions(&st.events);
        list(ctx(&ext)?, &p, &st, "tools", all)
    })?;
    m.register_async_method("tools/call", |p, st, ext| async move {
        let c = ctx(&ext)?;
        let r = tools::call(&st, c, &p).await?;
        Ok::<_, ErrorObjectOwned>(tool_answer(c, r))
    })?;
    m.register_async_method("resources/list", |p, st, ext| async move {
        let c = ctx(&ext)?;
        list(c, &p, &st, "resources", &resources::list(&st).await)
    })?;
    m.register_async_method("resources/templates/list", |p, st, ext| async move {
        let templates = resources::templates();
        list(ctx(&ext)?, &p, &st, "resourceTemplates", &templates)
    })?;
    m.register_async_method("resources/read", |p, st, ext| async move {
        let c = ctx(&ext)?;
        let r = resources::read(&st, c.modern(), &p).await?;
        Ok::<_, ErrorObjectOwned>(c.finish(r, Some("public")))
    })?;
    // Answered by the transport (an SSE stream, or the session's subscription set); these
    // registrations give them a place in the method table (scope rules, 404 under the wrong
    // era) and answer when no transport took them (a batch item).
    for name in [
        "subscriptions/listen",
        "resources/subscribe",
        "resources/unsubscribe",
    ] {
        m.register_method(name, |_p, _st, _ext| {
            Err::<Value, _>(ErrorObjectOwned::owned(
                jsonrpsee::types::error::INVALID_REQUEST_CODE,
                "this method needs a stream: send it as a single request",
                None::<()>,
            ))
        })?;
    }
    m.register_async_method("prompts/list", |p, st, ext| async move {
        list(ctx(&ext)?, &p, &st, "prompts", &prompts::definitions())
    })?;
    m.register_async_method("prompts/get", |p, _st, ext| async move {
        let c = ctx(&ext)?;
        let r = prompts::get(&p)?;
        Ok::<_, ErrorObjectOwned>(c.finish(r, None))
    })?;
    m.register_async_method("completion/complete", |p, st, ext| async move {
        let c = ctx(&ext)?;
        let r = prompts::complete(&st, &p).await?;
        Ok::<_, ErrorObjectOwned>(c.finish(r, None))
    })?;
    Ok(m)
}

/// The answer of a `tools/call`, logged to a legacy session's log channel.
fn tool_answer(c: &RequestCtx, r: tools::ToolOut) -> tools::ToolResult {
    if let Some(log) = &c.log {
        log.log(
            "info",
            "tools",
            || json!({"event": "tools/call", "error": r.is_error()}),
        );
    }
    r.into_result(c)
}

/// The synchronous twin of `tools/call` for the tools that never wait ([`sync_tool`]), in a
/// module of its own (the method table stays the one of [`rpc_module`]): jsonrpsee calls a
/// synchronous method with borrowed params and without boxing a future or cloning the
/// extensions, which the async registration does per call (issue 16 B).
pub(crate) fn sync_tool_module(
    state: Arc<State>,
) -> Result<RpcModule<State>, jsonrpsee::core::RegisterMethodError> {
    let mut m = RpcModule::from_arc(state);
    m.register_method("tools/call", |p, st, ext| {
        let c = ctx(ext)?;
        let r = tools::call_sync(st, c, &p)?;
        Ok::<_, ErrorObjectOwned>(tool_answer(c, r))
    })?;
    Ok(m)
}

/// Whether `tools/call` of `tool` runs synchronously (see [`sync_tool_module`]).
pub(crate) fn sync_tool(tool: Option<&str>) -> bool {
    tool.is_some_and(tools::is_sync)
}

/// Whether a call runs long enough to get its own task, where `notifications/cancelled` (and
/// a closed response stream) can abort it (PR-40, TR-13). Everything else runs inline.
pub(crate) fn runs_long(method: &str, tool: Option<&str>) -> bool {
    method == "tools/call" && tool.is_some_and(tools::runs_long)
}

/// The method whose scope rule also applies to `method`, beyond its own: a completion reveals
/// what the completed thing guards, so `completion/complete` also needs the rule of
/// `prompts/get` for a `ref/prompt` and of `resources/read` for anything else (a
/// `ref/resource` lists file names; an unreadable `ref` fails closed). Issue 11 item 9.
pub(crate) fn also_requires(method: &str, reference: Option<&str>) -> Option<&'static str> {
    if method != "completion/complete" {
        return None;
    }
    Some(match reference {
        Some("ref/prompt") => "prompts/get",
        _ => "resources/read",
    })
}

/// Methods that do not exist under 2026-07-28 (checklist §9.1).
pub(crate) fn legacy_only(method: &str) -> bool {
    matches!(
        method,
        "initialize"
            | "ping"
            | "logging/setLevel"
            | "resources/subscribe"
            | "resources/unsubscribe"
    )
}

/// Runs a registered method with the given extensions. `None`: no such method. A
/// synchronous method gets the params borrowed; an async one needs them owned (`'static`).
pub(crate) async fn dispatch(
    methods: &Methods,
    id: Id<'static>,
    method: &str,
    params: Option<&str>,
    ext: Extensions,
) -> Option<MethodResponse> {
    match methods.method(method)? {
        MethodCallback::Sync(cb) => Some(cb(id, Params::new(params), usize::MAX, ext)),
        MethodCallback::Async(cb) => {
            let params = Params::new(params).into_owned();
            Some(cb(id, params, ConnectionId(0), usize::MAX, ext).await)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pr38_cursor_pagination_is_opaque_and_validated() {
        let items: Vec<u32> = (0..5).collect();
        let (p1, c1) = page(&items, None, 2).unwrap();
        assert_eq!(p1, vec![0, 1]);
        let (p2, c2) = page(&items, c1.as_deref(), 2).unwrap();
        assert_eq!(p2, vec![2, 3]);
        let (p3, c3) = page(&items, c2.as_deref(), 2).unwrap();
        assert_eq!(p3, vec![4]);
        assert!(c3.is_none());
        assert_eq!(
            page(&items, Some("garbage"), 2).unwrap_err().code(),
            INVALID_PARAMS_CODE
        );
    }

    fn test_state() -> Arc<State> {
        Arc::new(State {
            config: Config::default(),
            resource_url: "http://127.0.0.1:3003/mcp".to_owned(),
            files: None,
            request_state: RequestStateKeys::new(&Default::default(), "http://127.0.0.1:3003/mcp"),
            events: Events::new(4, 1),
        })
    }

    /// Issue 16 B: the synchronous `tools/call` (borrowed params, no boxed future) answers
    /// byte for byte like the registered async method, results and errors alike (PR-32:
    /// argument errors are tool errors; PR-23: `resultType` under 2026-07-28).
    #[tokio::test]
    async fn sync_tools_call_answers_exactly_like_the_async_method_pr32() {
        let state = test_state();
        let all: Methods = rpc_module(state.clone()).unwrap().into();
        let sync: Methods = sync_tool_module(state).unwrap().into();
        let auth = Arc::new(crate::auth::AuthContext {
            subject: "alice".to_owned(),
            client_id: "c1".to_owned(),
            scopes: shared::scope::ScopeSet::parse("mcp:tools"),
            expires_at: u64::MAX,
        });
        let calls = [
            r#"{"name":"echo","arguments":{"message":"h\u00e9llo \"q\""}}"#,
            r#"{"name":"echo","arguments":{}}"#,
            r#"{"name":"echo"}"#,
            r#"{"name":"add","arguments":{"a":1.5,"b":2}}"#,
            r#"{"name":"whoami","arguments":{}}"#,
            r#"{"name":"get_weather","arguments":{"city":"Oslo"}}"#,
            r#"{"name":"always_fails"}"#,
            r#"{"name":"echo","arguments":{"message":"x"},"requestState":"abc"}"#,
            r#"{"name":"echo","arguments":{"message":"x"},"requestState":null}"#,
            r#"{"name":"ech\u006f","arguments":{"message":"escaped name"}}"#,
            r#"{"arguments":{"message":"a"},"name":"add","_meta":{"progressToken":1}}"#,
            r#"{"name":"echo","arguments":{"message":"dup"},"name":"add"}"#,
            r#"{"name":"echo","arguments":"not an object"}"#,
            r#"{"name":"no_such_tool"}"#,
            r#"{"arguments":{}}"#,
            r#"[1,2]"#,
        ];
        // What the transport's peek reads (`transport::message::ParamsPeek`'s members).
        #[derive(serde::Deserialize)]
        struct Peek<'a> {
            #[serde(default, borrow, deserialize_with = "opt_cow_str")]
            name: Option<std::borrow::Cow<'a, str>>,
            #[serde(default, borrow)]
            arguments: Option<&'a serde_json::value::RawValue>,
            #[serde(rename = "requestState", default, borrow)]
            request_state: Option<&'a serde_json::value::RawValue>,
        }
        for era in [Era::Modern, Era::Legacy("2025-11-25")] {
            for params in calls {
                let hint = serde_json::from_str::<Peek<'_>>(params).ok().and_then(|p| {
                    CallHint::new(params, p.name.as_ref(), p.arguments, p.request_state)
                });
                let mut answers = Vec::new();
                // The async method; the sync one parsing the params; the sync one with the hint.
                for (methods, call) in [(&all, None), (&sync, None), (&sync, hint)] {
                    let mut ext = Extensions::new();
                    ext.insert(RequestCtx {
                        auth: auth.clone(),
                        era,
                        progress: None,
                        log: None,
                        call,
                    });
                    let r = dispatch(methods, Id::Number(7), "tools/call", Some(params), ext)
                        .await
                        .unwrap();
                    answers.push((r.as_error_code(), r.as_ref().to_owned()));
                }
                assert_eq!(answers[0], answers[1], "{era:?} {params}");
                assert_eq!(answers[0], answers[2], "{era:?} {params} (hint)");
            }
        }
        // The long-running and multi round-trip tools keep the async path.
        assert!(sync_tool(Some("echo")) && sync_tool(Some("get_weather")));
        assert!(!sync_tool(Some("slow_task")) && !sync_tool(Some("confirm_action")));
        assert!(!sync_tool(None));
        // Routed there anyway, a waiting tool is an internal error, not a hang or a panic.
        let mut ext = Extensions::new();
        ext.insert(RequestCtx {
            auth,
            era: Era::Modern,
            progress: None,
            log: None,
            call: None,
        });
        let r = dispatch(
            &sync,
            Id::Number(1),
            "tools/call",
            Some(r#"{"name":"slow_task","arguments":{"steps":1}}"#),
            ext,
        )
        .await
        .unwrap();
        assert_eq!(r.as_error_code(), Some(INTERNAL_ERROR_CODE));
    }

    #[test]
    fn every_registered_method_has_a_default_scope_rule_rs12() {
        let state = test_state();
        let module = rpc_module(state).unwrap();
        let rules = crate::auth::ScopeRules::from_map(&crate::config::default_scope_rules());
        let names: Vec<&str> = module.method_names().collect();
        assert!(names.len() >= 12, "{names:?}");
        let missing: Vec<&str> = names
            .into_iter()
            .filter(|m| rules.required(m).is_none())
            .collect();
        assert!(
            missing.is_empty(),
            "methods without a scope rule: {missing:?}"
        );
    }

    #[test]
    fn pr12_negotiation_echoes_supported_else_latest() {
        assert_eq!(negotiate(Some("2025-06-18")), "2025-06-18");
        assert_eq!(negotiate(Some("2024-11-05")), "2024-11-05");
        assert_eq!(negotiate(Some("1999-01-01")), "2025-11-25");
        assert_eq!(negotiate(None), "2025-11-25");
    }
}
