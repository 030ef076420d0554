//! The deprecated HTTP+SSE transport (2024-11-05): the `endpoint` event, responses on the
//! stream, and the same authentication and session binding as the rest (TR-50, TR-51).

use serde_json::{Value, json};
use tests::mcp::{McpRequest, jsonrpc, read_stream_until, sse_events};
use tests::mcp_fixture::{ALL, mcp_fixture};

#[tokio::test]
async fn tr50_tr51_http_sse_endpoint_event_and_response_on_stream() {
    let s = mcp_fixture().await;
    let t = s.token(ALL);
    let sse_url = format!("{}/sse", s.base());
    // No token: 401 like the rest.
    let r = s.http.get(&sse_url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let mut stream = McpRequest::get_stream(&s.http, &sse_url)
        .token(&t)
        .send()
        .await;
    assert_eq!(stream.status(), 200);
    let mut buf = String::new();
    read_stream_until(&mut stream, &mut buf, "\n\n").await;
    let events = sse_events(&buf);
    assert_eq!(events[0].0, "endpoint");
    let endpoint = events[0].1.clone();
    assert!(endpoint.starts_with("/messages?sessionId="));
    let messages = format!("{}{endpoint}", s.base());
    let post = |token: &str, body: Value| {
        let req = McpRequest::post(&s.http, &messages).token(token);
        async move { req.json(&body).await }
    };
    let r = post(
        &t,
        jsonrpc::request(
            1,
            "initialize",
            json!({"protocolVersion":"2024-11-05",
        "capabilities":{},"clientInfo":{"name":"t","version":"1"}}),
        ),
    )
    .await;
    assert_eq!(r.status(), 202);
    read_stream_until(&mut stream, &mut buf, "\"id\":1").await;
    let echo = json!({"name":"echo","arguments":{"message":"over sse"}});
    let r = post(&t, jsonrpc::request(2, "tools/call", echo)).await;
    assert_eq!(r.status(), 202);
    read_stream_until(&mut stream, &mut buf, "over sse").await;
    let events = sse_events(&buf);
    let resp: Value = serde_json::from_str(&events.last().unwrap().1).unwrap();
    assert_eq!(resp["id"], 2);
    assert_eq!(resp["result"]["content"][0]["text"], "over sse");
    // Another user cannot post into this session.
    let mallory = s.token_with(ALL, |c| c["sub"] = json!("mallory"));
    let r = post(&mallory, jsonrpc::request(3, "ping", json!({}))).await;
    assert_eq!(r.status(), 404);
}
