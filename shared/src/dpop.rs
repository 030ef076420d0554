//! DPoP (RFC 9449): proof creation for clients and proof verification for the
//! authorization server (token endpoint) and the resource server (auth layer). Both sides
//! call this one implementation (ADR 0011).
//!
//! * [`SigningKey`]: an asymmetric key (ES256 by default, EdDSA, RS256) that signs proofs
//!   (and client assertions, [`crate::assertion`]); generated, or read from / written to a
//!   PKCS#8 PEM. `Debug` is redacted.
//! * [`proof`]: a proof for one request (`typ dpop+jwt`, `jwk` = the public key, `jti`
//!   random, `iat`, `htm`, `htu` without query and fragment, optional `ath` and `nonce`).
//! * [`verify`]: every check of RFC 9449 §4.3 except replay; returns the key's RFC 7638
//!   thumbprint (compare with `cnf.jkt`) and the `jti` + `iat` for the caller's replay
//!   cache. **Replay checking is the caller's**: keep each accepted `jti` (per key
//!   thumbprint, or globally) for at least twice the `iat` window and refuse a second use.
//!   The function is synchronous and allocation-light, so it fits a tower layer (RS) and an
//!   axum handler (AS) alike.
//!
//! Errors ([`ProofError`]) name the rule that failed and never contain the proof.
//!
//! ```
//! use shared::dpop::{self, ProofPolicy, RequestContext, SigningKey};
//! let key = SigningKey::generate(dpop::Algorithm::ES256).unwrap();
//! let now = 1_700_000_000;
//! let p = dpop::proof(&key, "POST", "https://as.example/token?x=1", None, None, now).unwrap();
//! let ok = dpop::verify(&p, &RequestContext::new("POST", "https://as.example/token", now),
//!     &ProofPolicy::default()).unwrap();
//! assert_eq!(ok.jkt, key.thumbprint());
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};

pub use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, ThumbprintHash};
pub use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};

/// The `typ` header of a DPoP proof (RFC 9449 §4.2).
pub const DPOP_TYP: &str = "dpop+jwt";
/// The request header that carries the proof.
pub const DPOP_HEADER: &str = "DPoP";
/// The response header that carries a server nonce (RFC 9449 §8).
pub const DPOP_NONCE_HEADER: &str = "DPoP-Nonce";
/// The `token_type` of a DPoP-bound access token.
pub const TOKEN_TYPE: &str = "DPoP";
/// The error code of a bad proof (RFC 9449 §5, §7.1).
pub const INVALID_DPOP_PROOF: &str = "invalid_dpop_proof";
/// The error code that asks for a nonce (RFC 9449 §8, §9).
pub const USE_DPOP_NONCE: &str = "use_dpop_nonce";
/// Default acceptance window for `iat`, either side of now (the MCP extension: ±5 minutes).
pub const DEFAULT_IAT_WINDOW_SECS: u64 = 300;
/// Proofs longer than this are refused before any parsing.
pub const MAX_PROOF_LEN: usize = 8 * 1024;
/// The algorithms supported here, in order of preference.
pub const SUPPORTED_ALGS: [Algorithm; 3] = [Algorithm::ES256, Algorithm::EdDSA, Algorithm::RS256];

/// Minimum RSA modulus accepted in a proof's `jwk` (2048 bits).
const MIN_RSA_MODULUS_BYTES: usize = 256;

/// The JOSE name of an algorithm (`ES256`, `EdDSA`, `RS256`, ...).
pub fn alg_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::HS256 => "HS256",
        Algorithm::HS384 => "HS384",
        Algorithm::HS512 => "HS512",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::PS384 => "PS384",
        Algorithm::PS512 => "PS512",
        Algorithm::EdDSA => "EdDSA",
        #[allow(unreachable_patterns)]
        _ => "unsupported",
    }
}

