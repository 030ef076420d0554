//! The fast path of [`super::verify`] (issue 15 D): one parse of each part, into borrowed
//! typed forms, for the proofs conforming clients send (ours among them).
//!
//! It covers a *domain* of inputs and answers exactly what the general path
//! ([`super::verify_general`], the reference implementation) answers for them; any input
//! outside the domain is handed to the general path before the signature is checked, so
//! no proof is ever verified twice. The domain:
//!
//! * three base64url parts; header and claims are JSON **objects** (never arrays) without
//!   duplicate members;
//! * header members only `typ`, `alg` (strings) and `jwk`; `jwk` members only `kty`, `crv`,
//!   `x`, `y`, `n`, `e` (strings) and the private members (any value: refused anyway);
//!   the key is an EC P-256 (`kty`, `crv`, `x`, `y`), OKP Ed25519 (`kty`, `crv`, `x`) or RSA
//!   (`kty`, `n`, `e`) public key, or carries a private member;
//! * claims members only `jti`, `htm`, `htu`, `ath`, `nonce` (strings) and `iat` (a
//!   non-negative integer).
//!
//! What it saves: the general path parses the header twice more inside
//! `jsonwebtoken::decode` and the claims twice (into a `Value` and jsonwebtoken's
//! validation claims), builds the `jwk` through an untagged enum, normalises the expected
//! `htu` per proof, and allocates for `ath` and the thumbprint. Here the header and claims
//! are each parsed once without copying their strings, the signature is checked by
//! jsonwebtoken's own verifier (`jsonwebtoken::crypto::verify`, the same provider), the
//! expected `htu` can be precomputed ([`super::Htu`]), and `ath` and the RFC 7638 thumbprint
//! are computed without intermediate strings.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};

use super::{
    DPOP_TYP, MIN_RSA_MODULUS_BYTES, ProofError, ProofPolicy, RequestContext, VerifiedProof,
    normalize_htu, parse_alg,
};

/// A JSON string, borrowed from the input when it has no escapes.
struct Str<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Str<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// Sets a member once: a duplicate takes the input out of the domain.
fn once<'de, T, A: MapAccess<'de>>(slot: &mut Option<T>, map: &mut A) -> Result<(), A::Error>
where
    T: Deserialize<'de>,
{
    if slot.is_some() {
        return Err(de::Error::custom("duplicate member"));
    }
    *slot = Some(map.next_value()?);
    Ok(())
}

fn cow(s: Option<Str<'_>>) -> Option<Cow<'_, str>> {
    s.map(|s| s.0)
}

/// The embedded `jwk`, public members borrowed.
#[derive(Default)]
struct RawJwk<'a> {
    kty: Option<Cow<'a, str>>,
    crv: Option<Cow<'a, str>>,
    x: Option<Cow<'a, str>>,
    y: Option<Cow<'a, str>>,
    n: Option<Cow<'a, str>>,
    e: Option<Cow<'a, str>>,
    /// One of `d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k` is present (with any value).
    private: bool,
}

impl<'de> Deserialize<'de> for RawJwk<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawJwk<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JWK object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawJwk<'de>, A::Error> {
                let (mut kty, mut crv, mut x, mut y, mut n, mut e) =
                    (None, None, None, None, None, None);
                let mut private = false;
                while let Some(Str(key)) = map.next_key::<Str<'de>>()? {
                    match key.as_ref() {
                        "kty" => once(&mut kty, &mut map)?,
                        "crv" => once(&mut crv, &mut map)?,
                        "x" => once(&mut x, &mut map)?,
                        "y" => once(&mut y, &mut map)?,
                        "n" => once(&mut n, &mut map)?,
                        "e" => once(&mut e, &mut map)?,
                        "d" | "p" | "q" | "dp" | "dq" | "qi" | "oth" | "k" => {
                            map.next_value::<IgnoredAny>()?;
                            private = true;
                        }
                        _ => return Err(de::Error::custom("member outside the fast path")),
                    }
                }
                Ok(RawJwk {
                    kty: cow(kty),
                    crv: cow(crv),
                    x: cow(x),
                    y: cow(y),
                    n: cow(n),
                    e: cow(e),
                    private,
                })
            }
        }
        d.deserialize_map(V)
    }
}

/// The protected header.
struct RawHeader<'a> {
    typ: Option<Cow<'a, str>>,
    alg: Option<Cow<'a, str>>,
    jwk: Option<RawJwk<'a>>,
}

impl<'de> Deserialize<'de> for RawHeader<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawHeader<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JOSE header object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawHeader<'de>, A::Error> {
                let (mut typ, mut alg, mut jwk) = (None, None, None);
                while let Some(Str(key)) = map.next_key::<Str<'de>>()? {
                    match key.as_ref() {
                        "typ" => once(&mut typ, &mut map)?,
                        "alg" => once(&mut alg, &mut map)?,
                        "jwk" => once(&mut jwk, &mut map)?,
                        _ => return Err(de::Error::custom("member outside the fast path")),
                    }
                }
                Ok(RawHeader {
                    typ: cow(typ),
                    alg: cow(alg),
                    jwk,
                })
            }
        }
        d.deserialize_map(V)
    }
}

