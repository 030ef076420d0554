//! Multi round-trip requests (MRTR, 2026-07-28; checklist PR-26, PR-23): tools that need
//! input from the user or the client's model answer `tools/call` with an
//! `InputRequiredResult` (`resultType: "input_required"`, `inputRequests`, `requestState`)
//! instead of sending JSON-RPC requests; the client retries the same call under a new id with
//! `inputResponses` and the `requestState` echoed unchanged.
//!
//! The tools: `confirm_action` (an elicitation: a yes/no confirmation), `survey` (a form
//! elicitation per round, the answers so far carried in the state), `summarize` (sampling)
//! and `client_roots` (roots). Each asks only for what the client declared in
//! `_meta["io.modelcontextprotocol/clientCapabilities"]` (else -32021).
//!
//! The server keeps nothing between rounds: [`RequestStateKeys`] seals the state with
//! HMAC-SHA256 and verifies it when it comes back, so any instance holding the key continues
//! a request another instance started. What the MAC binds and how keys rotate:
//! `docs/decisions/0007-mrtr-request-state.md`. A refused state gets one frozen error
//! (-32602 "Invalid or expired requestState"); the reason goes to the log only.

use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonrpsee::types::ErrorObjectOwned;
use jsonrpsee::types::error::INVALID_PARAMS_CODE;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use shared::mcp::error_code::MISSING_CAPABILITY;
use shared::mcp::{meta, result_type};

use super::tools::ToolOut;
use super::{RequestCtx, State, invalid_params};
use crate::auth::AuthContext;
use crate::config::RequestStateSettings;

/// The format version, first field of every sealed state.
const VERSION: &str = "v1";
/// Domain separation for the MAC input.
const MAC_LABEL: &[u8] = b"mcp-request-state/";
/// Clock skew tolerated on `iat`, seconds.
const FUTURE_SKEW: u64 = 60;
/// The one message a refused state gets (the reason is logged, never sent).
const REFUSED: &str = "Invalid or expired requestState";

/// The tools of this module.
const TOOLS: &[&str] = &["confirm_action", "survey", "summarize", "client_roots"];

/// Whether `name` is a multi round-trip tool.
pub(crate) fn handles(name: &str) -> bool {
    TOOLS.contains(&name)
}

/// The tool definitions (appended to the tool list).
pub(crate) fn definitions() -> Vec<Value> {
    vec![
        json!({
            "name": "confirm_action",
            "title": "Confirm an action",
            "description": "Asks the user to confirm an action (elicitation through a multi round-trip request), then reports the answer.",
            "inputSchema": {"type": "object", "properties": {"action": {"type": "string"}}, "required": ["action"]},
        }),
        json!({
            "name": "survey",
            "title": "Survey",
            "description": "Asks the user `questions` questions, one form per round (elicitation), and returns the answers.",
            "inputSchema": {"type": "object", "properties": {"questions": {"type": "integer", "minimum": 1, "maximum": 5}}},
            "outputSchema": {"type": "object", "properties": {"answers": {"type": "array", "items": {"type": "string"}}}, "required": ["answers"]},
        }),
        json!({
            "name": "summarize",
            "title": "Summarize",
            "description": "Asks the client's model to summarize a text (sampling through a multi round-trip request).",
            "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
        }),
        json!({
            "name": "client_roots",
            "title": "Client roots",
            "description": "Asks the client for its roots (a multi round-trip request) and lists them.",
            "inputSchema": {"type": "object", "properties": {}},
            "outputSchema": {"type": "object", "properties": {"roots": {"type": "array", "items": {"type": "string"}}}, "required": ["roots"]},
        }),
    ]
}

/// The `requestState` key ring: the first key seals, every key verifies.
pub(crate) struct RequestStateKeys {
    keys: Vec<(String, hmac::Key)>,
    ttl_secs: u64,
    max_rounds: u32,
    audience: String,
}

impl std::fmt::Debug for RequestStateKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestStateKeys")
            .field("ids", &self.keys.iter().map(|k| &k.0).collect::<Vec<_>>())
            .field("ttl_secs", &self.ttl_secs)
            .field("max_rounds", &self.max_rounds)
            .finish_non_exhaustive()
    }
}

