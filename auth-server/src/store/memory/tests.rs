//! Unit tests of the parent module.

use super::super::{digest, *};
use super::*;
use shared::scope::ScopeSet;

fn code(exp: u64) -> CodeRecord {
    CodeRecord {
        client_id: "c".into(),
        redirect_uri: None,
        code_challenge: "x".into(),
        scope: ScopeSet::parse("mcp"),
        resource: None,
        subject: "u".into(),
        expires_at: exp,
        redeemed_grant: None,
        dpop_jkt: None,
    }
}

#[test]
fn code_is_single_use_as23() {
    let s = MemoryStore::default();
    let d = digest("code");
    s.put_code(d, code(100));
    assert!(matches!(s.redeem_code(&d, "g1", 10), Redeem::Fresh(_)));
    assert!(matches!(s.redeem_code(&d, "g2", 11), Redeem::Replayed(Some(g)) if g == "g1"));
}

#[test]
fn expired_code_is_unknown() {
    let s = MemoryStore::default();
    let d = digest("code");
    s.put_code(d, code(100));
    assert!(matches!(s.redeem_code(&d, "g", 100), Redeem::Unknown));
}

fn dynamic_client(id: &str, issued_at: u64) -> ClientRecord {
    ClientRecord {
        client_id: id.into(),
        secret_digest: None,
        auth_method: shared::oauth::TokenEndpointAuthMethod::None,
        redirect_uris: vec!["http://127.0.0.1/cb".into()],
        grant_types: vec!["authorization_code".into()],
        scopes: None,
        client_name: None,
        application_type: "native".into(),
        dynamic: true,
        issued_at,
        keys: Default::default(),
    }
}

#[test]
fn unused_dynamic_clients_expire_so_a_full_table_frees_up_as63() {
    let s = MemoryStore::default();
    let t0 = 1_000_000;
    assert!(s.register_client(dynamic_client("a", t0)));
    assert!(s.register_client(dynamic_client("b", t0)));
    assert!(!s.register_client(dynamic_client("b", t0)), "the id exists");
    assert_eq!(s.dynamic_clients(t0 + 10), 2, "full at a limit of 2");
    // "b" is used: it gets an authorization code.
    let mut used = code(t0 + 100);
    used.client_id = "b".into();
    s.put_code(digest("code-b"), used);
    // Later, the never-used client has expired and makes room; the used one stays.
    let later = t0 + UNUSED_CLIENT_TTL_SECS + 1;
    assert_eq!(s.dynamic_clients(later), 1, "room again");
    assert!(s.register_client(dynamic_client("c", later)));
    assert!(s.client("a").is_none(), "the unused client expired");
    assert!(s.client("b").is_some(), "the used client stays");
    assert!(s.client("c").is_some());
}

fn refresh_record(grant: &str, client: &str, expires_at: u64) -> RefreshRecord {
    RefreshRecord {
        grant_id: grant.into(),
        client_id: client.into(),
        scope: ScopeSet::parse("mcp"),
        resource: None,
        expires_at,
        rotated_at: None,
        issued_at: 0,
        jkt: None,
    }
}

/// A chain of `n` rotations in `grant` at time `at`; returns the digests, oldest first.
fn chain(s: &MemoryStore, grant: &str, n: usize, at: u64) -> Vec<Digest> {
    let digests: Vec<Digest> = (0..=n).map(|i| digest(&format!("{grant}-{i}"))).collect();
    s.put_refresh(digests[0], refresh_record(grant, "c", at + 86_400));
    for pair in digests.windows(2) {
        assert!(matches!(
            s.rotate_refresh(
                &pair[0],
                at,
                pair[1],
                refresh_record(grant, "c", at + 86_400)
            ),
            Rotate::Rotated
        ));
    }
    digests
}

#[test]
fn rotated_refresh_tokens_are_pruned_after_the_grace_window_and_reuse_still_revokes_as41() {
    let s = MemoryStore::default();
    let t = 1_000;
    let d = chain(&s, "g", 100, t);
    s.purge_expired(t + 1, 2);
    assert_eq!(
        s.lock().refresh.len(),
        101,
        "inside the grace window nothing is pruned"
    );
    s.purge_expired(t + 2, 2);
    let inner = s.lock();
    assert_eq!(
        inner.refresh.len(),
        1,
        "only the current token stays a full record"
    );
    assert_eq!(inner.retired.len(), MAX_RETIRED_PER_GRANT);
    drop(inner);
    assert!(s.refresh(&d[100], t + 2).is_some());
    assert_eq!(s.retired_refresh_grant(&d[99]).as_deref(), Some("g"));
    assert_eq!(
        s.retired_refresh_grant(&d[0]),
        None,
        "the oldest are forgotten"
    );
}

#[test]
fn revoking_a_grant_visits_only_its_own_tokens_as53() {
    let s = MemoryStore::default();
    let t = 1_000;
    let mine = chain(&s, "mine", 20, t);
    let other = chain(&s, "other", 20, t);
    s.purge_expired(t + 10, 2);
    s.revoke_grant("mine");
    let inner = s.lock();
    assert!(
        !inner.by_grant.contains_key("mine"),
        "the grant's index is gone"
    );
    assert!(
        mine.iter()
            .all(|d| !inner.refresh.contains_key(d) && !inner.retired.contains_key(d))
    );
    assert!(inner.refresh.contains_key(&other[20]));
    assert_eq!(inner.by_grant["other"].retired.len(), MAX_RETIRED_PER_GRANT);
}