/// Parses a supported algorithm name (`ES256`, `EdDSA`, `RS256`).
pub fn parse_alg(name: &str) -> Option<Algorithm> {
    SUPPORTED_ALGS.into_iter().find(|a| alg_name(*a) == name)
}

/// A key that cannot be generated, read or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The algorithm is not one of [`SUPPORTED_ALGS`].
    #[error("unsupported key algorithm {0} (use ES256, EdDSA or RS256)")]
    Unsupported(&'static str),
    /// The PEM is not an unencrypted PKCS#8 (or PKCS#1 RSA) P-256, Ed25519 or RSA private key.
    #[error(
        "not a usable private key: expected an unencrypted PKCS#8 PEM (\"BEGIN PRIVATE KEY\") holding a P-256, Ed25519 or RSA (>= 2048 bits) key"
    )]
    Unreadable,
    /// Key generation or signing failed in the crypto library.
    #[error("{0} failed")]
    Crypto(&'static str),
}

/// An asymmetric private key that signs DPoP proofs and client assertions. Cheap to share
/// behind an `Arc`; `Debug` prints only the algorithm and the thumbprint.
pub struct SigningKey {
    alg: Algorithm,
    encoding: EncodingKey,
    jwk: Jwk,
    jkt: String,
    pem: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &alg_name(self.alg))
            .field("jkt", &self.jkt)
            .field("private_key", &"[redacted]")
            .finish()
    }
}

fn pkcs8_pem(der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = String::from("-----BEGIN PRIVATE KEY-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END PRIVATE KEY-----\n");
    out
}

impl SigningKey {
    /// A fresh key for `alg` (ES256, EdDSA or RS256 with a 2048-bit modulus).
    pub fn generate(alg: Algorithm) -> Result<Self, KeyError> {
        use aws_lc_rs::encoding::AsDer as _;
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let der: Vec<u8> = match alg {
            Algorithm::ES256 => {
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .map_err(|_| KeyError::Crypto("P-256 key generation"))?
                    .as_ref()
                    .to_vec()
            }
            // PKCS#8 v1: the form jsonwebtoken derives the public JWK from.
            Algorithm::EdDSA => Ed25519KeyPair::generate_pkcs8v1(&rng)
                .map_err(|_| KeyError::Crypto("Ed25519 key generation"))?
                .as_ref()
                .to_vec(),
            Algorithm::RS256 => {
                let kp = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                    .map_err(|_| KeyError::Crypto("RSA key generation"))?;
                kp.as_der()
                    .map_err(|_| KeyError::Crypto("RSA key encoding"))?
                    .as_ref()
                    .to_vec()
            }
            other => return Err(KeyError::Unsupported(alg_name(other))),
        };
        Self::from_pem_as(&pkcs8_pem(&der), alg)
    }

    /// Reads a private key from PEM: PKCS#8 (`BEGIN PRIVATE KEY`: P-256 → ES256, Ed25519 →
    /// EdDSA, RSA → RS256) or PKCS#1 (`BEGIN RSA PRIVATE KEY` → RS256).
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, KeyError> {
        for alg in SUPPORTED_ALGS {
            if let Ok(k) = Self::from_pem_as(pem, alg) {
                return Ok(k);
            }
        }
        Err(KeyError::Unreadable)
    }

