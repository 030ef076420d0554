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
pub(crate) const SUPPORTED_GRANT_TYPES: [&str; 3] =
    ["authorization_code", "refresh_token", "client_credentials"];

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

impl Config {
    /// Validates the whole configuration.
    pub fn validate(&self) -> Result<(), ConfigError> {
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
            if c.grant_types.iter().any(|g| g == "client_credentials") && c.client_secret.is_none()
            {
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
