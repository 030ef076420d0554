//! The token endpoint (RFC 6749 §3.2, §4.1.3, §6; OAuth 2.1 §4): authorization-code
//! exchange, refresh and client credentials, always with `resource` (RFC 8707, CL-19).
//! Error bodies become [`ClientError::TokenEndpoint`]; a refresh refused with
//! `invalid_grant` becomes [`ClientError::AuthorizationRequired`]. Bodies are never logged
//! nor kept in errors (they hold tokens).

use reqwest_middleware::ClientWithMiddleware;
use shared::oauth::{ErrorCode, ErrorResponse, TokenResponse};
use shared::pkce::PkceVerifier;
use shared::scope::ScopeSet;
use shared::secret::{AccessToken, AuthorizationCode, ClientSecret, RefreshToken};
use std::sync::Arc;
use url::Url;

use crate::dpop::DpopKey;
use crate::error::ClientError;
use shared::dpop::SigningKey;
use shared::oauth::TokenEndpointAuthMethod;

/// Lifetime of a `private_key_jwt` client assertion (RFC 7523 §3: short).
const CLIENT_ASSERTION_LIFETIME_SECS: u64 = 60;

const MAX_TOKEN_RESPONSE_BYTES: usize = 64 * 1024;

/// A client's credentials. `Debug` is redacted through [`ClientSecret`].
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    /// The client id.
    pub client_id: String,
    /// The secret of a confidential client.
    pub client_secret: Option<ClientSecret>,
    /// The authentication method.
    pub auth_method: TokenEndpointAuthMethod,
    /// `private_key_jwt` (RFC 7523 §2.2): when set, every request to the token endpoint is
    /// authenticated with a fresh client assertion signed by this key instead of a secret.
    pub assertion_key: Option<Arc<SigningKey>>,
}

impl ClientCredentials {
    /// A public client.
    pub fn public(client_id: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: None,
            auth_method: TokenEndpointAuthMethod::None,
            assertion_key: None,
        }
    }
    /// A confidential client using `client_secret_basic`.
    pub fn confidential(client_id: impl Into<String>, secret: ClientSecret) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: Some(secret),
            auth_method: TokenEndpointAuthMethod::ClientSecretBasic,
            assertion_key: None,
        }
    }
    /// A confidential client using `private_key_jwt` with `key`.
    pub fn private_key_jwt(client_id: impl Into<String>, key: Arc<SigningKey>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: None,
            auth_method: TokenEndpointAuthMethod::None,
            assertion_key: Some(key),
        }
    }
}

/// One authorization server's token endpoint, for one client and one resource.
#[derive(Debug, Clone)]
pub struct TokenEndpoint {
    url: Url,
    client: ClientCredentials,
    resource: Option<String>,
    http: ClientWithMiddleware,
    dpop: Option<DpopKey>,
    issuer: Option<String>,
}

impl TokenEndpoint {
    /// A token endpoint. `http` should be [`super::oauth_http_client`] (no redirects).
    pub fn new(
        url: Url,
        client: ClientCredentials,
        resource: Option<String>,
        http: ClientWithMiddleware,
    ) -> Self {
        Self {
            url,
            client,
            resource,
            http,
            dpop: None,
            issuer: None,
        }
    }

    /// Sends a DPoP proof with every token request (RFC 9449 §5) with this key.
    pub fn with_dpop(mut self, dpop: DpopKey) -> Self {
        self.dpop = Some(dpop);
        self
    }

    /// The DPoP key, when the session uses DPoP.
    pub fn dpop(&self) -> Option<&DpopKey> {
        self.dpop.as_ref()
    }

