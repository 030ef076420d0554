//! RFC 7662 token introspection as a confidential client (`client_secret_basic`), so tokens
//! revoked at the AS stop working here within the cache TTL.

use std::sync::Arc;
use std::time::Duration;

use shared::oauth::IntrospectionResponse;
use shared::secret::ClientSecret;
use tracing::{instrument, warn};

use super::AuthError;
use super::jwks_cache::AsMetadata;

/// Introspection settings for the layer builder. `Debug` prints the secret as
/// `ClientSecret([redacted])`.
#[derive(Clone, Debug)]
pub struct IntrospectionConfig {
    /// Endpoint; `None`: discovered from the AS metadata.
    pub endpoint: Option<String>,
    /// Our client id.
    pub client_id: String,
    /// Our client secret.
    pub client_secret: ClientSecret,
    /// How long an answer may be reused (bounded by `exp`).
    pub cache_ttl: Duration,
}

#[derive(Debug)]
pub(crate) struct Introspector {
    cfg: IntrospectionConfig,
    metadata: Arc<AsMetadata>,
    http: reqwest::Client,
}

impl Introspector {
    pub(crate) fn new(
        cfg: IntrospectionConfig,
        metadata: Arc<AsMetadata>,
        http: reqwest::Client,
    ) -> Self {
        Self {
            cfg,
            metadata,
            http,
        }
    }

    pub(crate) fn cache_ttl(&self) -> Duration {
        self.cfg.cache_ttl
    }

    #[instrument(skip_all, name = "token_introspect", fields(client.id = %self.cfg.client_id))]
    pub(crate) async fn introspect(&self, token: &str) -> Result<IntrospectionResponse, AuthError> {
        let endpoint = match &self.cfg.endpoint {
            Some(e) => e.clone(),
            None => self
                .metadata
                .get()
                .await
                .ok()
                .and_then(|m| m.introspection_endpoint.clone())
                .ok_or(AuthError::KeysUnavailable)?,
        };
        let resp = self
            .http
            .post(endpoint)
            .basic_auth(&self.cfg.client_id, Some(self.cfg.client_secret.secret()))
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await
            .and_then(|r| r.error_for_status());
        match resp {
            Ok(r) => r.json::<IntrospectionResponse>().await.map_err(|e| {
                warn!(error = %e, "introspection response unreadable");
                AuthError::KeysUnavailable
            }),
            Err(e) => {
                warn!(error = %e, "introspection failed");
                Err(AuthError::KeysUnavailable)
            }
        }
    }
}
