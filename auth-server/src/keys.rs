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
    /// A key file is a symbolic link (never followed) or not a regular file.
    #[error("key file {0}: a symbolic link or not a regular file; refusing to use it")]
    NotAFile(PathBuf),
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
/// The refresh-token successor secret (ADR 0010): 32 random bytes, base64url, mode 0600.
const SUCCESSOR_FILE: &str = "refresh_successor.key";

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes a private key file: a fresh temporary file created exclusively (`O_EXCL`, and
/// `O_NOFOLLOW`, so a planted file or link is never written through) with mode 0600, then
/// renamed over `path` (a rename replaces a link at `path`, it does not follow it).
fn write_private(path: &Path, contents: &str) -> Result<(), KeyError> {
    use std::io::Write as _;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", shared::random::token()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    let mut f = opts.open(&tmp).map_err(io_err(&tmp))?;
    let written = f
        .write_all(contents.as_bytes())
        .and_then(|()| f.sync_all())
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_err(path)(e));
    }
    Ok(())
}

/// Creates a private key file unless one exists: written to a private temporary file, then
/// hard-linked into place. A link never replaces an existing file, so when several instances
/// sharing a keys folder start together exactly one file wins and every instance reads it.
/// Returns whether this call created it.
fn create_private_once(path: &Path, contents: &str) -> Result<bool, KeyError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.new", shared::random::token()));
    write_private(&tmp, contents)?;
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// Reads a private key file without following a symbolic link (`O_NOFOLLOW`); `None` when it
/// does not exist. A file readable or writable by group or others is fixed to 0600 with a
/// warning (checked on the opened file, so the check and the fix apply to what is read).
fn read_private(path: &Path) -> Result<Option<String>, KeyError> {
    use std::io::Read as _;
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.custom_flags(libc::O_NOFOLLOW);
    }
    let mut f = match opts.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(_) if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) => {
            return Err(KeyError::NotAFile(path.to_owned()));
        }
        Err(e) => return Err(io_err(path)(e)),
    };
    let meta = f.metadata().map_err(io_err(path))?;
    if !meta.is_file() {
        return Err(KeyError::NotAFile(path.to_owned()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format_args!("{mode:o}"),
                "key file was accessible to group or others; permissions set to 0600"
            );
            f.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(io_err(path))?;
        }
    }
    let mut pem = String::new();
    f.read_to_string(&mut pem).map_err(io_err(path))?;
    Ok(Some(pem))
}

