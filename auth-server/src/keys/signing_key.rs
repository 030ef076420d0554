//! One signing key: a PKCS#8 private key parsed once for signing with aws-lc-rs, and its
//! public JWK (RFC 7638 thumbprint as `kid`) for verification and the JWKS.

use std::path::Path;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use base64::Engine as _;
use jsonwebtoken::jwk::{Jwk, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};

use super::KeyError;
use crate::config::SigningAlgorithm;

/// A parsed private key, kept for the key's lifetime: jsonwebtoken's `encode` re-parses the
/// key on every signature (about 400 of 650 us for RS256 on these machines), so tokens are
/// signed here with aws-lc-rs directly and verified with jsonwebtoken everywhere else.
enum Signer {
    Es256(aws_lc_rs::signature::EcdsaKeyPair),
    EdDsa(aws_lc_rs::signature::Ed25519KeyPair),
    Rs256(aws_lc_rs::rsa::KeyPair),
}

impl Signer {
    fn from_pkcs8(alg: SigningAlgorithm, der: &[u8]) -> Option<Self> {
        use aws_lc_rs::signature as sig;
        Some(match alg {
            SigningAlgorithm::ES256 => Self::Es256(
                sig::EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, der).ok()?,
            ),
            SigningAlgorithm::EdDSA => {
                Self::EdDsa(sig::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).ok()?)
            }
            SigningAlgorithm::RS256 => Self::Rs256(aws_lc_rs::rsa::KeyPair::from_pkcs8(der).ok()?),
        })
    }

    fn sign(&self, message: &[u8]) -> Option<Vec<u8>> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        match self {
            Self::Es256(k) => k.sign(&rng, message).ok().map(|s| s.as_ref().to_vec()),
            Self::EdDsa(k) => Some(k.sign(message).as_ref().to_vec()),
            Self::Rs256(k) => {
                let mut out = vec![0u8; k.public_modulus_len()];
                k.sign(
                    &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                    &rng,
                    message,
                    &mut out,
                )
                .ok()?;
                Some(out)
            }
        }
    }
}

fn pem_decode(pem: &str) -> Option<Vec<u8>> {
    let b64: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

/// A private signing key with its public JWK. Deliberately no `Debug` of key material.
pub struct SigningKey {
    /// RFC 7638 thumbprint.
    pub kid: String,
    /// Algorithm (one key, one algorithm: AS-50).
    pub alg: SigningAlgorithm,
    /// Public JWK with `kid`, `alg`, `use`.
    pub jwk: Jwk,
    decoding: DecodingKey,
    /// The PKCS#8 PEM, written to the keys folder on rotation.
    pub(super) pkcs8_pem: String,
    signer: Signer,
    /// `base64url(header) + "."`: constant per key.
    header_prefix: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

fn jose_alg(alg: SigningAlgorithm) -> Algorithm {
    match alg {
        SigningAlgorithm::ES256 => Algorithm::ES256,
        SigningAlgorithm::RS256 => Algorithm::RS256,
        SigningAlgorithm::EdDSA => Algorithm::EdDSA,
    }
}

fn pem_encode(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN PRIVATE KEY-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END PRIVATE KEY-----\n");
    out
}

impl SigningKey {
    /// Generates a new key.
    pub fn generate(alg: SigningAlgorithm) -> Result<Self, KeyError> {
        use aws_lc_rs::signature as sig;
        let der: Vec<u8> = match alg {
            SigningAlgorithm::ES256 => {
                sig::EcdsaKeyPair::generate(&sig::ECDSA_P256_SHA256_FIXED_SIGNING)
                    .and_then(|k| k.to_pkcs8v1())
                    .map_err(|_| KeyError::Generate)?
                    .as_ref()
                    .to_vec()
            }
            SigningAlgorithm::EdDSA => sig::Ed25519KeyPair::generate()
                .and_then(|k| k.to_pkcs8v1())
                .map_err(|_| KeyError::Generate)?
                .as_ref()
                .to_vec(),
            SigningAlgorithm::RS256 => {
                let k = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                    .map_err(|_| KeyError::Generate)?;
                let der: Pkcs8V1Der<'static> = k.as_der().map_err(|_| KeyError::Generate)?;
                der.as_ref().to_vec()
            }
        };
        Self::from_pem(&pem_encode(&der), Path::new("<generated>"))
    }

    /// Loads a PKCS#8 PEM key, detecting its type.
    pub fn from_pem(pem: &str, path: &Path) -> Result<Self, KeyError> {
        let bytes = pem.as_bytes();
        let (alg, encoding) = if let Ok(k) = EncodingKey::from_ec_pem(bytes) {
            (SigningAlgorithm::ES256, k)
        } else if let Ok(k) = EncodingKey::from_ed_pem(bytes) {
            (SigningAlgorithm::EdDSA, k)
        } else if let Ok(k) = EncodingKey::from_rsa_pem(bytes) {
            (SigningAlgorithm::RS256, k)
        } else {
            return Err(KeyError::Format(path.to_owned()));
        };
        let mut jwk = Jwk::from_encoding_key(&encoding, jose_alg(alg))
            .map_err(|_| KeyError::Format(path.to_owned()))?;
        let kid = jwk.thumbprint(ThumbprintHash::SHA256)?;
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        let decoding = DecodingKey::from_jwk(&jwk)?;
        let signer = pem_decode(pem)
            .and_then(|der| Signer::from_pkcs8(alg, &der))
            .ok_or_else(|| KeyError::Format(path.to_owned()))?;
        let header = serde_json::json!({
            "alg": alg.as_str(),
            "typ": shared::jwt::ACCESS_TOKEN_TYP,
            "kid": kid,
        });
        let header_prefix = format!(
            "{}.",
            shared::random::b64url(
                serde_json::to_string(&header)
                    .unwrap_or_default()
                    .as_bytes()
            )
        );
        Ok(Self {
            kid,
            alg,
            jwk,
            decoding,
            pkcs8_pem: pem.to_owned(),
            signer,
            header_prefix,
        })
    }

    /// Signs claims as a compact JWS with header `{"alg", "typ": "at+jwt", "kid"}`.
    pub fn sign_jwt<T: serde::Serialize>(&self, claims: &T) -> Option<String> {
        let payload = serde_json::to_vec(claims).ok()?;
        let mut token =
            String::with_capacity(self.header_prefix.len() + payload.len() * 4 / 3 + 400);
        token.push_str(&self.header_prefix);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
        let signature = self.signer.sign(token.as_bytes())?;
        token.push('.');
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        Some(token)
    }

    /// Signs `claims` as a JWT with header `typ` (not the access-token `typ`; e.g. an ID-JAG's
    /// `oauth-id-jag+jwt`), `alg` and `kid` of this key.
    pub(crate) fn sign_jwt_typed<T: serde::Serialize>(
        &self,
        typ: &str,
        claims: &T,
    ) -> Option<String> {
        let header = serde_json::json!({ "alg": self.alg.as_str(), "typ": typ, "kid": self.kid });
        let mut token = shared::random::b64url(serde_json::to_string(&header).ok()?.as_bytes());
        token.push('.');
        token.push_str(&shared::random::b64url(&serde_json::to_vec(claims).ok()?));
        let signature = self.signer.sign(token.as_bytes())?;
        token.push('.');
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        Some(token)
    }

    /// The public key for verifying (introspection of our own tokens).
    pub(crate) fn decoding_key(&self) -> &DecodingKey {
        &self.decoding
    }

    /// jsonwebtoken algorithm.
    pub(crate) fn jose_alg(&self) -> Algorithm {
        jose_alg(self.alg)
    }
}
