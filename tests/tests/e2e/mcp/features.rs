//! Server features inside a legacy session: tools (PR-31, PR-32), resources (PR-34), prompts
//! and completion (PR-36, PR-37, PR-18), pagination (PR-38), progress (PR-39, TR-07) and
//! cancellation (PR-40).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tests::mcp::{McpRequest, content_type, sse_events};
use tests::mcp_fixture::{mcp_session, mcp_session_with};

/// The string `field` of each item of the array `items`.
fn each<'a>(items: &'a Value, field: &str) -> Vec<&'a str> {
    let items = items.as_array().expect("an array");
    items.iter().map(|i| i[field].as_str().unwrap()).collect()
}

fn tool(name: &str, arguments: Value) -> Value {
    json!({"name": name, "arguments": arguments})
}

#[tokio::test]
async fn pr31_pr32_tools_echo_add_whoami_weather_fails_and_unknown() {
    let (s, t, sid) = mcp_session().await;
    let call = |params: Value| s.call(&t, &sid, "tools/call", params);
    let list = s.call(&t, &sid, "tools/list", json!({})).await;
    let names = each(&list["result"]["tools"], "name");
    let expected = [
        "echo",
        "add",
        "whoami",
        "slow_task",
        "get_weather",
        "always_fails",
        "confirm_action",
        "survey",
        "summarize",
        "client_roots",
        "regional_status",
        "toggle_tool",
        "increment",
    ];
    assert_eq!(names, expected);
    let r = call(tool("echo", json!({"message":"héllo"}))).await;
    assert_eq!(r["result"]["content"][0]["text"], "héllo");
    let r = call(tool("add", json!({"a":2,"b":40}))).await;
    assert_eq!(r["result"]["content"][0]["text"], "42");
    let r = call(json!({"name":"whoami"})).await;
    assert_eq!(r["result"]["structuredContent"]["sub"], "alice");
    assert_eq!(r["result"]["structuredContent"]["client_id"], "test-client");
    assert_eq!(r["result"]["structuredContent"]["scopes"], json!(["mcp"]));
    let text: Value =
        serde_json::from_str(r["result"]["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(text, r["result"]["structuredContent"]);
    let r = call(tool("get_weather", json!({"city":"Oslo"}))).await;
    let sc = &r["result"]["structuredContent"];
    assert_eq!(sc["city"], "Oslo");
    assert!(sc["temperature_c"].is_number() && sc["conditions"].is_string());
    let r = call(json!({"name":"always_fails"})).await;
    assert_eq!(r["result"]["isError"], true);
    // Bad argument values are tool execution errors; unknown tools are -32602 (PR-32).
    let r = call(tool("add", json!({"a":"x"}))).await;
    assert_eq!(r["result"]["isError"], true);
    let r = call(json!({"name":"nope"})).await;
    assert_eq!(r["error"]["code"], -32602);
    let r = s.call(&t, &sid, "no/such/method", json!({})).await;
    assert_eq!(r["error"]["code"], -32601);
}

#[tokio::test]
async fn pr34_resources_list_read_templates_and_traversal_refused() {
    let (s, t, sid) = mcp_session().await;
    let read = |uri: &str| s.call(&t, &sid, "resources/read", json!({ "uri": uri }));
    let list = s.call(&t, &sid, "resources/list", json!({})).await;
    let uris = each(&list["result"]["resources"], "uri");
    assert!(uris.contains(&"config://server"));
    assert!(uris.contains(&"file:///README.md"), "{uris:?}");
    let r = read("file:///README.md").await;
    assert!(r["result"]["contents"][0]["text"].as_str().unwrap().len() > 10);
    let r = read("config://server").await;
    let config = r["result"]["contents"][0]["text"].as_str().unwrap();
    assert!(config.contains("authorization_server"));
    for bad in [
        "file:///../Cargo.toml",
        "file:///../../../../etc/passwd",
        "file:////etc/passwd",
        "file:///%2e%2e/Cargo.toml",
    ] {
        assert_eq!(read(bad).await["error"]["code"], -32002, "{bad}");
    }
    let r = s
        .call(&t, &sid, "resources/templates/list", json!({}))
        .await;
    assert_eq!(
        r["result"]["resourceTemplates"][0]["uriTemplate"],
        "file:///{path}"
    );
}

#[tokio::test]
async fn pr36_pr37_prompts_and_completion() {
    let (s, t, sid) = mcp_session().await;
    let r = s.call(&t, &sid, "prompts/list", json!({})).await;
    assert_eq!(r["result"]["prompts"].as_array().unwrap().len(), 2);
    let review = json!({"code":"fn main(){}","language":"rust"});
    let r = s
        .call(&t, &sid, "prompts/get", tool("code_review", review))
        .await;
    let text = r["result"]["messages"][0]["content"]["text"]
        .as_str()
        .unwrap();
    assert!(text.contains("fn main"));
    let r = s
        .call(&t, &sid, "prompts/get", tool("code_review", json!({})))
        .await;
    assert_eq!(r["error"]["code"], -32602);
    let complete = json!({"ref":{"type":"ref/prompt","name":"code_review"},
                          "argument":{"name":"language","value":"ru"}});
    let r = s.call(&t, &sid, "completion/complete", complete).await;
    assert_eq!(r["result"]["completion"]["values"], json!(["rust"]));
    let r = s
        .call(&t, &sid, "logging/setLevel", json!({"level":"loud"}))
        .await;
    assert_eq!(r["error"]["code"], -32602);
}

#[tokio::test]
async fn pr38_pagination_with_small_pages() {
    let (s, t, sid) = mcp_session_with(|c| c.limits.page_size = 4).await;
    let page = |params: Value| s.call(&t, &sid, "tools/list", params);
    let p1 = page(json!({})).await;
    assert_eq!(p1["result"]["tools"].as_array().unwrap().len(), 4);
    let cursor = p1["result"]["nextCursor"].as_str().unwrap().to_owned();
    let p2 = page(json!({ "cursor": cursor })).await;
    assert_eq!(p2["result"]["tools"].as_array().unwrap().len(), 4);
    let cursor = p2["result"]["nextCursor"].as_str().unwrap().to_owned();
    let p3 = page(json!({ "cursor": cursor })).await;
    assert_eq!(p3["result"]["tools"].as_array().unwrap().len(), 4);
    let cursor = p3["result"]["nextCursor"].as_str().unwrap().to_owned();
    let p4 = page(json!({ "cursor": cursor })).await;
    assert_eq!(p4["result"]["tools"].as_array().unwrap().len(), 1);
    assert!(p4["result"].get("nextCursor").is_none());
    let bad = page(json!({"cursor": "!!"})).await;
    assert_eq!(bad["error"]["code"], -32602);
}

#[tokio::test]
async fn pr39_tr07_progress_token_with_sse_accept_streams_progress_then_result() {
    let (s, t, sid) = mcp_session().await;
    let slow = |steps: u32, delay: u32, token: &str| {
        json!({"name":"slow_task","arguments":{"steps":steps,"delay_ms":delay},
               "_meta":{"progressToken":token}})
    };
    let r = s
        .in_session(&t, &sid)
        .id(5)
        .rpc("tools/call", slow(3, 10, "p1"))
        .await;
    assert_eq!(r.status(), 200);
    assert!(content_type(&r).starts_with("text/event-stream"));
    assert_eq!(r.headers()["x-accel-buffering"], "no");
    let text = tokio::time::timeout(Duration::from_secs(10), r.text())
        .await
        .unwrap()
        .unwrap();
    let events = sse_events(&text);
    assert_eq!(events.len(), 4, "{text}");
    for (i, (ev, data)) in events[..3].iter().enumerate() {
        assert_eq!(ev, "message");
        let v: Value = serde_json::from_str(data).unwrap();
        assert_eq!(v["method"], "notifications/progress");
        assert_eq!(v["params"]["progressToken"], "p1");
        assert_eq!(v["params"]["progress"], i + 1);
        assert_eq!(v["params"]["total"], 3);
    }
    let last: Value = serde_json::from_str(&events[3].1).unwrap();
    assert_eq!(last["id"], 5);
    assert_eq!(last["result"]["content"][0]["text"], "completed 3 steps");
    // Without SSE in Accept the same request is answered as JSON.
    let r = McpRequest::post(&s.http, &s.url)
        .token(&t)
        .replace_headers(&[("accept", "application/json")])
        .session(&sid)
        .id(6)
        .rpc("tools/call", slow(1, 1, "p2"))
        .await;
    assert_eq!(content_type(&r), "application/json");
}

#[tokio::test]
async fn pr40_cancelled_notification_stops_slow_task() {
    let (s, t, sid) = mcp_session().await;
    let s = Arc::new(s);
    let (s2, t2, sid2) = (s.clone(), t.clone(), sid.clone());
    let long = tool("slow_task", json!({"steps":50,"delay_ms":100}));
    let call = tokio::spawn(async move {
        s2.post(&t2)
            .session(&sid2)
            .id("long")
            .rpc("tools/call", long)
            .await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = s
        .post(&t)
        .session(&sid)
        .notify("notifications/cancelled", json!({"requestId":"long"}))
        .await;
    assert_eq!(r.status(), 202);
    let r = tokio::time::timeout(Duration::from_secs(2), call)
        .await
        .expect("cancelled request must end promptly")
        .unwrap();
    assert_eq!(r.status(), 202);
}
