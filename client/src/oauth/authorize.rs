//! The authorization request (PKCE S256, `state`, `resource`; CL-18, CL-19, CL-23, CL-24)
//! and validation of the redirect back (RFC 9207 `iss`, `state`; CL-25).
//!
//! ```
//! use http_oauth2_client::oauth::authorize::AuthorizationRequest;
//! use shared::oauth::AuthorizationServerMetadata;
//! let meta = AuthorizationServerMetadata {
//!     issuer: "http://127.0.0.1:3002".into(),
//!     authorization_endpoint: Some("http://127.0.0.1:3002/authorize".into()),
//!     token_endpoint: Some("http://127.0.0.1:3002/token".into()),
//!     code_challenge_methods_supported: vec!["S256".into()],
//!     authorization_response_iss_parameter_supported: true,
//!     ..Default::default()
//! };
//! let req = AuthorizationRequest::new(&meta, "mcp-cli", "http://127.0.0.1/callback",
//!     None, "http://127.0.0.1:3003/mcp", false).unwrap();
//! assert!(req.url().as_str().contains("code_challenge_method=S256"));
//! // A redirect without the right state is refused.
//! let bad = url::Url::parse("http://127.0.0.1/callback?code=x&state=wrong&iss=http%3A%2F%2F127.0.0.1%3A3002").unwrap();
//! assert!(req.validate_redirect(&bad).is_err());
//! ```

use shared::oauth::{AuthorizationServerMetadata, ErrorCode};
use shared::pkce::{PkceChallenge, PkceVerifier};
use shared::random;
use shared::scope::ScopeSet;
use shared::secret::{AuthorizationCode, CsrfState};
use url::Url;

use crate::config::check_url;
use crate::error::ClientError;

/// The OpenID Connect scope that asks for a refresh token (OIDC Core §11).
pub const OFFLINE_ACCESS: &str = "offline_access";

/// The scopes to request: `scopes` plus `offline_access` when the authorization server lists
/// it in `scopes_supported` (Auth0, Okta and Entra ID issue refresh tokens only then). Nothing
/// is added when no scope is requested at all (the AS's defaults apply) or the AS does not
/// list it.
pub fn with_offline_access(
    metadata: &AuthorizationServerMetadata,
    scopes: Option<&ScopeSet>,
) -> Option<ScopeSet> {
    let mut s = scopes.filter(|s| !s.is_empty())?.clone();
    if metadata
        .scopes_supported
        .iter()
        .any(|x| x == OFFLINE_ACCESS)
    {
        s.insert(OFFLINE_ACCESS);
    }
    Some(s)
}

/// A pending authorization request: the URL to open plus what is needed to check the answer.
/// `Debug` does not show the verifier or state.
#[derive(Debug)]
pub struct AuthorizationRequest {
    url: Url,
    state: CsrfState,
    verifier: PkceVerifier,
    issuer: String,
    iss_required: bool,
    redirect_uri: String,
    scopes: Option<ScopeSet>,
}

