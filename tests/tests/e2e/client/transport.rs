//! The MCP client's transports against the mock's servers: a new session after 404 (TR-39,
//! P-16), an empty 200 for a notification (TR-06, P-15), the stateless era's `_meta` and
//! headers (TR-15, TR-18, PR-20), and HTTP+SSE for a 2024-11-05 server (TR-42, TR-50).

use std::sync::{Arc, Mutex};

use http_oauth2_client::{ClientError, McpClient, OAuthSession, TransportKind};
use serde_json::json;

use super::headless_session;
use super::mock::{self, Behaviour, Mock};

async fn connect(s: &OAuthSession) -> McpClient {
    McpClient::connect(s.client(), s.server_url().clone())
        .await
        .unwrap()
}

/// A mock with `behaviour`, and an MCP client connected to it after a headless login.
async fn client_for(behaviour: Option<Behaviour>) -> (Arc<Mock>, McpClient) {
    let m = mock::spawn().await;
    if let Some(b) = behaviour {
        m.enable(b);
    }
    let mcp = connect(&headless_session(&m).await).await;
    (m, mcp)
}

/// TR-39 / P-16: a 404 for a request carrying a session id starts a new session and the
/// request is retried once.
#[tokio::test]
async fn unknown_session_404_reinitializes_and_retries_tr39() {
    let (m, mcp) = client_for(None).await;
    assert_eq!(mcp.session_id().as_deref(), Some("sess-1"));
    m.enable(Behaviour::ExpireSessionOnce);
    assert_eq!(mcp.list_tools().await.unwrap().len(), 1);
    assert_eq!(mcp.session_id().as_deref(), Some("sess-2"));
    let inits = m
        .mcp_methods()
        .iter()
        .filter(|x| *x == "initialize")
        .count();
    assert_eq!(inits, 2);
}

/// TR-06 / P-15: a notification answered with an empty 200 (not 202) is accepted.
#[tokio::test]
async fn notification_with_empty_200_is_accepted_p15() {
    let (_m, mcp) = client_for(Some(Behaviour::NotificationGets200)).await;
    assert_eq!(mcp.transport_kind(), TransportKind::Session);
}

/// TR-15, TR-18, PR-20: a stateless server gets `_meta` protocol fields, MCP-Protocol-Version,
/// Mcp-Method and Mcp-Name; no initialize is sent.
#[tokio::test]
async fn stateless_requests_carry_meta_and_standard_headers_tr15_tr18() {
    let (m, mcp) = client_for(Some(Behaviour::ModernMcp)).await;
    assert_eq!(mcp.transport_kind(), TransportKind::Stateless);
    let r = mcp
        .call_tool("echo", json!({"message": "x"}), None)
        .await
        .unwrap();
    assert_eq!(r["content"][0]["text"], "modern");
    let e = mcp.list_prompts().await.unwrap_err();
    assert!(matches!(e, ClientError::Mcp { code: -32601, .. }), "{e}");
    let seen = (
        "tools/call".into(),
        Some("tools/call".into()),
        Some("echo".into()),
    );
    assert!(m.modern_headers().contains(&seen));
    assert!(!m.mcp_methods().iter().any(|x| x == "initialize"));
}

/// TR-42, TR-50: a 2024-11-05 server (POST /mcp answers 405) is reached over HTTP+SSE: GET
/// the `/sse` sibling, read the `endpoint` event, POST there, responses and progress arrive
/// on the stream, and the bearer token goes on every request (CL-30).
#[tokio::test]
async fn legacy_server_is_reached_over_http_sse_tr42() {
    let m = mock::spawn().await;
    let s = headless_session(&m).await;
    m.enable(Behaviour::LegacyOnlyMcp);
    let mcp = connect(&s).await;
    assert_eq!(mcp.transport_kind(), TransportKind::HttpSse);
    assert_eq!(mcp.protocol_version(), "2024-11-05");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let progress =
        Arc::new(move |p: http_oauth2_client::Progress| s2.lock().unwrap().push(p.progress));
    let r = mcp
        .call_tool("echo", json!({}), Some(progress))
        .await
        .unwrap();
    assert_eq!(r["content"][0]["text"], "over sse");
    assert_eq!(*seen.lock().unwrap(), vec![5.0]);
    assert!(matches!(
        mcp.list_prompts().await.unwrap_err(),
        ClientError::Mcp { code: -32601, .. }
    ));
    assert_eq!(
        m.mcp_methods(),
        [
            "initialize",
            "notifications/initialized",
            "tools/call",
            "prompts/list"
        ]
    );
}
