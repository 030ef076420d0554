//! Every MCP operation through the client stack (OAuth middleware + McpClient) against the real
//! servers, in each protocol era and over HTTP+SSE, with progress and cancellation.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use http_oauth2_client::{McpClient, TransportKind};
use serde_json::{Value, json};
use tests::mcp::McpRequest;
use tests::*;

fn text(v: &Value) -> &str {
    v["content"][0]["text"].as_str().unwrap_or_default()
}

/// A progress callback that counts the notifications into `seen`.
fn counter(seen: &Arc<AtomicUsize>) -> http_oauth2_client::ProgressFn {
    let seen = seen.clone();
    Arc::new(move |_| {
        seen.fetch_add(1, Ordering::SeqCst);
    })
}

/// Runs every operation on a connected client.
async fn exercise(mcp: &McpClient) {
    let tools = mcp.list_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().filter_map(|t| t["name"].as_str()).collect();
    for n in ["echo", "add", "whoami", "slow_task", "always_fails"] {
        assert!(names.contains(&n), "{n} in {names:?}");
    }
    assert!(
        tools.iter().any(|t| t.get("outputSchema").is_some()),
        "a tool with outputSchema"
    );
    assert_eq!(
        text(
            &mcp.call_tool("echo", json!({"message": "héllo"}), None)
                .await
                .unwrap()
        ),
        "héllo"
    );
    assert_eq!(
        text(
            &mcp.call_tool("add", json!({"a": 2, "b": 40}), None)
                .await
                .unwrap()
        ),
        "42"
    );
    let who = mcp.call_tool("whoami", json!({}), None).await.unwrap();
    assert_eq!(who["structuredContent"]["sub"], "demo-user");
    let fails = mcp
        .call_tool("always_fails", json!({}), None)
        .await
        .unwrap();
    assert_eq!(fails["isError"], true);
    // An unknown tool is a JSON-RPC error (-32602), not a result.
    assert!(
        mcp.call_tool("no_such_tool", json!({}), None)
            .await
            .is_err()
    );
    let seen = Arc::new(AtomicUsize::new(0));
    let steps = json!({"steps": 3, "delay_ms": 10});
    let slow = mcp
        .call_tool("slow_task", steps, Some(counter(&seen)))
        .await
        .unwrap();
    assert!(text(&slow).contains('3'), "{slow}");
    assert_eq!(
        seen.load(Ordering::SeqCst),
        3,
        "one progress notification per step"
    );
    let resources = mcp.list_resources().await.unwrap();
    let uris: Vec<&str> = resources.iter().filter_map(|r| r["uri"].as_str()).collect();
    let uri = *uris
        .iter()
        .find(|u| u.starts_with("file:///"))
        .expect("a file resource");
    let read = mcp.read_resource(uri).await.unwrap();
    assert_eq!(read["contents"][0]["uri"], uri);
    let prompts = mcp.list_prompts().await.unwrap();
    assert!(prompts.len() >= 2);
    let p = mcp
        .get_prompt(
            "code_review",
            Some(json!({"code": "fn main() {}", "language": "rust"})),
        )
        .await
        .unwrap();
    assert!(
        p["messages"][0]["content"]["text"]
            .as_str()
            .unwrap()
            .contains("fn main")
    );
    mcp.ping().await.unwrap();
}

#[tokio::test]
async fn stateless_2026_07_28_operations_through_the_oauth_stack() {
    let s = stack(|_| {}, |_| {}).await;
    let session = oauth_session(&s).await;
    let mcp = McpClient::connect(session.client(), session.server_url().clone())
        .await
        .unwrap();
    assert_eq!(mcp.transport_kind(), TransportKind::Stateless);
    assert_eq!(mcp.protocol_version(), "2026-07-28");
    exercise(&mcp).await;
}

#[tokio::test]
async fn http_sse_2024_11_05_operations_through_the_oauth_stack() {
    let s = stack(|_| {}, |_| {}).await;
    let session = oauth_session(&s).await;
    let sse = session.server_url().join("/sse").unwrap();
    let mcp = McpClient::connect(session.client(), sse).await.unwrap();
    assert_ne!(mcp.transport_kind(), TransportKind::Stateless);
    exercise(&mcp).await;
}