/// Creates the keys folder (and its parents) with mode 0700 where it does not exist yet.
fn create_private_dir(dir: &Path) -> Result<(), KeyError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(io_err(dir))
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
    /// algorithm than configured is retired (it stays published) and replaced.
    pub fn load_or_generate(
        dir: &Path,
        alg: SigningAlgorithm,
        retired_ttl: Duration,
    ) -> Result<Self, KeyError> {
        create_private_dir(&dir.join(RETIRED_DIR))?;
        let current_path = dir.join(CURRENT_FILE);
        let loaded = match read_private(&current_path)? {
            Some(pem) => Some(SigningKey::from_pem(&pem, &current_path)?),
            None => None,
        };
        let (current, rotate) = match loaded {
            Some(k) => {
                let other_alg = k.alg != alg;
                (Arc::new(k), other_alg)
            }
            None => {
                let new = Arc::new(SigningKey::generate(alg)?);
                if create_private_once(&current_path, &new.pkcs8_pem)? {
                    (new, false)
                } else {
                    // Another instance created it first: use that one.
                    let pem = read_private(&current_path)?
                        .ok_or_else(|| KeyError::NotAFile(current_path.clone()))?;
                    let k = SigningKey::from_pem(&pem, &current_path)?;
                    let other_alg = k.alg != alg;
                    (Arc::new(k), other_alg)
                }
            }
        };
        let keys = Self {
            ring: RwLock::new(Arc::new(KeyRing::new(current.clone(), vec![]))),
            dir: Some(dir.to_owned()),
            alg,
            retired_ttl,
        };
        if rotate {
            // The key that signed until now is the loaded one: rotation retires exactly it.
            keys.rotate()?;
        } else {
            keys.publish(current, keys.load_retired()?);
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
            if let Some(pem) = read_private(&path)? {
                out.push(Arc::new(SigningKey::from_pem(&pem, &path)?));
            }
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

    /// The secret under which a rotated refresh token's successor is derived (ADR 0010). With a
    /// keys folder it is the folder's `refresh_successor.key`, created on first use without
    /// ever replacing an existing one (two instances starting together agree on the file that
    /// was linked first), so every instance sharing the folder derives the same successor and
    /// a restart keeps it. Ephemeral keys: a per-process secret.
    pub(crate) fn successor_secret(&self) -> Result<[u8; 32], KeyError> {
        use base64::Engine as _;
        let Some(dir) = &self.dir else {
            return Ok(shared::random::bytes::<32>());
        };
        let path = dir.join(SUCCESSOR_FILE);
        let decode = |text: &str| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(text.trim())
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
                .ok_or_else(|| KeyError::Format(path.clone()))
        };
        if let Some(text) = read_private(&path)? {
            return decode(&text);
        }
        // A concurrent creator's secret wins, never both.
        create_private_once(
            &path,
            &shared::random::b64url(&shared::random::bytes::<32>()),
        )?;
        match read_private(&path)? {
            Some(text) => decode(&text),
            None => Err(KeyError::NotAFile(path)),
        }
    }

    /// Generates a new current key; the previous one is retired but stays published.
    pub fn rotate(&self) -> Result<Arc<SigningKey>, KeyError> {
        let new = Arc::new(SigningKey::generate(self.alg)?);
        let old = self.ring();
        let mut retired: Vec<Arc<SigningKey>> = old.retired.clone();
        if let Some(dir) = &self.dir {
            let dest = dir
                .join(RETIRED_DIR)
                .join(format!("{}.pem", old.current.kid));
            write_private(&dest, &old.current.pkcs8_pem)?;
            write_private(&dir.join(CURRENT_FILE), &new.pkcs8_pem)?;
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
    fn the_successor_secret_is_shared_through_the_keys_folder_and_never_replaced() {
        let dir = temp_dir("successor");
        let a =
            Keys::load_or_generate(&dir, SigningAlgorithm::ES256, Duration::from_secs(60)).unwrap();
        let b =
            Keys::load_or_generate(&dir, SigningAlgorithm::ES256, Duration::from_secs(60)).unwrap();
        let first = a.successor_secret().unwrap();
        assert_eq!(
            b.successor_secret().unwrap(),
            first,
            "same folder, same secret"
        );
        assert_eq!(a.successor_secret().unwrap(), first, "stable across reads");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.join(SUCCESSOR_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let eph = Keys::ephemeral(SigningAlgorithm::ES256).unwrap();
        assert_ne!(eph.successor_secret().unwrap(), first);
    }

    #[test]
    fn instances_starting_together_on_an_empty_folder_agree_on_one_signing_key() {
        let dir = temp_dir("race");
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let dir = dir.clone();
                std::thread::spawn(move || {
                    Keys::load_or_generate(&dir, SigningAlgorithm::ES256, Duration::from_secs(60))
                        .unwrap()
                        .ring()
                        .current
                        .kid
                        .clone()
                })
            })
            .collect();
        let kids: std::collections::BTreeSet<String> =
            handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(kids.len(), 1, "{kids:?}");
        let on_disk =
            Keys::load_or_generate(&dir, SigningAlgorithm::ES256, Duration::from_secs(60)).unwrap();
        assert!(
            kids.contains(&on_disk.ring().current.kid),
            "the key on disk signs"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

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

    fn temp_dir(tag: &str) -> PathBuf {
        std::env::temp_dir().join(format!("as-keys-{tag}-{}", shared::random::token()))
    }

    #[test]
    fn rotation_after_an_algorithm_change_retires_exactly_the_key_that_signed_as50_as51() {
        let dir = temp_dir("alg");
        let es =
            Keys::load_or_generate(&dir, SigningAlgorithm::ES256, Duration::from_secs(60)).unwrap();
        let old_kid = es.ring().current.kid.clone();
        drop(es);
        let ed =
            Keys::load_or_generate(&dir, SigningAlgorithm::EdDSA, Duration::from_secs(60)).unwrap();
        let ring = ed.ring();
        assert_eq!(ring.current.alg, SigningAlgorithm::EdDSA);
        assert_ne!(ring.current.kid, old_kid);
        let retired: Vec<&str> = ring.retired.iter().map(|k| k.kid.as_str()).collect();
        assert_eq!(
            retired,
            [old_kid.as_str()],
            "exactly the old key is retired"
        );
        let files: Vec<String> = std::fs::read_dir(dir.join(RETIRED_DIR))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(files, [format!("{old_kid}.pem")]);
        // After a restart the new key signs and the old one is still published.
        let again =
            Keys::load_or_generate(&dir, SigningAlgorithm::EdDSA, Duration::from_secs(60)).unwrap();
        assert_eq!(again.ring().current.kid, ring.current.kid);
        assert!(again.ring().find(&old_kid).is_some());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_key_file_is_refused_as50() {
        let dir = temp_dir("link");
        let elsewhere = temp_dir("link-target");
        let k =
            Keys::load_or_generate(&elsewhere, SigningAlgorithm::ES256, Duration::from_secs(60))
                .unwrap();
        drop(k);
        std::fs::create_dir_all(&dir).unwrap();
        std::os::unix::fs::symlink(elsewhere.join(CURRENT_FILE), dir.join(CURRENT_FILE)).unwrap();
        let err = Keys::load_or_generate(&dir, SigningAlgorithm::ES256, Duration::from_secs(60))
            .expect_err("a symlinked key file is refused");
        assert!(err.to_string().contains(CURRENT_FILE), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(&elsewhere);
    }

    #[cfg(unix)]
    #[test]
    fn key_creation_does_not_follow_a_planted_symlink_as50() {
        let dir = temp_dir("plant");
        std::fs::create_dir_all(&dir).unwrap();
        let victim = temp_dir("victim");
        std::fs::write(&victim, "untouched").unwrap();
        // Whatever temporary or final name the writer uses, a link planted there must not be
        // followed: plant links at the final name's usual temporary names.
        for name in [
            format!("{CURRENT_FILE}.tmp"),
            "signing_key.pem.tmp".to_owned(),
        ] {
            let _ = std::os::unix::fs::symlink(&victim, dir.join(name));
        }
        let _ = Keys::load_or_generate(&dir, SigningAlgorithm::ES256, Duration::from_secs(60));
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_file(&victim);
    }

    #[cfg(unix)]
    #[test]
    fn a_group_or_world_readable_key_file_is_fixed_to_0600_as50() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = temp_dir("mode");
        let k =
            Keys::load_or_generate(&dir, SigningAlgorithm::ES256, Duration::from_secs(60)).unwrap();
        let kid = k.ring().current.kid.clone();
        k.rotate().unwrap();
        drop(k);
        let current = dir.join(CURRENT_FILE);
        let retired = dir.join(RETIRED_DIR).join(format!("{kid}.pem"));
        for f in [&current, &retired] {
            std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        let again =
            Keys::load_or_generate(&dir, SigningAlgorithm::ES256, Duration::from_secs(60)).unwrap();
        assert!(again.ring().find(&kid).is_some());
        for f in [&current, &retired] {
            let mode = std::fs::metadata(f).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", f.display());
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
