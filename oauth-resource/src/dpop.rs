//! DPoP (RFC 9449) at the resource server: `Authorization: DPoP <token>` with a `DPoP` proof.
//!
//! * The proof is verified by [`shared::dpop::verify`] (the one implementation the
//!   authorization server uses too) against this request: `htm` = the method, `htu` = the
//!   configured resource URL's origin + the request path (never the `Host` header), `ath` =
//!   the presented token's hash, `iat` within the window, `alg` in the allow-list.
//! * The proof's key thumbprint must equal the token's `cnf.jkt` (RFC 9449 §7.1).
//! * `jti` replay cache: a bounded moka cache (LRU, so a new `jti` is always admitted), each
//!   entry kept until the proof's `iat` leaves the window. **Per instance**: several
//!   instances behind a load balancer need the shared store (ADR 0012).
//! * Optional server nonces (RFC 9449 §9), stateless: `base64url(HMAC-SHA256(secret,
//!   counter)[..16])` with `counter = now / rotation`; the current and the previous counter
//!   are accepted, so every instance sharing the secret accepts every other's nonces.
//!
//! The proof is checked on every request; only the token's signature is cached.

use std::time::{Duration, Instant};

use aws_lc_rs::hmac;
use http::Request;
use jsonwebtoken::Algorithm;
use moka::Expiry;
use shared::dpop::{Htu, ProofError, ProofPolicy, RequestContext, VerifiedProof};

use super::AuthError;

/// DPoP settings of the auth layer ([`crate::JwtAuthLayerBuilder::dpop`]).
#[derive(Debug, Clone)]
pub struct DpopSettings {
    /// Accepted proof algorithms (default ES256, EdDSA, RS256; symmetric ones cannot be
    /// expressed). Advertised in the `DPoP algs` challenge and the PRM's
    /// `dpop_signing_alg_values_supported`.
    pub algorithms: Vec<Algorithm>,
    /// How far the proof's `iat` may be from now, either side (default 300 s).
    pub iat_window: Duration,
    /// Most `jti`s remembered (default 100 000). Size it for the peak proof rate times twice
    /// the window: beyond it the oldest entries are dropped (and could be replayed).
    pub replay_cache_capacity: u64,
    /// Refuse bearer (unbound) tokens: every request needs `Authorization: DPoP` (RFC 9728
    /// `dpop_bound_access_tokens_required`). Default false.
    pub required: bool,
    /// Server nonces (RFC 9449 §9); `None` (the default): no nonce required.
    pub nonce: Option<NonceSettings>,
}

impl Default for DpopSettings {
    fn default() -> Self {
        Self {
            algorithms: shared::dpop::SUPPORTED_ALGS.to_vec(),
            iat_window: Duration::from_secs(shared::dpop::DEFAULT_IAT_WINDOW_SECS),
            replay_cache_capacity: 100_000,
            required: false,
            nonce: None,
        }
    }
}

/// Server-nonce settings: nonces are an HMAC of the time slot, so they need no state.
#[derive(Clone)]
pub struct NonceSettings {
    /// HMAC key (at least 32 bytes); give every instance the same one. `None`: random per
    /// process (one instance only).
    pub secret: Option<Vec<u8>>,
    /// A nonce is issued for one slot of this length and accepted during the next one too
    /// (default 60 s).
    pub rotation: Duration,
}

impl std::fmt::Debug for NonceSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NonceSettings")
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .field("rotation", &self.rotation)
            .finish()
    }
}

impl Default for NonceSettings {
    fn default() -> Self {
        Self {
            secret: None,
            rotation: Duration::from_secs(60),
        }
    }
}

/// Stateless rotating nonces.
pub(crate) struct Nonces {
    key: hmac::Key,
    rotation: u64,
}

