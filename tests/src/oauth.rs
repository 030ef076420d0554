//! Request builders for the authorization server's endpoints over real HTTP, so that a test
//! states only the parameters that differ: `token_request(issuer).authorization_code(code, v)
//! .client_id(CLI).send()`, `authorize_request(issuer, CLI, REDIRECT).challenge(&c).code()`.

use serde_json::Value;
use shared::pkce::PkceChallenge;

use crate::{http, location_params, param};

/// The pre-registered public client (`mcp-cli`) and its registered redirect URI.
pub const CLI: &str = "mcp-cli";
pub const CLI_REDIRECT: &str = "http://127.0.0.1:45678/callback";
/// The pre-registered confidential client used for `client_credentials`.
pub const SERVICE: (&str, &str) = ("mcp-service", "dev-service-secret");
/// The MCP server's own confidential client (introspection).
pub const MCP_SERVER_CLIENT: (&str, &str) = ("mcp-server", "dev-mcp-server-secret");

/// A form POST (`application/x-www-form-urlencoded`) to one endpoint.
#[derive(Debug, Clone)]
pub struct FormRequest {
    url: String,
    params: Vec<(String, String)>,
    basic: Option<(String, String)>,
}

/// `POST {issuer}/token`.
pub fn token_request(issuer: &str) -> FormRequest {
    FormRequest::new(format!("{issuer}/token"))
}

/// `POST {issuer}/revoke`.
pub fn revoke_request(issuer: &str, token: &str) -> FormRequest {
    FormRequest::new(format!("{issuer}/revoke")).param("token", token)
}

/// `POST {issuer}/introspect`, without client authentication.
pub fn introspect_request(issuer: &str, token: &str) -> FormRequest {
    FormRequest::new(format!("{issuer}/introspect")).param("token", token)
}

/// Introspects `token` as the MCP server's client; asserts 200 and returns the JSON.
pub async fn introspect(issuer: &str, token: &str) -> Value {
    let res = introspect_request(issuer, token)
        .basic(MCP_SERVER_CLIENT.0, MCP_SERVER_CLIENT.1)
        .send()
        .await;
    assert_eq!(res.status(), 200, "introspection");
    res.json().await.expect("introspection JSON")
}

impl FormRequest {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            params: Vec::new(),
            basic: None,
        }
    }

    pub fn param(mut self, key: &str, value: &str) -> Self {
        self.params.push((key.to_owned(), value.to_owned()));
        self
    }

    /// `client_secret_basic` credentials.
    pub fn basic(mut self, id: &str, secret: &str) -> Self {
        self.basic = Some((id.to_owned(), secret.to_owned()));
        self
    }

    pub fn grant(self, grant_type: &str) -> Self {
        self.param("grant_type", grant_type)
    }

    /// `grant_type=authorization_code` with `code` and `code_verifier`.
    pub fn authorization_code(self, code: &str, verifier: &str) -> Self {
        self.grant("authorization_code")
            .param("code", code)
            .param("code_verifier", verifier)
    }

    /// `grant_type=refresh_token` with `refresh_token`.
    pub fn refresh(self, refresh_token: &str) -> Self {
        self.grant("refresh_token")
            .param("refresh_token", refresh_token)
    }

    /// `grant_type=client_credentials` for the service client over HTTP Basic.
    pub fn service_credentials(self) -> Self {
        self.grant("client_credentials").basic(SERVICE.0, SERVICE.1)
    }

    pub fn client_id(self, id: &str) -> Self {
        self.param("client_id", id)
    }

    pub fn redirect_uri(self, uri: &str) -> Self {
        self.param("redirect_uri", uri)
    }

    pub fn resource(self, resource: &str) -> Self {
        self.param("resource", resource)
    }

    pub fn scope(self, scope: &str) -> Self {
        self.param("scope", scope)
    }

    pub async fn send(self) -> reqwest::Response {
        let mut req = http().post(&self.url).form(&self.params);
        if let Some((id, secret)) = &self.basic {
            req = req.basic_auth(id, Some(secret));
        }
        req.send().await.expect("form POST")
    }

    /// Sends and parses the JSON body, whatever the status.
    pub async fn json(self) -> Value {
        self.send().await.json().await.expect("JSON body")
    }

    /// Sends, asserts 200 and returns the `access_token`.
    pub async fn access_token(self) -> String {
        let res = self.send().await;
        assert_eq!(res.status(), 200, "token request");
        let t: Value = res.json().await.expect("token JSON");
        t["access_token"].as_str().expect("access_token").to_owned()
    }
}

/// `GET {issuer}/authorize` with `response_type=code`.
#[derive(Debug, Clone)]
pub struct AuthorizeRequest {
    issuer: String,
    params: Vec<(String, String)>,
}

/// An authorization request for `client_id` and `redirect_uri`; add a challenge, state and
/// what the test is about.
pub fn authorize_request(issuer: &str, client_id: &str, redirect_uri: &str) -> AuthorizeRequest {
    AuthorizeRequest {
        issuer: issuer.to_owned(),
        params: Vec::new(),
    }
    .param("response_type", "code")
    .param("client_id", client_id)
    .param("redirect_uri", redirect_uri)
}

impl AuthorizeRequest {
    pub fn param(mut self, key: &str, value: &str) -> Self {
        self.params.push((key.to_owned(), value.to_owned()));
        self
    }

    pub fn params(self, extra: &[(&str, &str)]) -> Self {
        extra.iter().fold(self, |r, (k, v)| r.param(k, v))
    }

    /// Drops a parameter set earlier (e.g. the default `response_type`).
    pub fn without(mut self, key: &str) -> Self {
        self.params.retain(|(k, _)| k != key);
        self
    }

    /// `code_challenge` with `code_challenge_method=S256`.
    pub fn challenge(self, challenge: &PkceChallenge) -> Self {
        self.param("code_challenge", challenge.as_str())
            .param("code_challenge_method", "S256")
    }

    pub fn state(self, state: &str) -> Self {
        self.param("state", state)
    }

    pub fn url(&self) -> String {
        let mut u = url::Url::parse(&format!("{}/authorize", self.issuer)).expect("issuer URL");
        u.query_pairs_mut().extend_pairs(&self.params);
        u.to_string()
    }

    pub async fn send(self) -> reqwest::Response {
        http()
            .get(format!("{}/authorize", self.issuer))
            .query(&self.params)
            .send()
            .await
            .expect("authorize")
    }

    /// Sends, asserts the 303 success redirect (state and `iss` echoed) and returns the code.
    pub async fn code(self) -> String {
        let issuer = self.issuer.clone();
        let this = if self.params.iter().any(|(k, _)| k == "state") {
            self
        } else {
            self.state("st-123")
        };
        let state = this
            .params
            .iter()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.clone())
            .expect("state");
        let res = this.send().await;
        assert_eq!(res.status(), 303, "authorize should redirect");
        let p = location_params(&res);
        assert_eq!(param(&p, "state"), Some(state.as_str()));
        assert_eq!(param(&p, "iss"), Some(issuer.as_str()));
        param(&p, "code").expect("code").to_owned()
    }

    /// Sends and returns the query of the error redirect (asserts 303).
    pub async fn error_redirect(self) -> Vec<(String, String)> {
        let res = self.send().await;
        assert_eq!(res.status(), 303, "an error redirect");
        location_params(&res)
    }
}
