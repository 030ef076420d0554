//! The authorization server over real HTTP, one module per endpoint (test names cite the AS-xx
//! rows they prove). Requests come from the builders in `tests::oauth`.

mod authorize;
mod black_box;
mod builtin_secrets;
mod cimd;
mod consent_bypass;
mod dpop;
mod introspect_revoke;
mod metadata;
mod operations;
mod private_key_jwt;
mod refresh;
mod register;
mod token;

use shared::pkce::PkceVerifier;
use tests::oauth::{CLI, CLI_REDIRECT, FormRequest, authorize_request, token_request};

/// The MCP resource the tests' tokens are for (the default config accepts it).
const RESOURCE: &str = "http://127.0.0.1:3003/mcp";

/// A code for `mcp-cli` (scope `mcp`, resource [`RESOURCE`]) and its verifier.
async fn code_for_cli(issuer: &str) -> (String, PkceVerifier) {
    let (v, c) = tests::pkce();
    let code = authorize_request(issuer, CLI, CLI_REDIRECT)
        .challenge(&c)
        .params(&[("scope", "mcp"), ("resource", RESOURCE)])
        .code()
        .await;
    (code, v)
}

/// The code exchange `mcp-cli` makes.
fn exchange(issuer: &str, code: &str, verifier: &str) -> FormRequest {
    token_request(issuer)
        .authorization_code(code, verifier)
        .client_id(CLI)
        .redirect_uri(CLI_REDIRECT)
        .resource(RESOURCE)
}

/// A refresh by `mcp-cli`.
fn refresh(issuer: &str, refresh_token: &str) -> FormRequest {
    token_request(issuer).refresh(refresh_token).client_id(CLI)
}

/// A code exchanged for tokens by `mcp-cli`; returns the token response.
async fn cli_tokens(issuer: &str) -> serde_json::Value {
    let (code, v) = code_for_cli(issuer).await;
    exchange(issuer, &code, v.secret()).json().await
}

/// An authorization server (`tweak` applied) and the token response of a code exchanged by
/// `mcp-cli`.
async fn server_with_cli_tokens(
    tweak: impl FnOnce(&mut auth_server::Config),
) -> (auth_server::RunningServer, serde_json::Value) {
    let s = tests::auth_server(tweak).await;
    let t = cli_tokens(s.issuer()).await;
    (s, t)
}

/// A string member of a JSON response.
fn str_of<'a>(v: &'a serde_json::Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("{key} in {v}"))
}
