//! RS-19: the server never logs tokens, checked with every log line captured at TRACE.

use serde_json::json;
use tests::mcp::{LEGACY, jsonrpc};
use tests::mcp_fixture::{ALL, mcp_fixture};
use tests::mock_as::{claims, ed25519, now, sign};

#[tokio::test]
async fn rs19_logs_at_trace_never_contain_tokens() {
    let cap = tests::LogCapture::default();
    // Its own test binary with a global subscriber: tracing caches per-callsite interest
    // process-wide, so a thread-local subscriber next to other tests could miss events.
    tracing::subscriber::set_global_default(cap.subscriber()).expect(
        "run under cargo nextest (one process per test): this test needs the global subscriber",
    );
    let s = mcp_fixture().await;
    let good = s.token(ALL);
    let sid = s.session(&good, LEGACY).await;
    s.call(&good, &sid, "tools/call", json!({"name":"whoami"}))
        .await;
    let expired = s.token_with(ALL, |c| c["exp"] = json!(now() - 3600));
    let other = sign(
        &ed25519(),
        &claims(&s.as_.issuer, &s.url, ALL),
        Some("at+jwt"),
    );
    let ping = jsonrpc::request(1, "ping", json!({}));
    for t in [&expired, &other] {
        assert_eq!(s.post(t).json(&ping).await.status(), 401);
    }
    let in_query = format!("{}?access_token={good}", s.url);
    assert_eq!(tests::mcp_post(&in_query, None, ping).await.status(), 400);
    let logs = cap.text();
    assert!(logs.contains("JWKS fetched"), "capture works: {logs}");
    assert!(logs.contains("TRACE"), "TRACE level captured");
    for t in [&good, &expired, &other] {
        let sig = t.rsplit('.').next().unwrap();
        assert!(!logs.contains(sig), "a token signature reached the logs");
        assert!(!logs.contains(t.as_str()));
    }
}
