//! Both real servers (`tests::Stack`) driven by the real client: the design document's edge
//! cases at login (`login`) and afterwards (`renewal`), the checklist's attacks end to end
//! (`security`), every MCP operation through the OAuth stack (`operations`), HTTPS (AS-10) and
//! the consent page in a real browser; two authorization-server instances on one Redis
//! (`redis_as`), two MCP server instances sharing legacy sessions on one Redis (`redis_mcp`).

mod consent_browser;
mod dpop;
mod dpop_jkt;
mod dpop_scope;
mod enterprise;
mod https;
mod login;
mod logout;
mod operations;
mod redis_as;
mod redis_dpop;
mod redis_mcp;
mod renewal;
mod security;

use std::sync::Arc;
use std::time::Duration;

use http_oauth2_client::{
    ClientError, InMemoryTokenStore, McpClient, OAuthConfig, OAuthConfigBuilder, OAuthSession,
};
use serde_json::json;
use shared::clock::TestClock;

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

/// A client logged in to a stack, with the test clock its token manager uses.
struct LoggedIn {
    session: OAuthSession,
    mcp: McpClient,
    clock: TestClock,
}

/// Logs in headlessly to `s` (clock under test control) and connects an MCP client.
async fn logged_in(s: &tests::Stack) -> LoggedIn {
    let clock = TestClock::starting_now();
    let session = connect(client_config(s.mcp_url()).with_clock(Arc::new(clock.clone())))
        .await
        .expect("login");
    let mcp = mcp_for(&session).await;
    LoggedIn {
        session,
        mcp,
        clock,
    }
}

impl LoggedIn {
    /// The current token set.
    fn tokens(&self) -> Arc<http_oauth2_client::TokenSet> {
        self.session.token_manager().tokens().expect("tokens")
    }

    /// Revokes `token` at the stack's AS as this client; asserts 200.
    async fn revoke(&self, s: &tests::Stack, token: &str) {
        let res = tests::oauth::revoke_request(s.issuer(), token)
            .client_id(self.session.client_id())
            .send()
            .await;
        assert_eq!(res.status(), 200);
    }
}
