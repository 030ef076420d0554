//! Enterprise-managed authorization end to end (issue 15 B, EX-20..EX-24): a second instance
//! of our authorization server plays the enterprise IdP (`[idp]`: token exchange for
//! ID-JAGs under a policy), the stack's authorization server trusts it (keys fetched from its
//! JWKS URL) and redeems the ID-JAG, and the real client in enterprise mode reaches
//! `tools/call` on our MCP server without a login at the MCP authorization server.

use std::sync::Arc;

use http_oauth2_client::oauth::enterprise::EnterpriseLogin;
use http_oauth2_client::{
    DpopMode, InMemoryTokenStore, LoginMode, McpClient, OAuthConfig, OAuthSession,
};
use shared::assertion::JWT_BEARER_GRANT;

const CLIENT: &str = "mcp-cli";

/// The stack (trusting the IdP: its keys from `jwks_url`, or by discovery) and the running
/// IdP whose policy lets `mcp-cli` get ID-JAGs for `audience` (the stack's issuer unless
/// given).
async fn enterprise(
    audience: Option<&str>,
    discover: bool,
) -> (tests::Stack, auth_server::RunningServer) {
    let listener = tests::loopback_listener().await;
    let idp_issuer = format!("http://{}", listener.local_addr().unwrap());
    let jwks_url = format!("{idp_issuer}/jwks");
    let trusted = idp_issuer.clone();
    let stack = tests::stack(
        move |c| {
            c.insecure_allow_loopback_metadata_documents = true;
            c.trusted_idps = vec![auth_server::config::TrustedIdp {
                issuer: trusted,
                // Discovery: the jwks_uri of the IdP's metadata.
                jwks_url: (!discover).then_some(jwks_url),
                jwks: None,
            }];
            for client in &mut c.clients {
                if client.client_id == CLIENT {
                    client.grant_types.push(JWT_BEARER_GRANT.into());
                }
            }
        },
        |_| {},
    )
    .await;
    let audience = audience.unwrap_or(stack.issuer()).to_owned();
    let cfg = auth_server::Config {
        keys_dir: None,
        subject: "alice@corp.example".into(),
        resources: vec![idp_issuer.clone()],
        idp: auth_server::config::IdpConfig {
            enabled: true,
            policy: vec![auth_server::config::IdJagRule {
                client_id: CLIENT.into(),
                audiences: vec![audience],
                resources: vec![stack.mcp_url().to_owned()],
                scopes: vec!["mcp".into()],
                target_client_id: None,
            }],
            ..Default::default()
        },
        ..Default::default()
    };
    let idp = auth_server::serve(listener, cfg).await.expect("IdP starts");
    assert_eq!(idp.issuer(), idp_issuer);
    (stack, idp)
}

fn config(stack: &tests::Stack, idp: &str) -> OAuthConfig {
    let flow = EnterpriseLogin::builder(idp, CLIENT)
        .login_mode(LoginMode::Headless)
        .allow_insecure_http()
        .build()
        .unwrap();
    OAuthConfig::builder(stack.mcp_url())
        .client_id(CLIENT)
        .login_flow(Arc::new(flow))
        .dpop(DpopMode::Never)
        .allow_insecure_http()
        .scopes("mcp")
        .with_token_store(Arc::new(InMemoryTokenStore::default()))
        .build()
        .unwrap()
}

#[tokio::test]
async fn an_idp_user_reaches_tools_call_through_an_id_jag_ex20_ex21_ex22_ex23_ex24() {
    for discover in [false, true] {
        enterprise_flow(discover).await;
    }
}

/// The enterprise flow to `tools/call`, the IdP's keys from `jwks_url` or by discovery.
async fn enterprise_flow(discover: bool) {
    let (stack, idp) = enterprise(None, discover).await;
    let session = OAuthSession::connect(config(&stack, idp.issuer()))
        .await
        .expect("enterprise login");
    let mcp = McpClient::connect(session.client(), session.server_url().clone())
        .await
        .expect("MCP connect");
    let who = mcp
        .call_tool("whoami", serde_json::json!({}), None)
        .await
        .unwrap();
    // The subject comes from the ID-JAG (the IdP's user), not the MCP AS's mock user.
    assert_eq!(who["structuredContent"]["sub"], "alice@corp.example");
    let echo = mcp
        .call_tool("echo", serde_json::json!({"message": "sso"}), None)
        .await
        .unwrap();
    assert!(echo.to_string().contains("sso"), "{echo}");
    idp.shutdown().await;
    stack.shutdown().await;
}

#[tokio::test]
async fn the_idp_policy_refuses_an_audience_it_does_not_list_ex23() {
    let (stack, idp) = enterprise(Some("https://another-as.example"), false).await;
    let err = OAuthSession::connect(config(&stack, idp.issuer()))
        .await
        .expect_err("refused by the IdP policy");
    let report = http_oauth2_client::error::report(&err);
    assert!(report.contains("invalid_target"), "{report}");
    idp.shutdown().await;
    stack.shutdown().await;
}