    /// The authorization server's issuer: the `aud` of `private_key_jwt` assertions
    /// (else the token endpoint URL).
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.client.client_id
    }

    /// The resource sent with every request.
    pub fn resource(&self) -> Option<&str> {
        self.resource.as_deref()
    }

    /// Redeems an authorization code (CL-29).
    #[tracing::instrument(skip_all, fields(oauth.grant_type = "authorization_code", client.id = %self.client.client_id))]
    pub async fn exchange_code(
        &self,
        code: &AuthorizationCode,
        verifier: &PkceVerifier,
        redirect_uri: &str,
    ) -> Result<TokenResponse, ClientError> {
        let form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.secret().to_owned()),
            ("code_verifier", verifier.secret().to_owned()),
            ("redirect_uri", redirect_uri.to_owned()),
        ];
        self.request(form, true).await
    }

    /// Refreshes (RFC 6749 §6). `invalid_grant` → [`ClientError::AuthorizationRequired`].
    #[tracing::instrument(skip_all, fields(oauth.grant_type = "refresh_token", client.id = %self.client.client_id))]
    pub async fn refresh(
        &self,
        refresh_token: &RefreshToken,
        scope: Option<&ScopeSet>,
    ) -> Result<TokenResponse, ClientError> {
        let mut form = vec![
            ("grant_type", "refresh_token".to_owned()),
            ("refresh_token", refresh_token.secret().to_owned()),
        ];
        if let Some(s) = scope.filter(|s| !s.is_empty()) {
            form.push(("scope", s.to_string()));
        }
        match self.request(form, true).await {
            Err(ClientError::TokenEndpoint {
                code: ErrorCode::InvalidGrant,
                description,
                ..
            }) => Err(ClientError::AuthorizationRequired(format!(
                "the refresh token was rejected (invalid_grant{}); log in again",
                description.map(|d| format!(": {d}")).unwrap_or_default()
            ))),
            other => other,
        }
    }

    /// The `client_credentials` grant (confidential clients).
    #[tracing::instrument(skip_all, fields(oauth.grant_type = "client_credentials", client.id = %self.client.client_id))]
    pub async fn client_credentials(
        &self,
        scope: Option<&ScopeSet>,
    ) -> Result<TokenResponse, ClientError> {
        let mut form = vec![("grant_type", "client_credentials".to_owned())];
        if let Some(s) = scope.filter(|s| !s.is_empty()) {
            form.push(("scope", s.to_string()));
        }
        // No one-time credential: a retry at worst mints another access token.
        self.request(form, false).await
    }

    /// Client authentication (RFC 6749 §2.3): HTTP Basic, or the secret in the form, or
    /// only `client_id` for a public client.
    fn authenticate(
        &self,
        mut req: reqwest_middleware::RequestBuilder,
        form: &mut Vec<(&'static str, String)>,
    ) -> Result<reqwest_middleware::RequestBuilder, ClientError> {
        if let Some(key) = &self.client.assertion_key {
            let aud = self.issuer.as_deref().unwrap_or(self.url.as_str());
            let now = shared::clock::Clock::now_unix(&shared::clock::SystemClock);
            let jwt = shared::assertion::client_assertion(
                key,
                &self.client.client_id,
                aud,
                now,
                CLIENT_ASSERTION_LIFETIME_SECS,
            )
            .map_err(|e| ClientError::Protocol(format!("client assertion: {e}")))?;
            form.push(("client_id", self.client.client_id.clone()));
            form.push((
                "client_assertion_type",
                shared::assertion::CLIENT_ASSERTION_TYPE.to_owned(),
            ));
            form.push(("client_assertion", jwt));
            return Ok(req);
        }
        match (self.client.auth_method, &self.client.client_secret) {
            (TokenEndpointAuthMethod::ClientSecretBasic, Some(secret)) => {
                let enc =
                    |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
                req = req.basic_auth(enc(&self.client.client_id), Some(enc(secret.secret())));
            }
            (TokenEndpointAuthMethod::ClientSecretPost, Some(secret)) => {
                form.push(("client_id", self.client.client_id.clone()));
                form.push(("client_secret", secret.secret().to_owned()));
            }
            _ => form.push(("client_id", self.client.client_id.clone())),
        }
        Ok(req)
    }

    /// Revokes `token` at `revocation_url` (RFC 7009), authenticated like a token request
    /// (§2.1: a confidential client authenticates). `hint` is `refresh_token` or
    /// `access_token`. A 2xx answer is success; anything else is an error.
    #[tracing::instrument(skip_all, fields(client.id = %self.client.client_id))]
    pub async fn revoke(
        &self,
        revocation_url: &str,
        token: &str,
        hint: &str,
    ) -> Result<(), ClientError> {
        let mut form = vec![
            ("token", token.to_owned()),
            ("token_type_hint", hint.to_owned()),
        ];
        let req = self.http.post(revocation_url);
        let req = self.authenticate(req, &mut form)?;
        let resp = req.form(&form).send().await?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let body = super::read_limited(resp, MAX_TOKEN_RESPONSE_BYTES)
            .await
            .unwrap_or_default();
        Err(match serde_json::from_slice::<ErrorResponse>(&body) {
            Ok(e) => ClientError::TokenEndpoint {
                status,
                code: e.error,
                description: e.error_description,
            },
            Err(_) => ClientError::HttpStatus {
                from: "the revocation endpoint".into(),
                status,
                error: None,
                description: None,
            },
        })
    }

    /// Posts `form` (client authentication and a DPoP proof added) and returns the body of
    /// a 2xx answer; an error answer becomes [`ClientError::TokenEndpoint`].
    async fn post_form(
        &self,
        form: Vec<(&'static str, String)>,
        one_time: bool,
    ) -> Result<bytes::Bytes, ClientError> {
        // A proof per attempt; one more attempt when the server asks for a nonce (RFC 9449
        // §8: the request was refused before the grant was looked at, so a one-time code or
        // refresh token is not spent).
        let mut nonce_retry = self.dpop.is_some();
        let (status, body) = loop {
            let mut form = form.clone();
            let req = self
                .http
                .post(self.url.clone())
                .header(http::header::ACCEPT, "application/json");
            let mut req = self.authenticate(req, &mut form)?;
            if let Some(d) = &self.dpop {
                req = req.header(shared::dpop::DPOP_HEADER, d.proof("POST", &self.url, None)?);
            }
            if one_time {
                req = req.with_extension(super::OneTimeCredential);
            }
            let resp = req.form(&form).send().await?;
            let status = resp.status();
            if let Some(d) = &self.dpop {
                d.remember_nonce(&self.url.origin(), resp.headers());
            }
            let has_nonce = resp.headers().contains_key(shared::dpop::DPOP_NONCE_HEADER);
            let body = super::read_limited(resp, MAX_TOKEN_RESPONSE_BYTES).await?;
            if nonce_retry
                && has_nonce
                && status == http::StatusCode::BAD_REQUEST
                && serde_json::from_slice::<ErrorResponse>(&body)
                    .is_ok_and(|e| e.error.as_str() == shared::dpop::USE_DPOP_NONCE)
            {
                tracing::debug!("the authorization server asks for a DPoP nonce; retrying once");
                nonce_retry = false;
                continue;
            }
            break (status, body);
        };
        if !status.is_success() {
            return Err(match serde_json::from_slice::<ErrorResponse>(&body) {
                Ok(e) => ClientError::TokenEndpoint {
                    status,
                    code: e.error,
                    description: e.error_description,
                },
                Err(_) => ClientError::HttpStatus {
                    from: "the token endpoint (no OAuth error body)".into(),
                    status,
                    error: None,
                    description: None,
                },
            });
        }
        Ok(body)
    }

    /// RFC 8693 token exchange for an ID-JAG at the enterprise IdP (EX-23): the user's
    /// `subject_token` (of `subject_token_type`) for an Identity Assertion JWT whose `aud`
    /// is the MCP authorization server `audience`, for `resource` and `scope`. Returns the
    /// ID-JAG and its lifetime.
    #[tracing::instrument(skip_all, fields(oauth.grant_type = "token-exchange", client.id = %self.client.client_id))]
    pub async fn exchange_for_id_jag(
        &self,
        subject_token: &str,
        subject_token_type: &str,
        audience: &str,
        resource: &str,
        scope: Option<&ScopeSet>,
    ) -> Result<(AccessToken, Option<u64>), ClientError> {
        let mut form = vec![
            (
                "grant_type",
                shared::assertion::TOKEN_EXCHANGE_GRANT.to_owned(),
            ),
            (
                "requested_token_type",
                shared::assertion::ID_JAG_TOKEN_TYPE.to_owned(),
            ),
            ("subject_token", subject_token.to_owned()),
            ("subject_token_type", subject_token_type.to_owned()),
            ("audience", audience.to_owned()),
            ("resource", resource.to_owned()),
        ];
        if let Some(s) = scope.filter(|s| !s.is_empty()) {
            form.push(("scope", s.to_string()));
        }
        let body = self.post_form(form, false).await?;
        #[derive(serde::Deserialize)]
        struct Exchanged {
            access_token: AccessToken,
            issued_token_type: Option<String>,
            expires_in: Option<u64>,
        }
        let e: Exchanged = serde_json::from_slice(&body)
            .map_err(|_| ClientError::Protocol("malformed token exchange response".into()))?;
        if e.issued_token_type.as_deref() != Some(shared::assertion::ID_JAG_TOKEN_TYPE) {
            return Err(ClientError::Protocol(
                "the identity provider did not issue an ID-JAG (issued_token_type)".into(),
            ));
        }
        Ok((e.access_token, e.expires_in))
    }

    /// The JWT bearer grant (RFC 7523 §2.1) with an ID-JAG `assertion` (EX-21, EX-24). The
    /// assertion is single-use, so the request is never retried automatically.
    #[tracing::instrument(skip_all, fields(oauth.grant_type = "jwt-bearer", client.id = %self.client.client_id))]
    pub async fn jwt_bearer(
        &self,
        assertion: &AccessToken,
        scope: Option<&ScopeSet>,
    ) -> Result<TokenResponse, ClientError> {
        let mut form = vec![
            ("grant_type", shared::assertion::JWT_BEARER_GRANT.to_owned()),
            ("assertion", assertion.secret().to_owned()),
        ];
        if let Some(s) = scope.filter(|s| !s.is_empty()) {
            form.push(("scope", s.to_string()));
        }
        self.request(form, true).await
    }

    /// Posts `form`. `one_time`: the form carries a one-time credential (a code, a refresh
    /// token that rotates), so the request is never retried automatically (CL-33).
    async fn request(
        &self,
        mut form: Vec<(&'static str, String)>,
        one_time: bool,
    ) -> Result<TokenResponse, ClientError> {
        if let Some(r) = &self.resource {
            form.push(("resource", r.clone()));
        }
        let body = self.post_form(form, one_time).await?;
        // Never include the body in the error: it holds tokens.
        let tr: TokenResponse = serde_json::from_slice(&body).map_err(|e| {
            ClientError::Protocol(format!(
                "malformed token response (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        let dpop_ok = self.dpop.is_some() && tr.token_type.eq_ignore_ascii_case("dpop");
        if !tr.token_type.eq_ignore_ascii_case("bearer") && !dpop_ok {
            return Err(ClientError::Protocol(format!(
                "unsupported token_type `{}` (expected {})",
                tr.token_type,
                if self.dpop.is_some() {
                    "DPoP or Bearer"
                } else {
                    "Bearer"
                }
            )));
        }
        tracing::debug!(
            token.expires_in = ?tr.expires_in,
            has_refresh_token = tr.refresh_token.is_some(),
            oauth.scope = ?tr.scope,
            "token response received"
        );
        Ok(tr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::Mutex;

    /// A token endpoint answering `token_type` and recording (DPoP header present, form).
    async fn server(
        token_type: &'static str,
    ) -> (Url, Arc<Mutex<Vec<(bool, HashMap<String, String>)>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let app = axum::Router::new().route(
            "/token",
            axum::routing::post(
                move |h: axum::http::HeaderMap,
                      axum::extract::Form(f): axum::extract::Form<HashMap<String, String>>| {
                    let s = s.clone();
                    async move {
                        s.lock().unwrap().push((h.contains_key("dpop"), f));
                        axum::Json(serde_json::json!({
                            "access_token": "at", "token_type": token_type, "expires_in": 60
                        }))
                    }
                },
            ),
        );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}/token", l.local_addr().unwrap())).unwrap();
        tokio::spawn(async move { axum::serve(l, app).await.ok() });
        (url, seen)
    }

    fn http() -> ClientWithMiddleware {
        super::super::oauth_http_client(
            std::time::Duration::from_secs(5),
            std::time::Duration::from_secs(5),
            0,
        )
    }

    /// EX-04 (client side): `token_type: DPoP` is accepted only after sending a proof; a
    /// bearer-only endpoint refuses it instead of sending a DPoP token as a bearer token.
    #[tokio::test]
    async fn dpop_token_type_needs_a_proof_ex04() {
        let (url, seen) = server("DPoP").await;
        let bearer = TokenEndpoint::new(url.clone(), ClientCredentials::public("c"), None, http());
        let e = bearer.client_credentials(None).await.unwrap_err();
        assert!(
            e.to_string().contains("unsupported token_type `DPoP`"),
            "{e}"
        );
        let key =
            crate::dpop::DpopKey::generate(shared::dpop::Algorithm::ES256, shared::clock::system())
                .unwrap();
        let dpop = bearer.clone().with_dpop(key);
        let tr = dpop.client_credentials(None).await.unwrap();
        assert_eq!(tr.token_type, "DPoP");
        let seen = seen.lock().unwrap();
        assert_eq!(
            seen.iter().map(|(d, _)| *d).collect::<Vec<_>>(),
            [false, true]
        );
    }

    /// EX-30: a private_key_jwt client sends a fresh assertion (aud = issuer) and no secret.
    #[tokio::test]
    async fn private_key_jwt_sends_a_fresh_assertion_per_request_ex30() {
        let (url, seen) = server("Bearer").await;
        let key = Arc::new(SigningKey::generate(shared::dpop::Algorithm::EdDSA).unwrap());
        let ep = TokenEndpoint::new(
            url,
            ClientCredentials::private_key_jwt("svc", key.clone()),
            None,
            http(),
        )
        .with_issuer("https://as.example");
        ep.client_credentials(None).await.unwrap();
        ep.client_credentials(None).await.unwrap();
        let seen = seen.lock().unwrap();
        let keys = shared::dpop::JwkSet {
            keys: vec![key.public_jwk().clone()],
        };
        let policy = shared::assertion::AssertionPolicy::new(["https://as.example"]);
        let now = shared::clock::Clock::now_unix(&shared::clock::SystemClock);
        let mut jtis = Vec::new();
        for (_, f) in seen.iter() {
            assert_eq!(
                f["client_assertion_type"],
                shared::assertion::CLIENT_ASSERTION_TYPE
            );
            assert_eq!(f["client_id"], "svc");
            assert!(!f.contains_key("client_secret"));
            let v = shared::assertion::verify_client_assertion(
                &f["client_assertion"],
                "svc",
                &keys,
                &policy,
                now,
            )
            .unwrap();
            jtis.push(v.jti);
        }
        assert_ne!(jtis[0], jtis[1]);
    }
}
