//! Token stores. [`FileTokenStore`] encrypts the whole file as a JWE (`dir` + `A256GCM`,
//! josekit) with a 256-bit key from a key file (mode 0600) or from the caller (e.g. an
//! environment variable read by the CLI), writes atomically (temp file + rename) with mode
//! 0600, and treats a corrupted or undecryptable file as empty (warning, fresh login) but
//! never overwrites it: the next save moves it aside (`<file>.unreadable-<time>`) first.
//!
//! Several processes may share one file (issue 11 item 13). Every read and every
//! read-modify-write holds an OS lock on `<file>.lock` (a few milliseconds), and a refresh
//! holds the OS lock on `<file>.refresh.lock` ([`TokenStore::try_lock_refresh`]) while it
//! re-reads the stored tokens and calls the token endpoint, so no process replays a refresh
//! token that another one already rotated. The locks are `std::fs::File::lock` (`flock` on
//! Unix, `LockFileEx` on Windows): released by the OS when a process dies.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use shared::secret::ClientSecret;

use super::TokenSet;
use crate::error::ClientError;

/// Identifies a token set: tokens are bound to the issuer, the resource and the client
/// (CL-04, CL-16, CL-31).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StoreKey {
    /// The authorization server's issuer.
    pub issuer: String,
    /// The protected resource (PRM `resource`).
    pub resource: String,
    /// The client id.
    pub client_id: String,
}

impl StoreKey {
    /// A key.
    pub fn new(
        issuer: impl Into<String>,
        resource: impl Into<String>,
        client_id: impl Into<String>,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            resource: resource.into(),
            client_id: client_id.into(),
        }
    }
    fn flat(&self) -> String {
        format!("{} {} {}", self.issuer, self.resource, self.client_id)
    }
}

/// A dynamically registered client, bound to the issuer that registered it (CL-16).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredClient {
    /// The issuer that issued the credentials.
    pub issuer: String,
    /// The client id.
    pub client_id: String,
    /// The secret, if the AS made the client confidential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<ClientSecret>,
    /// `none`, `client_secret_basic` or `client_secret_post`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<String>,
}

/// Held while a refresh runs: the store's cross-process refresh lock, released on drop.
/// Stores private to one process hand out an empty one ([`RefreshLock::default`]).
#[derive(Debug, Default)]
pub struct RefreshLock {
    _file: Option<std::fs::File>,
}

impl RefreshLock {
    /// A lock held through `file`, which the caller has locked (e.g. `File::try_lock`);
    /// dropping the guard closes the file, which releases the lock.
    pub fn from_locked_file(file: std::fs::File) -> Self {
        Self { _file: Some(file) }
    }
}

/// Where tokens and registrations live. Methods are synchronous and must be quick (the file
/// store reads and writes one small file).
pub trait TokenStore: Send + Sync + std::fmt::Debug + 'static {
    /// The token set for `key`, if any.
    fn load(&self, key: &StoreKey) -> Result<Option<TokenSet>, ClientError>;
    /// Saves (replaces) the token set for `key`.
    fn save(&self, key: &StoreKey, tokens: &TokenSet) -> Result<(), ClientError>;
    /// Forgets the token set for `key`.
    fn remove(&self, key: &StoreKey) -> Result<(), ClientError>;
    /// A client registered at `issuer` for this application, if any.
    fn load_client(&self, issuer: &str) -> Result<Option<StoredClient>, ClientError> {
        let _ = issuer;
        Ok(None)
    }
    /// Remembers a registered client.
    fn save_client(&self, client: &StoredClient) -> Result<(), ClientError> {
        let _ = client;
        Ok(())
    }
    /// Tries, without waiting, to take the lock that serializes refreshes across every
    /// process sharing this store: `Ok(None)` while another holder has it. The refresher
    /// holds it while it re-reads the stored tokens and calls the token endpoint. The
    /// default (a store private to one process) always succeeds at once.
    fn try_lock_refresh(&self) -> Result<Option<RefreshLock>, ClientError> {
        Ok(Some(RefreshLock::default()))
    }
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Contents {
    #[serde(default)]
    tokens: BTreeMap<String, (StoreKey, TokenSet)>,
    #[serde(default)]
    clients: BTreeMap<String, StoredClient>,
}

/// Tokens in memory only (the default): lost when the process ends.
#[derive(Debug, Default)]
pub struct InMemoryTokenStore {
    inner: Mutex<Contents>,
}