    fn from_pem_as(pem: &str, alg: Algorithm) -> Result<Self, KeyError> {
        let bytes = pem.as_bytes();
        let encoding = match alg {
            Algorithm::ES256 => EncodingKey::from_ec_pem(bytes),
            Algorithm::EdDSA => EncodingKey::from_ed_pem(bytes),
            Algorithm::RS256 => EncodingKey::from_rsa_pem(bytes),
            other => return Err(KeyError::Unsupported(alg_name(other))),
        }
        .map_err(|_| KeyError::Unreadable)?;
        // Deriving the public key also checks the key matches the algorithm (curve, size).
        let mut jwk = Jwk::from_encoding_key(&encoding, alg).map_err(|_| KeyError::Unreadable)?;
        if let AlgorithmParameters::RSA(p) = &jwk.algorithm
            && URL_SAFE_NO_PAD.decode(&p.n).map(|n| n.len()).unwrap_or(0) < MIN_RSA_MODULUS_BYTES
        {
            return Err(KeyError::Unreadable);
        }
        // The proof's jwk carries only the public members (+ alg is harmless but omitted).
        jwk.common = Default::default();
        let jkt = jwk
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(|_| KeyError::Crypto("thumbprint"))?;
        let key = Self {
            alg,
            encoding,
            jwk,
            jkt,
            pem: pem.to_owned(),
        };
        // A key that cannot sign is refused now rather than at the first request.
        key.sign_header(Header::new(alg), &serde_json::json!({}))?;
        Ok(key)
    }

    /// The signing algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The public key as a JWK (public members only).
    pub fn public_jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// The RFC 7638 SHA-256 thumbprint of the public key (`cnf.jkt`), base64url.
    pub fn thumbprint(&self) -> &str {
        &self.jkt
    }

    /// The private key as PEM, for an encrypted store.
    ///
    /// # Security Warning
    /// Never log it or write it anywhere unencrypted.
    pub fn private_pem(&self) -> &str {
        &self.pem
    }

    /// Signs `claims` as a compact JWS with `header` (its `alg` is overwritten with this
    /// key's algorithm).
    pub fn sign_header<T: Serialize>(
        &self,
        mut header: Header,
        claims: &T,
    ) -> Result<String, KeyError> {
        header.alg = self.alg;
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .map_err(|_| KeyError::Crypto("signing"))
    }
}

/// The claims of a DPoP proof (RFC 9449 §4.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofClaims {
    /// Unique identifier of this proof.
    pub jti: String,
    /// The HTTP method.
    pub htm: String,
    /// The target URI without query and fragment.
    pub htu: String,
    /// Issued at, seconds since the epoch.
    pub iat: u64,
    /// base64url SHA-256 of the access token, at a resource server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ath: Option<String>,
    /// The server-provided nonce.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
}

/// `ath`: base64url SHA-256 of the access token (RFC 9449 §4.2).
pub fn ath(access_token: &str) -> String {
    crate::random::b64url(&crate::random::sha256(access_token.as_bytes()))
}

/// The `htu` form of a URI (RFC 9449 §4.3): parsed (which normalises scheme and host case,
/// default ports, dot segments and percent-encoding case), query and fragment removed.
pub fn normalize_htu(uri: &str) -> Option<String> {
    let mut u = url::Url::parse(uri).ok()?;
    if !matches!(u.scheme(), "http" | "https") || u.host().is_none() {
        return None;
    }
    u.set_query(None);
    u.set_fragment(None);
    Some(u.into())
}

/// An expected `htu` (RFC 9449 §4.3), normalised once: build one per endpoint at start-up and
/// check proofs with [`RequestContext::for_htu`], so a proof whose `htu` is already in this
/// form (what conforming clients send) is matched without parsing any URL.
///
/// ```
/// use shared::dpop::Htu;
/// let htu = Htu::new("HTTPS://RS.example:443/mcp?x=1").unwrap();
/// assert_eq!(htu.as_str(), "https://rs.example/mcp");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Htu(String);

impl Htu {
    /// `uri` in `htu` form ([`normalize_htu`]); `None` if it is not an absolute http(s) URL.
    pub fn new(uri: &str) -> Option<Self> {
        normalize_htu(uri).map(Self)
    }

