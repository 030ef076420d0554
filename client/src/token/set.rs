use base64::Engine as _;
use serde::{Deserialize, Serialize};
use shared::oauth::TokenResponse;
use shared::scope::ScopeSet;
use shared::secret::{AccessToken, RefreshToken};

shared::secret_newtype!(
    /// The PKCS#8 PEM of the DPoP key a token set is bound to. Kept only inside the token
    /// store (encrypted at rest by [`crate::FileTokenStore`]); `Debug` is redacted.
    StoredDpopKey
);

/// How usable a token is right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Use it.
    Fresh,
    /// Still valid, but past 75% of its lifetime: refresh proactively if possible.
    Stale,
    /// Past `expires_at`.
    Expired,
}

/// The tokens held for one (issuer, resource, client). `Debug` is redacted through the
/// secret newtypes. Serialised (encrypted) by [`crate::FileTokenStore`], expiry included, so
/// refresh works after a restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenSet {
    /// The access token.
    pub access_token: AccessToken,
    /// The refresh token, if the server issued one (never assumed, CL-33).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<RefreshToken>,
    /// When the access token was received (seconds since the epoch).
    pub issued_at: u64,
    /// When it expires, if `expires_in` was given (not relied upon: a 401 also refreshes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    /// The granted scopes, as the token response named them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The access token is DPoP-bound (`token_type: DPoP`): sent as `Authorization: DPoP`
    /// with a proof by [`TokenSet::dpop_key`].
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dpop_bound: bool,
    /// The DPoP private key the tokens are bound to (RFC 9449), stored with them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_key: Option<StoredDpopKey>,
}

impl TokenSet {
    /// A token set received at `now` that lives `expires_in` seconds.
    pub fn new(
        access_token: AccessToken,
        refresh_token: Option<RefreshToken>,
        expires_in: Option<u64>,
        now: u64,
        scope: Option<String>,
    ) -> Self {
        Self {
            access_token,
            refresh_token,
            issued_at: now,
            expires_at: expires_in.map(|e| now.saturating_add(e)),
            scope,
            dpop_bound: false,
            dpop_key: None,
        }
    }

    /// From a token response received at `now`.
    pub fn from_response(resp: TokenResponse, now: u64) -> Self {
        let dpop_bound = resp
            .token_type
            .eq_ignore_ascii_case(shared::dpop::TOKEN_TYPE);
        let mut set = Self::new(
            resp.access_token,
            resp.refresh_token,
            resp.expires_in,
            now,
            resp.scope,
        );
        set.dpop_bound = dpop_bound;
        set
    }

    /// Freshness at `now`: stale after 75% of the lifetime (at most 5 minutes before expiry),
    /// after aliri_tokens' proportional rule.
    pub fn freshness(&self, now: u64) -> Freshness {
        let Some(exp) = self.expires_at else {
            return Freshness::Fresh;
        };
        if now >= exp {
            return Freshness::Expired;
        }
        let lifetime = exp.saturating_sub(self.issued_at);
        let margin = (lifetime / 4).min(300);
        if now >= exp - margin {
            Freshness::Stale
        } else {
            Freshness::Fresh
        }
    }

    /// The granted scopes.
    pub fn scopes(&self) -> ScopeSet {
        self.scope
            .as_deref()
            .map(ScopeSet::parse)
            .unwrap_or_default()
    }
}

/// Decodes a JWT's claims **without verifying** the signature (for display only: the `token`
/// subcommand). Returns `None` when the token is not a JWT.
pub fn decode_claims_unverified(token: &AccessToken) -> Option<serde_json::Value> {
    let mut parts = token.secret().split('.');
    let (_h, p, _s) = (parts.next()?, parts.next()?, parts.next()?);
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(p.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness_follows_the_proportional_rule() {
        let t = TokenSet::new(AccessToken::new("a".into()), None, Some(3600), 0, None);
        assert_eq!(t.freshness(3000), Freshness::Fresh);
        assert_eq!(t.freshness(3300), Freshness::Stale);
        assert_eq!(t.freshness(3600), Freshness::Expired);
        let no_exp = TokenSet::new(AccessToken::new("a".into()), None, None, 0, None);
        assert_eq!(no_exp.freshness(u64::MAX), Freshness::Fresh);
    }

    #[test]
    fn decode_claims_reads_the_payload() {
        let p = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"sub":"alice"}"#);
        let t = AccessToken::new(format!("e30.{p}.sig"));
        assert_eq!(decode_claims_unverified(&t).unwrap()["sub"], "alice");
        assert!(decode_claims_unverified(&AccessToken::new("opaque".into())).is_none());
    }
}
