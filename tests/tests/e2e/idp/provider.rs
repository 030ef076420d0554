//! node-oidc-provider in its default configuration (RFC 8414 metadata, RFC 9068 JWT access
//! tokens per resource indicator, refresh tokens only with `offline_access`).

use serde_json::json;
use tests::mcp::{LEGACY, McpRequest, challenge, jsonrpc};
use tests::oidc::{self, EXPIRED_CLIENT, OidcProvider, SERVICE_CLIENT};
use tests::{http, mcp_initialize, mcp_post};

use super::whoami;

/// Login (DCR, PKCE, resource indicator, cookies across the interaction redirects), tools
/// with the provider's token, and a refresh: the provider lists `offline_access`, so the
/// client asks for it and gets a refresh token, which works.
#[tokio::test]
async fn client_logs_in_at_oidc_provider_calls_tools_and_refreshes_cl20_cl33_rs12() {
    let Some(p) = OidcProvider::start(json!({})).await else {
        return;
    };
    let mcp = p.mcp_server(|_| {}).await;
    let session = oidc::session(mcp.resource_url(), |b| b)
        .await
        .expect("login at oidc-provider");
    let me = whoami(&session).await;
    assert_eq!(me["sub"], "alice");
    assert_eq!(me["client_id"], session.client_id());
    assert!(
        me["scopes"]
            .as_array()
            .unwrap()
            .contains(&json!("mcp:tools:call")),
        "{me}"
    );

    let tm = session.token_manager();
    let before = tm.tokens().expect("tokens");
    assert!(
        before.refresh_token.is_some(),
        "offline_access was requested, so the provider issued a refresh token"
    );
    let (after, _) = tm
        .refresh_if_current(tm.generation())
        .await
        .expect("refresh at oidc-provider");
    assert_ne!(after.secret(), before.access_token.secret());
    let sid = mcp_initialize(mcp.resource_url(), after.secret()).await;
    let res = McpRequest::post(&http(), mcp.resource_url())
        .token(after.secret())
        .session(&sid)
        .rpc("tools/call", json!({"name": "whoami", "arguments": {}}))
        .await;
    assert_eq!(res.status(), 200, "the refreshed token works");
}

/// A token the provider issued for another resource: 401 `invalid_token` naming the
/// audience; an expired one: 401 naming `exp`; a narrower one: 403 `insufficient_scope`
/// listing the scope `tools/call` needs (RS-06, RS-07, RS-13).
#[tokio::test]
async fn provider_tokens_for_another_resource_expired_or_narrower_are_refused_rs06_rs07_rs13() {
    let Some(p) = OidcProvider::start(json!({})).await else {
        return;
    };
    let mcp = p.mcp_server(|_| {}).await;
    let url = mcp.resource_url();

    let other = p
        .service_token(SERVICE_CLIENT, "mcp:tools:call", "http://127.0.0.1:1/other")
        .await;
    let res = mcp_post(url, Some(&other), jsonrpc::initialize(LEGACY)).await;
    assert_eq!(res.status(), 401);
    let www = challenge(&res);
    assert!(www.starts_with(r#"Bearer error="invalid_token""#), "{www}");
    assert!(
        www.contains(&format!(
            "token not issued for this resource: aud must contain {url} (found http://127.0.0.1:1/other)"
        )),
        "{www}"
    );
    assert!(www.contains("resource_metadata="), "{www}");

    let expired = p.service_token(EXPIRED_CLIENT, "mcp:tools:call", url).await;
    let res = mcp_post(url, Some(&expired), jsonrpc::initialize(LEGACY)).await;
    assert_eq!(res.status(), 401);
    assert!(
        challenge(&res).contains(r#"error_description="token expired (exp is past, leeway 30 s)""#),
        "{}",
        challenge(&res)
    );

    let narrow = p.service_token(SERVICE_CLIENT, "mcp:tools:read", url).await;
    let sid = mcp_initialize(url, &narrow).await;
    let res = McpRequest::post(&http(), url)
        .token(&narrow)
        .session(&sid)
        .rpc(
            "tools/call",
            json!({"name": "echo", "arguments": {"message": "x"}}),
        )
        .await;
    assert_eq!(res.status(), 403);
    let www = challenge(&res);
    assert!(www.contains(r#"error="insufficient_scope""#), "{www}");
    assert!(www.contains(r#"scope="mcp:tools:call""#), "{www}");
}