    /// The normalised form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A proof for one request: `method` and `uri` of the request (query and fragment are
/// dropped from `htu`), `access_token` (adds `ath`, for a resource server), `nonce` (the
/// newest `DPoP-Nonce` this server sent), `now` (seconds since the epoch).
pub fn proof(
    key: &SigningKey,
    method: &str,
    uri: &str,
    access_token: Option<&str>,
    nonce: Option<&str>,
    now: u64,
) -> Result<String, KeyError> {
    let htu = normalize_htu(uri).ok_or(KeyError::Crypto("htu normalisation"))?;
    let claims = ProofClaims {
        jti: crate::random::token(),
        htm: method.to_owned(),
        htu,
        iat: now,
        ath: access_token.map(ath),
        nonce: nonce.map(str::to_owned),
    };
    let mut header = Header::new(key.alg);
    header.typ = Some(DPOP_TYP.to_owned());
    header.jwk = Some(key.jwk.clone());
    key.sign_header(header, &claims)
}

/// Why a proof was refused. Each variant names one rule of RFC 9449 §4.3; none contains
/// the proof. [`ProofError::error_code`] gives the OAuth error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// Not a compact JWS with a JSON header and claims (or too long).
    #[error("DPoP proof is malformed: {0}")]
    Malformed(&'static str),
    /// `typ` is not `dpop+jwt`.
    #[error("DPoP proof typ must be dpop+jwt")]
    WrongTyp,
    /// `alg` is `none` or symmetric (HS*): never acceptable.
    #[error("DPoP proof alg must be asymmetric")]
    SymmetricAlg,
    /// `alg` is asymmetric but not in the server's allow-list.
    #[error("DPoP proof alg is not allowed here")]
    AlgNotAllowed,
    /// No `jwk` header, or one that is not an EC P-256, OKP Ed25519 or RSA public key.
    #[error("DPoP proof jwk is missing or not a supported public key")]
    BadJwk,
    /// The `jwk` carries private members (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k`).
    #[error("DPoP proof jwk contains private key material")]
    PrivateKeyInJwk,
    /// The key does not match `alg` (e.g. ES256 with an RSA key, or the wrong curve).
    #[error("DPoP proof jwk does not match its alg")]
    KeyAlgMismatch,
    /// The signature does not verify with the embedded key.
    #[error("DPoP proof signature is invalid")]
    BadSignature,
    /// A required claim is missing or has the wrong type.
    #[error("DPoP proof lacks a valid {0} claim")]
    MissingClaim(&'static str),
    /// `htm` is not the request's method.
    #[error("DPoP proof htm does not match the request method")]
    WrongMethod,
    /// `htu` is not the request's URI (after normalisation, without query and fragment).
    #[error("DPoP proof htu does not match the request URI")]
    WrongUri,
    /// `iat` is older than the window.
    #[error("DPoP proof iat is too old")]
    Stale,
    /// `iat` is further in the future than the window.
    #[error("DPoP proof iat is in the future")]
    FromTheFuture,
    /// A token is presented but the proof has no `ath`.
    #[error("DPoP proof lacks ath for the presented access token")]
    MissingAth,
    /// `ath` is not the hash of the presented token.
    #[error("DPoP proof ath does not match the access token")]
    WrongAth,
    /// The server requires a nonce and the proof has none.
    #[error("DPoP proof lacks the server nonce")]
    MissingNonce,
    /// The proof's nonce is not one the server accepts (stale or unknown).
    #[error("DPoP proof nonce is not current")]
    WrongNonce,
}

impl ProofError {
    /// The OAuth error code: `use_dpop_nonce` for nonce failures (answer with a fresh
    /// `DPoP-Nonce`), `invalid_dpop_proof` for everything else.
    pub fn error_code(&self) -> &'static str {
        match self {
            Self::MissingNonce | Self::WrongNonce => USE_DPOP_NONCE,
            _ => INVALID_DPOP_PROOF,
        }
    }
}

/// Which algorithms a server accepts and how far `iat` may be from now.
#[derive(Debug, Clone)]
pub struct ProofPolicy {
    algs: Vec<Algorithm>,
    iat_window: u64,
}

impl Default for ProofPolicy {
    /// ES256, EdDSA, RS256; ±300 s.
    fn default() -> Self {
        Self {
            algs: SUPPORTED_ALGS.to_vec(),
            iat_window: DEFAULT_IAT_WINDOW_SECS,
        }
    }
}

impl ProofPolicy {
    /// Accepts only `algs` (symmetric and unsupported ones are dropped).
    pub fn with_algs(mut self, algs: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algs = algs
            .into_iter()
            .filter(|a| SUPPORTED_ALGS.contains(a))
            .collect();
        self
    }