impl TokenStore for InMemoryTokenStore {
    fn load(&self, key: &StoreKey) -> Result<Option<TokenSet>, ClientError> {
        let g = self.inner.lock().map_err(|_| poisoned())?;
        Ok(g.tokens.get(&key.flat()).map(|(_, t)| t.clone()))
    }
    fn save(&self, key: &StoreKey, tokens: &TokenSet) -> Result<(), ClientError> {
        let mut g = self.inner.lock().map_err(|_| poisoned())?;
        g.tokens.insert(key.flat(), (key.clone(), tokens.clone()));
        Ok(())
    }
    fn remove(&self, key: &StoreKey) -> Result<(), ClientError> {
        let mut g = self.inner.lock().map_err(|_| poisoned())?;
        g.tokens.remove(&key.flat());
        Ok(())
    }
    fn load_client(&self, issuer: &str) -> Result<Option<StoredClient>, ClientError> {
        let g = self.inner.lock().map_err(|_| poisoned())?;
        Ok(g.clients.get(issuer).cloned())
    }
    fn save_client(&self, client: &StoredClient) -> Result<(), ClientError> {
        let mut g = self.inner.lock().map_err(|_| poisoned())?;
        g.clients.insert(client.issuer.clone(), client.clone());
        Ok(())
    }
}

fn poisoned() -> ClientError {
    ClientError::store("token store lock poisoned")
}

/// An encrypted file store (CL-32). See the module docs.
///
/// ```no_run
/// use http_oauth2_client::FileTokenStore;
/// // Key in `tokens.json.jwe.key` (created with mode 0600 on first use).
/// let store = FileTokenStore::open("tokens.json.jwe").unwrap();
/// ```
pub struct FileTokenStore {
    path: PathBuf,
    key: [u8; 32],
    lock: Mutex<()>,
}

impl std::fmt::Debug for FileTokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileTokenStore")
            .field("path", &self.path)
            .field("key", &"[redacted]")
            .finish()
    }
}

/// `path` with `suffix` appended to its file name.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Name of the key file next to a store file.
fn key_path_for(path: &Path) -> PathBuf {
    with_suffix(path, ".key")
}

/// Why the store file could not be used.
#[derive(Debug)]
enum Unreadable {
    Io(std::io::Error),
    Undecryptable,
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Io(e) => write!(f, "cannot be read ({e})"),
            Self::Undecryptable => f.write_str("is corrupted or encrypted with another key"),
        }
    }
}

impl FileTokenStore {
    /// Opens a store at `path` with its key in `<path>.key`, creating the key (mode 0600)
    /// if it does not exist.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, ClientError> {
        let path = path.into();
        let key_path = key_path_for(&path);
        Self::with_key_file(path, key_path)
    }

    /// Opens a store whose key lives in `key_path` (created with mode 0600 if absent).
    pub fn with_key_file(
        path: impl Into<PathBuf>,
        key_path: impl AsRef<Path>,
    ) -> Result<Self, ClientError> {
        let key_path = key_path.as_ref();
        let key = match std::fs::read_to_string(key_path) {
            Ok(s) => decode_key(s.trim())?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = shared::random::bytes::<32>();
                if let Some(dir) = key_path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(store_err)?;
                }
                write_private(key_path, URL_SAFE_NO_PAD.encode(key).as_bytes())?;
                key
            }
            Err(e) => return Err(store_err(e)),
        };
        warn_if_readable_by_others(key_path);
        Ok(Self::with_key(path, key))
    }

    /// A store encrypted with the given 256-bit key.
    pub fn with_key(path: impl Into<PathBuf>, key: [u8; 32]) -> Self {
        Self {
            path: path.into(),
            key,
            lock: Mutex::new(()),
        }
    }

    /// A store whose key is given as base64url text (e.g. from an environment variable).
    pub fn with_key_text(path: impl Into<PathBuf>, key_b64: &str) -> Result<Self, ClientError> {
        Ok(Self::with_key(path, decode_key(key_b64.trim())?))
    }

    /// The file path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` holding the in-process mutex and the OS lock on `<path>.lock` (blocking:
    /// other holders keep it only for one read or write).
    fn locked<T>(&self, f: impl FnOnce() -> Result<T, ClientError>) -> Result<T, ClientError> {
        let _g = self.lock.lock().map_err(|_| poisoned())?;
        let lock_file = open_lock_file(&with_suffix(&self.path, ".lock"))?;
        lock_file.lock().map_err(store_err)?;
        f()
        // Dropping `lock_file` releases the OS lock.
    }

    /// The contents; an absent file is empty.
    fn try_read(&self) -> Result<Contents, Unreadable> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Contents::default()),
            Err(e) => return Err(Unreadable::Io(e)),
        };
        self.decrypt(text.trim()).ok_or(Unreadable::Undecryptable)
    }

    /// For lookups: an unusable file reads as empty (fresh login), with a warning.
    fn read(&self) -> Contents {
        self.try_read().unwrap_or_else(|why| {
            tracing::warn!(store.path = %self.path.display(),
                "token store {why}; ignoring it (fresh login); it is moved aside, not overwritten, at the next save");
            Contents::default()
        })
    }

    /// For read-modify-write: an unusable file is renamed to `<path>.unreadable-<time>`
    /// first, so that nothing it holds is overwritten; if it cannot be moved, nothing is
    /// written.
    fn read_for_update(&self) -> Result<Contents, ClientError> {
        let why = match self.try_read() {
            Ok(c) => return Ok(c),
            Err(why) => why,
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let aside = with_suffix(
            &self.path,
            &format!(".unreadable-{now}-{}", std::process::id()),
        );
        std::fs::rename(&self.path, &aside).map_err(|e| ClientError::Store {
            reason: format!(
                "token store {} {why} and could not be moved aside; refusing to overwrite it",
                self.path.display()
            ),
            source: Some(Box::new(e)),
        })?;
        tracing::warn!(store.path = %self.path.display(), store.moved_to = %aside.display(),
            "token store {why}: moved aside (restore it with the right key), starting a new one");
        Ok(Contents::default())
    }

    fn decrypt(&self, text: &str) -> Option<Contents> {
        let decrypter = josekit::jwe::Dir.decrypter_from_bytes(self.key).ok()?;
        let (payload, _header) = josekit::jwe::deserialize_compact(text, &decrypter).ok()?;
        serde_json::from_slice(&payload).ok()
    }

    fn write(&self, contents: &Contents) -> Result<(), ClientError> {
        let payload = serde_json::to_vec(contents).map_err(store_err)?;
        let mut header = josekit::jwe::JweHeader::new();
        header.set_content_encryption("A256GCM");
        header.set_content_type("application/json");
        let encrypter = josekit::jwe::Dir
            .encrypter_from_bytes(self.key)
            .map_err(store_err)?;
        let jwe =
            josekit::jwe::serialize_compact(&payload, &header, &encrypter).map_err(store_err)?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(store_err)?;
        }
        let mut tmp = self.path.as_os_str().to_owned();
        tmp.push(format!(".tmp{}", std::process::id()));
        let tmp = PathBuf::from(tmp);
        write_private(&tmp, jwe.as_bytes())?;
        std::fs::rename(&tmp, &self.path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            store_err(e)
        })
    }

    fn update(&self, f: impl FnOnce(&mut Contents)) -> Result<(), ClientError> {
        self.locked(|| {
            let mut c = self.read_for_update()?;
            f(&mut c);
            self.write(&c)
        })
    }
}

