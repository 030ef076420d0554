//! ID-JAG in both roles, in process (issue 15 B, checklist EX-20..EX-23): an IdP server
//! issuing ID-JAGs by token exchange, an MCP authorization server redeeming them.

use axum::http::StatusCode;
use shared::assertion::{
    ID_JAG_PROFILE, ID_JAG_TOKEN_TYPE, JWT_BEARER_GRANT, TOKEN_EXCHANGE_GRANT,
    TOKEN_TYPE_ACCESS_TOKEN,
};
use shared::dpop::JwkSet;

use super::{ISSUER, PUBLIC_CLIENT, RESOURCE, Reply, Server};
use crate::config::{IdJagRule, TrustedIdp};

const IDP: &str = "http://127.0.0.1:8";

fn idp() -> Server {
    Server::with_issuer(IDP, |c| {
        c.idp.enabled = true;
        c.idp.policy = vec![IdJagRule {
            client_id: PUBLIC_CLIENT.into(),
            audiences: vec![ISSUER.into()],
            resources: vec![RESOURCE.into()],
            scopes: vec!["mcp:tools:call".into(), "mcp:tools:read".into()],
            target_client_id: None,
        }];
    })
}

fn mcp_as(idp: &Server) -> Server {
    mcp_as_at(idp, shared::clock::TestClock::starting_now())
}

fn mcp_as_at(idp: &Server, clock: shared::clock::TestClock) -> Server {
    let jwks = JwkSet {
        keys: vec![idp.state.keys.ring().current.jwk.clone()],
    };
    Server::with_clock(ISSUER, clock, |c| {
        c.trusted_idps = vec![TrustedIdp {
            issuer: IDP.into(),
            jwks_url: None,
            jwks: Some(jwks),
        }];
        for client in &mut c.clients {
            if client.client_id == PUBLIC_CLIENT {
                client.grant_types.push(JWT_BEARER_GRANT.into());
            }
        }
    })
}

impl Server {
    async fn exchange_for_jag(&self, subject: &str, extra: &[(&str, &str)]) -> Reply {
        let mut form = vec![
            ("grant_type", TOKEN_EXCHANGE_GRANT),
            ("client_id", PUBLIC_CLIENT),
            ("requested_token_type", ID_JAG_TOKEN_TYPE),
            ("subject_token", subject),
            ("subject_token_type", TOKEN_TYPE_ACCESS_TOKEN),
        ];
        form.extend_from_slice(extra);
        self.token(&form, None).await
    }

    async fn redeem(&self, jag: &str, extra: &[(&str, &str)]) -> Reply {
        let mut form = vec![
            ("grant_type", JWT_BEARER_GRANT),
            ("client_id", PUBLIC_CLIENT),
            ("assertion", jag),
        ];
        form.extend_from_slice(extra);
        self.token(&form, None).await
    }
}

fn payload(jwt: &str) -> serde_json::Value {
    use base64::Engine as _;
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(jwt.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap()
}

/// A user token at the IdP and an ID-JAG for the MCP AS with `scope`.
async fn jag(idp: &Server, scope: &str) -> String {
    let user = idp.tokens().await;
    let r = idp
        .exchange_for_jag(
            user["access_token"].as_str().unwrap(),
            &[
                ("audience", ISSUER),
                ("resource", RESOURCE),
                ("scope", scope),
            ],
        )
        .await
        .assert_no_store_json(StatusCode::OK);
    assert_eq!(r["issued_token_type"], ID_JAG_TOKEN_TYPE);
    assert_eq!(r["token_type"], "N_A");
    r["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_id_jag_from_the_idp_is_redeemed_once_with_intersected_scopes_ex20_ex21_ex22_ex23() {
    let idp = idp();
    let mcp = mcp_as(&idp);
    let m = mcp
        .get("/.well-known/oauth-authorization-server")
        .await
        .assert_public_json();
    assert_eq!(
        m["authorization_grant_profiles_supported"],
        serde_json::json!([ID_JAG_PROFILE])
    );
    let grants = |m: &serde_json::Value| -> Vec<String> {
        serde_json::from_value(m["grant_types_supported"].clone()).unwrap()
    };
    assert!(grants(&m).contains(&JWT_BEARER_GRANT.to_owned()));
    assert!(!grants(&m).contains(&TOKEN_EXCHANGE_GRANT.to_owned()));
    let im = idp
        .get("/.well-known/oauth-authorization-server")
        .await
        .assert_public_json();
    assert!(grants(&im).contains(&TOKEN_EXCHANGE_GRANT.to_owned()));
    assert!(im.get("authorization_grant_profiles_supported").is_none());
    // The IdP's policy drops what it does not allow (mcp:prompts:read).
    let jag = jag(&idp, "mcp:tools:call mcp:prompts:read").await;
    let c = payload(&jag);
    assert_eq!(c["aud"], ISSUER);
    assert_eq!(c["client_id"], PUBLIC_CLIENT);
    assert_eq!(c["scope"], "mcp:tools:call");
    // Requested ∩ ID-JAG: mcp:tools:call only.
    let t = mcp
        .redeem(&jag, &[("scope", "mcp:tools:call mcp:resources:read")])
        .await
        .assert_no_store_json(StatusCode::OK);
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["scope"], "mcp:tools:call");
    assert!(t.get("refresh_token").is_none());
    let at = payload(t["access_token"].as_str().unwrap());
    assert_eq!(at["sub"], "demo-user");
    assert_eq!(at["aud"], RESOURCE);
    assert_eq!(at["iss"], ISSUER);
    mcp.redeem(&jag, &[]).await.assert_oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "ID-JAG was already used",
    );
}