    /// Accepts `iat` within `secs` either side of now.
    pub fn with_iat_window(mut self, secs: u64) -> Self {
        self.iat_window = secs;
        self
    }

    /// The accepted algorithms.
    pub fn algs(&self) -> &[Algorithm] {
        &self.algs
    }

    /// The `iat` window in seconds.
    pub fn iat_window(&self) -> u64 {
        self.iat_window
    }

    /// The accepted algorithm names, space-separated: the `algs` parameter of a
    /// `WWW-Authenticate: DPoP` challenge, or (split) `dpop_signing_alg_values_supported`.
    pub fn algs_value(&self) -> String {
        self.algs
            .iter()
            .map(|a| alg_name(*a))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl ProofPolicy {
    /// A `WWW-Authenticate: DPoP` challenge (RFC 9449 §7.1) naming the accepted `algs`, and
    /// `error` (e.g. [`ProofError::error_code`], or `invalid_token`) with its description
    /// when given. Quotes, backslashes and non-printable characters in the description are
    /// replaced, so a value never breaks out of its quoted string.
    pub fn challenge(&self, error: Option<(&str, &str)>) -> String {
        let clean = |v: &str| -> String {
            v.chars()
                .map(|c| match c {
                    '"' | '\\' => '\'',
                    ' '..='~' => c,
                    _ => '?',
                })
                .collect()
        };
        let mut out = format!("DPoP algs=\"{}\"", self.algs_value());
        if let Some((code, description)) = error {
            out.push_str(&format!(
                ", error=\"{}\", error_description=\"{}\"",
                clean(code),
                clean(description)
            ));
        }
        out
    }
}

/// The request a proof must match.
#[derive(Clone, Copy)]
pub struct RequestContext<'a> {
    /// The request method (`GET`, `POST`, ...).
    pub method: &'a str,
    /// The request URI as the server is reachable (absolute; query and fragment ignored).
    pub uri: &'a str,
    /// The access token presented with `Authorization: DPoP` (checks `ath`), if any.
    pub access_token: Option<&'a str>,
    /// When the server requires a nonce: the predicate that says whether a nonce is
    /// current. `None`: no nonce required (a nonce in the proof is then ignored).
    pub nonce: Option<&'a (dyn Fn(&str) -> bool + Sync)>,
    /// Now, seconds since the epoch.
    pub now: u64,
    /// `uri` is an [`Htu`] (already normalised): see [`RequestContext::for_htu`].
    uri_is_htu: bool,
}

impl std::fmt::Debug for RequestContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestContext")
            .field("method", &self.method)
            .field("uri", &self.uri)
            .field("access_token", &self.access_token.map(|_| "[redacted]"))
            .field("nonce_required", &self.nonce.is_some())
            .field("now", &self.now)
            .finish()
    }
}

impl<'a> RequestContext<'a> {
    /// A request without token and without nonce requirement; `uri` is normalised for
    /// every proof checked against it (prefer [`RequestContext::for_htu`] on a hot path).
    pub fn new(method: &'a str, uri: &'a str, now: u64) -> Self {
        Self {
            method,
            uri,
            access_token: None,
            nonce: None,
            now,
            uri_is_htu: false,
        }
    }

    /// [`RequestContext::new`] for a precomputed [`Htu`] (normalised once per endpoint).
    pub fn for_htu(method: &'a str, htu: &'a Htu, now: u64) -> Self {
        Self {
            uri_is_htu: true,
            ..Self::new(method, htu.as_str(), now)
        }
    }

