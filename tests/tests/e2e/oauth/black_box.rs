//! A black-box client through every endpoint: registration (AS-63, AS-64), authorization with
//! a loopback redirect on another port (AS-15), code exchange, refresh rotation,
//! introspection, and revocation of the whole grant (AS-53).

use serde_json::{Value, json};
use tests::oauth::{authorize_request, introspect, revoke_request, token_request};
use tests::{auth_server, http, pkce};

use super::{RESOURCE, str_of};

#[tokio::test]
async fn black_box_client_does_register_authorize_token_refresh_revoke_introspect() {
    let s = auth_server(|_| {}).await;
    let issuer = s.issuer();
    // Registration (RFC 7591): 201 with all metadata (AS-63).
    let res = http()
        .post(format!("{issuer}/register"))
        .json(&json!({
            "redirect_uris": ["http://127.0.0.1/cb"],
            "client_name": "black box",
            "unknown_field": "ignored (AS-64)",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let reg: Value = res.json().await.unwrap();
    let client_id = str_of(&reg, "client_id");
    assert_eq!(reg["token_endpoint_auth_method"], "none");
    assert_eq!(reg["application_type"], "native");
    assert!(reg.get("client_secret").is_none());
    assert_eq!(
        reg["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    // Authorize with a loopback redirect on another port (AS-15).
    let (v, c) = pkce();
    let redirect = "http://127.0.0.1:61000/cb";
    let code = authorize_request(issuer, client_id, redirect)
        .challenge(&c)
        .params(&[
            ("resource", RESOURCE),
            ("scope", "mcp:tools:read mcp:tools:call"),
        ])
        .code()
        .await;
    let res = token_request(issuer)
        .authorization_code(&code, v.secret())
        .client_id(client_id)
        .redirect_uri(redirect)
        .send()
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let t: Value = res.json().await.unwrap();
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["scope"], "mcp:tools:call mcp:tools:read");
    assert!(t["expires_in"].as_u64().unwrap() > 0);
    let (at, rt) = (str_of(&t, "access_token"), str_of(&t, "refresh_token"));
    // Refresh rotates.
    let refresh = |rt: &str| token_request(issuer).refresh(rt).client_id(client_id);
    let res = refresh(rt).send().await;
    assert_eq!(res.status(), 200);
    let t2: Value = res.json().await.unwrap();
    let rt2 = str_of(&t2, "refresh_token");
    assert_ne!(rt, rt2);
    // Introspection sees the access token.
    let i = introspect(issuer, at).await;
    assert_eq!(i["active"], true);
    assert_eq!(i["client_id"], client_id);
    assert_eq!(i["aud"], RESOURCE);
    // Revoking the refresh token revokes the grant, and so the access tokens (AS-53).
    let res = revoke_request(issuer, rt2)
        .client_id(client_id)
        .send()
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(introspect(issuer, at).await, json!({"active": false}));
    assert_eq!(refresh(rt2).send().await.status(), 400);
}
