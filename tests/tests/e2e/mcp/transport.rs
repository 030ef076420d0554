//! HTTP-level guards of the MCP endpoint: Origin and Host checks (TR-03), CORS (RS-23), body
//! limits, and malformed bodies (PR-03).

use serde_json::{Value, json};
use tests::mcp::{LEGACY, jsonrpc};
use tests::mcp_fixture::{ALL, mcp_fixture, mcp_fixture_with};

#[tokio::test]
async fn tr03_bad_origin_or_host_gets_403() {
    let s = mcp_fixture().await;
    let t = s.token(ALL);
    let ping = jsonrpc::request(1, "ping", json!({}));
    for (header, value) in [("origin", "https://evil.example"), ("host", "evil.example")] {
        let r = s.post(&t).header(header, value).json(&ping).await;
        assert_eq!(r.status(), 403, "{header}: {value}");
    }
    // A loopback origin is fine.
    let r = s
        .post(&t)
        .header("origin", "http://localhost:6274")
        .json(&jsonrpc::initialize(LEGACY))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "http://localhost:6274"
    );
}

#[tokio::test]
async fn rs23_cors_preflight_allows_mcp_headers_and_exposes_challenge() {
    let s = mcp_fixture().await;
    let r = s
        .http
        .request(reqwest::Method::OPTIONS, &s.url)
        .header("origin", "http://localhost:6274")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type, mcp-protocol-version, mcp-session-id",
        )
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let allow = r.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allow.contains("mcp-protocol-version"), "{allow}");
    let r = s
        .post(&s.token(ALL))
        .header("origin", "http://localhost:6274")
        .json(&jsonrpc::initialize(LEGACY))
        .await;
    let expose = r.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        expose.contains("www-authenticate") && expose.contains("mcp-session-id"),
        "{expose}"
    );
}

#[tokio::test]
async fn body_over_limit_gets_413() {
    let s = mcp_fixture_with(|c| c.limits.max_body_bytes = 4096).await;
    let big = jsonrpc::request(1, "ping", json!({"pad": "x".repeat(10_000)}));
    let r = s.post(&s.token(ALL)).json(&big).await;
    assert_eq!(r.status(), 413);
    // Chunked (no Content-Length): the limit applies while reading.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..10).map(|_| Ok(vec![b' '; 1000])).collect();
    let stream = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let r = s.post(&s.token(ALL)).body(stream).await;
    assert_eq!(r.status(), 413);
}

#[tokio::test]
async fn malformed_bodies_get_jsonrpc_errors_not_panics() {
    let s = mcp_fixture().await;
    let t = s.token(ALL);
    for (body, status, code) in [
        ("{", 400, -32700),
        ("[]", 400, -32600),
        (r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#, 400, -32600),
        (r#"{"jsonrpc":"2.0","id":{},"method":"ping"}"#, 400, -32600),
        (
            r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#,
            400,
            -32600,
        ),
        ("\"just a string\"", 400, -32700),
    ] {
        let r = s.post(&t).body(body).await;
        let st = r.status().as_u16();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        // "[]" without a session is refused before parsing (400 as well).
        assert_eq!(st, status, "{body}");
        if body != "[]" {
            assert_eq!(v["error"]["code"], code, "{body}");
        }
    }
}
