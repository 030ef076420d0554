//! Validating an authorization request, in the two steps AS-17 and AS-25 ask for: first the
//! client and its redirect URI (failures are shown, never redirected), then everything else
//! (failures are redirected to the client).

use shared::pkce::PkceChallenge;

use super::AuthzRequest;
use crate::AppState;
use crate::endpoints::form::Params;
use crate::endpoints::resolve::{resolve_resource, resolve_scope};
use crate::error::OAuthError;
use crate::store::ClientRecord;

/// Step 1 failed: the request cannot be answered at a redirect URI (AS-17, AS-28).
#[derive(Debug)]
pub(super) struct Untrusted {
    /// The RFC 6749 error code shown.
    pub(super) code: &'static str,
    /// What is shown under it.
    pub(super) description: String,
    /// 400, or 503 (with `Retry-After`) when the store could not answer.
    pub(super) status: axum::http::StatusCode,
}

impl Untrusted {
    fn new(code: &'static str, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            status: axum::http::StatusCode::BAD_REQUEST,
        }
    }

    fn store(e: &crate::store::StoreError) -> Self {
        tracing::warn!(error = %e, "client lookup failed");
        Self {
            code: "server_error",
            description: "storage temporarily unavailable".into(),
            status: axum::http::StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// The outcome of step 1: a known client and a redirect URI registered for it.
#[derive(Debug)]
pub(super) struct Target {
    pub(super) client: ClientRecord,
    pub(super) redirect_uri: String,
    /// Whether the request named the redirect URI (then `/token` must repeat it).
    pub(super) redirect_uri_sent: bool,
}

/// Step 1: the client (configured, registered or a metadata document) and the redirect URI.
pub(super) async fn target(state: &AppState, params: &Params) -> Result<Target, Untrusted> {
    if params.is_repeated("client_id") || params.is_repeated("redirect_uri") {
        return Err(Untrusted::new(
            "invalid_request",
            "client_id or redirect_uri is repeated",
        ));
    }
    let Some(client_id) = params.get("client_id") else {
        return Err(Untrusted::new("invalid_request", "missing client_id"));
    };
    let client = find_client(state, client_id).await?;
    let (redirect_uri, redirect_uri_sent) = match params.get("redirect_uri") {
        Some(r) => {
            if !client
                .redirect_uris
                .iter()
                .any(|reg| shared::urls::redirect_uri_matches(reg, r))
            {
                return Err(Untrusted::new(
                    "invalid_request",
                    "redirect_uri is not registered for this client",
                ));
            }
            (r.to_owned(), true)
        }
        None if client.redirect_uris.len() == 1 => (client.redirect_uris[0].clone(), false),
        None => return Err(Untrusted::new("invalid_request", "missing redirect_uri")),
    };
    Ok(Target {
        client,
        redirect_uri,
        redirect_uri_sent,
    })
}

/// Resolves a client: configured, registered, or a Client ID Metadata Document URL.
async fn find_client(state: &AppState, client_id: &str) -> Result<ClientRecord, Untrusted> {
    if let Some(c) = state
        .client(client_id)
        .await
        .map_err(|e| Untrusted::store(&e))?
    {
        return Ok(c);
    }
    if state.config.client_metadata_documents && crate::cimd::is_metadata_url(client_id) {
        return state
            .cimd
            .client(client_id, state.clock.now_unix())
            .await
            .map_err(|e| {
                Untrusted::new(
                    "invalid_client",
                    format!("client metadata document could not be used: {e}"),
                )
            });
    }
    Err(Untrusted::new("invalid_client", "unknown client_id"))
}

/// Step 2: response type, PKCE, resource and scope. Errors here are redirected.
pub(super) fn validate(
    state: &AppState,
    params: &Params,
    target: Target,
) -> Result<AuthzRequest, OAuthError> {
    let Target {
        client,
        redirect_uri,
        redirect_uri_sent,
    } = target;
    if params.is_repeated("resource") {
        return Err(OAuthError::invalid_target(
            "exactly one resource per authorization request",
        ));
    }
    params.reject_repeated()?;
    match params.get("response_type") {
        None => return Err(OAuthError::invalid_request("missing response_type")),
        Some("code") => {}
        Some(_) => {
            return Err(OAuthError::unsupported_response_type(
                "only response_type=code is supported",
            ));
        }
    }
    if !client.allows_grant("authorization_code") {
        return Err(OAuthError::unauthorized_client(
            "client may not use the authorization code grant",
        ));
    }
    let challenge = params
        .get("code_challenge")
        .ok_or_else(|| OAuthError::invalid_request("code_challenge is required (PKCE)"))?;
    match params.get("code_challenge_method") {
        Some("S256") => {}
        None => {
            return Err(OAuthError::invalid_request(
                "code_challenge_method is required; plain is not supported, use S256",
            ));
        }
        Some(_) => {
            return Err(OAuthError::invalid_request(
                "unsupported code_challenge_method; use S256",
            ));
        }
    }
    let challenge = PkceChallenge::parse_s256(challenge)
        .map_err(|e| OAuthError::invalid_request(format!("invalid code_challenge: {e}")))?;
    let resource = resolve_resource(state, params.get("resource"))?;
    let scope = resolve_scope(state, &client, params.get("scope"))?;
    let dpop_jkt = dpop_jkt(state, params)?;
    Ok(AuthzRequest {
        client,
        redirect_uri,
        redirect_uri_sent,
        state: params.get("state").map(str::to_owned),
        code_challenge: challenge.as_str().to_owned(),
        scope,
        resource: Some(resource),
        dpop_jkt,
    })
}

/// RFC 9449 §10 `dpop_jkt`: the base64url SHA-256 JWK thumbprint (RFC 7638) of the key the
/// client will prove at `/token`, 43 characters. With DPoP off the parameter is unknown here
/// and ignored (RFC 6749 §3.1), so a client that always sends it still logs in.
fn dpop_jkt(state: &AppState, params: &Params) -> Result<Option<String>, OAuthError> {
    if !state.config.dpop.enabled {
        return Ok(None);
    }
    let Some(jkt) = params.get("dpop_jkt") else {
        return Ok(None);
    };
    if !is_sha256_thumbprint(jkt) {
        return Err(OAuthError::invalid_request(
            "dpop_jkt must be the base64url SHA-256 JWK thumbprint of the DPoP key (43 characters)",
        ));
    }
    Ok(Some(jkt.to_owned()))
}

/// 43 base64url characters that decode (strictly, no padding) to 32 bytes.
fn is_sha256_thumbprint(s: &str) -> bool {
    use base64::Engine as _;
    let mut out = [0u8; 33];
    s.len() == 43
        && base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode_slice(s, &mut out)
            .is_ok_and(|n| n == 32)
}

#[cfg(test)]
mod tests {
    #[test]
    fn dpop_jkt_must_be_a_sha256_thumbprint_ex04() {
        let key = shared::dpop::SigningKey::generate(shared::dpop::Algorithm::ES256).unwrap();
        assert!(super::is_sha256_thumbprint(key.thumbprint()));
        // RFC 7638 §3.1's example thumbprint.
        assert!(super::is_sha256_thumbprint(
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        ));
        for bad in [
            "",
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9X", // 42
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs=", // padded
            "NzbLsXh8uDCcd+6MNwXF4W/7noWXFZAfHkxZsRGC9Xs", // standard alphabet
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xt", // non-zero trailing bits
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9X\u{e9}",
        ] {
            assert!(!super::is_sha256_thumbprint(bad), "{bad}");
        }
    }
}
