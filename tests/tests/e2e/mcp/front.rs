//! The MCP endpoint's POST beside the router (issue 16 B, `mcp-server/src/transport/front.rs`):
//! every check of the routed path still applies to it (auth, Origin/Host guard, CORS, body
//! limit, timeout), and every other method or path still reaches the router.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tests::mcp::{McpRequest, jsonrpc};
use tests::mcp_fixture::{ALL, mcp_fixture, mcp_fixture_with};

fn echo(message: &str) -> Value {
    json!({"name": "echo", "arguments": {"message": message}})
}

#[tokio::test]
async fn mcp_post_beside_the_router_keeps_auth_guard_and_cors_rs10_tr03_rs23() {
    let s = mcp_fixture().await;
    let t = s.token(ALL);
    // No token: the auth layer answers before the handler (401 with the challenge).
    let r = McpRequest::post(&s.http, &s.url)
        .rpc("tools/call", echo("x"))
        .await;
    assert_eq!(r.status(), 401);
    let challenge = tests::mcp::challenge(&r);
    assert!(challenge.contains("resource_metadata="), "{challenge}");
    // A token in the query string is still refused (RS-10).
    let r = McpRequest::post(&s.http, &format!("{}?access_token={t}", s.url))
        .rpc("tools/call", echo("x"))
        .await;
    assert_eq!(r.status(), 400);
    // The guard is outside: a foreign Origin or Host gets 403 with a valid token.
    for (h, v) in [("origin", "https://evil.example"), ("host", "evil.example")] {
        let r = s
            .modern(&t, "tools/call", echo("x"))
            .header(h, v)
            .send()
            .await;
        assert_eq!(r.status(), 403, "{h}");
    }
    // An allowed Origin: the answer, with its CORS headers.
    let r = s
        .modern(&t, "tools/call", echo("hi"))
        .header("origin", "http://localhost:6274")
        .send()
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "http://localhost:6274"
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["result"]["content"][0]["text"], "hi", "{v}");
    // Another query string does not take the POST off the MCP path.
    let r = McpRequest::post(&s.http, &format!("{}?probe=1", s.url))
        .token(&t)
        .json(&jsonrpc::initialize(tests::mcp::LEGACY))
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("mcp-session-id").is_some());
}

#[tokio::test]
async fn other_methods_and_paths_still_reach_the_router_tr02() {
    let s = mcp_fixture().await;
    let t = s.token(ALL);
    let r = s
        .http
        .put(&s.url)
        .bearer_auth(&t)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    let r = McpRequest::post(&s.http, &format!("{}/other", s.url))
        .token(&t)
        .rpc("ping", json!({}))
        .await;
    assert_eq!(r.status(), 404);
    let r = s.http.get(s.prm_url()).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn request_timeout_still_applies_to_the_mcp_post() {
    let s = mcp_fixture_with(|c| c.limits.request_timeout_secs = 1).await;
    let t = s.token(ALL);
    let started = Instant::now();
    let r = s
        .modern(
            &t,
            "tools/call",
            json!({"name": "slow_task", "arguments": {"steps": 3, "delay_ms": 1000}}),
        )
        .send()
        .await;
    assert_eq!(r.status(), 408);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(2900),
        "{took:?}"
    );
}