/// Opens (creating, mode 0600) a lock file.
fn open_lock_file(path: &Path) -> Result<std::fs::File, ClientError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(store_err)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    opts.open(path).map_err(store_err)
}

impl TokenStore for FileTokenStore {
    fn load(&self, key: &StoreKey) -> Result<Option<TokenSet>, ClientError> {
        self.locked(|| Ok(self.read().tokens.remove(&key.flat()).map(|(_, t)| t)))
    }
    fn save(&self, key: &StoreKey, tokens: &TokenSet) -> Result<(), ClientError> {
        self.update(|c| {
            c.tokens.insert(key.flat(), (key.clone(), tokens.clone()));
        })
    }
    fn remove(&self, key: &StoreKey) -> Result<(), ClientError> {
        self.update(|c| {
            c.tokens.remove(&key.flat());
        })
    }
    fn load_client(&self, issuer: &str) -> Result<Option<StoredClient>, ClientError> {
        self.locked(|| Ok(self.read().clients.remove(issuer)))
    }
    fn save_client(&self, client: &StoredClient) -> Result<(), ClientError> {
        self.update(|c| {
            c.clients.insert(client.issuer.clone(), client.clone());
        })
    }
    fn try_lock_refresh(&self) -> Result<Option<RefreshLock>, ClientError> {
        let f = open_lock_file(&with_suffix(&self.path, ".refresh.lock"))?;
        match f.try_lock() {
            Ok(()) => Ok(Some(RefreshLock::from_locked_file(f))),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(store_err(e)),
        }
    }
}

fn decode_key(text: &str) -> Result<[u8; 32], ClientError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|_| ClientError::store("store key is not base64url"))?;
    bytes
        .try_into()
        .map_err(|_| ClientError::store("store key must be 32 bytes (base64url)"))
}

fn store_err<E: std::error::Error + Send + Sync + 'static>(e: E) -> ClientError {
    ClientError::Store {
        reason: e.to_string(),
        source: Some(Box::new(e)),
    }
}

/// Creates or truncates `path` with mode 0600 and writes `data`, synced to disk.
fn write_private(path: &Path, data: &[u8]) -> Result<(), ClientError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(store_err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(store_err)?;
    }
    f.write_all(data).map_err(store_err)?;
    f.sync_all().map_err(store_err)
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(m) = std::fs::metadata(path)
            && m.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(key.path = %path.display(), "token store key file is readable by other users; chmod 600 it");
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests;
