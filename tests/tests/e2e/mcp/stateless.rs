//! The 2026-07-28 stateless era: `server/discover` and result metadata (PR-22, PR-23), the
//! standard headers and their errors (TR-15..TR-20), streamed progress (TR-07, TR-11) and
//! cancellation by closing the stream (TR-13).

use std::time::Duration;

use serde_json::{Value, json};
use tests::mcp::{MODERN, content_type, sse_events, status_and_code};
use tests::mcp_fixture::{ALL, mcp_fixture};
use tests::mock_as::base64_std;

#[tokio::test]
async fn pr22_pr23_stateless_discover_and_calls() {
    let s = mcp_fixture().await;
    let t = s.token(ALL);
    let r = s.modern(&t, "server/discover", json!({})).send().await;
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("mcp-session-id").is_none());
    let v: Value = r.json().await.unwrap();
    let res = &v["result"];
    assert_eq!(res["resultType"], "complete");
    assert_eq!(res["supportedVersions"][0], MODERN);
    assert!(res["capabilities"]["tools"].is_object());
    assert!(res["capabilities"].get("logging").is_none());
    assert_eq!(
        res["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "http-mcp-mock-server"
    );
    assert!(res["ttlMs"].is_number() && res["cacheScope"].is_string());
    let echo = json!({"name":"echo","arguments":{"message":"m"}});
    let v = s.modern(&t, "tools/call", echo).json().await;
    assert_eq!(v["result"]["content"][0]["text"], "m");
    assert_eq!(v["result"]["resultType"], "complete");
    let v = s.modern(&t, "tools/list", json!({})).json().await;
    assert_eq!(v["result"]["cacheScope"], "public");
    // Methods removed in 2026-07-28 get 404 with -32601 (TR-16).
    let r = s.modern(&t, "ping", json!({})).send().await;
    assert_eq!(status_and_code(r).await, (404, -32601));
}

#[tokio::test]
async fn tr15_tr16_tr18_tr20_stateless_header_checks() {
    let s = mcp_fixture().await;
    let t = s.token(ALL);
    let echo = || json!({"name":"echo","arguments":{"message":"m"}});
    let mismatches = [
        // Mcp-Method disagrees with the body.
        s.modern(&t, "tools/list", json!({}))
            .replace_headers(&[("mcp-method", "tools/call")]),
        // Mcp-Name disagrees.
        s.modern(&t, "tools/call", echo())
            .replace_headers(&[("mcp-name", "add")]),
        // Header version disagrees with _meta.
        s.modern(&t, "tools/list", json!({}))
            .replace_headers(&[("mcp-protocol-version", "2025-11-25")]),
        // A duplicated standard header is invalid too.
        s.modern(&t, "tools/list", json!({}))
            .header("mcp-method", "tools/list"),
    ];
    for req in mismatches {
        assert_eq!(status_and_code(req.send().await).await, (400, -32020));
    }
    // Base64 sentinel form is decoded before comparing (TR-19).
    let sentinel = format!("=?base64?{}?=", base64_std(b"echo"));
    let r = s
        .modern(&t, "tools/call", echo())
        .replace_headers(&[("mcp-name", &sentinel)])
        .send()
        .await;
    assert_eq!(r.status(), 200);
    // Unsupported modern version: -32022 with supported/requested.
    let future = json!({"_meta":{"io.modelcontextprotocol/protocolVersion":"2099-01-01",
                                 "io.modelcontextprotocol/clientCapabilities":{}}});
    let r = s
        .post(&t)
        .version("2099-01-01")
        .header("mcp-method", "tools/list")
        .rpc("tools/list", future)
        .await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], -32022);
    assert_eq!(v["error"]["data"]["requested"], "2099-01-01");
    let supported = v["error"]["data"]["supported"].as_array().unwrap();
    assert!(supported.contains(&json!(MODERN)));
    // Missing clientCapabilities: -32602, HTTP 400 (PR-20).
    let r = s
        .post(&t)
        .version(MODERN)
        .header("mcp-method", "tools/list")
        .rpc(
            "tools/list",
            json!({"_meta":{"io.modelcontextprotocol/protocolVersion":MODERN}}),
        )
        .await;
    assert_eq!(status_and_code(r).await, (400, -32602));
    // Scopes apply in the stateless era too.
    let ro = s.token("mcp:tools:read");
    let r = s.modern(&ro, "tools/call", echo()).send().await;
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn tr07_tr11_stateless_progress_streams_then_result_without_session() {
    let s = mcp_fixture().await;
    let t = s.token(ALL);
    let slow = || json!({"name":"slow_task","arguments":{"steps":2,"delay_ms":5}});
    // Without a progress token: plain JSON.
    let r = s.modern(&t, "tools/call", slow()).send().await;
    assert_eq!(content_type(&r), "application/json");
    let r = s
        .modern_with_meta(&t, "tools/call", slow(), json!({"progressToken": 42}))
        .id(9)
        .send()
        .await;
    assert!(content_type(&r).starts_with("text/event-stream"));
    assert!(r.headers().get("mcp-session-id").is_none());
    let events = sse_events(&r.text().await.unwrap());
    assert_eq!(events.len(), 3);
    let last: Value = serde_json::from_str(&events[2].1).unwrap();
    assert_eq!(last["id"], 9);
    assert_eq!(last["result"]["resultType"], "complete");
}

/// TR-13: closing a request's response stream cancels the request. A 20-second slow_task is
/// started on an SSE stream; after its first progress event the client drops the stream,
/// and the server's count of running streamed requests must fall back to zero long before
/// the task could have finished on its own (bounded wait: 5 s).
#[tokio::test]
async fn tr13_closing_the_response_stream_cancels_the_request() {
    let s = mcp_fixture().await;
    let t = s.token(ALL);
    let long = json!({"name":"slow_task","arguments":{"steps":1000,"delay_ms":20}});
    let mut r = s
        .modern_with_meta(&t, "tools/call", long, json!({"progressToken": "tr13"}))
        .id(13)
        .send()
        .await;
    assert!(content_type(&r).starts_with("text/event-stream"));
    let first = r.chunk().await.unwrap().expect("a first progress event");
    assert!(
        String::from_utf8_lossy(&first).contains("notifications/progress"),
        "{first:?}"
    );
    assert_eq!(s.server.streaming_requests(), 1, "the task is running");
    drop(r);
    let mut waited = 0;
    while s.server.streaming_requests() != 0 && waited < 100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
    }
    assert_eq!(
        s.server.streaming_requests(),
        0,
        "the request kept running after its stream was closed"
    );
}