/// What one state is bound to, besides the key: the tool, a digest of its arguments and a
/// digest of the caller (subject and client).
#[derive(Debug)]
struct Binding<'a> {
    tool: &'a str,
    args: String,
    principal: String,
}

impl<'a> Binding<'a> {
    fn new(tool: &'a str, arguments: Option<&RawValue>, auth: &AuthContext) -> Self {
        let canonical = arguments
            .and_then(|a| serde_json::from_str::<Value>(a.get()).ok())
            .filter(|v| !v.is_null())
            .map_or_else(|| "{}".to_owned(), |v| canonical(&v).to_string());
        let args = digest(canonical.as_bytes());
        let principal = digest(format!("{}\0{}", auth.subject, auth.client_id).as_bytes());
        Self {
            tool,
            args,
            principal,
        }
    }
}

/// `v` with every object's keys in sorted order, whether or not serde_json's
/// `preserve_order` feature is on (another crate of the workspace turns it on), so the
/// same arguments in any key order give one digest. Depth is bounded by serde_json's parser.
fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(&String, &Value)> = m.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), canonical(v)))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

fn digest(data: &[u8]) -> String {
    B64.encode(&shared::random::sha256(data)[..16])
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn mac_input(kid: &str, payload: &str) -> Vec<u8> {
    let mut m = Vec::with_capacity(MAC_LABEL.len() + VERSION.len() + kid.len() + payload.len() + 2);
    m.extend_from_slice(MAC_LABEL);
    m.extend_from_slice(VERSION.as_bytes());
    m.push(b'.');
    m.extend_from_slice(kid.as_bytes());
    m.push(b'.');
    m.extend_from_slice(payload.as_bytes());
    m
}

/// The frozen refusal; `reason` goes to the log only.
fn refuse(tool: &str, reason: &'static str) -> ErrorObjectOwned {
    tracing::warn!(
        mcp.tool = tool.chars().take(64).collect::<String>(),
        reason,
        "requestState refused"
    );
    ErrorObjectOwned::owned(
        INVALID_PARAMS_CODE,
        REFUSED,
        Some(json!({"reason": "invalid_request_state"})),
    )
}

impl RequestStateKeys {
    /// The ring from the settings (a random process-local key when none is configured);
    /// `audience` (the resource URL) is bound into every state.
    pub(crate) fn new(s: &RequestStateSettings, audience: &str) -> Self {
        let keys = if s.keys.is_empty() {
            let id = format!("local-{}", &shared::random::token()[..8]);
            let key = hmac::Key::new(hmac::HMAC_SHA256, &shared::random::bytes::<32>());
            vec![(id, key)]
        } else {
            s.keys
                .iter()
                .map(|k| {
                    let key = hmac::Key::new(hmac::HMAC_SHA256, k.secret.secret().as_bytes());
                    (k.id.clone(), key)
                })
                .collect()
        };
        Self {
            keys,
            ttl_secs: s.ttl_secs,
            max_rounds: s.max_rounds,
            audience: audience.to_owned(),
        }
    }

    /// Seals `inner` for round `round` of the call `b` (at time `now`).
    fn seal(&self, b: &Binding<'_>, round: u32, inner: &Value, now: u64) -> String {
        let claims = json!({
            "m": "tools/call",
            "t": b.tool,
            "a": b.args,
            "p": b.principal,
            "aud": self.audience,
            "iat": now,
            "exp": now.saturating_add(self.ttl_secs),
            "r": round,
            "s": inner,
        });
        let payload = B64.encode(claims.to_string());
        let (kid, key) = &self.keys[0];
        let tag = hmac::sign(key, &mac_input(kid, &payload));
        format!("{VERSION}.{kid}.{payload}.{}", B64.encode(tag.as_ref()))
    }

    /// Verifies a state for the call `b` (at time `now`): its round and inner state.
    fn open(
        &self,
        b: &Binding<'_>,
        wire: &Value,
        now: u64,
    ) -> Result<(u32, Value), ErrorObjectOwned> {
        let fail = |reason| refuse(b.tool, reason);
        let wire = wire.as_str().ok_or_else(|| fail("not a string"))?;
        let mut parts = wire.split('.');
        let (Some(version), Some(kid), Some(payload), Some(tag), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(fail("malformed"));
        };
        if version != VERSION {
            return Err(fail("unknown version"));
        }
        let (_, key) = self
            .keys
            .iter()
            .find(|(id, _)| id == kid)
            .ok_or_else(|| fail("unknown key id"))?;
        let tag = B64.decode(tag).map_err(|_| fail("malformed tag"))?;
        hmac::verify(key, &mac_input(kid, payload), &tag).map_err(|_| fail("bad MAC"))?;
        let claims: Map<String, Value> = B64
            .decode(payload)
            .ok()
            .and_then(|p| serde_json::from_slice(&p).ok())
            .ok_or_else(|| fail("malformed claims"))?;
        let text = |k: &str| claims.get(k).and_then(Value::as_str);
        let num = |k: &str| claims.get(k).and_then(Value::as_u64);
        if text("m") != Some("tools/call") || text("t") != Some(b.tool) {
            return Err(fail("another tool"));
        }
        if text("a") != Some(b.args.as_str()) {
            return Err(fail("other arguments"));
        }
        if text("p") != Some(b.principal.as_str()) {
            return Err(fail("another caller"));
        }
        if text("aud") != Some(self.audience.as_str()) {
            return Err(fail("another server"));
        }
        match (num("iat"), num("exp")) {
            (Some(iat), Some(exp)) if iat <= now.saturating_add(FUTURE_SKEW) && now < exp => {}
            _ => return Err(fail("expired")),
        }
        let round = num("r")
            .and_then(|r| u32::try_from(r).ok())
            .filter(|r| (1..=self.max_rounds).contains(r))
            .ok_or_else(|| fail("round out of range"))?;
        Ok((round, claims.get("s").cloned().unwrap_or(Value::Null)))
    }
}

/// The refusal for a `requestState` sent to a tool that never issues one.
pub(crate) fn foreign_state(tool: &str) -> ErrorObjectOwned {
    refuse(tool, "state sent to a tool without rounds")
}

#[derive(Deserialize)]
struct MrtrParams<'a> {
    #[serde(default, borrow)]
    arguments: Option<&'a RawValue>,
    #[serde(rename = "inputResponses", default)]
    input_responses: Option<Map<String, Value>>,
    #[serde(rename = "requestState", default)]
    request_state: Option<Value>,
    #[serde(rename = "_meta", default)]
    meta: Option<Map<String, Value>>,
}