/// The proof's claims.
struct RawClaims<'a> {
    jti: Option<Cow<'a, str>>,
    htm: Option<Cow<'a, str>>,
    htu: Option<Cow<'a, str>>,
    iat: Option<u64>,
    ath: Option<Cow<'a, str>>,
    nonce: Option<Cow<'a, str>>,
}

impl<'de> Deserialize<'de> for RawClaims<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawClaims<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a claims object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawClaims<'de>, A::Error> {
                let (mut jti, mut htm, mut htu, mut ath, mut nonce) =
                    (None, None, None, None, None);
                let mut iat = None;
                while let Some(Str(key)) = map.next_key::<Str<'de>>()? {
                    match key.as_ref() {
                        "jti" => once(&mut jti, &mut map)?,
                        "htm" => once(&mut htm, &mut map)?,
                        "htu" => once(&mut htu, &mut map)?,
                        "iat" => once(&mut iat, &mut map)?,
                        "ath" => once(&mut ath, &mut map)?,
                        "nonce" => once(&mut nonce, &mut map)?,
                        _ => return Err(de::Error::custom("member outside the fast path")),
                    }
                }
                Ok(RawClaims {
                    jti: cow(jti),
                    htm: cow(htm),
                    htu: cow(htu),
                    iat,
                    ath: cow(ath),
                    nonce: cow(nonce),
                })
            }
        }
        d.deserialize_map(V)
    }
}

/// The embedded key, recognised.
enum Key<'j> {
    /// EC P-256: `x`, `y`.
    P256(&'j str, &'j str),
    /// OKP Ed25519: `x`.
    Ed25519(&'j str),
    /// RSA: `n`, `e`.
    Rsa(&'j str, &'j str),
}

impl<'j> Key<'j> {
    /// The key of a `jwk` without private members; `None` for any other shape (the general
    /// path decides: `BadJwk`, `KeyAlgMismatch`, ...).
    fn of(j: &'j RawJwk<'_>) -> Option<Self> {
        let s = |v: &'j Option<Cow<'_, str>>| v.as_deref();
        match (s(&j.kty)?, s(&j.crv), s(&j.x), s(&j.y), s(&j.n), s(&j.e)) {
            ("EC", Some("P-256"), Some(x), Some(y), None, None) => Some(Self::P256(x, y)),
            ("OKP", Some("Ed25519"), Some(x), None, None, None) => Some(Self::Ed25519(x)),
            ("RSA", None, None, None, Some(n), Some(e)) => Some(Self::Rsa(n, e)),
            _ => None,
        }
    }

    fn fits(&self, alg: Algorithm) -> bool {
        match (self, alg) {
            (Self::P256(..), Algorithm::ES256) | (Self::Ed25519(_), Algorithm::EdDSA) => true,
            (Self::Rsa(n, _), Algorithm::RS256) => {
                URL_SAFE_NO_PAD.decode(n).map(|n| n.len()).unwrap_or(0) >= MIN_RSA_MODULUS_BYTES
            }
            _ => false,
        }
    }

    fn decoding_key(&self) -> Result<DecodingKey, ProofError> {
        match self {
            Self::P256(x, y) => DecodingKey::from_ec_components(x, y),
            Self::Ed25519(x) => DecodingKey::from_ed_components(x),
            Self::Rsa(n, e) => DecodingKey::from_rsa_components(n, e),
        }
        .map_err(|_| ProofError::BadJwk)
    }

    /// RFC 7638 SHA-256 thumbprint: the required members in lexicographic order, no
    /// whitespace. The members are base64url (the key was built from them), so they need
    /// no JSON escaping; the output equals `jsonwebtoken::jwk::Jwk::thumbprint`.
    fn thumbprint(&self) -> String {
        use aws_lc_rs::digest::{Context, SHA256};
        let mut c = Context::new(&SHA256);
        match self {
            Self::P256(x, y) => {
                for part in [
                    r#"{"crv":"P-256","kty":"EC","x":""#,
                    x,
                    r#"","y":""#,
                    y,
                    r#""}"#,
                ] {
                    c.update(part.as_bytes());
                }
            }
            Self::Ed25519(x) => {
                for part in [r#"{"crv":"Ed25519","kty":"OKP","x":""#, x, r#""}"#] {
                    c.update(part.as_bytes());
                }
            }
            Self::Rsa(n, e) => {
                for part in [r#"{"e":""#, e, r#"","kty":"RSA","n":""#, n, r#""}"#] {
                    c.update(part.as_bytes());
                }
            }
        }
        URL_SAFE_NO_PAD.encode(c.finish().as_ref())
    }
}