    /// With the presented access token (requires a matching `ath`).
    pub fn with_access_token(mut self, token: &'a str) -> Self {
        self.access_token = Some(token);
        self
    }

    /// With a nonce requirement.
    pub fn with_nonce(mut self, is_current: &'a (dyn Fn(&str) -> bool + Sync)) -> Self {
        self.nonce = Some(is_current);
        self
    }
}

/// What a valid proof established. The caller checks `jti` for replay (see module docs)
/// and compares `jkt` with the token's `cnf.jkt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProof {
    /// RFC 7638 thumbprint of the proof key.
    pub jkt: String,
    /// The proof's `jti`: remember it until `iat + window` and refuse it again.
    pub jti: String,
    /// The proof's `iat`.
    pub iat: u64,
    /// The algorithm used.
    pub alg: Algorithm,
}

const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

fn b64_json(part: &str) -> Result<serde_json::Value, ProofError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| ProofError::Malformed("not base64url"))?;
    serde_json::from_slice(&bytes).map_err(|_| ProofError::Malformed("not JSON"))
}

/// The JWS header's `typ` (when one is required; compared case-insensitively, RFC 7515
/// §4.1.9 media types) and its `alg`: asymmetric and in `allowed`.
fn header_alg(
    header: &serde_json::Value,
    typ: Option<&str>,
    allowed: &[Algorithm],
) -> Result<Algorithm, ProofError> {
    if let Some(typ) = typ {
        match header.get("typ").and_then(|t| t.as_str()) {
            Some(t) if t.eq_ignore_ascii_case(typ) => {}
            _ => return Err(ProofError::WrongTyp),
        }
    }
    let alg_str = header
        .get("alg")
        .and_then(|a| a.as_str())
        .ok_or(ProofError::Malformed("no alg"))?;
    if alg_str.eq_ignore_ascii_case("none") || alg_str.starts_with("HS") {
        return Err(ProofError::SymmetricAlg);
    }
    parse_alg(alg_str)
        .filter(|a| allowed.contains(a))
        .ok_or(ProofError::AlgNotAllowed)
}

/// Checks the header of a JWS that must carry its own public key: `typ`, `alg` (asymmetric,
/// allowed), `jwk` (public, of `alg`'s type). Returns the algorithm and the key.
fn embedded_key(
    header: &serde_json::Value,
    typ: &str,
    allowed: &[Algorithm],
) -> Result<(Algorithm, Jwk), ProofError> {
    let alg = header_alg(header, Some(typ), allowed)?;
    let jwk_value = header.get("jwk").ok_or(ProofError::BadJwk)?;
    let obj = jwk_value.as_object().ok_or(ProofError::BadJwk)?;
    if PRIVATE_MEMBERS.iter().any(|m| obj.contains_key(*m)) {
        return Err(ProofError::PrivateKeyInJwk);
    }
    let jwk: Jwk = serde_json::from_value(jwk_value.clone()).map_err(|_| ProofError::BadJwk)?;
    let matches = match (&jwk.algorithm, alg) {
        (AlgorithmParameters::EllipticCurve(p), Algorithm::ES256) => p.curve == EllipticCurve::P256,
        (AlgorithmParameters::OctetKeyPair(p), Algorithm::EdDSA) => {
            p.curve == EllipticCurve::Ed25519
        }
        (AlgorithmParameters::RSA(p), Algorithm::RS256) => {
            URL_SAFE_NO_PAD.decode(&p.n).map(|n| n.len()).unwrap_or(0) >= MIN_RSA_MODULUS_BYTES
        }
        (AlgorithmParameters::OctetKey(_) | AlgorithmParameters::Other(_), _) => {
            return Err(ProofError::BadJwk);
        }
        _ => false,
    };
    if !matches {
        return Err(ProofError::KeyAlgMismatch);
    }
    Ok((alg, jwk))
}

