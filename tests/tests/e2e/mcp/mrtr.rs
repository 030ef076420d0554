//! Multi round-trip requests on the server (2026-07-28, PR-26, PR-23): the MRTR tools answer
//! with `InputRequiredResult`, a retry under a new id with `inputResponses` and the sealed
//! `requestState` completes them, and a tampered, foreign, replayed or exhausted state is
//! refused with -32602. Two servers sharing the key continue each other's requests.

use serde_json::{Value, json};
use tests::mcp::{LEGACY, MODERN, McpRequest, jsonrpc};
use tests::mcp_fixture::{ALL, McpFixture, mcp_fixture_with, mcp_server_for};

const SECRET_A: &str = "request-state-secret-a-0123456789abcdef";
const SECRET_B: &str = "request-state-secret-b-0123456789abcdef";

fn key(id: &str, secret: &str) -> mcp_server::config::RequestStateKey {
    mcp_server::config::RequestStateKey {
        id: id.into(),
        secret: mcp_server::config::RequestStateSecret::new(secret.into()),
    }
}

fn caps(c: Value) -> Value {
    json!({"io.modelcontextprotocol/clientCapabilities": c})
}

/// A 2026-07-28 `tools/call` (id `id`) to `url` declaring elicitation, sampling and roots;
/// `extra` is merged into the params (`inputResponses`, `requestState`).
async fn call_at(url: &str, t: &str, id: u64, name: &str, args: Value, extra: Value) -> Value {
    let mut params = json!({"name": name, "arguments": args});
    if let (Some(p), Some(e)) = (params.as_object_mut(), extra.as_object()) {
        p.extend(e.clone());
    }
    let mut meta = jsonrpc::modern_meta();
    meta["io.modelcontextprotocol/clientCapabilities"] =
        json!({"elicitation": {}, "sampling": {}, "roots": {}});
    params["_meta"] = meta;
    let r = McpRequest::post(&reqwest::Client::new(), url)
        .token(t)
        .version(MODERN)
        .header("mcp-method", "tools/call")
        .header("mcp-name", name)
        .id(id)
        .rpc("tools/call", params)
        .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["id"], id, "{v}");
    v
}

async fn call(s: &McpFixture, t: &str, id: u64, name: &str, args: Value, extra: Value) -> Value {
    call_at(&s.url, t, id, name, args, extra).await
}

fn state_of(v: &Value) -> String {
    assert_eq!(v["result"]["resultType"], "input_required", "{v}");
    v["result"]["requestState"].as_str().unwrap().to_owned()
}

fn assert_refused(v: &Value) {
    assert_eq!(v["error"]["code"], -32602, "{v}");
    assert_eq!(
        v["error"]["message"], "Invalid or expired requestState",
        "{v}"
    );
    assert_eq!(v["error"]["data"]["reason"], "invalid_request_state", "{v}");
}

fn accept(content: Value) -> Value {
    json!({"action": "accept", "content": content})
}

#[tokio::test]
async fn pr26_pr23_confirm_action_asks_then_completes_with_the_echoed_state() {
    let s = mcp_fixture_with(|_| {}).await;
    let t = s.token(ALL);
    let args = json!({"action": "deploy"});
    let first = call(&s, &t, 1, "confirm_action", args.clone(), json!({})).await;
    let ask = &first["result"]["inputRequests"]["confirm"];
    assert_eq!(ask["method"], "elicitation/create", "{first}");
    assert_eq!(ask["params"]["mode"], "form");
    assert_eq!(
        ask["params"]["requestedSchema"]["properties"]["confirm"]["type"],
        "boolean"
    );
    let state = state_of(&first);
    let retry = |answer: Value, id| {
        let extra = json!({"inputResponses": {"confirm": answer}, "requestState": state});
        call(&s, &t, id, "confirm_action", args.clone(), extra)
    };
    let done = retry(accept(json!({"confirm": true})), 2).await;
    assert_eq!(done["result"]["resultType"], "complete", "{done}");
    assert_eq!(done["result"]["content"][0]["text"], "confirmed: deploy");
    // The state is not single-use (the server keeps nothing), but the answer decides.
    let no = retry(json!({"action": "decline"}), 3).await;
    assert_eq!(no["result"]["content"][0]["text"], "not confirmed: deploy");
    let missing = call(
        &s,
        &t,
        4,
        "confirm_action",
        args.clone(),
        json!({"requestState": state}),
    )
    .await;
    assert_eq!(missing["error"]["code"], -32602, "{missing}");
}

