//! Both real servers (`tests::Stack`) driven by the real client: the design document's edge
//! cases at login (`login`) and afterwards (`renewal`), the checklist's attacks end to end
//! (`security`), every MCP operation through the OAuth stack (`operations`), HTTPS (AS-10) and
//! the consent page in a real browser.

mod consent_browser;
mod https;
mod login;
mod operations;
mod renewal;
mod security;

use std::sync::Arc;
use std::time::Duration;

use http_oauth2_client::{
    ClientError, InMemoryTokenStore, McpClient, OAuthConfig, OAuthConfigBuilder, OAuthSession,
};
use serde_json::json;

/// A headless client config for `url` (insecure http allowed, scope `mcp`, 5 s timeout,
/// in-memory store); tests add what differs.
fn client_config(url: &str) -> OAuthConfigBuilder {
    OAuthConfig::builder(url)
        .headless()
        .allow_insecure_http()
        .scopes("mcp")
        .request_timeout(Duration::from_secs(5))
        .with_token_store(Arc::new(InMemoryTokenStore::default()))
}

async fn connect(b: OAuthConfigBuilder) -> Result<OAuthSession, ClientError> {
    OAuthSession::connect(b.build()?).await
}

async fn mcp_for(session: &OAuthSession) -> McpClient {
    McpClient::connect(session.client(), session.server_url().clone())
        .await
        .expect("MCP connect")
}

async fn echo(mcp: &McpClient) -> Result<serde_json::Value, ClientError> {
    mcp.call_tool("echo", json!({"message": "x"}), None).await
}

/// A temporary folder for token files, removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("store-{}", shared::random::token()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
    /// `tokens.jwe` and `tokens.key` inside.
    fn store_paths(&self) -> (std::path::PathBuf, std::path::PathBuf) {
        (self.0.join("tokens.jwe"), self.0.join("tokens.key"))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