/// One round's view of the call.
struct Round<'a> {
    keys: &'a RequestStateKeys,
    binding: Binding<'a>,
    /// The round the incoming state was sealed for (0: the first call).
    round: u32,
    /// The inner state (`Null` on the first call).
    state: Value,
    responses: Map<String, Value>,
}

impl Round<'_> {
    /// An `InputRequiredResult` asking `requests`, carrying `state` for the next round.
    fn ask(&self, requests: Value, state: &Value) -> Result<ToolOut, ErrorObjectOwned> {
        let next = self.round + 1;
        if next > self.keys.max_rounds {
            return Err(invalid_params("too many input rounds for this request"));
        }
        let sealed = self.keys.seal(&self.binding, next, state, now_unix());
        Ok(ToolOut::InputRequired(json!({
            "resultType": result_type::INPUT_REQUIRED,
            "inputRequests": requests,
            "requestState": sealed,
        })))
    }

    /// The client's answer under `key`, or -32602.
    fn response(&self, key: &str) -> Result<&Value, ErrorObjectOwned> {
        self.responses
            .get(key)
            .ok_or_else(|| invalid_params(format!("inputResponses.{key} is missing")))
    }
}

fn elicit(message: &str, properties: Value, required: &[&str]) -> Value {
    json!({"method": "elicitation/create", "params": {
        "mode": "form",
        "message": message,
        "requestedSchema": {"type": "object", "properties": properties, "required": required},
    }})
}

fn text(t: impl Into<String>) -> ToolOut {
    ToolOut::Text {
        text: t.into(),
        is_error: false,
    }
}