#[tokio::test]
async fn pr26_survey_carries_the_answers_across_rounds_and_sampling_and_roots_complete() {
    let s = mcp_fixture_with(|_| {}).await;
    let t = s.token(ALL);
    let args = json!({"questions": 2});
    let r1 = call(&s, &t, 1, "survey", args.clone(), json!({})).await;
    assert!(r1["result"]["inputRequests"]["q1"].is_object(), "{r1}");
    let extra = json!({"inputResponses": {"q1": accept(json!({"answer": "red"}))}, "requestState": state_of(&r1)});
    let r2 = call(&s, &t, 2, "survey", args.clone(), extra).await;
    assert!(r2["result"]["inputRequests"]["q2"].is_object(), "{r2}");
    let extra = json!({"inputResponses": {"q2": accept(json!({"answer": "blue"}))}, "requestState": state_of(&r2)});
    let r3 = call(&s, &t, 3, "survey", args, extra).await;
    assert_eq!(
        r3["result"]["structuredContent"]["answers"],
        json!(["red", "blue"])
    );

    let args = json!({"text": "a long text"});
    let r = call(&s, &t, 4, "summarize", args.clone(), json!({})).await;
    assert_eq!(
        r["result"]["inputRequests"]["summary"]["method"],
        "sampling/createMessage"
    );
    let sample =
        json!({"role": "assistant", "model": "m", "content": {"type": "text", "text": "short"}});
    let extra = json!({"inputResponses": {"summary": sample}, "requestState": state_of(&r)});
    let done = call(&s, &t, 5, "summarize", args, extra).await;
    assert_eq!(done["result"]["content"][0]["text"], "summary: short");

    let r = call(&s, &t, 6, "client_roots", json!({}), json!({})).await;
    assert_eq!(
        r["result"]["inputRequests"]["roots"]["method"],
        "roots/list"
    );
    let roots = json!({"roots": [{"uri": "file:///work", "name": "work"}]});
    let extra = json!({"inputResponses": {"roots": roots}, "requestState": state_of(&r)});
    let done = call(&s, &t, 7, "client_roots", json!({}), extra).await;
    assert_eq!(
        done["result"]["structuredContent"]["roots"],
        json!(["file:///work"])
    );
}

#[tokio::test]
async fn pr26_tampered_foreign_and_replayed_states_are_refused() {
    let s = mcp_fixture_with(|c| c.request_state.keys = vec![key("a", SECRET_A)]).await;
    let t = s.token(ALL);
    let args = json!({"action": "deploy"});
    let state = state_of(&call(&s, &t, 1, "confirm_action", args.clone(), json!({})).await);
    let yes = json!({"confirm": accept(json!({"confirm": true}))});
    let with = |st: &str| json!({"inputResponses": yes, "requestState": st});
    // Tampered: one character of the payload changed.
    let mut parts: Vec<String> = state.split('.').map(str::to_owned).collect();
    let flipped = if parts[2].ends_with('A') { 'B' } else { 'A' };
    parts[2].pop();
    parts[2].push(flipped);
    let tampered = parts.join(".");
    assert_refused(&call(&s, &t, 2, "confirm_action", args.clone(), with(&tampered)).await);
    // Replayed into another tool (an MRTR one and a plain one), or with other arguments.
    assert_refused(&call(&s, &t, 3, "survey", json!({"questions": 1}), with(&state)).await);
    assert_refused(&call(&s, &t, 4, "echo", json!({"message": "x"}), with(&state)).await);
    let other = json!({"action": "delete everything"});
    assert_refused(&call(&s, &t, 5, "confirm_action", other, with(&state)).await);
    // Another caller (same client, another subject).
    let mallory = s.token_with(ALL, |c| c["sub"] = json!("mallory"));
    assert_refused(
        &call(
            &s,
            &mallory,
            6,
            "confirm_action",
            args.clone(),
            with(&state),
        )
        .await,
    );
    // Not a string.
    let extra = json!({"inputResponses": yes, "requestState": 7});
    assert_refused(&call(&s, &t, 7, "confirm_action", args.clone(), extra).await);
    // A server with another key (same id) refuses it: a foreign state.
    let foreign = mcp_server_for(&s.as_.issuer, |c| {
        c.resource_url = Some(s.url.clone());
        c.request_state.keys = vec![key("a", SECRET_B)];
    })
    .await;
    let foreign_url = format!("http://{}/mcp", foreign.local_addr());
    assert_refused(
        &call_at(
            &foreign_url,
            &t,
            8,
            "confirm_action",
            args.clone(),
            with(&state),
        )
        .await,
    );
    // The untouched state still works here.
    let ok = call(
        &s,
        &t,
        9,
        "confirm_action",
        json!({"action": "deploy"}),
        with(&state),
    )
    .await;
    assert_eq!(ok["result"]["content"][0]["text"], "confirmed: deploy");
}

