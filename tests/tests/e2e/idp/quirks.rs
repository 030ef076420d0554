//! node-oidc-provider configured like the providers people run, each quirk with the setting
//! that makes it work (and, where cheap, the refusal without it).

use serde_json::json;
use tests::mcp::{LEGACY, challenge, jsonrpc};
use tests::oidc::{self, OidcProvider, SERVICE_CLIENT};
use tests::{http, mcp_post};

use super::whoami;

/// Auth0's issuer form `https://TENANT.auth0.com/`: configured exactly as written, the MCP
/// server finds the metadata and accepts the tokens; the same issuer without its slash is
/// another issuer (the metadata's `issuer` does not match: 503, keys unavailable).
#[tokio::test]
async fn trailing_slash_issuer_works_when_configured_as_written_rs12_rs14() {
    let Some(p) = OidcProvider::start(json!({"issuerSlash": true})).await else {
        return;
    };
    assert!(p.issuer().ends_with('/'));
    let mcp = p.mcp_server(|_| {}).await;
    let session = oidc::session(mcp.resource_url(), |b| b)
        .await
        .expect("login at a trailing-slash issuer");
    assert_eq!(session.issuer(), p.issuer());
    assert_eq!(whoami(&session).await["sub"], "alice");

    let slashless = p
        .mcp_server(|c| c.auth_server_issuer = p.issuer().trim_end_matches('/').to_owned())
        .await;
    let token = p
        .service_token(SERVICE_CLIENT, "mcp:tools:call", slashless.resource_url())
        .await;
    let res = mcp_post(
        slashless.resource_url(),
        Some(&token),
        jsonrpc::initialize(LEGACY),
    )
    .await;
    assert_eq!(res.status(), 503);
}

/// Entra ID / older Keycloak: no RFC 8414 document, only OpenID discovery. Both our MCP
/// server (for `jwks_uri`) and our client (for the endpoints) fall back to it.
#[tokio::test]
async fn openid_discovery_only_provider_works_rs14_cl20() {
    let Some(p) = OidcProvider::start(json!({"openidOnly": true})).await else {
        return;
    };
    let rfc8414 = http()
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            p.origin()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(rfc8414.status(), 404, "premise: no RFC 8414 metadata");
    let mcp = p.mcp_server(|_| {}).await;
    let session = oidc::session(mcp.resource_url(), |b| b)
        .await
        .expect("login via OpenID discovery");
    assert_eq!(whoami(&session).await["sub"], "alice");
}