/// `ath` of `token` (base64url SHA-256) compared with `got`, without building a string.
fn ath_matches(got: &str, token: &str) -> bool {
    let digest = crate::random::sha256(token.as_bytes());
    let mut expected = [0u8; 43];
    match URL_SAFE_NO_PAD.encode_slice(digest, &mut expected) {
        Ok(43) => crate::random::constant_time_eq(got.as_bytes(), &expected),
        _ => false,
    }
}

/// [`super::verify`] for a proof inside the domain; `None` (nothing checked yet) for any
/// other input.
pub(super) fn verify(
    proof: &str,
    request: &RequestContext<'_>,
    policy: &ProofPolicy,
) -> Option<Result<VerifiedProof, ProofError>> {
    if proof.len() > super::MAX_PROOF_LEN {
        return None;
    }
    let (h64, rest) = proof.split_once('.')?;
    let (c64, s64) = rest.split_once('.')?;
    if s64.contains('.') {
        return None;
    }
    let hbytes = URL_SAFE_NO_PAD.decode(h64).ok()?;
    let header: RawHeader<'_> = serde_json::from_slice(&hbytes).ok()?;
    let cbytes = URL_SAFE_NO_PAD.decode(c64).ok()?;
    let claims: RawClaims<'_> = serde_json::from_slice(&cbytes).ok()?;
    let key = match &header.jwk {
        Some(j) if !j.private => Some(Key::of(j)?),
        _ => None,
    };
    let message = &proof[..h64.len() + 1 + c64.len()];
    Some(check(&header, key, &claims, message, s64, request, policy))
}

/// The checks, in the general path's order.
fn check(
    header: &RawHeader<'_>,
    key: Option<Key<'_>>,
    claims: &RawClaims<'_>,
    message: &str,
    signature: &str,
    request: &RequestContext<'_>,
    policy: &ProofPolicy,
) -> Result<VerifiedProof, ProofError> {
    // The header (super::embedded_key).
    match header.typ.as_deref() {
        Some(t) if t.eq_ignore_ascii_case(DPOP_TYP) => {}
        _ => return Err(ProofError::WrongTyp),
    }
    let alg_str = header
        .alg
        .as_deref()
        .ok_or(ProofError::Malformed("no alg"))?;
    if alg_str.eq_ignore_ascii_case("none") || alg_str.starts_with("HS") {
        return Err(ProofError::SymmetricAlg);
    }
    let alg = parse_alg(alg_str)
        .filter(|a| policy.algs.contains(a))
        .ok_or(ProofError::AlgNotAllowed)?;
    let jwk = header.jwk.as_ref().ok_or(ProofError::BadJwk)?;
    if jwk.private {
        return Err(ProofError::PrivateKeyInJwk);
    }
    let key = key.ok_or(ProofError::BadJwk)?;
    if !key.fits(alg) {
        return Err(ProofError::KeyAlgMismatch);
    }
    // The signature (super::verified_claims), by jsonwebtoken's verifier.
    let decoding = key.decoding_key()?;
    match jsonwebtoken::crypto::verify(signature, message.as_bytes(), &decoding, alg) {
        Ok(true) => {}
        Ok(false) => return Err(ProofError::BadSignature),
        Err(e) => return Err(super::decode_error(&e)),
    }
    // The claims (super::verify_general).
    let jti = claims
        .jti
        .as_deref()
        .ok_or(ProofError::MissingClaim("jti"))?;
    if jti.is_empty() || jti.len() > 256 {
        return Err(ProofError::MissingClaim("jti"));
    }
    let htm = claims
        .htm
        .as_deref()
        .ok_or(ProofError::MissingClaim("htm"))?;
    let htu = claims
        .htu
        .as_deref()
        .ok_or(ProofError::MissingClaim("htu"))?;
    let iat = claims.iat.ok_or(ProofError::MissingClaim("iat"))?;
    if htm != request.method {
        return Err(ProofError::WrongMethod);
    }
    let same_uri = if request.uri_is_htu {
        // `uri` is already in htu form: a proof in that form (the usual case) needs no parse.
        htu == request.uri || normalize_htu(htu).as_deref() == Some(request.uri)
    } else {
        let expected = normalize_htu(request.uri).ok_or(ProofError::WrongUri)?;
        normalize_htu(htu).as_deref() == Some(expected.as_str())
    };
    if !same_uri {
        return Err(ProofError::WrongUri);
    }
    super::check_iat_and_nonce(iat, claims.nonce.as_deref(), request, policy)?;
    if let Some(token) = request.access_token {
        let got = claims.ath.as_deref().ok_or(ProofError::MissingAth)?;
        if !ath_matches(got, token) {
            return Err(ProofError::WrongAth);
        }
    }
    Ok(VerifiedProof {
        jkt: key.thumbprint(),
        jti: jti.to_owned(),
        iat,
        alg,
    })
}
