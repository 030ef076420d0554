//! RFC 8414 authorization-server metadata and the OpenID Connect discovery variant, computed
//! once from config (checklist AS-01..AS-09).

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use shared::oauth::{AuthorizationServerMetadata, TokenEndpointAuthMethod};

use crate::AppState;
use crate::config::Config;

/// Builds the RFC 8414 and OIDC documents.
pub(crate) fn documents(config: &Config, issuer: &str) -> (bytes::Bytes, bytes::Bytes) {
    let ep = |p: &str| Some(format!("{issuer}{p}"));
    let methods = |secret_only: bool| -> Vec<String> {
        TokenEndpointAuthMethod::ALL
            .iter()
            .filter(|m| !secret_only || m.is_confidential())
            .map(|m| m.as_str().to_owned())
            .collect()
    };
    let auth_methods = methods(false);
    let confidential_methods = methods(true);
    let meta = AuthorizationServerMetadata {
        issuer: issuer.to_owned(),
        authorization_endpoint: ep("/authorize"),
        token_endpoint: ep("/token"),
        jwks_uri: ep("/jwks"),
        registration_endpoint: if config.registration_enabled {
            ep("/register")
        } else {
            None
        },
        revocation_endpoint: ep("/revoke"),
        introspection_endpoint: ep("/introspect"),
        scopes_supported: config.scopes.clone(),
        response_types_supported: vec!["code".into()],
        response_modes_supported: vec!["query".into()],
        grant_types_supported: vec![
            "authorization_code".into(),
            "refresh_token".into(),
            "client_credentials".into(),
        ],
        token_endpoint_auth_methods_supported: auth_methods.clone(),
        revocation_endpoint_auth_methods_supported: auth_methods,
        introspection_endpoint_auth_methods_supported: confidential_methods,
        code_challenge_methods_supported: vec!["S256".into()],
        authorization_response_iss_parameter_supported: true,
        client_id_metadata_document_supported: config.client_metadata_documents,
        extra: Default::default(),
    };
    let mut value = serde_json::to_value(&meta).unwrap_or_default();
    if let Some(obj) = value.as_object_mut() {
        obj.insert(
            "resource_indicators_supported".into(),
            serde_json::Value::Bool(true),
        );
        if config.dpop.enabled {
            // EX-01: asymmetric algorithms only.
            let algs: Vec<&str> = shared::dpop::SUPPORTED_ALGS
                .iter()
                .map(|a| shared::dpop::alg_name(*a))
                .collect();
            obj.insert(
                "dpop_signing_alg_values_supported".into(),
                serde_json::json!(algs),
            );
        }
        if !config.trusted_idps.is_empty() {
            // EX-20: ID-JAGs are redeemed with the JWT bearer grant.
            obj.insert(
                "authorization_grant_profiles_supported".into(),
                serde_json::json!([shared::assertion::ID_JAG_PROFILE]),
            );
            if let Some(g) = obj
                .get_mut("grant_types_supported")
                .and_then(|g| g.as_array_mut())
            {
                g.push(shared::assertion::JWT_BEARER_GRANT.into());
            }
        }
        if config.idp.enabled
            && let Some(g) = obj
                .get_mut("grant_types_supported")
                .and_then(|g| g.as_array_mut())
        {
            g.push(shared::assertion::TOKEN_EXCHANGE_GRANT.into());
        }
        // EX-30: the algorithms of private_key_jwt client assertions.
        let assertion_algs: Vec<&str> = shared::dpop::SUPPORTED_ALGS
            .iter()
            .map(|a| shared::dpop::alg_name(*a))
            .collect();
        for key in [
            "token_endpoint_auth_signing_alg_values_supported",
            "revocation_endpoint_auth_signing_alg_values_supported",
            "introspection_endpoint_auth_signing_alg_values_supported",
        ] {
            obj.insert(key.into(), serde_json::json!(assertion_algs));
        }
    }
    let oauth = serde_json::to_vec(&value).unwrap_or_default();
    // AS-09: a served OIDC document carries the OIDC-required members.
    if let Some(obj) = value.as_object_mut() {
        obj.insert(
            "subject_types_supported".into(),
            serde_json::json!(["public"]),
        );
        obj.insert(
            "id_token_signing_alg_values_supported".into(),
            serde_json::json!([config.signing_algorithm.as_str()]),
        );
    }
    let oidc = serde_json::to_vec(&value).unwrap_or_default();
    (oauth.into(), oidc.into())
}

fn json(body: bytes::Bytes) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        body,
    )
}

/// `GET /.well-known/oauth-authorization-server`
pub(super) async fn oauth(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    json(state.metadata_json.clone())
}

/// `GET /.well-known/openid-configuration`
pub(super) async fn openid(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    json(state.oidc_json.clone())
}