/// Keycloak realm / Entra tenant form: an issuer with a path whose only metadata is OpenID
/// discovery appended to that path; the MCP server and the client both reach it after the
/// path-inserted forms 404.
#[tokio::test]
async fn issuer_with_a_path_and_path_appended_openid_discovery_works_rs14_cl20() {
    let Some(p) =
        OidcProvider::start(json!({"issuerPath": "/realms/acme", "openidOnly": true})).await
    else {
        return;
    };
    assert!(p.issuer().ends_with("/realms/acme"));
    for (path, status) in [
        ("/.well-known/oauth-authorization-server/realms/acme", 404),
        ("/.well-known/openid-configuration/realms/acme", 404),
        ("/realms/acme/.well-known/openid-configuration", 200),
    ] {
        let r = http()
            .get(format!("{}{path}", p.origin()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "premise: {path}");
    }
    let mcp = p.mcp_server(|_| {}).await;
    let session = oidc::session(mcp.resource_url(), |b| b)
        .await
        .expect("login at a realm issuer");
    assert_eq!(session.issuer(), p.issuer());
    assert_eq!(whoami(&session).await["sub"], "alice");
}

/// Generic JWT access tokens (`typ` JWT, `azp`, no `jti`, no `client_id`, scopes in an `scp`
/// array): refused by the default rfc9068 profile with the reason, accepted with
/// `token_profile.profile = "generic_jwt"` (client id from `azp`, scopes from `scp`).
#[tokio::test]
async fn generic_jwt_profile_tokens_need_the_generic_jwt_setting_rs12() {
    let Some(p) = OidcProvider::start(json!({"profile": "generic"})).await else {
        return;
    };
    let strict = p.mcp_server(|_| {}).await;
    let token = p
        .service_token(SERVICE_CLIENT, "mcp:tools:call", strict.resource_url())
        .await;
    let res = mcp_post(
        strict.resource_url(),
        Some(&token),
        jsonrpc::initialize(LEGACY),
    )
    .await;
    assert_eq!(res.status(), 401);
    assert!(
        challenge(&res).contains(r#"error_description="token typ must be at+jwt (found JWT)""#),
        "{}",
        challenge(&res)
    );

    let relaxed = p
        .mcp_server(|c| c.token_profile.profile = "generic_jwt".into())
        .await;
    let session = oidc::session(relaxed.resource_url(), |b| b)
        .await
        .expect("login");
    let me = whoami(&session).await;
    assert_eq!(me["sub"], "alice");
    assert_eq!(me["client_id"], session.client_id(), "client id from azp");
    assert!(
        me["scopes"]
            .as_array()
            .unwrap()
            .contains(&json!("mcp:tools:call")),
        "scopes from scp: {me}"
    );
}

/// A provider that issues refresh tokens only for `offline_access` (Auth0, Okta, Entra; here
/// oidc-provider's default): with explicitly configured scopes too, the client adds
/// `offline_access` (listed in `scopes_supported`) and gets a refresh token (CL-33).
#[tokio::test]
async fn refresh_token_needs_offline_access_which_the_client_requests_cl20_cl33() {
    let Some(p) = OidcProvider::start(json!({})).await else {
        return;
    };
    let mcp = p.mcp_server(|_| {}).await;
    let session = oidc::session(mcp.resource_url(), |b| b.scopes("mcp:tools:call"))
        .await
        .expect("login");
    assert!(
        session
            .authorization_server_metadata()
            .scopes_supported
            .contains(&"offline_access".to_owned())
    );
    let tokens = session.token_manager().tokens().expect("tokens");
    assert!(tokens.refresh_token.is_some(), "a refresh token was issued");
}

/// A provider that refuses registration `scope` values it does not know
/// (`invalid_client_metadata`): the client registers again without `scope` and logs in.
#[tokio::test]
async fn registration_refused_for_its_scope_is_retried_without_scope_cl13() {
    let Some(p) = OidcProvider::start(json!({"restrictRegistrationScopes": true})).await else {
        return;
    };
    let refused = http()
        .post(format!("{}/reg", p.origin()))
        .json(&json!({"redirect_uris": ["http://127.0.0.1/callback"], "token_endpoint_auth_method": "none",
            "application_type": "native", "scope": "mcp:tools:call"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400, "premise");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client_metadata");
    let mcp = p.mcp_server(|_| {}).await;
    let session = oidc::session(mcp.resource_url(), |b| b)
        .await
        .expect("registration retried without scope, then login");
    assert_eq!(whoami(&session).await["sub"], "alice");
}

/// Entra ID v2 style: the client omits the RFC 8707 `resource` parameter
/// (`omit_resource_parameter`), the provider issues tokens for its configured audience
/// `api://mcp-app`, and the MCP server accepts that audience (`audiences`). Without the
/// audience setting the same token is refused, naming the audience.
#[tokio::test]
async fn audience_from_provider_config_with_resource_omitted_and_audiences_set_rs13_cl19() {
    let Some(p) = OidcProvider::start(json!({"defaultResource": "api://mcp-app"})).await else {
        return;
    };
    let mcp = p
        .mcp_server(|c| c.audiences = vec!["api://mcp-app".into()])
        .await;
    let session = oidc::session(mcp.resource_url(), |b| b.omit_resource_parameter())
        .await
        .expect("login without resource");
    let token = session
        .token_manager()
        .tokens()
        .unwrap()
        .access_token
        .clone();
    let claims = http_oauth2_client::token::decode_claims_unverified(&token).unwrap();
    assert_eq!(
        claims["aud"], "api://mcp-app",
        "the provider chose the audience"
    );
    assert_eq!(whoami(&session).await["sub"], "alice");

    let default_audience = p.mcp_server(|_| {}).await;
    let res = mcp_post(
        default_audience.resource_url(),
        Some(token.secret()),
        jsonrpc::initialize(LEGACY),
    )
    .await;
    assert_eq!(res.status(), 401);
    assert!(
        challenge(&res).contains("aud must contain"),
        "{}",
        challenge(&res)
    );
}