/// Splits a compact JWS and parses its header.
fn split_header(jws: &str) -> Result<serde_json::Value, ProofError> {
    if jws.len() > MAX_PROOF_LEN {
        return Err(ProofError::Malformed("too long"));
    }
    let mut parts = jws.split('.');
    let (Some(h), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ProofError::Malformed("not a compact JWS"));
    };
    let header = b64_json(h)?;
    if !header.is_object() {
        return Err(ProofError::Malformed("header is not an object"));
    }
    Ok(header)
}

/// The rule a jsonwebtoken decoding or verification error breaks.
fn decode_error(e: &jsonwebtoken::errors::Error) -> ProofError {
    match e.kind() {
        jsonwebtoken::errors::ErrorKind::InvalidSignature => ProofError::BadSignature,
        jsonwebtoken::errors::ErrorKind::InvalidKeyFormat
        | jsonwebtoken::errors::ErrorKind::InvalidEcdsaKey
        | jsonwebtoken::errors::ErrorKind::InvalidEddsaKey
        | jsonwebtoken::errors::ErrorKind::InvalidRsaKey(_) => ProofError::BadJwk,
        jsonwebtoken::errors::ErrorKind::Json(_)
        | jsonwebtoken::errors::ErrorKind::Utf8(_)
        | jsonwebtoken::errors::ErrorKind::Base64(_) => ProofError::Malformed("claims"),
        _ => ProofError::BadSignature,
    }
}

/// Verifies `jws` with `key`/`alg` and returns its claims (no claim validation).
fn verified_claims(jws: &str, jwk: &Jwk, alg: Algorithm) -> Result<serde_json::Value, ProofError> {
    let key = DecodingKey::from_jwk(jwk).map_err(|_| ProofError::BadJwk)?;
    let mut v = Validation::new(alg);
    v.required_spec_claims.clear();
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    jsonwebtoken::decode::<serde_json::Value>(jws, &key, &v)
        .map(|d| d.claims)
        .map_err(|e| decode_error(&e))
}

/// Verifies a DPoP proof for `request` under `policy` (RFC 9449 §4.3 steps 1-11, except the
/// `jti` replay check, which is the caller's: see [`VerifiedProof::jti`]). The caller has
/// already checked that exactly one `DPoP` header was sent.
///
/// Proofs of the usual shape take a fast path (each part parsed once, nothing copied,
/// see `dpop/fast.rs`) that answers exactly what the general path answers; anything else
/// goes to the general path before its signature is checked. On a hot path, build the
/// context with [`RequestContext::for_htu`].
pub fn verify(
    proof: &str,
    request: &RequestContext<'_>,
    policy: &ProofPolicy,
) -> Result<VerifiedProof, ProofError> {
    match fast::verify(proof, request, policy) {
        Some(result) => result,
        None => verify_general(proof, request, policy),
    }
}

/// RFC 9449 §4.3 steps 9-10, the same in both verifiers: `iat` inside the window, and the
/// server nonce when the request asks for one.
fn check_iat_and_nonce(
    iat: u64,
    nonce: Option<&str>,
    request: &RequestContext<'_>,
    policy: &ProofPolicy,
) -> Result<(), ProofError> {
    if iat.saturating_add(policy.iat_window) < request.now {
        return Err(ProofError::Stale);
    }
    if iat > request.now.saturating_add(policy.iat_window) {
        return Err(ProofError::FromTheFuture);
    }
    if let Some(is_current) = request.nonce {
        match nonce {
            None => return Err(ProofError::MissingNonce),
            Some(n) if !is_current(n) => return Err(ProofError::WrongNonce),
            Some(_) => {}
        }
    }
    Ok(())
}

