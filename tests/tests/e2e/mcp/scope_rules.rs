//! Deny by default (issue 11 item 9, RS-07, RS-12): every method has a scope rule, a method
//! without one is refused, and `completion/complete` needs the scope of what it completes (a
//! `ref/resource` completion lists file names, so it needs `mcp:resources:read`).

use serde_json::{Value, json};
use tests::mcp::{LEGACY, McpRequest, challenge, jsonrpc, read_stream_until};
use tests::mcp_fixture::{ALL, mcp_fixture, mcp_fixture_with};

fn file_completion() -> Value {
    json!({"ref": {"type": "ref/resource", "uri": "file:///{path}"},
           "argument": {"name": "path", "value": ""}})
}

fn prompt_completion() -> Value {
    json!({"ref": {"type": "ref/prompt", "name": "code_review"},
           "argument": {"name": "language", "value": "ru"}})
}

#[tokio::test]
async fn completion_of_file_names_needs_resources_read_rs07_rs12() {
    let s = mcp_fixture().await;
    // May complete prompt arguments and call tools, but not read resources.
    let t = s.token("mcp:prompts:read mcp:tools:call");
    let sid = s.session(&t, LEGACY).await;
    let r = s
        .in_session(&t, &sid)
        .rpc("completion/complete", file_completion())
        .await;
    assert_eq!(r.status(), 403);
    let w = challenge(&r);
    assert!(w.contains("error=\"insufficient_scope\""), "{w}");
    assert!(w.contains("scope=\"mcp:resources:read\""), "{w}");
    // The same under 2026-07-28.
    let r = s
        .modern(&t, "completion/complete", file_completion())
        .send()
        .await;
    assert_eq!(r.status(), 403);
    // A params object the transport cannot peek at (a numeric `name`) fails closed.
    let mut odd = file_completion();
    odd["name"] = json!(5);
    let r = s.in_session(&t, &sid).rpc("completion/complete", odd).await;
    assert_eq!(r.status(), 403);
    // Prompt arguments complete with the prompts scope.
    let r = s
        .call(&t, &sid, "completion/complete", prompt_completion())
        .await;
    assert_eq!(r["result"]["completion"]["values"], json!(["rust"]));
    // And need it.
    let tools_only = s.token("mcp:tools:call");
    let sid2 = s.session(&tools_only, LEGACY).await;
    let r = s
        .in_session(&tools_only, &sid2)
        .rpc("completion/complete", prompt_completion())
        .await;
    assert_eq!(r.status(), 403);
    assert!(challenge(&r).contains("scope=\"mcp:prompts:read\""));
    // With the resources scope the file names are listed (the control).
    let all = s.token(ALL);
    let sid3 = s.session(&all, LEGACY).await;
    let r = s
        .call(&all, &sid3, "completion/complete", file_completion())
        .await;
    assert!(
        !r["result"]["completion"]["values"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{r}"
    );
}

#[tokio::test]
async fn method_without_scope_rule_is_refused_rs12() {
    let s = mcp_fixture_with(|c| {
        c.scopes.remove("ping");
        c.scopes.remove("server/discover");
    })
    .await;
    let t = s.token(ALL);
    let sid = s.session(&t, LEGACY).await;
    // Refused exactly like a method that does not exist.
    let r = s.call(&t, &sid, "ping", json!({})).await;
    assert_eq!(r["error"]["code"], -32601, "{r}");
    assert!(r.get("result").is_none());
    let r = s.modern(&t, "server/discover", json!({})).send().await;
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], -32601, "{v}");
    // Methods with a rule still work (the control).
    let r = s.call(&t, &sid, "tools/list", json!({})).await;
    assert!(r["result"]["tools"].is_array(), "{r}");
    // HTTP+SSE: the refusal arrives on the stream, like every answer there.
    let (mut stream, mut buf, messages) = s.open_http_sse(&t).await;
    let r = McpRequest::post(&s.http, &messages)
        .token(&t)
        .json(&jsonrpc::request(9, "ping", json!({})))
        .await;
    assert_eq!(r.status(), 202);
    read_stream_until(&mut stream, &mut buf, "-32601").await;
}
