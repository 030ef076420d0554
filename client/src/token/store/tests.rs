//! Unit tests of the parent module.

use super::*;
use shared::secret::{AccessToken, RefreshToken};

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "oauth2-client-test-{name}-{}-{}",
        std::process::id(),
        shared::random::token()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn sample() -> TokenSet {
    TokenSet::new(
        AccessToken::new("access-1".into()),
        Some(RefreshToken::new("refresh-1".into())),
        Some(600),
        1_000,
        Some("mcp".into()),
    )
}

/// CL-32: round trip restores expiry (refresh works after restart); file and key 0600;
/// nothing readable in clear.
#[test]
fn file_store_round_trip_restores_expiry_and_is_private_cl32() {
    let dir = tmpdir("rt");
    let path = dir.join("tokens.jwe");
    let key = StoreKey::new("http://as", "http://rs/mcp", "cli");
    {
        let s = FileTokenStore::open(&path).unwrap();
        s.save(&key, &sample()).unwrap();
        s.save_client(&StoredClient {
            issuer: "http://as".into(),
            client_id: "dyn-1".into(),
            client_secret: None,
            token_endpoint_auth_method: Some("none".into()),
        })
        .unwrap();
    }
    let raw = std::fs::read_to_string(&path).unwrap();
    assert!(!raw.contains("refresh-1") && !raw.contains("access-1"));
    assert_eq!(raw.split('.').count(), 5, "JWE compact serialization");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&key_path_for(&path)), 0o600);
    }
    let s = FileTokenStore::open(&path).unwrap();
    let t = s.load(&key).unwrap().unwrap();
    assert_eq!(t, sample());
    assert_eq!(t.expires_at, Some(1_600));
    assert_eq!(
        s.load_client("http://as").unwrap().unwrap().client_id,
        "dyn-1"
    );
    assert!(
        s.load(&StoreKey::new("http://other", "http://rs/mcp", "cli"))
            .unwrap()
            .is_none()
    );
    s.remove(&key).unwrap();
    assert!(s.load(&key).unwrap().is_none());
    let _ = std::fs::remove_dir_all(dir);
}

/// CL-32: a corrupted file or a wrong key means a warning and a fresh start, never a crash.
#[test]
fn file_store_corrupted_or_wrong_key_starts_fresh_cl32() {
    let dir = tmpdir("corrupt");
    let path = dir.join("tokens.jwe");
    std::fs::write(&path, "garbage.not.a.jwe").unwrap();
    let key = StoreKey::new("http://as", "http://rs/mcp", "cli");
    let s = FileTokenStore::with_key(&path, [7u8; 32]);
    assert!(s.load(&key).unwrap().is_none());
    s.save(&key, &sample()).unwrap();
    assert!(s.load(&key).unwrap().is_some());
    let other = FileTokenStore::with_key(&path, [8u8; 32]);
    assert!(other.load(&key).unwrap().is_none());
    assert!(FileTokenStore::with_key_text(&path, "short").is_err());
    let _ = std::fs::remove_dir_all(dir);
}

/// The store files next to `path` whose name starts with `prefix` (e.g. moved-aside
/// copies).
fn siblings(path: &Path, prefix: &str) -> Vec<PathBuf> {
    std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect()
}

/// Issue 11 item 13 (CL-32): a store that cannot be decrypted (another key, corruption)
/// is never overwritten: the next save moves it aside, intact, and starts a new file.
#[test]
fn an_unreadable_store_is_moved_aside_never_overwritten_cl32() {
    let dir = tmpdir("aside");
    let path = dir.join("tokens.jwe");
    let key = StoreKey::new("http://as", "http://rs/mcp", "cli");
    FileTokenStore::with_key(&path, [7u8; 32])
        .save(&key, &sample())
        .unwrap();
    let original = std::fs::read(&path).unwrap();

    let other = FileTokenStore::with_key(&path, [8u8; 32]);
    assert!(other.load(&key).unwrap().is_none());
    let other_key = StoreKey::new("http://as", "http://rs/mcp", "other");
    other.save(&other_key, &sample()).unwrap();

    let aside = siblings(&path, "tokens.jwe.unreadable-");
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(std::fs::read(&aside[0]).unwrap(), original);
    // The moved-aside file still opens with its own key.
    let back = FileTokenStore::with_key(&aside[0], [7u8; 32]);
    assert_eq!(back.load(&key).unwrap().unwrap(), sample());
    assert!(other.load(&other_key).unwrap().is_some());
    let _ = std::fs::remove_dir_all(dir);
}