impl Nonces {
    fn new(s: &NonceSettings) -> Self {
        let secret = match &s.secret {
            Some(k) => k.clone(),
            None => shared::random::bytes::<32>().to_vec(),
        };
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &secret),
            rotation: s.rotation.as_secs().max(1),
        }
    }

    fn for_slot(&self, slot: u64) -> String {
        let tag = hmac::sign(&self.key, &slot.to_be_bytes());
        shared::random::b64url(&tag.as_ref()[..16])
    }

    /// The nonce to hand out now.
    pub(crate) fn current(&self, now: u64) -> String {
        self.for_slot(now / self.rotation)
    }

    /// Whether `n` is the nonce of this slot or of the previous one.
    pub(crate) fn is_current(&self, n: &str, now: u64) -> bool {
        let slot = now / self.rotation;
        [slot, slot.saturating_sub(1)]
            .into_iter()
            .any(|s| shared::random::constant_time_eq(n.as_bytes(), self.for_slot(s).as_bytes()))
    }
}

struct ReplayExpiry;

impl Expiry<[u8; 32], Duration> for ReplayExpiry {
    fn expire_after_create(&self, _: &[u8; 32], ttl: &Duration, _: Instant) -> Option<Duration> {
        Some(*ttl)
    }
}

/// The resource server's DPoP state: policy, public URL parts, replay cache, nonces.
pub(crate) struct Dpop {
    pub(crate) policy: ProofPolicy,
    pub(crate) required: bool,
    /// `ES256 EdDSA RS256`: the challenge's `algs`.
    pub(crate) algs: String,
    /// The resource URL's path and its `htu` form, normalised once (the common case needs
    /// no allocation and no URL parse).
    resource_path: String,
    resource_htu: Htu,
    /// `scheme://host[:port]` of the resource URL.
    origin: String,
    replay: moka::sync::Cache<[u8; 32], Duration>,
    pub(crate) nonces: Option<Nonces>,
}

impl Dpop {
    pub(crate) fn new(s: &DpopSettings, resource: &str) -> Option<Self> {
        let u = url::Url::parse(resource).ok()?;
        let origin = u.origin().ascii_serialization();
        let resource_htu = Htu::new(resource)?;
        let policy = ProofPolicy::default()
            .with_algs(s.algorithms.iter().copied())
            .with_iat_window(s.iat_window.as_secs());
        Some(Self {
            algs: policy.algs_value(),
            policy,
            required: s.required,
            resource_path: u.path().to_owned(),
            resource_htu,
            origin,
            replay: moka::sync::Cache::builder()
                .max_capacity(s.replay_cache_capacity.max(1))
                .eviction_policy(moka::policy::EvictionPolicy::lru())
                .expire_after(ReplayExpiry)
                .build(),
            nonces: s.nonce.as_ref().map(Nonces::new),
        })
    }

