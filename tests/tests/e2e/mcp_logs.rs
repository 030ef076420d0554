//! RS-19: the server never logs tokens, checked with every log line captured at TRACE.

use super::mcp_common as common;

use std::sync::Arc;

use common::*;
use serde_json::json;

/// A `MakeWriter` that appends everything to a shared buffer.
#[derive(Clone, Default)]
struct Capture(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

#[tokio::test]
async fn rs19_logs_at_trace_never_contain_tokens() {
    let cap = Capture::default();
    let sub = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(cap.clone())
        .finish();
    // Its own test binary with a global subscriber: tracing caches per-callsite interest
    // process-wide, so a thread-local subscriber next to other tests could miss events.
    tracing::subscriber::set_global_default(sub).expect(
        "run under cargo nextest (one process per test): this test needs the global subscriber",
    );
    let s = stack().await;
    let good = s.token(ALL);
    let sid = s.session(&good, "2025-11-25").await;
    s.call(&good, &sid, "tools/call", json!({"name":"whoami"}))
        .await;
    let mut c = claims(&s.as_.issuer, &s.url, ALL);
    c["exp"] = json!(now() - 3600);
    let expired = sign(&s.key, &c, Some("at+jwt"));
    let other = sign(
        &ed25519(),
        &claims(&s.as_.issuer, &s.url, ALL),
        Some("at+jwt"),
    );
    for t in [&expired, &other] {
        let r = s
            .post(t)
            .json(&json!({"jsonrpc":"2.0","id":1,"method":"ping"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    let r = s
        .http
        .post(format!("{}?access_token={good}", s.url))
        .json(&json!({"jsonrpc":"2.0","id":1,"method":"ping"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let logs = String::from_utf8_lossy(&cap.0.lock().unwrap()).into_owned();
    assert!(logs.contains("JWKS fetched"), "capture works: {logs}");
    assert!(logs.contains("TRACE"), "TRACE level captured");
    for t in [&good, &expired, &other] {
        let sig = t.rsplit('.').next().unwrap();
        assert!(!logs.contains(sig), "a token signature reached the logs");
        assert!(!logs.contains(t.as_str()));
    }
}