fn tool_error(t: impl Into<String>) -> ToolOut {
    ToolOut::Text {
        text: t.into(),
        is_error: true,
    }
}

/// Checks that the client declared `capability` (else -32021 with `requiredCapabilities`).
fn require(meta: Option<&Map<String, Value>>, capability: &str) -> Result<(), ErrorObjectOwned> {
    let declared = meta
        .and_then(|m| m.get(meta::CLIENT_CAPABILITIES))
        .and_then(|c| c.get(capability))
        .is_some_and(|c| !c.is_null());
    if declared {
        return Ok(());
    }
    Err(ErrorObjectOwned::owned(
        MISSING_CAPABILITY,
        format!("Client did not declare the {capability} capability this tool needs"),
        Some(json!({"requiredCapabilities": {capability: {}}})),
    ))
}

/// `tools/call` of a multi round-trip tool (`name` is one of [`handles`]).
pub(crate) async fn call(
    st: &State,
    ctx: &RequestCtx,
    name: &str,
    raw: &str,
) -> Result<ToolOut, ErrorObjectOwned> {
    let p: MrtrParams<'_> =
        serde_json::from_str(raw).map_err(|e| invalid_params(format!("invalid params: {e}")))?;
    if !ctx.modern() {
        return Ok(tool_error(
            "this tool asks for input through multi round-trip requests, which need protocol 2026-07-28",
        ));
    }
    let keys = &st.request_state;
    let binding = Binding::new(name, p.arguments, &ctx.auth);
    let (round, state) = match &p.request_state {
        // An explicit null counts as absent: stripping the member is in any client's power.
        None | Some(Value::Null) => (0, Value::Null),
        Some(wire) => keys.open(&binding, wire, now_unix())?,
    };
    let r = Round {
        keys,
        binding,
        round,
        state,
        responses: p.input_responses.unwrap_or_default(),
    };
    let args: Map<String, Value> = p
        .arguments
        .and_then(|a| serde_json::from_str(a.get()).ok())
        .unwrap_or_default();
    let meta = p.meta.as_ref();
    match name {
        "confirm_action" => confirm_action(&r, &args, meta),
        "survey" => survey(&r, &args, meta),
        "summarize" => summarize(&r, &args, meta),
        _ => client_roots(&r, meta),
    }
}

fn confirm_action(
    r: &Round<'_>,
    args: &Map<String, Value>,
    meta: Option<&Map<String, Value>>,
) -> Result<ToolOut, ErrorObjectOwned> {
    let Some(action) = args.get("action").and_then(Value::as_str) else {
        return Ok(tool_error("argument `action` (string) is required"));
    };
    require(meta, "elicitation")?;
    if r.round == 0 {
        let ask = elicit(
            &format!("Confirm: {action}?"),
            json!({"confirm": {"type": "boolean", "title": "Confirm", "description": format!("Run `{action}`")}}),
            &["confirm"],
        );
        return r.ask(json!({"confirm": ask}), &json!({"step": "confirm"}));
    }
    let answer = r.response("confirm")?;
    Ok(match answer.get("action").and_then(Value::as_str) {
        Some("accept") if answer["content"]["confirm"] == json!(true) => {
            text(format!("confirmed: {action}"))
        }
        Some("accept" | "decline") => text(format!("not confirmed: {action}")),
        Some("cancel") => text(format!("cancelled: {action}")),
        _ => {
            return Err(invalid_params(
                "inputResponses.confirm is not an elicitation result",
            ));
        }
    })
}

