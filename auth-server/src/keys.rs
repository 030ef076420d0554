//! Signing keys: generated with aws-lc-rs, stored as PKCS#8 PEM (mode 0600), published as a
//! JWKS of public keys only (checklist AS-51), rotated with retired keys kept published.
//!
//! josekit is the user's JOSE choice; see `docs/decisions/0002-keys-with-aws-lc-rs.md` for why
//! key generation uses aws-lc-rs (already in the tree; josekit would link OpenSSL into the
//! server) and JWK handling uses jsonwebtoken's `Jwk`, which signs and verifies with it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use jsonwebtoken::jwk::JwkSet;

use crate::config::SigningAlgorithm;

mod signing_key;

pub use signing_key::SigningKey;

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
