//! DPoP (RFC 9449) at the token endpoint (checklist EX-01..EX-05, EX-07, EX-08): the proof of
//! a token request is checked by [`shared::dpop::verify`] (`htm` POST, `htu` the token
//! endpoint's public URL, the `iat` window, the nonce when required), its `jti` goes through
//! the store's replay cache, and its key thumbprint binds what the request issues.
//!
//! Nonces (optional, [`crate::config::DpopConfig::nonce`]) are stateless: the HMAC-SHA256 of
//! the time window's number under a key derived from the keys folder's secret, so every
//! instance sharing the folder issues and accepts the same nonces without shared state.

use aws_lc_rs::hmac;
use axum::http::HeaderMap;
use shared::dpop::{ProofError, ProofPolicy, RequestContext, VerifiedProof};

use crate::AppState;
use crate::error::OAuthError;
use crate::store::ReplayKind;

/// The server nonces: HMAC of the time window.
#[derive(Debug)]
pub(crate) struct Nonces {
    key: hmac::Key,
    window: u64,
}

impl Nonces {
    /// Nonces under a key derived from `secret` (the keys folder's successor secret), one per
    /// `window` seconds.
    pub(crate) fn new(secret: &hmac::Key, window: u64) -> Self {
        let derived = hmac::sign(secret, b"mcp-auth dpop nonce key v1");
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()),
            window: window.max(1),
        }
    }

    fn at(&self, n: u64) -> String {
        shared::random::b64url(hmac::sign(&self.key, &n.to_be_bytes()).as_ref())
    }

    /// The nonce to hand out at `now`.
    pub(crate) fn current(&self, now: u64) -> String {
        self.at(now / self.window)
    }

    /// Whether `nonce` is the current or the previous window's nonce.
    pub(crate) fn is_current(&self, nonce: &str, now: u64) -> bool {
        let n = now / self.window;
        [Some(n), n.checked_sub(1)]
            .into_iter()
            .flatten()
            .any(|w| shared::random::constant_time_eq(self.at(w).as_bytes(), nonce.as_bytes()))
    }
}

/// The proof policy of the token endpoint.
pub(crate) fn policy(state: &AppState) -> ProofPolicy {
    ProofPolicy::default().with_iat_window(state.config.dpop.iat_window_secs)
}

/// The `DPoP-Nonce` to send with a token response, when nonces are on.
pub(crate) fn nonce_header(state: &AppState) -> Option<String> {
    state
        .config
        .dpop
        .nonce
        .then(|| state.dpop_nonces.current(state.clock.now_unix()))
}

/// Checks the `DPoP` header of a token request: `None` without one (or when DPoP is off),
/// the verified proof otherwise (its `jti` recorded as used). Every refusal is 400
/// `invalid_dpop_proof`, or `use_dpop_nonce` with a fresh `DPoP-Nonce`.
pub(crate) async fn token_proof(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<VerifiedProof>, OAuthError> {
    if !state.config.dpop.enabled {
        return Ok(None);
    }
    let mut values = headers.get_all(shared::dpop::DPOP_HEADER).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(OAuthError::invalid_dpop_proof(
            "send exactly one DPoP header",
        ));
    }
    let proof = value
        .to_str()
        .map_err(|_| OAuthError::invalid_dpop_proof("DPoP proof is malformed"))?;
    let now = state.clock.now_unix();
    // `htu` is the public URL (the Host header is never trusted), normalised at start-up.
    let built;
    let mut request = match &state.dpop_token_htu {
        Some(htu) => RequestContext::for_htu("POST", htu, now),
        None => {
            built = format!("{}/token", state.issuer);
            RequestContext::new("POST", &built, now)
        }
    };
    let nonces = &state.dpop_nonces;
    let is_current = move |n: &str| nonces.is_current(n, now);
    if state.config.dpop.nonce {
        request = request.with_nonce(&is_current);
    }
    let policy = policy(state);
    let verified =
        shared::dpop::verify(proof, &request, &policy).map_err(|e| refusal(state, &e))?;
    // RFC 9449 §11.1: a proof is accepted once while its iat is inside the window.
    let until = verified.iat.max(now) + policy.iat_window() + 1;
    let id = format!("{}:{}", verified.jkt, verified.jti);
    if !state
        .store
        .first_use(ReplayKind::DpopProof, &id, now, until)
        .await?
    {
        return Err(OAuthError::invalid_dpop_proof(
            "DPoP proof was already used",
        ));
    }
    Ok(Some(verified))
}

fn refusal(state: &AppState, e: &ProofError) -> OAuthError {
    let mut err = OAuthError::new(
        shared::oauth::ErrorCode::Extension(e.error_code().into()),
        e.to_string(),
    );
    if e.error_code() == shared::dpop::USE_DPOP_NONCE {
        err.dpop_nonce = nonce_header(state);
    }
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_live_two_windows_and_depend_on_the_key_ex08() {
        let k = hmac::Key::new(hmac::HMAC_SHA256, b"secret one");
        let n = Nonces::new(&k, 60);
        let now = 6_000;
        let nonce = n.current(now);
        assert!(n.is_current(&nonce, now));
        assert!(n.is_current(&nonce, now + 60));
        assert!(!n.is_current(&nonce, now + 120));
        assert!(!n.is_current(&nonce, now - 60));
        let other = Nonces::new(&hmac::Key::new(hmac::HMAC_SHA256, b"secret two"), 60);
        assert!(!other.is_current(&nonce, now));
        // Same key (another instance sharing the keys folder): same nonces.
        assert_eq!(Nonces::new(&k, 60).current(now), nonce);
    }
}
