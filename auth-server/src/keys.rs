//! Signing keys: generated with aws-lc-rs, stored as PKCS#8 PEM (mode 0600), published as a
//! JWKS of public keys only (checklist AS-51), rotated with retired keys kept published.
//!
//! josekit is the user's JOSE choice; see `docs/decisions/0002-keys-with-aws-lc-rs.md` for why
//! key generation uses aws-lc-rs (already in the tree; josekit would link OpenSSL into the
//! server) and JWK handling uses jsonwebtoken's `Jwk`, which signs and verifies with it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use base64::Engine as _;
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};

use crate::config::SigningAlgorithm;

/// A key problem.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading or writing a key file failed.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a supported PKCS#8 key.
    #[error("key file {0}: not a PKCS#8 EC P-256, Ed25519 or RSA private key")]
    Format(PathBuf),
    /// Key generation failed.
    #[error("key generation failed")]
    Generate,
    /// JWK conversion failed.
    #[error("JWK conversion: {0}")]
    Jwk(#[from] jsonwebtoken::errors::Error),
}

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
    pkcs8_pem: String,
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

    /// The public key for verifying (introspection of our own tokens).
    pub(crate) fn decoding_key(&self) -> &DecodingKey {
        &self.decoding
    }

    /// jsonwebtoken algorithm.
    pub(crate) fn jose_alg(&self) -> Algorithm {
        jose_alg(self.alg)
    }
}

/// The active key plus retired keys still published.
#[derive(Debug)]
pub struct KeyRing {
    /// Signs new tokens.
    pub current: Arc<SigningKey>,
    /// Retired keys: still verify, still published.
    pub retired: Vec<Arc<SigningKey>>,
    jwks_json: bytes::Bytes,
}

impl KeyRing {
    fn new(current: Arc<SigningKey>, retired: Vec<Arc<SigningKey>>) -> Self {
        let set = JwkSet {
            keys: std::iter::once(&current)
                .chain(retired.iter())
                .map(|k| k.jwk.clone())
                .collect(),
        };
        let jwks_json = serde_json::to_vec(&set).unwrap_or_else(|_| b"{\"keys\":[]}".to_vec());
        Self {
            current,
            retired,
            jwks_json: jwks_json.into(),
        }
    }

    /// The serialised public JWKS.
    pub fn jwks_json(&self) -> bytes::Bytes {
        self.jwks_json.clone()
    }

    /// Finds a key by `kid`.
    pub fn find(&self, kid: &str) -> Option<&Arc<SigningKey>> {
        std::iter::once(&self.current)
            .chain(self.retired.iter())
            .find(|k| k.kid == kid)
    }
}

/// Key storage and rotation. Cheap to read on every token mint.
#[derive(Debug)]
pub struct Keys {
    ring: RwLock<Arc<KeyRing>>,
    dir: Option<PathBuf>,
    alg: SigningAlgorithm,
    retired_ttl: Duration,
}

const CURRENT_FILE: &str = "signing_key.pem";
const RETIRED_DIR: &str = "retired";

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_owned(),
        source,
    }
}

fn write_private(path: &Path, contents: &str) -> Result<(), KeyError> {
    use std::io::Write as _;
    let tmp = path.with_extension("pem.tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp).map_err(io_err(&tmp))?;
    f.write_all(contents.as_bytes()).map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))
}

impl Keys {
    /// Ephemeral keys (tests, `keys_dir` unset).
    pub fn ephemeral(alg: SigningAlgorithm) -> Result<Self, KeyError> {
        let current = Arc::new(SigningKey::generate(alg)?);
        Ok(Self {
            ring: RwLock::new(Arc::new(KeyRing::new(current, vec![]))),
            dir: None,
            alg,
            retired_ttl: Duration::from_secs(3600),
        })
    }

    /// Loads keys from `dir`, generating the current key when absent. A current key of another
    /// algorithm than configured is retired and replaced.
    pub fn load_or_generate(
        dir: &Path,
        alg: SigningAlgorithm,
        retired_ttl: Duration,
    ) -> Result<Self, KeyError> {
        std::fs::create_dir_all(dir.join(RETIRED_DIR)).map_err(io_err(dir))?;
        let current_path = dir.join(CURRENT_FILE);
        let current = match std::fs::read_to_string(&current_path) {
            Ok(pem) => Some(SigningKey::from_pem(&pem, &current_path)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_err(&current_path)(e)),
        };
        let keys = Self {
            ring: RwLock::new(Arc::new(KeyRing::new(
                Arc::new(SigningKey::generate(SigningAlgorithm::EdDSA)?),
                vec![],
            ))),
            dir: Some(dir.to_owned()),
            alg,
            retired_ttl,
        };
        match current {
            Some(k) if k.alg == alg => {
                let retired = keys.load_retired()?;
                keys.publish(Arc::new(k), retired);
            }
            Some(_) | None => {
                keys.rotate()?;
            }
        }
        Ok(keys)
    }

