//! `grant_type=refresh_token`: rotation and reuse detection (AS-41, AS-42), the grace window
//! for concurrent refreshes (AS-45), and scope narrowing (AS-40).

use tests::oauth::{CLI, CLI_REDIRECT, authorize_request, introspect};
use tests::{auth_server, pkce};

use super::{exchange, refresh, server_with_cli_tokens, str_of};

#[tokio::test]
async fn rotated_refresh_token_reuse_revokes_the_grant_as41_as42() {
    let (s, t) = server_with_cli_tokens(|c| c.refresh_grace_secs = 0).await;
    let issuer = s.issuer();
    let rt1 = str_of(&t, "refresh_token");
    let t2 = refresh(issuer, rt1).json().await;
    let rt2 = str_of(&t2, "refresh_token");
    assert_eq!(t2["scope"], "mcp");
    // Wait out the (zero-second) grace window: timestamps have one-second resolution.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let res = refresh(issuer, rt1).send().await;
    assert_eq!(res.status(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    // The whole grant is dead: the current token and its access tokens too.
    assert_eq!(refresh(issuer, rt2).send().await.status(), 400);
    let at2 = str_of(&t2, "access_token");
    assert_eq!(introspect(issuer, at2).await["active"], false);
}

#[tokio::test]
async fn concurrent_refresh_within_grace_window_keeps_the_session_as45() {
    let (s, t) = server_with_cli_tokens(|_| {}).await;
    let issuer = s.issuer();
    let rt = str_of(&t, "refresh_token");
    let (a, b) = tokio::join!(refresh(issuer, rt).send(), refresh(issuer, rt).send());
    assert_eq!(a.status(), 200);
    assert_eq!(b.status(), 200);
    let a: serde_json::Value = a.json().await.unwrap();
    let res = refresh(issuer, str_of(&a, "refresh_token")).send().await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn refresh_scope_may_narrow_never_widen_as40() {
    let s = auth_server(|_| {}).await;
    let issuer = s.issuer();
    let (v, c) = pkce();
    let code = authorize_request(issuer, CLI, CLI_REDIRECT)
        .challenge(&c)
        .param("scope", "mcp:tools:read")
        .code()
        .await;
    let t = exchange(issuer, &code, v.secret()).json().await;
    let res = refresh(issuer, str_of(&t, "refresh_token"))
        .scope("mcp")
        .json()
        .await;
    assert_eq!(res["error"], "invalid_scope");
}
