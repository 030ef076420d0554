//! Validation of a loaded [`Config`]: [`Config::validate`] and the redirect-URI rule it shares
//! with dynamic registration (AS-16).

use shared::urls;

use super::Config;

/// A configuration value that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The issuer is not an absolute http(s) URL without query, fragment or trailing slash.
    #[error(
        "issuer {0:?} must be an absolute http(s) URL without query, fragment or trailing slash"
    )]
    Issuer(String),
    /// A resource is not an absolute URI without fragment.
    #[error("resource {0:?} must be an absolute URI without a fragment")]
    Resource(String),
    /// A client entry is invalid.
    #[error("client {client_id:?}: {reason}")]
    Client {
        /// The client.
        client_id: String,
        /// What is wrong.
        reason: String,
    },
    /// The built-in development client secrets on a non-loopback address (issue 11).
    #[error(
        "the built-in development client secrets (mcp-service, mcp-server) are refused on the non-loopback bind address {0}: configure your own `clients`, or for local development only set insecure_allow_builtin_secrets_off_loopback = true"
    )]
    BuiltinSecretsOffLoopback(String),
    /// Another field is invalid.
    #[error("{field}: {reason}")]
    Field {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// The grant types the server implements.
pub(crate) const SUPPORTED_GRANT_TYPES: [&str; 4] = [
    "authorization_code",
    "refresh_token",
    "client_credentials",
    shared::assertion::JWT_BEARER_GRANT,
];

/// Checks a redirect URI against AS-16: absolute, no fragment, https or loopback http.
pub(crate) fn check_redirect_uri(uri: &str) -> Result<(), String> {
    let url = url::Url::parse(uri).map_err(|e| format!("not an absolute URI: {e}"))?;
    if url.fragment().is_some() {
        return Err("must not contain a fragment".into());
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if urls::is_loopback_host(url.host()) => Ok(()),
        "http" => Err("http is allowed only for loopback hosts".into()),
        // Private-use URI schemes of native apps (RFC 8252 §7.1) need a dot in the scheme.
        s if s.contains('.') => Ok(()),
        _ => Err("must use https, loopback http or a reverse-domain private scheme".into()),
    }
}

/// Whether a `bind` value (`IP:port`, `[IPv6]:port` or `localhost:port`) is a loopback address.
fn is_loopback_bind(bind: &str) -> bool {
    if let Ok(addr) = bind.parse::<std::net::SocketAddr>() {
        return addr.ip().is_loopback();
    }
    let host = bind.rsplit_once(':').map_or(bind, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Config {
    /// Whether a configured client uses one of the published [`super::BUILTIN_SECRETS`].
    pub fn uses_builtin_secrets(&self) -> bool {
        self.clients.iter().any(|c| {
            c.client_secret
                .as_ref()
                .is_some_and(|s| super::BUILTIN_SECRETS.contains(&s.secret()))
        })
    }

    /// Refuses the built-in development secrets on a non-loopback `bind` address unless
    /// `insecure_allow_builtin_secrets_off_loopback` is set.
    pub fn check_builtin_secrets(&self, bind: &str) -> Result<(), ConfigError> {
        if self.uses_builtin_secrets()
            && !self.insecure_allow_builtin_secrets_off_loopback
            && !is_loopback_bind(bind)
        {
            return Err(ConfigError::BuiltinSecretsOffLoopback(bind.to_owned()));
        }
        Ok(())
    }

    /// Validates the whole configuration.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.check_builtin_secrets(&self.bind)?;
        if !self.issuer.is_empty() {
            let ok = url::Url::parse(&self.issuer).is_ok_and(|u| {
                matches!(u.scheme(), "http" | "https")
                    && u.query().is_none()
                    && u.fragment().is_none()
                    && !self.issuer.ends_with('/')
            });
            if !ok {
                return Err(ConfigError::Issuer(self.issuer.clone()));
            }
        }
        for r in &self.resources {
            let ok = url::Url::parse(r).is_ok_and(|u| u.fragment().is_none());
            if !ok {
                return Err(ConfigError::Resource(r.clone()));
            }
        }
        let field = |field, reason: &str| ConfigError::Field {
            field,
            reason: reason.to_owned(),
        };
        let http_url =
            |s: &str| url::Url::parse(s).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
        for idp in &self.trusted_idps {
            if !http_url(&idp.issuer) || idp.issuer.ends_with('/') {
                return Err(field(
                    "trusted_idps.issuer",
                    "an http(s) URL, no trailing slash",
                ));
            }
            if idp.jwks.is_some() && idp.jwks_url.is_some() {
                return Err(field("trusted_idps", "jwks or jwks_url, not both"));
            }
            if idp.jwks_url.as_deref().is_some_and(|u| !http_url(u)) {
                return Err(field("trusted_idps.jwks_url", "an http(s) URL"));
            }
        }
        if !(1..=3_600).contains(&self.idp.id_jag_ttl_secs) {
            return Err(field("idp.id_jag_ttl_secs", "1..=3600"));
        }
        if self
            .idp
            .policy
            .iter()
            .any(|r| r.client_id.is_empty() || r.audiences.is_empty())
        {
            return Err(field(
                "idp.policy",
                "each rule names a client and audiences",
            ));
        }
        if !(1..=3_600).contains(&self.dpop.iat_window_secs) || self.dpop.nonce_window_secs == 0 {
            return Err(field(
                "dpop",
                "iat_window_secs 1..=3600, nonce_window_secs > 0",
            ));
        }
        if !shared::process::store_url_ok(&self.store) {
            return Err(field("store", shared::process::STORE_URL_RULE));
        }
        if !shared::process::store_prefix_ok(&self.store_key_prefix) {
            return Err(field(
                "store_key_prefix",
                shared::process::STORE_PREFIX_RULE,
            ));
        }
        if self.access_token_ttl_secs == 0 || self.access_token_ttl_secs > 86_400 {
            return Err(field(
                "access_token_ttl_secs",
                "must be between 1 and 86400",
            ));
        }
        if self.code_ttl_secs == 0 || self.code_ttl_secs > 600 {
            return Err(field("code_ttl_secs", "must be between 1 and 600 (AS-23)"));
        }
        if self.refresh_token_ttl_secs == 0 {
            return Err(field("refresh_token_ttl_secs", "must be positive"));
        }
        if self.scopes.is_empty() {
            return Err(field("scopes", "at least one scope must be offered"));
        }
        let offered = shared::scope::ScopeSet::from_iter(self.scopes.iter().cloned());
        if !shared::scope::ScopeSet::parse(&self.default_scope).is_subset_of(&offered) {
            return Err(field("default_scope", "must be among the offered scopes"));
        }
        if self.max_body_bytes < 1024 {
            return Err(field("max_body_bytes", "must be at least 1024"));
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(field("tls_cert", "tls_cert and tls_key go together"));
        }
        let policy = &self.registration_policy;
        if let Some(g) = policy
            .anonymous_grant_types
            .iter()
            .find(|g| !SUPPORTED_GRANT_TYPES.contains(&g.as_str()))
        {
            return Err(ConfigError::Field {
                field: "registration_policy.anonymous_grant_types",
                reason: format!("unsupported grant type {g:?}"),
            });
        }
        if let Some(m) = policy
            .anonymous_auth_methods
            .iter()
            .find(|m| shared::oauth::TokenEndpointAuthMethod::parse(m).is_none())
        {
            return Err(ConfigError::Field {
                field: "registration_policy.anonymous_auth_methods",
                reason: format!("unsupported token_endpoint_auth_method {m:?}"),
            });
        }
        if policy
            .initial_access_token
            .as_ref()
            .is_some_and(|t| t.secret().len() < 16)
        {
            return Err(field(
                "registration_policy.initial_access_token",
                "must be at least 16 characters",
            ));
        }
        if policy.require_initial_access_token && policy.initial_access_token.is_none() {
            return Err(field(
                "registration_policy.require_initial_access_token",
                "needs registration_policy.initial_access_token",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for c in &self.clients {
            let err = |reason: String| ConfigError::Client {
                client_id: c.client_id.clone(),
                reason,
            };
            if c.client_id.is_empty() || !seen.insert(c.client_id.clone()) {
                return Err(err("client_id must be non-empty and unique".into()));
            }
            for uri in &c.redirect_uris {
                check_redirect_uri(uri).map_err(|e| err(format!("redirect URI {uri:?} {e}")))?;
            }
            if c.client_secret
                .as_ref()
                .is_some_and(|s| s.secret().len() < 8)
            {
                return Err(err("client_secret must be at least 8 characters".into()));
            }
            for g in &c.grant_types {
                if !SUPPORTED_GRANT_TYPES.contains(&g.as_str()) {
                    return Err(err(format!("unsupported grant type {g:?}")));
                }
            }
            if c.dpop_bound_access_tokens && !self.dpop.enabled {
                return Err(err("dpop_bound_access_tokens needs dpop.enabled".into()));
            }
            let keys = usize::from(c.client_secret.is_some())
                + usize::from(c.jwks.is_some())
                + usize::from(c.jwks_uri.is_some());
            if keys > 1 {
                return Err(err(
                    "a client has one of client_secret, jwks and jwks_uri".into()
                ));
            }
            if c.grant_types.iter().any(|g| g == "client_credentials") && keys == 0 {
                return Err(err(
                    "client_credentials requires a confidential client".into()
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_is_valid() {
        Config::default().validate().unwrap();
    }

    #[test]
    fn issuer_with_trailing_slash_is_refused() {
        let c = Config {
            issuer: "http://127.0.0.1:3002/".into(),
            ..Config::default()
        };
        assert!(matches!(c.validate(), Err(ConfigError::Issuer(_))));
    }

    #[test]
    fn debug_redacts_client_secrets() {
        let s = format!("{:?}", Config::default());
        assert!(!s.contains("dev-service-secret"), "{s}");
    }

    /// Issue 11 item 2: the published development secrets stay on loopback.
    #[test]
    fn builtin_secrets_are_refused_off_loopback_unless_allowed_as30() {
        for bind in ["127.0.0.1:3002", "[::1]:0", "localhost:3002"] {
            let c = Config {
                bind: bind.into(),
                ..Config::default()
            };
            c.validate().unwrap();
        }
        for bind in ["0.0.0.0:3002", "[::]:0", "192.0.2.1:80", "example.com:3002"] {
            let mut c = Config {
                bind: bind.into(),
                ..Config::default()
            };
            assert!(
                matches!(c.validate(), Err(ConfigError::BuiltinSecretsOffLoopback(ref b)) if b == bind),
                "{bind}"
            );
            c.insecure_allow_builtin_secrets_off_loopback = true;
            c.validate().unwrap();
            c.insecure_allow_builtin_secrets_off_loopback = false;
            c.clients.retain(|c| c.client_secret.is_none());
            assert!(!c.uses_builtin_secrets());
            c.validate().unwrap();
        }
    }

    #[test]
    fn redirect_uri_rules_as16() {
        assert!(check_redirect_uri("https://app.example/cb").is_ok());
        assert!(check_redirect_uri("http://127.0.0.1/cb").is_ok());
        assert!(check_redirect_uri("http://localhost:8080/cb").is_ok());
        assert!(check_redirect_uri("http://evil.example/cb").is_err());
        assert!(check_redirect_uri("https://app.example/cb#frag").is_err());
        assert!(check_redirect_uri("/relative").is_err());
        assert!(check_redirect_uri("javascript:alert(1)").is_err());
    }
}