#[tokio::test]
async fn pr26_two_instances_sharing_the_key_ring_continue_each_others_requests() {
    let a = mcp_fixture_with(|c| c.request_state.keys = vec![key("k1", SECRET_A)]).await;
    let t = a.token(ALL);
    let args = json!({"action": "deploy"});
    let state = state_of(&call(&a, &t, 1, "confirm_action", args.clone(), json!({})).await);
    // Instance B: same resource URL (behind one load balancer), the key rotated in: k2 seals,
    // k1 still verifies.
    let b = mcp_server_for(&a.as_.issuer, |c| {
        c.resource_url = Some(a.url.clone());
        c.request_state.keys = vec![key("k2", SECRET_B), key("k1", SECRET_A)];
    })
    .await;
    let b_url = format!("http://{}/mcp", b.local_addr());
    let yes = json!({"confirm": accept(json!({"confirm": true}))});
    let extra = json!({"inputResponses": yes, "requestState": state});
    let v = call_at(&b_url, &t, 2, "confirm_action", args, extra).await;
    assert_eq!(
        v["result"]["content"][0]["text"], "confirmed: deploy",
        "{v}"
    );
    // B seals with k2, which A does not know: refused there.
    let x = json!({"action": "x"});
    let from_b = state_of(&call_at(&b_url, &t, 3, "confirm_action", x.clone(), json!({})).await);
    assert!(from_b.starts_with("v1.k2."), "{from_b}");
    let extra = json!({"inputResponses": yes, "requestState": from_b});
    assert_refused(&call(&a, &t, 4, "confirm_action", x, extra).await);
}

#[tokio::test]
async fn pr26_rounds_past_the_configured_maximum_are_refused() {
    let s = mcp_fixture_with(|c| c.request_state.max_rounds = 2).await;
    let t = s.token(ALL);
    let args = json!({"questions": 3});
    let mut extra = json!({});
    for round in 1..=2u64 {
        let r = call(&s, &t, round, "survey", args.clone(), extra).await;
        let key = format!("q{round}");
        assert!(r["result"]["inputRequests"][&key].is_object(), "{r}");
        extra = json!({"inputResponses": {key: accept(json!({"answer": "a"}))}, "requestState": state_of(&r)});
    }
    let r = call(&s, &t, 3, "survey", args, extra).await;
    assert_eq!(r["error"]["code"], -32602, "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("too many input rounds"),
        "{r}"
    );
}

#[tokio::test]
async fn pr26_a_tool_asks_only_for_declared_capabilities_and_legacy_sessions_still_work() {
    let s = mcp_fixture_with(|_| {}).await;
    let t = s.token(ALL);
    let params = json!({"name": "summarize", "arguments": {"text": "x"}});
    let v: Value = s
        .modern_with_meta(&t, "tools/call", params, caps(json!({"elicitation": {}})))
        .json()
        .await;
    assert_eq!(v["error"]["code"], -32021, "{v}");
    assert_eq!(
        v["error"]["data"]["requiredCapabilities"],
        json!({"sampling": {}})
    );
    // A 2025-11-25 session: the MRTR tool says what it needs, the others work as before.
    let sid = s.session(&t, LEGACY).await;
    let r = s
        .call(
            &t,
            &sid,
            "tools/call",
            json!({"name": "confirm_action", "arguments": {"action": "x"}}),
        )
        .await;
    assert_eq!(r["result"]["isError"], true, "{r}");
    assert!(r["result"].get("resultType").is_none());
    let r = s
        .call(
            &t,
            &sid,
            "tools/call",
            json!({"name": "echo", "arguments": {"message": "hi"}}),
        )
        .await;
    assert_eq!(r["result"]["content"][0]["text"], "hi");
}

/// PR-24, SEP-2575: in the 2026-07-28 era a JSON-RPC error answered by a method carries its
/// HTTP status: -32021 and -32602 are 400 (as the transport's own -32020/-32022 are), not 200.
#[tokio::test]
async fn pr24_method_errors_carry_their_http_status_in_the_modern_era() {
    let s = mcp_fixture_with(|_| {}).await;
    let t = s.token(ALL);
    let params = json!({"name": "summarize", "arguments": {"text": "x"}});
    let r = s
        .modern_with_meta(&t, "tools/call", params, caps(json!({"elicitation": {}})))
        .send()
        .await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], -32021, "{v}");
    let params = json!({"name": "echo", "arguments": {"message": "m"}, "requestState": "v1.x.y.z"});
    let r = s.modern(&t, "tools/call", params).send().await;
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (status.as_u16(), &v["error"]["code"]),
        (400, &json!(-32602)),
        "{v}"
    );
    // A result stays 200.
    let params = json!({"name": "echo", "arguments": {"message": "m"}});
    let r = s.modern(&t, "tools/call", params).send().await;
    assert_eq!(r.status(), 200);
}