/// The general (reference) verifier: the header as a JSON value, the key through
/// jsonwebtoken's `Jwk`, the signature and claims through `jsonwebtoken::decode`. Every
/// input the fast path does not cover comes here.
fn verify_general(
    proof: &str,
    request: &RequestContext<'_>,
    policy: &ProofPolicy,
) -> Result<VerifiedProof, ProofError> {
    let header = split_header(proof)?;
    let (alg, jwk) = embedded_key(&header, DPOP_TYP, &policy.algs)?;
    let claims = verified_claims(proof, &jwk, alg)?;
    let str_claim = |name: &'static str| {
        claims
            .get(name)
            .and_then(|v| v.as_str())
            .ok_or(ProofError::MissingClaim(name))
    };
    let jti = str_claim("jti")?;
    if jti.is_empty() || jti.len() > 256 {
        return Err(ProofError::MissingClaim("jti"));
    }
    let htm = str_claim("htm")?;
    let htu = str_claim("htu")?;
    let iat = claims
        .get("iat")
        .and_then(|v| v.as_u64())
        .ok_or(ProofError::MissingClaim("iat"))?;
    if htm != request.method {
        return Err(ProofError::WrongMethod);
    }
    let expected = normalize_htu(request.uri).ok_or(ProofError::WrongUri)?;
    if normalize_htu(htu).as_deref() != Some(expected.as_str()) {
        return Err(ProofError::WrongUri);
    }
    check_iat_and_nonce(
        iat,
        claims.get("nonce").and_then(|v| v.as_str()),
        request,
        policy,
    )?;
    if let Some(token) = request.access_token {
        let got = claims
            .get("ath")
            .and_then(|v| v.as_str())
            .ok_or(ProofError::MissingAth)?;
        if !crate::random::constant_time_eq(got.as_bytes(), ath(token).as_bytes()) {
            return Err(ProofError::WrongAth);
        }
    }
    let jkt = jwk
        .thumbprint(ThumbprintHash::SHA256)
        .map_err(|_| ProofError::BadJwk)?;
    Ok(VerifiedProof {
        jkt,
        jti: jti.to_owned(),
        iat,
        alg,
    })
}

/// RFC 7638 SHA-256 thumbprint of a public JWK (for `cnf.jkt`).
pub fn thumbprint(jwk: &Jwk) -> Option<String> {
    jwk.thumbprint(ThumbprintHash::SHA256).ok()
}

/// Verifies a JWS whose header must have `typ` (case-insensitive) and whose key is chosen
/// from `keys` (by `kid` when the header has one, else every key of the right type), with
/// `alg` in `allowed` (asymmetric only). Returns the header's algorithm and the claims, not
/// yet validated. Used by [`crate::assertion`].
pub(crate) fn verify_with_jwks(
    jws: &str,
    typ: Option<&str>,
    keys: &JwkSet,
    allowed: &[Algorithm],
) -> Result<(Algorithm, serde_json::Value), ProofError> {
    let header = split_header(jws)?;
    let alg = header_alg(&header, typ, allowed)?;
    let kid = header.get("kid").and_then(|k| k.as_str());
    let fits = |k: &&Jwk| {
        let type_ok = matches!(
            (&k.algorithm, alg),
            (AlgorithmParameters::EllipticCurve(_), Algorithm::ES256)
                | (AlgorithmParameters::OctetKeyPair(_), Algorithm::EdDSA)
                | (AlgorithmParameters::RSA(_), Algorithm::RS256)
        );
        // A key without `kid` is a candidate for any `kid` (the signature decides).
        type_ok && (kid.is_none() || k.common.key_id.is_none() || k.common.key_id.as_deref() == kid)
    };
    let mut last = ProofError::BadJwk;
    for jwk in keys.keys.iter().filter(fits) {
        match verified_claims(jws, jwk, alg) {
            Ok(c) => return Ok((alg, c)),
            Err(e) => last = e,
        }
    }
    Err(last)
}

mod fast;

#[cfg(test)]
mod tests;