fn survey(
    r: &Round<'_>,
    args: &Map<String, Value>,
    meta: Option<&Map<String, Value>>,
) -> Result<ToolOut, ErrorObjectOwned> {
    let n = args.get("questions").map_or(Some(3), Value::as_u64);
    let Some(n) = n.filter(|n| (1..=5).contains(n)) else {
        return Ok(tool_error(
            "argument `questions` must be an integer in 1..=5",
        ));
    };
    require(meta, "elicitation")?;
    let mut answers: Vec<Value> = r.state["answers"].as_array().cloned().unwrap_or_default();
    if r.round > 0 {
        let key = format!("q{}", r.round);
        let answer = r.response(&key)?;
        match answer.get("action").and_then(Value::as_str) {
            Some("accept") => match answer["content"]["answer"].as_str() {
                Some(a) => answers.push(json!(a)),
                None => return Err(invalid_params(format!("inputResponses.{key}: no answer"))),
            },
            Some("decline" | "cancel") => {
                return Ok(text(format!(
                    "survey ended by the user after {} answer(s)",
                    answers.len()
                )));
            }
            _ => {
                return Err(invalid_params(format!(
                    "inputResponses.{key} is not an elicitation result"
                )));
            }
        }
    }
    if answers.len() as u64 >= n {
        let v = json!({"answers": answers});
        return Ok(ToolOut::Json(json!({
            "content": [{"type": "text", "text": v.to_string()}],
            "structuredContent": v,
        })));
    }
    let next = r.round + 1;
    let ask = elicit(
        &format!("Question {next} of {n}"),
        json!({"answer": {"type": "string", "title": format!("Answer {next}")}}),
        &["answer"],
    );
    r.ask(
        json!({format!("q{next}"): ask}),
        &json!({"answers": answers}),
    )
}

fn summarize(
    r: &Round<'_>,
    args: &Map<String, Value>,
    meta: Option<&Map<String, Value>>,
) -> Result<ToolOut, ErrorObjectOwned> {
    let Some(input) = args.get("text").and_then(Value::as_str) else {
        return Ok(tool_error("argument `text` (string) is required"));
    };
    require(meta, "sampling")?;
    if r.round == 0 {
        let ask = json!({"method": "sampling/createMessage", "params": {
            "messages": [{"role": "user", "content": {"type": "text", "text": format!("Summarize in one sentence:\n{input}")}}],
            "maxTokens": 200,
        }});
        return r.ask(json!({"summary": ask}), &json!({"step": "summary"}));
    }
    let answer = r.response("summary")?;
    // `content` is one block or (2025-11-25+) a list of blocks.
    let content = match &answer["content"] {
        Value::Array(blocks) => blocks.first().cloned().unwrap_or(Value::Null),
        c => c.clone(),
    };
    match content.get("text").and_then(Value::as_str) {
        Some(t) => Ok(text(format!("summary: {t}"))),
        None => Err(invalid_params("inputResponses.summary has no text content")),
    }
}

