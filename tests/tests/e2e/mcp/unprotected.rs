//! The unprotected MCP server fixture (`mcp_server::serve_unprotected`): what clients that must
//! work with servers needing no authorization are tested against (CL-01..CL-05). The fixture
//! itself is checked here: no token needed, nothing to discover, the anonymous subject.

use serde_json::json;
use tests::Stack;
use tests::mcp::{MODERN, McpRequest, jsonrpc};

#[tokio::test]
async fn cl01_unprotected_fixture_answers_without_a_token_and_publishes_no_prm() {
    let stack = Stack::builder().unprotected_mcp().start().await.unwrap();
    let http = reqwest::Client::new();
    let url = stack.mcp_url();
    let mut params = json!({"name": "whoami", "arguments": {}});
    params["_meta"] = jsonrpc::modern_meta();
    let r = McpRequest::post(&http, url)
        .version(MODERN)
        .header("mcp-method", "tools/call")
        .header("mcp-name", "whoami")
        .rpc("tools/call", params)
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("www-authenticate").is_none());
    let v: serde_json::Value = r.json().await.unwrap();
    let text = v["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("anonymous"), "{v}");
    let origin = url.trim_end_matches("/mcp");
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
    ] {
        let r = http.get(format!("{origin}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
    // A legacy session works too, bound to the anonymous subject.
    let r = McpRequest::post(&http, url)
        .json(&jsonrpc::initialize(tests::mcp::LEGACY))
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("mcp-session-id").is_some());
}

/// Bad input from the application: MCP params are an object (or absent); an array is a typed
/// error before anything is sent, not silently replaced by `{}`.
#[tokio::test]
async fn non_object_params_are_a_typed_error_not_replaced() {
    let stack = Stack::builder().unprotected_mcp().start().await.unwrap();
    let url = url::Url::parse(stack.mcp_url()).unwrap();
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new()).build();
    let mcp = http_oauth2_client::McpClient::connect(http, url)
        .await
        .unwrap();
    let e = mcp.request("ping", json!([1, 2])).await.unwrap_err();
    assert!(
        matches!(e, http_oauth2_client::ClientError::Protocol(ref m) if m.contains("params must be a JSON object")),
        "{e:?}"
    );
    mcp.request("tools/list", serde_json::Value::Null)
        .await
        .unwrap();
}
