//! Legacy sessions are shared by all callers (issue 11 item 5): one subject may hold at most
//! `limits.max_sessions_per_subject` of them (100 by default; more: 429), and one HTTP+SSE
//! session may have at most `limits.max_inflight_per_stream` requests running or waiting for
//! its stream (32 by default; more: 429), so `/messages` cannot pile up tasks while nobody
//! reads the stream (TR-50, TR-51).

use serde_json::{Value, json};
use tests::mcp::{LEGACY, McpRequest, jsonrpc, read_stream_until};
use tests::mcp_fixture::{ALL, mcp_fixture};

#[tokio::test]
async fn one_subject_cannot_take_every_session_rs21() {
    let s = mcp_fixture().await;
    let alice = s.token(ALL);
    let mut sids = Vec::new();
    for _ in 0..100 {
        let r = s.initialize(&alice, LEGACY).await;
        assert_eq!(r.status(), 200);
        sids.push(r.headers()["mcp-session-id"].to_str().unwrap().to_owned());
    }
    // The 101st session of the same subject (another token, another client) is refused.
    let alice_again = s.token_with(ALL, |c| c["client_id"] = json!("other-client"));
    let r = s.initialize(&alice_again, LEGACY).await;
    assert_eq!(r.status(), 429);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["id"], jsonrpc::initialize(LEGACY)["id"], "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("sessions"),
        "{v}"
    );
    // So is an HTTP+SSE stream.
    let r = McpRequest::get_stream(&s.http, &format!("{}/sse", s.base()))
        .token(&alice)
        .send()
        .await;
    assert_eq!(r.status(), 429);
    // Everyone else is unaffected.
    let bob = s.token_with(ALL, |c| c["sub"] = json!("bob"));
    assert_eq!(s.initialize(&bob, LEGACY).await.status(), 200);
    // Ending a session frees its place.
    let r = s
        .http
        .delete(&s.url)
        .bearer_auth(&alice)
        .header("mcp-session-id", &sids[0])
        .header("mcp-protocol-version", LEGACY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(s.initialize(&alice, LEGACY).await.status(), 200);
}

#[tokio::test]
async fn http_sse_requests_beyond_the_in_flight_limit_get_429_tr50() {
    let s = mcp_fixture().await;
    let t = s.token(ALL);
    let (mut stream, mut buf, messages) = s.open_http_sse(&t).await;
    let post = |body: Value| {
        let req = McpRequest::post(&s.http, &messages).token(&t);
        async move { req.json(&body).await }
    };
    let slow = json!({"name": "slow_task", "arguments": {"steps": 1, "delay_ms": 1500}});
    let mut statuses = Vec::new();
    for id in 0..40 {
        let r = post(jsonrpc::request(id, "tools/call", slow.clone())).await;
        statuses.push(r.status().as_u16());
        if r.status() == 429 {
            let v: Value = r.json().await.unwrap();
            assert_eq!(v["id"], id, "{v}");
            assert_eq!(v["error"]["code"], -32603, "{v}");
        }
    }
    assert_eq!(statuses[..32], [202; 32], "{statuses:?}");
    assert_eq!(statuses[32..], [429; 8], "{statuses:?}");
    // Once the running requests have answered, new ones are accepted again.
    for id in 0..32 {
        read_stream_until(&mut stream, &mut buf, &format!("\"id\":{id},")).await;
    }
    let r = post(jsonrpc::request(99, "ping", json!({}))).await;
    assert_eq!(r.status(), 202);
}