    /// The accepted algorithm names (for the PRM).
    pub(crate) fn alg_names(&self) -> Vec<&'static str> {
        self.policy
            .algs()
            .iter()
            .map(|a| shared::dpop::alg_name(*a))
            .collect()
    }

    /// Verifies the request's single `DPoP` header for `token` (everything but the binding
    /// and the replay check, which follow the token's verification).
    pub(crate) fn check<B>(
        &self,
        req: &Request<B>,
        token: &str,
        now: u64,
    ) -> Result<VerifiedProof, AuthError> {
        let mut values = req.headers().get_all(shared::dpop::DPOP_HEADER).iter();
        let proof = match (values.next(), values.next()) {
            (Some(v), None) => v
                .to_str()
                .map_err(|_| AuthError::dpop("DPoP proof is malformed: not ASCII"))?,
            (None, _) => return Err(AuthError::dpop("DPoP proof missing (no DPoP header)")),
            (Some(_), Some(_)) => return Err(AuthError::dpop("more than one DPoP header")),
        };
        let path = req.uri().path();
        let built;
        let method = req.method().as_str();
        let mut ctx = if path == self.resource_path {
            RequestContext::for_htu(method, &self.resource_htu, now)
        } else {
            built = format!("{}{path}", self.origin);
            RequestContext::new(method, &built, now)
        }
        .with_access_token(token);
        let is_current;
        if let Some(n) = &self.nonces {
            is_current = move |v: &str| n.is_current(v, now);
            ctx = ctx.with_nonce(&is_current);
        }
        shared::dpop::verify(proof, &ctx, &self.policy).map_err(|e| match e {
            ProofError::MissingNonce | ProofError::WrongNonce => AuthError::UseDpopNonce,
            e => AuthError::InvalidDpopProof(e.to_string().into()),
        })
    }

    /// The token's binding against the proof, then the `jti` replay check (atomic insert).
    pub(crate) fn bind(
        &self,
        proof: &VerifiedProof,
        jkt: Option<&str>,
        now: u64,
    ) -> Result<(), AuthError> {
        match jkt {
            None => {
                return Err(AuthError::invalid(
                    "token is not DPoP-bound (no cnf.jkt): present it with the Bearer scheme",
                ));
            }
            Some(j) if !shared::random::constant_time_eq(j.as_bytes(), proof.jkt.as_bytes()) => {
                return Err(AuthError::dpop(
                    "DPoP proof key does not match the token's cnf.jkt",
                ));
            }
            Some(_) => {}
        }
        // SHA-256(jkt "\n" jti), hashed in pieces (no buffer).
        let mut h = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        h.update(proof.jkt.as_bytes());
        h.update(b"\n");
        h.update(proof.jti.as_bytes());
        let mut key = [0u8; 32];
        key.copy_from_slice(h.finish().as_ref());
        // Remembered until the proof's iat leaves the window (+1 s for the boundary).
        let until = proof
            .iat
            .saturating_add(self.policy.iat_window())
            .saturating_add(1);
        let ttl = Duration::from_secs(until.saturating_sub(now).max(1));
        let entry = self.replay.entry(key).or_insert_with(|| ttl);
        if entry.is_fresh() {
            Ok(())
        } else {
            Err(AuthError::dpop("DPoP proof replayed (jti already used)"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ex08_nonces_rotate_and_the_previous_one_stays_valid() {
        let n = Nonces::new(&NonceSettings {
            secret: Some(vec![7; 32]),
            rotation: Duration::from_secs(60),
        });
        let a = n.current(1_000_000);
        assert!(n.is_current(&a, 1_000_000));
        assert!(n.is_current(&a, 1_000_000 + 60), "previous slot accepted");
        assert!(
            !n.is_current(&a, 1_000_000 + 120),
            "two slots later refused"
        );
        assert!(!n.is_current("", 1_000_000));
        let b = n.current(1_000_000 + 60);
        assert_ne!(a, b);
        // Another instance with the same secret accepts it; one with another secret does not.
        let same = Nonces::new(&NonceSettings {
            secret: Some(vec![7; 32]),
            rotation: Duration::from_secs(60),
        });
        assert!(same.is_current(&a, 1_000_000));
        let other = Nonces::new(&NonceSettings::default());
        assert!(!other.is_current(&a, 1_000_000));
    }

    #[test]
    fn ex03_ex06_replay_cache_refuses_a_second_use_of_a_jti() {
        let d = Dpop::new(&DpopSettings::default(), "https://rs.example/mcp").unwrap();
        let p = VerifiedProof {
            jkt: "k".into(),
            jti: "j".into(),
            iat: 1_000,
            alg: Algorithm::ES256,
        };
        d.bind(&p, Some("k"), 1_000).unwrap();
        assert_eq!(
            d.bind(&p, Some("k"), 1_001),
            Err(AuthError::dpop("DPoP proof replayed (jti already used)"))
        );
        // The same jti under another key is another proof.
        let q = VerifiedProof {
            jkt: "k2".into(),
            ..p.clone()
        };
        d.bind(&q, Some("k2"), 1_000).unwrap();
        assert!(matches!(
            d.bind(&p, Some("other"), 1_000),
            Err(AuthError::InvalidDpopProof(_))
        ));
        assert!(matches!(
            d.bind(&p, None, 1_000),
            Err(AuthError::InvalidToken(_))
        ));
    }
}
