//! The MCP server's JWKS cache: one fetch for concurrent misses, rate-limited refetches for
//! unknown `kid`s (RS-15), key rotation, and cached keys while the AS is down.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tests::mcp::{LEGACY, jsonrpc};
use tests::mcp_fixture::{ALL, mcp_fixture, mcp_fixture_with};
use tests::mock_as::{claims, ed25519, sign};

#[tokio::test]
async fn jwks_100_concurrent_first_requests_cause_exactly_one_fetch() {
    let s = Arc::new(mcp_fixture().await);
    let barrier = Arc::new(tokio::sync::Barrier::new(100));
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let s = s.clone();
        let b = barrier.clone();
        tasks.push(tokio::spawn(async move {
            let t = s.token(ALL); // distinct tokens: no verified-token cache hits
            b.wait().await;
            s.initialize(&t, LEGACY).await.status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    assert_eq!(s.as_.jwks_hits(), 1);
    assert_eq!(s.server.jwks_fetch_count(), 1);
}

#[tokio::test]
async fn rs15_unknown_kid_refetch_is_rate_limited() {
    let s = mcp_fixture().await;
    // Warm the cache.
    s.session(&s.token(ALL), LEGACY).await;
    assert_eq!(s.as_.jwks_hits(), 1);
    for _ in 0..20 {
        let t = sign(
            &ed25519(),
            &claims(&s.as_.issuer, &s.url, ALL),
            Some("at+jwt"),
        );
        let r = s
            .post(&t)
            .json(&jsonrpc::request(1, "ping", json!({})))
            .await;
        assert_eq!(r.status(), 401);
    }
    // One forced refetch at most within the interval.
    assert!(s.as_.jwks_hits() <= 2, "{}", s.as_.jwks_hits());
}

#[tokio::test]
async fn jwks_rotated_key_is_picked_up_by_one_refetch() {
    let s = mcp_fixture().await;
    s.session(&s.token(ALL), LEGACY).await;
    let new_key = ed25519();
    s.as_.publish(&[&s.key, &new_key]);
    let t = sign(
        &new_key,
        &claims(&s.as_.issuer, &s.url, ALL),
        Some("at+jwt"),
    );
    let sid = s.session(&t, LEGACY).await;
    assert!(!sid.is_empty());
    assert_eq!(s.as_.jwks_hits(), 2);
}

#[tokio::test]
async fn jwks_as_down_cached_keys_still_work() {
    let s = mcp_fixture_with(|c| {
        c.jwks.min_ttl_secs = 0;
        c.jwks.max_ttl_secs = 1;
        c.jwks.retry_after_failure_secs = 1;
    })
    .await;
    s.session(&s.token(ALL), LEGACY).await;
    s.as_.set_down(true);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // A token never seen before (no verified-token cache), after the JWKS TTL expired.
    let sid = s.session(&s.token(ALL), LEGACY).await;
    assert!(!sid.is_empty());
}