#[tokio::test]
async fn the_idp_policy_and_the_mcp_as_refuse_what_is_not_allowed_ex21_ex23() {
    let idp = idp();
    let mcp = mcp_as(&idp);
    let user = idp.tokens().await;
    let at = user["access_token"].as_str().unwrap();
    idp.exchange_for_jag(
        at,
        &[
            ("audience", "https://other-as.example"),
            ("resource", RESOURCE),
        ],
    )
    .await
    .assert_oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_target",
        "the policy does not allow this client an ID-JAG for this audience",
    );
    idp.exchange_for_jag(
        at,
        &[
            ("audience", ISSUER),
            ("resource", "https://other.example/mcp"),
        ],
    )
    .await
    .assert_oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_target",
        "the policy does not allow this resource",
    );
    idp.exchange_for_jag("not-a-token", &[("audience", ISSUER)])
        .await
        .assert_oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "subject_token is invalid or expired",
        );
    // Token exchange is off on the MCP AS.
    mcp.exchange_for_jag(at, &[("audience", ISSUER)])
        .await
        .assert_oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "unsupported grant_type",
        );
    // An ID-JAG from an IdP the MCP AS does not trust (signed by the MCP AS itself here:
    // the IdP server redeems nothing), and a scope the ID-JAG does not carry.
    let j = jag(&idp, "mcp:tools:call").await;
    idp.redeem(&j, &[]).await.assert_oauth_error(
        StatusCode::BAD_REQUEST,
        "unauthorized_client",
        "client may not use urn:ietf:params:oauth:grant-type:jwt-bearer",
    );
    mcp.redeem(&j, &[("scope", "mcp:prompts:read")])
        .await
        .assert_oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "no requested scope is granted by the ID-JAG",
        );
    mcp.redeem(&j, &[("resource", "http://127.0.0.1:3004/mcp")])
        .await
        .assert_oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_target",
            "resource differs from the ID-JAG's resource",
        );
    // Expired: the MCP AS's clock moves past exp + leeway.
    let j = jag(&idp, "mcp:tools:call").await;
    let clock = shared::clock::TestClock::starting_now();
    let later = mcp_as_at(&idp, clock.clone());
    clock.advance(std::time::Duration::from_secs(400));
    later.redeem(&j, &[]).await.assert_oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "ID-JAG refused: assertion has expired",
    );
    let untrusted = mcp_as(&Server::with_issuer(IDP, |_| {}));
    untrusted
        .redeem(&jag(&idp, "mcp:tools:call").await, &[])
        .await
        .assert_oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "ID-JAG refused: assertion: DPoP proof jwk is missing or not a supported public key",
        );
}

#[test]
fn idp_settings_are_validated() {
    let bad = |edit: &dyn Fn(&mut crate::Config)| {
        let mut c = crate::Config::default();
        edit(&mut c);
        c.validate().is_err()
    };
    let idp = |issuer: &str, url: Option<&str>| TrustedIdp {
        issuer: issuer.into(),
        jwks_url: url.map(Into::into),
        jwks: None,
    };
    assert!(!bad(
        &|c| c.trusted_idps = vec![idp("https://idp.example", None)]
    ));
    assert!(bad(&|c| c.trusted_idps = vec![idp("idp.example", None)]));
    assert!(bad(
        &|c| c.trusted_idps = vec![idp("https://idp.example/", None)]
    ));
    assert!(bad(
        &|c| c.trusted_idps = vec![idp("https://idp.example", Some("ftp://x"))]
    ));
    assert!(bad(&|c| c.idp.id_jag_ttl_secs = 0));
    assert!(bad(&|c| c.dpop.iat_window_secs = 0));
    assert!(bad(&|c| {
        c.idp.policy = vec![IdJagRule {
            client_id: "c".into(),
            audiences: vec![],
            resources: vec![],
            scopes: vec![],
            target_client_id: None,
        }]
    }));
}
