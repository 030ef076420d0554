//! Legacy Streamable HTTP sessions (2025-03-26 .. 2025-11-25): session ids and their end
//! (TR-37..TR-40, RS-21), 202 for notifications (TR-06), the protocol version header (TR-41),
//! batches (TR-08), the GET stream (TR-34, PR-18), limits and shutdown.

use std::time::Duration;

use serde_json::{Value, json};
use tests::mcp::{LEGACY, McpRequest, content_type, jsonrpc, read_stream_until, sse_events};
use tests::mcp_fixture::{
    ALL, McpFixture, mcp_fixture, mcp_fixture_with, mcp_session, mcp_session_with,
};

fn ping() -> Value {
    jsonrpc::request(1, "ping", json!({}))
}

#[tokio::test]
async fn tr37_tr38_tr39_tr40_session_lifecycle() {
    let (s, t, sid) = mcp_session().await;
    assert!(sid.len() >= 32 && sid.bytes().all(|b| (0x21..=0x7e).contains(&b)));
    let r = s.call(&t, &sid, "ping", json!({})).await;
    assert_eq!(r["result"], json!({}));
    // Missing session id: 400.
    assert_eq!(s.post(&t).json(&ping()).await.status(), 400);
    // Unknown session: 404.
    assert_eq!(s.post(&t).session("nope").json(&ping()).await.status(), 404);
    // RS-21: another user's token cannot use the session.
    let mallory = s.token_with(ALL, |c| c["sub"] = json!("mallory"));
    let r = s.post(&mallory).session(&sid).json(&ping()).await;
    assert_eq!(r.status(), 404);
    // DELETE ends it.
    let r = s
        .http
        .delete(&s.url)
        .bearer_auth(&t)
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(s.post(&t).session(&sid).json(&ping()).await.status(), 404);
}

#[tokio::test]
async fn tr39_idle_session_expires_then_404() {
    let (s, t, sid) = mcp_session_with(|c| c.limits.session_idle_secs = 1).await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(s.post(&t).session(&sid).json(&ping()).await.status(), 404);
}

#[tokio::test]
async fn session_limit_gets_503() {
    let s = mcp_fixture_with(|c| c.limits.max_sessions = 2).await;
    let t = s.token(ALL);
    s.session(&t, LEGACY).await;
    s.session(&t, LEGACY).await;
    assert_eq!(s.initialize(&t, LEGACY).await.status(), 503);
}

#[tokio::test]
async fn tr06_notification_and_response_get_202_with_empty_body() {
    let s = mcp_fixture().await;
    let t = s.token(ALL);
    let sid = s.session(&t, "2025-06-18").await;
    for body in [
        jsonrpc::notification("notifications/cancelled", json!({"requestId": 99})),
        json!({"jsonrpc":"2.0","id":"srv-1","result":{}}),
    ] {
        let r = s
            .post(&t)
            .session(&sid)
            .version("2025-06-18")
            .json(&body)
            .await;
        assert_eq!(r.status(), 202);
        assert!(r.bytes().await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn tr41_unsupported_protocol_version_header_gets_400() {
    let (s, t, sid) = mcp_session().await;
    let r = s
        .post(&t)
        .session(&sid)
        .version("1999-01-01")
        .json(&ping())
        .await;
    assert_eq!(r.status(), 400);
    // Absent header means 2025-03-26 and is accepted.
    assert_eq!(s.post(&t).session(&sid).json(&ping()).await.status(), 200);
}

#[tokio::test]
async fn tr08_batches_only_for_2025_03_26_sessions() {
    let s = mcp_fixture().await;
    let t = s.token(ALL);
    let old = s.session(&t, "2025-03-26").await;
    let batch = json!([
        jsonrpc::request(1, "ping", json!({})),
        jsonrpc::notification("notifications/initialized", json!({})),
        jsonrpc::request(
            2,
            "tools/call",
            json!({"name":"echo","arguments":{"message":"b"}})
        ),
    ]);
    let r = s.post(&t).session(&old).json(&batch).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    let new = s.session(&t, LEGACY).await;
    let r = s.post(&t).session(&new).json(&json!([ping()])).await;
    assert_eq!(r.status(), 400);
}

/// The session's GET event stream.
async fn get_stream(s: &McpFixture, token: &str, sid: &str) -> reqwest::Response {
    let stream = McpRequest::get_stream(&s.http, &s.url)
        .token(token)
        .session(sid)
        .send()
        .await;
    assert_eq!(stream.status(), 200);
    assert!(content_type(&stream).starts_with("text/event-stream"));
    stream
}

#[tokio::test]
async fn tr34_pr18_get_stream_carries_log_messages_after_set_level() {
    let (s, t, sid) = mcp_session().await;
    let mut stream = get_stream(&s, &t, &sid).await;
    // Nothing is logged before logging/setLevel.
    let quiet = json!({"name":"echo","arguments":{"message":"quiet"}});
    s.call(&t, &sid, "tools/call", quiet).await;
    let r = s
        .call(&t, &sid, "logging/setLevel", json!({"level":"info"}))
        .await;
    assert_eq!(r["result"], json!({}));
    s.call(&t, &sid, "tools/call", json!({"name":"always_fails"}))
        .await;
    let mut buf = String::new();
    read_stream_until(&mut stream, &mut buf, "notifications/message").await;
    let logs: Vec<Value> = sse_events(&buf)
        .iter()
        .filter_map(|(_, d)| serde_json::from_str::<Value>(d).ok())
        .filter(|v| v["method"] == "notifications/message")
        .collect();
    assert_eq!(logs.len(), 1, "{buf}");
    assert_eq!(logs[0]["params"]["level"], "info");
    assert_eq!(logs[0]["params"]["data"]["error"], true);
    // Without a session the GET stream does not exist (stateless era: 405).
    let r = McpRequest::get_stream(&s.http, &s.url)
        .token(&t)
        .send()
        .await;
    assert_eq!(r.status(), 405);
}

/// Graceful shutdown closes an open GET stream: the stream is open before, shutdown returns
/// promptly, and the client then reads the stream to a clean end.
#[tokio::test]
async fn shutdown_ends_open_sse_streams() {
    let (s, t, sid) = mcp_session().await;
    let mut stream = get_stream(&s, &t, &sid).await;
    let before = tokio::time::timeout(Duration::from_millis(300), stream.chunk()).await;
    assert!(
        !matches!(before, Ok(Ok(None))),
        "the stream must still be open before shutdown: {before:?}"
    );
    let McpFixture { server, .. } = s;
    tokio::time::timeout(Duration::from_secs(5), server.shutdown())
        .await
        .expect("graceful shutdown must not hang on open streams");
    let rest = tokio::time::timeout(Duration::from_secs(5), async {
        while stream.chunk().await?.is_some() {}
        Ok::<_, reqwest::Error>(())
    })
    .await
    .expect("the stream must end after shutdown, not stay open");
    rest.expect("the stream ends cleanly, not with a transport error");
}
