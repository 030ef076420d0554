//! Issue 13 part C: our client and our MCP server against a real third-party authorization
//! server, node-oidc-provider (OpenID Certified), started per test by `tests::oidc` on a
//! loopback port. `provider`: the default configuration end to end (login, tools, refresh,
//! refusals); `quirks`: provider variants reproducing what real providers do, each with the
//! setting that makes it work. Skipped loudly without node/oidc-provider, failing under CI.

mod provider;
mod quirks;

use serde_json::{Value, json};

/// `whoami` through our MCP client on `session`: (sub, client_id, scopes).
async fn whoami(session: &http_oauth2_client::OAuthSession) -> Value {
    let mcp = session
        .mcp_client()
        .await
        .expect("MCP connect with the provider's token");
    let r = mcp
        .call_tool("whoami", json!({}), None)
        .await
        .expect("tools/call whoami");
    r["structuredContent"].clone()
}