/// The session era through the middleware client: initialize, session id, calls, DELETE.
#[tokio::test]
async fn session_era_operations_through_the_oauth_middleware() {
    let s = stack(|_| {}, |_| {}).await;
    let session = oauth_session(&s).await;
    let http = session.client();
    let url = s.mcp_url().to_owned();
    let post = |sid: Option<String>, body: Value| {
        let mut r = http
            .post(&url)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .header("mcp-protocol-version", "2025-06-18");
        if let Some(sid) = sid {
            r = r.header("mcp-session-id", sid);
        }
        r.body(body.to_string()).send()
    };
    let res = post(None, json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "e2e", "version": "1"}}})).await.unwrap();
    assert_eq!(res.status(), 200);
    let sid = res.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    let init: Value = res.json().await.unwrap();
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18");
    let res = post(
        Some(sid.clone()),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 202);
    assert!(res.bytes().await.unwrap().is_empty());
    for (method, params) in [
        ("tools/list", json!({})),
        (
            "tools/call",
            json!({"name": "echo", "arguments": {"message": "s"}}),
        ),
        ("resources/list", json!({})),
        ("resources/templates/list", json!({})),
        ("prompts/list", json!({})),
        (
            "completion/complete",
            json!({"ref": {"type": "ref/prompt", "name": "code_review"}, "argument": {"name": "language", "value": "ru"}}),
        ),
        ("logging/setLevel", json!({"level": "info"})),
        ("ping", json!({})),
    ] {
        let res = post(
            Some(sid.clone()),
            json!({"jsonrpc": "2.0", "id": 2, "method": method, "params": params}),
        )
        .await
        .unwrap();
        assert_eq!(res.status(), 200, "{method}");
        let v: Value = res.json().await.unwrap();
        assert!(v.get("result").is_some(), "{method}: {v}");
    }
    let res = http
        .delete(&url)
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    let res = post(
        Some(sid),
        json!({"jsonrpc": "2.0", "id": 3, "method": "ping"}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 404, "a deleted session is gone (TR-39)");
}

/// Cancellation in the session era: `notifications/cancelled` stops a running slow_task.
#[tokio::test]
async fn notifications_cancelled_stops_a_running_request_pr40() {
    let s = stack(|_| {}, |_| {}).await;
    let token = service_token(s.issuer(), "mcp").await;
    let sid = mcp_initialize(s.mcp_url(), &token).await;
    let url = s.mcp_url().to_owned();
    let post = move || {
        McpRequest::post(&http(), &url)
            .token(&token)
            .session(&sid)
            .replace_headers(&[("accept", "application/json")])
    };
    let slow = post().id(77);
    let call = tokio::spawn(async move {
        let started = std::time::Instant::now();
        let res = slow
            .rpc(
                "tools/call",
                json!({"name": "slow_task", "arguments": {"steps": 50, "delay_ms": 100}}),
            )
            .await;
        let status = res.status();
        let body = res.bytes().await.unwrap();
        (status, body, started.elapsed())
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let res = post()
        .notify(
            "notifications/cancelled",
            json!({"requestId": 77, "reason": "test"}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let (status, body, took) = call.await.unwrap();
    assert!(
        took < std::time::Duration::from_secs(3),
        "cancelled early, took {took:?}"
    );
    // No response is owed for a cancelled request (PR-40): 202 with an empty body.
    assert_eq!(status, 202);
    assert!(body.is_empty());
}

/// The README's main job: `http-oauth2-client demo --json` (the CLI binary, run from the
/// repository root as `cargo run` does) completes every step and exits 0.
#[test]
fn demo_runs_the_whole_flow_step_by_step() {
    let out = std::process::Command::new(tests::workspace_binary("http-oauth2-client"))
        .args(["demo", "--json"])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .env("RUST_LOG", "warn")
        .output()
        .expect("run the CLI (built by `cargo build --workspace --bins`)");
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(report["ok"], true);
    let steps = report["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), 12, "{report:#}");
    let all: String = steps
        .iter()
        .map(|s| {
            format!(
                "{} => {}\n",
                s["title"].as_str().unwrap(),
                s["detail"].as_str().unwrap()
            )
        })
        .collect();
    assert!(all.contains("hello through OAuth"), "{all}");
    assert!(all.contains("refresh token rotated: true"), "{all}");
    assert!(
        all.contains("read file:///"),
        "the sample resources are served: {all}"
    );
    assert!(all.contains("=> 42"), "{all}");
}