    fn load_retired(&self) -> Result<Vec<Arc<SigningKey>>, KeyError> {
        let Some(dir) = &self.dir else {
            return Ok(vec![]);
        };
        let rdir = dir.join(RETIRED_DIR);
        let mut out = vec![];
        let entries = std::fs::read_dir(&rdir).map_err(io_err(&rdir))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("pem") {
                continue;
            }
            let age = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|m| SystemTime::now().duration_since(m).ok())
                .unwrap_or_default();
            if age > self.retired_ttl {
                let _ = std::fs::remove_file(&path);
                continue;
            }
            let pem = std::fs::read_to_string(&path).map_err(io_err(&path))?;
            out.push(Arc::new(SigningKey::from_pem(&pem, &path)?));
        }
        Ok(out)
    }

    fn publish(&self, current: Arc<SigningKey>, retired: Vec<Arc<SigningKey>>) {
        let ring = Arc::new(KeyRing::new(current, retired));
        *self.ring.write().unwrap_or_else(|p| p.into_inner()) = ring;
    }

    /// The current ring.
    pub fn ring(&self) -> Arc<KeyRing> {
        self.ring.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Generates a new current key; the previous one is retired but stays published.
    pub fn rotate(&self) -> Result<Arc<SigningKey>, KeyError> {
        let new = Arc::new(SigningKey::generate(self.alg)?);
        let old = self.ring();
        let mut retired: Vec<Arc<SigningKey>> = old.retired.clone();
        if let Some(dir) = &self.dir {
            let cur_path = dir.join(CURRENT_FILE);
            if cur_path.exists() {
                let dest = dir
                    .join(RETIRED_DIR)
                    .join(format!("{}.pem", old.current.kid));
                write_private(&dest, &old.current.pkcs8_pem)?;
                retired.push(old.current.clone());
            }
            write_private(&cur_path, &new.pkcs8_pem)?;
            retired = self.load_retired()?;
        } else {
            retired.push(old.current.clone());
        }
        self.publish(new.clone(), retired);
        Ok(new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwks_has_public_members_only_as51() {
        for alg in [
            SigningAlgorithm::ES256,
            SigningAlgorithm::EdDSA,
            SigningAlgorithm::RS256,
        ] {
            let keys = Keys::ephemeral(alg).unwrap();
            let json: serde_json::Value = serde_json::from_slice(&keys.ring().jwks_json()).unwrap();
            let k = &json["keys"][0];
            for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
                assert!(k.get(private).is_none(), "{alg:?} leaks {private}");
            }
            assert_eq!(k["alg"], alg.as_str());
            assert_eq!(k["use"], "sig");
            assert_eq!(k["kid"].as_str().unwrap().len(), 43);
        }
    }

    #[test]
    fn keys_persist_with_mode_0600_and_rotation_keeps_old_key_published() {
        let dir = std::env::temp_dir().join(format!("as-keys-{}", shared::random::token()));
        let keys =
            Keys::load_or_generate(&dir, SigningAlgorithm::ES256, Duration::from_secs(60)).unwrap();
        let kid1 = keys.ring().current.kid.clone();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.join(CURRENT_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Reload: same key.
        let again =
            Keys::load_or_generate(&dir, SigningAlgorithm::ES256, Duration::from_secs(60)).unwrap();
        assert_eq!(again.ring().current.kid, kid1);
        // Rotate: new current, old one still published.
        let new = again.rotate().unwrap();
        assert_ne!(new.kid, kid1);
        assert!(again.ring().find(&kid1).is_some());
        let reloaded =
            Keys::load_or_generate(&dir, SigningAlgorithm::ES256, Duration::from_secs(60)).unwrap();
        assert_eq!(reloaded.ring().current.kid, new.kid);
        assert!(reloaded.ring().find(&kid1).is_some());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
