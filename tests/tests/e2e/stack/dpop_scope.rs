//! RFC 9449 §7.1 at the MCP server: a 403 `insufficient_scope` to a request made with a
//! DPoP-bound token challenges in the `DPoP` scheme (with `scope`, `algs` and
//! `resource_metadata`), a bearer request still gets the `Bearer` form, and the real client
//! steps up (CL-35) from either form with its DPoP key (issue 15, RS-07, EX-07).

use serde_json::json;
use shared::challenge::{Challenge, parse_www_authenticate};
use tests::mcp::{LEGACY, McpRequest, jsonrpc};

use super::{client_config, connect, echo, mcp_for};

/// Every challenge of every `WWW-Authenticate` header.
fn challenges(r: &reqwest::Response) -> Vec<Challenge> {
    r.headers()
        .get_all("www-authenticate")
        .iter()
        .flat_map(|v| parse_www_authenticate(v.to_str().unwrap()))
        .collect()
}

/// A DPoP-scheme MCP request with a fresh proof by the session's key.
fn dpop_request(
    session: &http_oauth2_client::OAuthSession,
    token: &shared::secret::AccessToken,
    sid: Option<&str>,
) -> McpRequest {
    let url = url::Url::parse(session.server_url().as_str()).unwrap();
    let key = session.token_manager().dpop().expect("DPoP-bound tokens");
    let proof = key.proof("POST", &url, Some(token)).unwrap();
    let mut r = McpRequest::post(&tests::http(), url.as_str())
        .header("authorization", &format!("DPoP {}", token.secret()))
        .header("dpop", proof.to_str().unwrap())
        .version(LEGACY);
    if let Some(sid) = sid {
        r = r.session(sid);
    }
    r
}

#[tokio::test]
async fn dpop_request_lacking_scope_gets_a_dpop_insufficient_scope_challenge_rs07_ex07() {
    let s = tests::stack(|_| {}, |c| c.dpop.enabled = true).await;
    let session = connect(client_config(s.mcp_url()).scopes("mcp:tools:read"))
        .await
        .expect("login with DPoP");
    let (token, _) = session.token_manager().access_token().await.unwrap();
    let init = dpop_request(&session, &token, None)
        .json(&jsonrpc::initialize(LEGACY))
        .await;
    assert_eq!(init.status(), 200);
    let sid = init.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let res = dpop_request(&session, &token, Some(&sid))
        .id(2)
        .rpc(
            "tools/call",
            json!({"name": "echo", "arguments": {"message": "x"}}),
        )
        .await;
    assert_eq!(res.status(), 403);
    let all = challenges(&res);
    let schemes: Vec<&str> = all.iter().map(|c| c.scheme.as_str()).collect();
    assert_eq!(schemes, ["Bearer", "DPoP"], "DPoP optional: both forms");
    let (bearer, dpop) = (&all[0], &all[1]);
    assert_eq!(dpop.error(), Some("insufficient_scope"));
    assert_eq!(dpop.scope(), Some("mcp:tools:call"));
    assert_eq!(dpop.param("algs"), Some("ES256 EdDSA RS256"));
    let prm = format!(
        "{}/.well-known/oauth-protected-resource/mcp",
        s.mcp_url().trim_end_matches("/mcp")
    );
    assert_eq!(dpop.resource_metadata(), Some(prm.as_str()));
    assert_eq!(bearer.error(), Some("insufficient_scope"));
    assert_eq!(bearer.scope(), dpop.scope());
    assert_eq!(bearer.resource_metadata(), dpop.resource_metadata());
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "insufficient_scope");

    // A bearer token at the same server: the Bearer form comes first, as before.
    let t = tests::service_token(s.issuer(), "mcp:tools:read").await;
    let sid = tests::mcp_initialize(s.mcp_url(), &t).await;
    let res = McpRequest::post(&tests::http(), s.mcp_url())
        .token(&t)
        .session(&sid)
        .version(LEGACY)
        .id(2)
        .rpc(
            "tools/call",
            json!({"name": "echo", "arguments": {"message": "x"}}),
        )
        .await;
    assert_eq!(res.status(), 403);
    let first = &challenges(&res)[0];
    assert_eq!(first.scheme, "Bearer");
    assert_eq!(first.error(), Some("insufficient_scope"));
    s.shutdown().await;
}

#[tokio::test]
async fn dpop_only_server_answers_scope_in_the_dpop_scheme_and_the_client_steps_up_cl35_ex07() {
    // `required`: every accepted request used DPoP, so the 403 has the DPoP challenge only.
    let s = tests::stack(
        |_| {},
        |c| {
            c.dpop.enabled = true;
            c.dpop.required = true;
        },
    )
    .await;
    let session = connect(client_config(s.mcp_url()).scopes("mcp:tools:read"))
        .await
        .expect("login with DPoP");
    let (token, _) = session.token_manager().access_token().await.unwrap();
    let init = dpop_request(&session, &token, None)
        .json(&jsonrpc::initialize(LEGACY))
        .await;
    let sid = init.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let res = dpop_request(&session, &token, Some(&sid))
        .id(2)
        .rpc(
            "tools/call",
            json!({"name": "echo", "arguments": {"message": "x"}}),
        )
        .await;
    assert_eq!(res.status(), 403);
    let all = challenges(&res);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].scheme, "DPoP");
    assert_eq!(all[0].error(), Some("insufficient_scope"));
    assert_eq!(all[0].scope(), Some("mcp:tools:call"));

    // The client: the 403 (DPoP form) makes it step up once, with its DPoP key.
    let before = session.token_manager().generation();
    let mcp = mcp_for(&session).await;
    let out = echo(&mcp).await.expect("tools/call after step-up");
    assert_eq!(out["content"][0]["text"], "x");
    let m = session.token_manager();
    assert_eq!(m.generation(), before + 1, "exactly one step-up");
    let tokens = m.tokens().unwrap();
    assert!(tokens.dpop_bound, "the stepped-up token is DPoP-bound too");
    let granted = tokens.scope.clone().unwrap_or_default();
    assert!(
        granted.contains("mcp:tools:call") && granted.contains("mcp:tools:read"),
        "the union of scopes: {granted}"
    );
    s.shutdown().await;
}

#[tokio::test]
async fn dpop_client_steps_up_when_both_forms_are_offered_cl35() {
    let s = tests::stack(|_| {}, |c| c.dpop.enabled = true).await;
    let session = connect(client_config(s.mcp_url()).scopes("mcp:tools:read"))
        .await
        .expect("login with DPoP");
    assert!(session.token_manager().tokens().unwrap().dpop_bound);
    let mcp = mcp_for(&session).await;
    let out = echo(&mcp).await.expect("tools/call after step-up");
    assert_eq!(out["content"][0]["text"], "x");
    assert!(session.token_manager().tokens().unwrap().dpop_bound);
    s.shutdown().await;
}