fn client_roots(
    r: &Round<'_>,
    meta: Option<&Map<String, Value>>,
) -> Result<ToolOut, ErrorObjectOwned> {
    require(meta, "roots")?;
    if r.round == 0 {
        return r.ask(
            json!({"roots": {"method": "roots/list"}}),
            &json!({"step": "roots"}),
        );
    }
    let Some(roots) = r.response("roots")?["roots"].as_array() else {
        return Err(invalid_params(
            "inputResponses.roots is not a roots/list result",
        ));
    };
    let uris: Vec<Cow<'_, str>> = roots
        .iter()
        .filter_map(|root| root.get("uri").and_then(Value::as_str).map(Cow::Borrowed))
        .collect();
    let v = json!({"roots": uris});
    Ok(ToolOut::Json(json!({
        "content": [{"type": "text", "text": v.to_string()}],
        "structuredContent": v,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{RequestStateKey, RequestStateSecret};

    fn settings(ids: &[(&str, &str)]) -> RequestStateSettings {
        RequestStateSettings {
            keys: ids
                .iter()
                .map(|(id, s)| RequestStateKey {
                    id: (*id).into(),
                    secret: RequestStateSecret::new(s.repeat(32)),
                })
                .collect(),
            ..RequestStateSettings::default()
        }
    }

    fn auth(sub: &str) -> AuthContext {
        AuthContext {
            subject: sub.into(),
            client_id: "c1".into(),
            scopes: shared::scope::ScopeSet::default(),
            expires_at: 0,
        }
    }

    const AUD: &str = "http://127.0.0.1:1/mcp";

    fn args(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).unwrap()
    }

    #[test]
    fn a_sealed_state_opens_with_any_ring_key_and_only_for_its_call_pr26() {
        let alice = auth("alice");
        let a = args(r#"{"action":"x","b":{"c":1,"d":[{"e":1,"f":2}]}}"#);
        let same_args_reordered = args(r#"{"b":{"d":[{"f":2,"e":1}],"c":1},"action":"x"}"#);
        let old = RequestStateKeys::new(&settings(&[("old", "a")]), AUD);
        let rotated = RequestStateKeys::new(&settings(&[("new", "b"), ("old", "a")]), AUD);
        let b = Binding::new("confirm_action", Some(&a), &alice);
        let sealed = json!(old.seal(&b, 1, &json!({"k": 1}), 1000));
        // Rotation: a state sealed with the old key opens where the old key only verifies.
        let b2 = Binding::new("confirm_action", Some(&same_args_reordered), &alice);
        assert_eq!(
            rotated.open(&b2, &sealed, 1001).unwrap(),
            (1, json!({"k": 1}))
        );
        let fresh = rotated.seal(&b, 1, &json!(null), 1000);
        assert!(fresh.starts_with("v1.new."), "{fresh}");
        // Refused: another tool, other arguments, another caller, another server, expired,
        // a key no longer in the ring, a tampered payload, a non-string.
        let code = |r: Result<(u32, Value), ErrorObjectOwned>| {
            let e = r.unwrap_err();
            assert_eq!(e.message(), REFUSED);
            e.code()
        };
        let other_tool = Binding::new("survey", Some(&a), &alice);
        assert_eq!(
            code(old.open(&other_tool, &sealed, 1001)),
            INVALID_PARAMS_CODE
        );
        let other_args = Binding::new("confirm_action", Some(&args(r#"{"action":"y"}"#)), &alice);
        code(old.open(&other_args, &sealed, 1001));
        let bob = auth("bob");
        code(old.open(
            &Binding::new("confirm_action", Some(&a), &bob),
            &sealed,
            1001,
        ));
        let elsewhere = RequestStateKeys::new(&settings(&[("old", "a")]), "http://other/mcp");
        code(elsewhere.open(&b, &sealed, 1001));
        code(old.open(&b, &sealed, 1000 + 600));
        let new_only = RequestStateKeys::new(&settings(&[("new", "b")]), AUD);
        code(new_only.open(&b, &sealed, 1001));
        let foreign_same_id = RequestStateKeys::new(&settings(&[("old", "z")]), AUD);
        code(foreign_same_id.open(&b, &sealed, 1001));
        let s = sealed.as_str().unwrap();
        let mut parts: Vec<String> = s.split('.').map(str::to_owned).collect();
        let mut claims: Value = serde_json::from_slice(&B64.decode(&parts[2]).unwrap()).unwrap();
        claims["r"] = json!(1);
        claims["t"] = json!("survey");
        parts[2] = B64.encode(claims.to_string());
        code(old.open(&other_tool, &json!(parts.join(".")), 1001));
        code(old.open(&b, &json!(42), 1001));
        code(old.open(&b, &json!("v1.old.x"), 1001));
    }

    #[test]
    fn a_state_past_max_rounds_is_refused_pr26() {
        let mut s = settings(&[("k", "a")]);
        s.max_rounds = 2;
        let keys = RequestStateKeys::new(&s, AUD);
        let alice = auth("alice");
        let b = Binding::new("survey", None, &alice);
        let third = json!(keys.seal(&b, 3, &json!(null), 1000));
        assert!(keys.open(&b, &third, 1001).is_err());
        let second = json!(keys.seal(&b, 2, &json!(null), 1000));
        assert!(keys.open(&b, &second, 1001).is_ok());
    }

    #[test]
    fn an_unconfigured_ring_uses_a_process_local_key() {
        let s = RequestStateSettings::default();
        let one = RequestStateKeys::new(&s, AUD);
        let two = RequestStateKeys::new(&s, AUD);
        let alice = auth("alice");
        let b = Binding::new("survey", None, &alice);
        let sealed = json!(one.seal(&b, 1, &json!(null), 1000));
        assert!(one.open(&b, &sealed, 1001).is_ok());
        assert!(two.open(&b, &sealed, 1001).is_err());
        assert!(!format!("{one:?}").contains("Key {"));
    }
}
