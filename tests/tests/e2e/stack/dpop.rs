//! DPoP on all three members (issue 15 A, EX-04, EX-06): the real client, our authorization
//! server and our MCP server with `[dpop]` on. The client (DPoP auto: the authorization
//! server and the resource both advertise it) gets a DPoP-bound token from our AS and calls
//! a tool with proofs; the same token presented as a bearer token is refused.

use super::{client_config, connect, echo, mcp_for};

#[tokio::test]
async fn client_as_and_mcp_server_speak_dpop_and_the_token_as_bearer_is_refused_ex04_ex06() {
    let s = tests::stack(|_| {}, |c| c.dpop.enabled = true).await;
    let session = connect(client_config(s.mcp_url()))
        .await
        .expect("login with DPoP");
    let mcp = mcp_for(&session).await;
    echo(&mcp).await.expect("tools/call with a DPoP proof");
    let (token, _) = session.token_manager().access_token().await.unwrap();
    let claims = {
        use base64::Engine as _;
        let part = token.secret().split('.').nth(1).unwrap();
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap();
        serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()
    };
    let jkt = claims["cnf"]["jkt"].as_str().expect("a DPoP-bound token");
    assert_eq!(jkt.len(), 43, "a SHA-256 thumbprint: {claims}");
    // The same token as a bearer token: refused by the MCP server.
    let res = tests::mcp_post(
        s.mcp_url(),
        Some(token.secret()),
        tests::mcp::jsonrpc::initialize(tests::mcp::LEGACY),
    )
    .await;
    assert_eq!(res.status(), 401);
    s.shutdown().await;
}