impl AuthorizationRequest {
    /// Builds the request for `client_id` against the validated `metadata`.
    pub fn new(
        metadata: &AuthorizationServerMetadata,
        client_id: &str,
        redirect_uri: &str,
        scopes: Option<&ScopeSet>,
        resource: &str,
        insecure: bool,
    ) -> Result<Self, ClientError> {
        let endpoint = metadata.authorization_endpoint.as_deref().ok_or_else(|| {
            ClientError::discovery(format!("{} has no authorization_endpoint", metadata.issuer))
        })?;
        // CL-09: only https (or loopback http) authorization URLs are ever opened.
        let mut url = check_url(endpoint, insecure)?;
        let verifier = PkceVerifier::generate();
        let challenge = PkceChallenge::s256(&verifier);
        let state = CsrfState::new(random::token());
        let requested = with_offline_access(metadata, scopes);
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", client_id)
                .append_pair("redirect_uri", redirect_uri)
                .append_pair("code_challenge", challenge.as_str())
                .append_pair("code_challenge_method", "S256")
                .append_pair("state", state.secret());
            // Empty: the RFC 8707 `resource` parameter is left out (Entra ID v2 refuses it;
            // ask for its audience scope instead, e.g. `api://APP-ID/.default`).
            if !resource.is_empty() {
                q.append_pair("resource", resource);
            }
            if let Some(s) = requested.as_ref().filter(|s| !s.is_empty()) {
                q.append_pair("scope", &s.to_string());
                // OpenID Connect Core §11: offline access is asked for with prompt=consent;
                // certified providers drop `offline_access` without it.
                if s.contains(OFFLINE_ACCESS) {
                    q.append_pair("prompt", "consent");
                }
            }
        }
        Ok(Self {
            url,
            state,
            verifier,
            issuer: metadata.issuer.clone(),
            iss_required: metadata.authorization_response_iss_parameter_supported,
            redirect_uri: redirect_uri.to_owned(),
            scopes: scopes.cloned(),
        })
    }

    /// Binds the authorization code to a DPoP key (RFC 9449 §10): adds `dpop_jkt`, the
    /// key's RFC 7638 thumbprint, so the code is redeemed only with a proof by that key. An
    /// authorization server without DPoP ignores it.
    pub fn with_dpop_jkt(mut self, jkt: &str) -> Self {
        self.url.query_pairs_mut().append_pair("dpop_jkt", jkt);
        self
    }

    /// The URL to open in the browser.
    pub fn url(&self) -> &Url {
        &self.url
    }
    /// The redirect URI sent (and to send again at the token endpoint).
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }
    /// The issuer recorded before redirecting (CL-24).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }
    /// The scopes requested.
    pub fn scopes(&self) -> Option<&ScopeSet> {
        self.scopes.as_ref()
    }
    /// The PKCE verifier for the code exchange.
    pub fn verifier(&self) -> &PkceVerifier {
        &self.verifier
    }

    /// Whether `redirect` carries this request's `state` (constant-time comparison).
    pub fn state_matches(&self, redirect: &Url) -> bool {
        redirect
            .query_pairs()
            .find(|(k, _)| k == "state")
            .is_some_and(|(_, s)| {
                random::constant_time_eq(s.as_bytes(), self.state.secret().as_bytes())
            })
    }

    /// Validates the redirect back and returns the code (CL-23, CL-25): `iss` first (exact
    /// comparison; required when advertised; on mismatch nothing else is looked at), then
    /// `state`, then `error`, then `code`.
    pub fn validate_redirect(&self, redirect: &Url) -> Result<AuthorizationCode, ClientError> {
        let get = |name: &str| {
            redirect
                .query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        match get("iss") {
            Some(iss) if iss != self.issuer => {
                return Err(ClientError::AuthorizationResponse(format!(
                    "the `iss` parameter `{iss}` does not match the expected issuer `{}` (RFC 9207 mix-up defence)",
                    self.issuer
                )));
            }
            None if self.iss_required => {
                return Err(ClientError::AuthorizationResponse(
                    "the authorization server advertises `iss` in responses but none was sent (RFC 9207)".into(),
                ));
            }
            _ => {}
        }
        let state_ok = get("state").is_some_and(|s| {
            random::constant_time_eq(s.as_bytes(), self.state.secret().as_bytes())
        });
        if !state_ok {
            return Err(ClientError::AuthorizationResponse(
                "missing or wrong `state` (possible CSRF); start the login again".into(),
            ));
        }
        if let Some(err) = get("error") {
            return Err(ClientError::AuthorizationDenied {
                code: ErrorCode::parse(&err),
                description: get("error_description"),
            });
        }
        get("code")
            .filter(|c| !c.is_empty())
            .map(AuthorizationCode::new)
            .ok_or_else(|| {
                ClientError::AuthorizationResponse("the redirect carries no `code`".into())
            })
    }

    /// The `state` value, for tests that play the authorization server.
    #[cfg(test)]
    pub(crate) fn state_for_tests(&self) -> String {
        self.state.secret().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(iss_supported: bool) -> AuthorizationServerMetadata {
        AuthorizationServerMetadata {
            issuer: "http://127.0.0.1:3002".into(),
            authorization_endpoint: Some("http://127.0.0.1:3002/authorize".into()),
            token_endpoint: Some("http://127.0.0.1:3002/token".into()),
            code_challenge_methods_supported: vec!["S256".into()],
            authorization_response_iss_parameter_supported: iss_supported,
            ..Default::default()
        }
    }

    /// A request for client `c` to resource `http://rs/mcp`, at an AS that advertises `iss`.
    fn request() -> AuthorizationRequest {
        AuthorizationRequest::new(
            &meta(true),
            "c",
            "http://127.0.0.1/callback",
            None,
            "http://rs/mcp",
            false,
        )
        .unwrap()
    }

    fn redirect(params: &[(&str, &str)]) -> Url {
        let mut u = Url::parse("http://127.0.0.1/callback").unwrap();
        for (k, v) in params {
            u.query_pairs_mut().append_pair(k, v);
        }
        u
    }

    /// CL-18, CL-19: S256 challenge, state and resource in the URL.
    #[test]
    fn authorization_url_carries_pkce_state_and_resource_cl18_cl19() {
        let scopes = ScopeSet::parse("mcp:tools:read");
        let r = AuthorizationRequest::new(
            &meta(true),
            "c",
            "http://127.0.0.1:5/cb",
            Some(&scopes),
            "http://rs/mcp",
            false,
        )
        .unwrap();
        let q: std::collections::HashMap<_, _> = r.url().query_pairs().into_owned().collect();
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(
            q["code_challenge"],
            PkceChallenge::s256(r.verifier()).as_str()
        );
        assert_eq!(q["resource"], "http://rs/mcp");
        assert_eq!(q["scope"], "mcp:tools:read");
        assert_eq!(q["state"].len(), 43);
    }

    /// RFC 9449 §10: `dpop_jkt` is added once, as given; a plain request has none.
    #[test]
    fn dpop_jkt_is_added_only_when_asked_ex04() {
        let plain = request();
        assert!(!plain.url().query_pairs().any(|(k, _)| k == "dpop_jkt"));
        let jkt = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
        let bound = request().with_dpop_jkt(jkt);
        let values: Vec<String> = bound
            .url()
            .query_pairs()
            .filter(|(k, _)| k == "dpop_jkt")
            .map(|(_, v)| v.into_owned())
            .collect();
        assert_eq!(values, [jkt]);
        // Everything else is unchanged (the state still validates the redirect).
        let state = bound.state_for_tests();
        assert!(bound.state_matches(&redirect(&[("state", &state)])));
    }

    /// CL-23: a wrong or missing state is refused.
    #[test]
    fn redirect_with_wrong_state_is_refused_cl23() {
        let r = request();
        let iss = "http://127.0.0.1:3002";
        assert!(matches!(
            r.validate_redirect(&redirect(&[("code", "x"), ("state", "nope"), ("iss", iss)])),
            Err(ClientError::AuthorizationResponse(_))
        ));
        assert!(
            r.validate_redirect(&redirect(&[("code", "x"), ("iss", iss)]))
                .is_err()
        );
        let ok = r
            .validate_redirect(&redirect(&[
                ("code", "x"),
                ("state", &r.state_for_tests()),
                ("iss", iss),
            ]))
            .unwrap();
        assert_eq!(ok.secret(), "x");
    }

    /// CL-25: iss mismatch refused before looking at `error`; absent iss refused when
    /// advertised, accepted when not advertised; no normalisation.
    #[test]
    fn redirect_iss_is_checked_exactly_cl25() {
        let r = request();
        let st = r.state_for_tests();
        for bad in [
            "http://evil.example",
            "http://127.0.0.1:3002/",
            "HTTP://127.0.0.1:3002",
        ] {
            let e = r
                .validate_redirect(&redirect(&[
                    ("error", "access_denied"),
                    ("state", &st),
                    ("iss", bad),
                ]))
                .unwrap_err();
            assert!(
                matches!(e, ClientError::AuthorizationResponse(_)),
                "{bad}: {e}"
            );
        }
        assert!(
            r.validate_redirect(&redirect(&[("code", "x"), ("state", &st)]))
                .is_err()
        );
        let denied = r
            .validate_redirect(&redirect(&[
                ("error", "access_denied"),
                ("state", &st),
                ("iss", "http://127.0.0.1:3002"),
            ]))
            .unwrap_err();
        assert!(matches!(
            denied,
            ClientError::AuthorizationDenied {
                code: ErrorCode::AccessDenied,
                ..
            }
        ));
        let r2 = AuthorizationRequest::new(
            &meta(false),
            "c",
            "http://127.0.0.1/callback",
            None,
            "http://rs/mcp",
            false,
        )
        .unwrap();
        let st2 = r2.state_for_tests();
        assert!(
            r2.validate_redirect(&redirect(&[("code", "x"), ("state", &st2)]))
                .is_ok()
        );
    }

    /// CL-09: a non-https authorization endpoint on a remote host is refused.
    #[test]
    fn insecure_authorization_endpoint_is_refused_cl09() {
        let mut m = meta(true);
        m.authorization_endpoint = Some("http://as.example/authorize".into());
        assert!(
            AuthorizationRequest::new(&m, "c", "http://127.0.0.1/cb", None, "r", false).is_err()
        );
        m.authorization_endpoint = Some("javascript:alert(1)".into());
        assert!(
            AuthorizationRequest::new(&m, "c", "http://127.0.0.1/cb", None, "r", true).is_err()
        );
    }

    #[test]
    fn offline_access_is_requested_with_prompt_consent_when_the_as_lists_it_cl20() {
        let mut m = meta(true);
        let scopes = ScopeSet::parse("mcp:tools:call");
        let query = |m: &AuthorizationServerMetadata, resource: &str| {
            let r = AuthorizationRequest::new(
                m,
                "c",
                "http://127.0.0.1/cb",
                Some(&scopes),
                resource,
                false,
            )
            .unwrap();
            r.url()
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect::<std::collections::BTreeMap<_, _>>()
        };
        let q = query(&m, "http://rs/mcp");
        assert_eq!(q["scope"], "mcp:tools:call");
        assert!(!q.contains_key("prompt"));
        m.scopes_supported = vec!["openid".into(), "offline_access".into()];
        let q = query(&m, "http://rs/mcp");
        assert_eq!(q["scope"], "mcp:tools:call offline_access");
        assert_eq!(q["prompt"], "consent");
        assert_eq!(q["resource"], "http://rs/mcp");
        // No scope asked for: nothing added (the AS's defaults apply).
        assert_eq!(with_offline_access(&m, None), None);
        // An empty resource leaves the RFC 8707 parameter out (Entra ID v2).
        assert!(!query(&m, "").contains_key("resource"));
    }
}
