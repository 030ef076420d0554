//! One store-trait suite, two instantiations (issue 14 C): every test below runs against the
//! memory store and against the Redis store on a real `redis-server` (started per test on a
//! free loopback port in a temporary folder, killed on drop). Without `redis-server` the Redis
//! half is skipped loudly, unless `CI=true`, where it fails.

use std::sync::Arc;

use shared::scope::ScopeSet;

use super::memory::MemoryStore;
use super::redis::RedisStore;
use super::*;

/// The suite's "now": stores compute TTLs from their clock, set to this.
const T: u64 = 1_000_000;

fn code(client: &str, exp: u64) -> CodeRecord {
    CodeRecord {
        client_id: client.into(),
        redirect_uri: Some("http://127.0.0.1/cb".into()),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
        scope: ScopeSet::parse("mcp mcp:tools"),
        resource: Some("http://127.0.0.1:3003/mcp".into()),
        subject: "u".into(),
        expires_at: exp,
        redeemed_grant: None,
        dpop_jkt: None,
    }
}

fn grant(id: &str) -> Grant {
    Grant {
        id: id.into(),
        client_id: "c".into(),
        subject: "u".into(),
        scope: ScopeSet::parse("mcp"),
        resource: Some("http://127.0.0.1:3003/mcp".into()),
        revoked: false,
    }
}

fn refresh(grant: &str, exp: u64) -> RefreshRecord {
    RefreshRecord {
        grant_id: grant.into(),
        client_id: "c".into(),
        scope: ScopeSet::parse("mcp"),
        resource: Some("http://127.0.0.1:3003/mcp".into()),
        expires_at: exp,
        rotated_at: None,
        issued_at: T,
        jkt: None,
    }
}

fn client(id: &str, dynamic: bool) -> ClientRecord {
    ClientRecord {
        client_id: id.into(),
        secret_digest: Some(digest("s3cret")),
        auth_method: shared::oauth::TokenEndpointAuthMethod::ClientSecretPost,
        redirect_uris: vec!["http://127.0.0.1/cb".into()],
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        scopes: Some(ScopeSet::parse("mcp")),
        client_name: Some("Test".into()),
        application_type: "native".into(),
        dynamic,
        issued_at: T,
        keys: Default::default(),
    }
}

async fn code_is_single_use_with_one_winner_among_concurrent_redeemers_as23_as34(
    s: Arc<dyn Store>,
) {
    let d = digest("code");
    s.put_code(d, code("c", T + 60)).await.unwrap();
    let peeked = s.peek_code(&d, T).await.unwrap().expect("stored");
    assert_eq!(peeked.client_id, "c");
    assert_eq!(peeked.scope, ScopeSet::parse("mcp mcp:tools"));
    assert_eq!(peeked.redirect_uri.as_deref(), Some("http://127.0.0.1/cb"));
    assert_eq!(peeked.redeemed_grant, None);
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move { s.redeem_code(&d, &format!("g{i}"), T + 1).await.unwrap() })
        })
        .collect();
    let mut winners = vec![];
    let mut replays = vec![];
    for t in tasks {
        match t.await.unwrap() {
            Redeem::Fresh(r) => winners.push(r.redeemed_grant.expect("marked")),
            Redeem::Replayed(g) => replays.push(g.expect("the winner's grant")),
            Redeem::Unknown => panic!("a stored code reads as unknown"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one caller wins");
    assert!(replays.iter().all(|g| *g == winners[0]), "{replays:?}");
    let after = s
        .peek_code(&d, T + 100)
        .await
        .unwrap()
        .expect("a redeemed code is remembered");
    assert_eq!(after.redeemed_grant.as_ref(), Some(&winners[0]));
}

async fn an_expired_or_unknown_code_is_not_redeemed_as23(s: Arc<dyn Store>) {
    let d = digest("old");
    s.put_code(d, code("c", T + 60)).await.unwrap();
    assert!(s.peek_code(&d, T + 60).await.unwrap().is_none());
    assert!(matches!(
        s.redeem_code(&d, "g", T + 60).await.unwrap(),
        Redeem::Unknown
    ));
    assert!(matches!(
        s.redeem_code(&digest("never"), "g", T).await.unwrap(),
        Redeem::Unknown
    ));
}

async fn rotation_has_one_winner_among_concurrent_callers_as41_as45(s: Arc<dyn Store>) {
    s.put_grant(grant("g")).await.unwrap();
    let d = digest("rt");
    s.put_refresh(d, refresh("g", T + 3600)).await.unwrap();
    let read = s.refresh(&d, T).await.unwrap().expect("stored");
    assert_eq!((read.grant_id.as_str(), read.rotated_at), ("g", None));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move {
                s.rotate_refresh(&d, T + 5, digest("next"), refresh("g", T + 3605))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut outcomes = vec![];
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    let rotated = outcomes.iter().filter(|o| **o == Rotate::Rotated).count();
    assert_eq!(rotated, 1, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|o| *o == Rotate::Rotated || *o == Rotate::AlreadyRotated(T + 5))
    );
    assert_eq!(
        s.refresh(&d, T + 6)
            .await
            .unwrap()
            .expect("still readable")
            .rotated_at,
        Some(T + 5)
    );
    let next = s
        .refresh(&digest("next"), T + 6)
        .await
        .unwrap()
        .expect("successor stored");
    assert_eq!((next.grant_id.as_str(), next.rotated_at), ("g", None));
    let rotate = |d: Digest, at: u64| {
        let s = s.clone();
        async move {
            s.rotate_refresh(&d, at, digest("other"), refresh("g", at + 60))
                .await
                .unwrap()
        }
    };
    assert_eq!(rotate(d, T + 3600).await, Rotate::Unknown, "expired");
    assert_eq!(rotate(digest("x"), T).await, Rotate::Unknown);
    assert!(
        s.refresh(&digest("other"), T).await.unwrap().is_none(),
        "a failed rotation stores no successor"
    );
}

async fn revoking_a_grant_kills_its_family_and_its_access_tokens_as41_as53(s: Arc<dyn Store>) {
    for g in ["mine", "other"] {
        s.put_grant(grant(g)).await.unwrap();
        for i in 0..3 {
            s.put_refresh(digest(&format!("{g}{i}")), refresh(g, T + 3600))
                .await
                .unwrap();
        }
        s.link_jti(&format!("jti-{g}"), g, T + 300).await.unwrap();
    }
    assert!(!s.is_jti_revoked("jti-mine").await.unwrap());
    let (rec, g) = s
        .refresh_with_grant(&digest("mine0"), T)
        .await
        .unwrap()
        .expect("the token and its grant");
    assert_eq!((rec.grant_id.as_str(), rec.rotated_at), ("mine", None));
    let g = g.expect("the grant");
    assert_eq!(
        (g.id.as_str(), g.subject.as_str(), g.revoked),
        ("mine", "u", false)
    );
    assert_eq!(g.resource.as_deref(), Some("http://127.0.0.1:3003/mcp"));
    s.put_refresh(digest("orphan"), refresh("gone", T + 60))
        .await
        .unwrap();
    let (_, none) = s
        .refresh_with_grant(&digest("orphan"), T)
        .await
        .unwrap()
        .expect("the token");
    assert!(none.is_none(), "a token whose grant is gone");
    assert!(
        s.refresh_with_grant(&digest("orphan"), T + 60)
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    s.revoke_grant("mine").await.unwrap();
    s.revoke_grant("mine").await.unwrap();
    assert!(s.grant("mine").await.unwrap().expect("kept").revoked);
    assert!(!s.grant("other").await.unwrap().expect("kept").revoked);
    assert!(
        s.refresh_with_grant(&digest("mine0"), T)
            .await
            .unwrap()
            .is_none()
    );
    for i in 0..3 {
        assert!(
            s.refresh(&digest(&format!("mine{i}")), T)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            s.refresh(&digest(&format!("other{i}")), T)
                .await
                .unwrap()
                .is_some()
        );
    }
    assert!(s.is_jti_revoked("jti-mine").await.unwrap());
    assert!(!s.is_jti_revoked("jti-other").await.unwrap());
    // A grant without refresh tokens lives as long as its access tokens.
    s.put_grant(grant("short")).await.unwrap();
    s.link_jti("jti-long", "short", T + 86_400).await.unwrap();
    s.revoke_grant("short").await.unwrap();
    assert!(s.is_jti_revoked("jti-long").await.unwrap());
    s.revoke_jti("jti-other", T + 300).await.unwrap();
    assert!(s.is_jti_revoked("jti-other").await.unwrap());
    assert!(!s.is_jti_revoked("jti-unknown").await.unwrap());
}

async fn clients_round_trip_and_dynamic_ones_are_counted_as63(s: Arc<dyn Store>) {
    assert!(s.register_client(client("conf", true)).await.unwrap());
    let c = s.client("conf").await.unwrap().expect("stored");
    assert_eq!(
        c.secret_digest,
        Some(digest("s3cret")),
        "the digest, exactly"
    );
    assert_eq!(
        c.auth_method,
        shared::oauth::TokenEndpointAuthMethod::ClientSecretPost
    );
    assert_eq!(c.scopes, Some(ScopeSet::parse("mcp")));
    assert_eq!(c.redirect_uris, ["http://127.0.0.1/cb"]);
    assert_eq!(c.client_name.as_deref(), Some("Test"));
    assert!(c.dynamic);
    assert!(s.register_client(client("dyn1", true)).await.unwrap());
    assert!(
        !s.register_client(client("dyn1", true)).await.unwrap(),
        "the id exists"
    );
    assert!(
        !s.register_client(client("conf", true)).await.unwrap(),
        "the id exists"
    );
    assert!(s.register_client(client("dyn2", true)).await.unwrap());
    assert_eq!(s.dynamic_clients(T).await.unwrap(), 3);
    assert!(s.client("dyn1").await.unwrap().expect("stored").dynamic);
    assert!(s.client("nobody").await.unwrap().is_none());
    // An unused registration expires; a used one stays.
    s.put_code(digest("c2"), code("dyn2", T + 60))
        .await
        .unwrap();
    assert_eq!(
        s.dynamic_clients(T + UNUSED_CLIENT_TTL_SECS + 1)
            .await
            .unwrap(),
        1,
        "the unused client no longer counts"
    );
}

async fn rate_limit_windows_give_exactly_the_limit_to_concurrent_callers_as30(s: Arc<dyn Store>) {
    use crate::ratelimit::{Bucket, RateKey};
    let key = RateKey::new(Bucket::Token, "192.0.2.1".parse().unwrap());
    let window = std::time::Duration::from_secs(60);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.spend(key, 5, window).await.unwrap() })
        })
        .collect();
    let mut allowed = 0;
    for t in tasks {
        match t.await.unwrap() {
            None => allowed += 1,
            Some(retry) => assert!(retry <= window && retry > std::time::Duration::from_secs(50)),
        }
    }
    assert_eq!(allowed, 5, "exactly the limit");
    let other = RateKey::new(Bucket::Register, "192.0.2.1".parse().unwrap());
    assert_eq!(
        s.spend(other, 5, window).await.unwrap(),
        None,
        "another bucket"
    );
    let same_64 = RateKey::new(Bucket::Token, "2001:db8::1".parse().unwrap());
    assert_eq!(s.spend(same_64, 1, window).await.unwrap(), None);
    let also_64 = RateKey::new(Bucket::Token, "2001:db8::ffff".parse().unwrap());
    assert!(
        s.spend(also_64, 1, window).await.unwrap().is_some(),
        "one /64, one budget"
    );
}

async fn a_pending_consent_is_taken_once_and_listed_per_owner_as27(s: Arc<dyn Store>) {
    let consent = |n: u64| PendingConsent {
        request: format!("{{\"n\":{n}}}"),
        csrf_digest: digest(&format!("csrf{n}")),
        expires_at: T + 600 + n,
    };
    s.put_consent("a", "alice", consent(1)).await.unwrap();
    s.put_consent("b", "alice", consent(2)).await.unwrap();
    s.put_consent("c", "bob", consent(3)).await.unwrap();
    assert_eq!(
        s.owner_consents("alice", T).await.unwrap(),
        ["a", "b"],
        "oldest first"
    );
    assert_eq!(s.pending_consents(T).await.unwrap(), 3);
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.take_consent("a", T + 1).await.unwrap() })
        })
        .collect();
    let mut got = vec![];
    for t in tasks {
        got.extend(t.await.unwrap());
    }
    assert_eq!(got, [consent(1)], "exactly one caller takes it, intact");
    assert_eq!(s.owner_consents("alice", T).await.unwrap(), ["b"]);
    assert_eq!(s.pending_consents(T).await.unwrap(), 2);
    assert_eq!(s.take_consent("c", T + 603).await.unwrap(), None, "expired");
    assert_eq!(s.pending_consents(T + 603).await.unwrap(), 0);
}

async fn a_metadata_document_client_is_cached_until_its_expiry_as59(s: Arc<dyn Store>) {
    let url = "https://app.example/client.json";
    assert!(s.cached_metadata(url, T).await.unwrap().is_none());
    s.cache_metadata(url, client(url, true), T + 60)
        .await
        .unwrap();
    let c = s
        .cached_metadata(url, T + 1)
        .await
        .unwrap()
        .expect("cached");
    assert_eq!((c.client_id.as_str(), c.dynamic), (url, true));
    assert_eq!(c.secret_digest, Some(digest("s3cret")));
    assert!(
        s.cached_metadata("https://app.example/other.json", T)
            .await
            .unwrap()
            .is_none()
    );
}

/// EX-04, EX-05, EX-30: a refresh token's DPoP binding survives storage and rotation input,
/// and a client's DPoP requirement and keys round-trip.
async fn dpop_bindings_and_client_keys_round_trip_ex04_ex05_ex30(s: Arc<dyn Store>) {
    s.put_grant(grant("gk")).await.unwrap();
    let mut r = refresh("gk", T + 600);
    r.jkt = Some("thumb-print".into());
    s.put_refresh(digest("rt-bound"), r).await.unwrap();
    let got = s
        .refresh(&digest("rt-bound"), T)
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(got.jkt.as_deref(), Some("thumb-print"));
    let (got, _) = s
        .refresh_with_grant(&digest("rt-bound"), T)
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(got.jkt.as_deref(), Some("thumb-print"));
    let mut c = client("keyed", true);
    c.auth_method = shared::oauth::TokenEndpointAuthMethod::PrivateKeyJwt;
    c.secret_digest = None;
    let key = shared::dpop::SigningKey::generate(shared::dpop::Algorithm::ES256).unwrap();
    c.keys = ClientKeys {
        dpop_bound: true,
        jwks: Some(shared::dpop::JwkSet {
            keys: vec![key.public_jwk().clone()],
        }),
        jwks_uri: Some("https://app.example/jwks.json".into()),
    };
    assert!(s.register_client(c).await.unwrap());
    let got = s.client("keyed").await.unwrap().expect("stored");
    assert!(got.keys.dpop_bound);
    assert_eq!(
        got.keys.jwks.unwrap().keys[0],
        key.public_jwk().clone(),
        "the key, exactly"
    );
    assert_eq!(
        got.keys.jwks_uri.as_deref(),
        Some("https://app.example/jwks.json")
    );
}

/// EX-03, EX-21, EX-30: a one-time identifier has exactly one first use among concurrent
/// callers, per kind, until its expiry.
async fn a_one_time_id_has_exactly_one_first_use_ex03_ex21_ex30(s: Arc<dyn Store>) {
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.first_use(ReplayKind::DpopProof, "jti-1", T, T + 60)
                .await
                .unwrap()
        }));
    }
    let mut winners = 0;
    for t in tasks {
        winners += usize::from(t.await.unwrap());
    }
    assert_eq!(winners, 1);
    // Kinds are separate namespaces.
    assert!(
        s.first_use(ReplayKind::ClientAssertion, "jti-1", T, T + 60)
            .await
            .unwrap()
    );
    assert!(
        !s.first_use(ReplayKind::ClientAssertion, "jti-1", T, T + 60)
            .await
            .unwrap()
    );
    assert!(
        s.first_use(ReplayKind::IdJag, "jti-1", T, T + 60)
            .await
            .unwrap()
    );
}

async fn a_code_keeps_its_dpop_jkt_ex04(s: Arc<dyn Store>) {
    let mut c = code("c", T + 60);
    c.dpop_jkt = Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs".into());
    s.put_code(digest("bound"), c).await.unwrap();
    s.put_code(digest("unbound"), code("c", T + 60))
        .await
        .unwrap();
    let peeked = s.peek_code(&digest("bound"), T).await.unwrap().unwrap();
    assert_eq!(
        peeked.dpop_jkt.as_deref(),
        Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
    );
    let Redeem::Fresh(redeemed) = s.redeem_code(&digest("bound"), "g", T).await.unwrap() else {
        panic!("fresh code");
    };
    assert_eq!(redeemed.dpop_jkt, peeked.dpop_jkt);
    let plain = s.peek_code(&digest("unbound"), T).await.unwrap().unwrap();
    assert_eq!(plain.dpop_jkt, None);
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod on_memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(std::sync::Arc::new(super::MemoryStore::default())).await;
                }
            )*
        }
        mod on_redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(redis) = super::redis_server::RedisServer::start() else {
                        return;
                    };
                    let store = redis.store(super::T).await;
                    super::$name(std::sync::Arc::new(store)).await;
                }
            )*
        }
    };
}

suite!(
    code_is_single_use_with_one_winner_among_concurrent_redeemers_as23_as34,
    an_expired_or_unknown_code_is_not_redeemed_as23,
    rotation_has_one_winner_among_concurrent_callers_as41_as45,
    revoking_a_grant_kills_its_family_and_its_access_tokens_as41_as53,
    clients_round_trip_and_dynamic_ones_are_counted_as63,
    rate_limit_windows_give_exactly_the_limit_to_concurrent_callers_as30,
    a_pending_consent_is_taken_once_and_listed_per_owner_as27,
    a_metadata_document_client_is_cached_until_its_expiry_as59,
    a_one_time_id_has_exactly_one_first_use_ex03_ex21_ex30,
    dpop_bindings_and_client_keys_round_trip_ex04_ex05_ex30,
    a_code_keeps_its_dpop_jkt_ex04,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_keys_hold_digests_only_and_carry_ttls_as23_as43() {
    let Some(redis) = redis_server::RedisServer::start() else {
        return;
    };
    let store = redis.store(T).await;
    store
        .put_code(digest("the-code"), code("c", T + 60))
        .await
        .unwrap();
    store.put_grant(grant("g")).await.unwrap();
    store
        .put_refresh(digest("the-refresh-token"), refresh("g", T + 3600))
        .await
        .unwrap();
    store.register_client(client("dyn", true)).await.unwrap();
    store.link_jti("j", "g", T + 86_400).await.unwrap();
    let mut conn = redis.connection().await;
    let ttl: i64 = ::redis::cmd("TTL")
        .arg("test:grant:g")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(ttl > 86_000, "the grant outlives its access tokens: {ttl}");
    let keys: Vec<String> = ::redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(keys.iter().all(|k| k.starts_with("test:")), "{keys:?}");
    for k in &keys {
        assert!(
            !k.contains("the-code") && !k.contains("the-refresh-token"),
            "{k}"
        );
        let dump: Vec<u8> = ::redis::cmd("DUMP")
            .arg(k)
            .query_async(&mut conn)
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&dump);
        assert!(
            !text.contains("s3cret") && !text.contains("the-refresh-token"),
            "{k}"
        );
        if k.contains(":code:")
            || k.contains(":rt:")
            || k.contains(":client:dyn")
            || k.contains(":grant:")
            || k.contains(":fam:")
        {
            let ttl: i64 = ::redis::cmd("TTL")
                .arg(k)
                .query_async(&mut conn)
                .await
                .unwrap();
            assert!(ttl > 0, "{k} has no TTL");
        }
    }
    let ttl: i64 = ::redis::cmd("TTL")
        .arg(format!(
            "test:rt:{}",
            shared::random::b64url(&digest("the-refresh-token"))
        ))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        (3590..=3600).contains(&ttl),
        "refresh TTL to its expiry: {ttl}"
    );
}

/// A throw-away `redis-server` for unit tests (the e2e harness has its own in `tests::redis`).
mod redis_server {
    use std::io::{Read as _, Write as _};
    use std::path::PathBuf;
    use std::process::{Child, Command, Stdio};
    use std::sync::Arc;
    use std::time::Duration;

    use shared::clock::TestClock;

    use super::RedisStore;

    #[derive(Debug)]
    pub(super) struct RedisServer {
        child: Child,
        port: u16,
        dir: PathBuf,
    }

    impl RedisServer {
        /// Starts one; `None` (with a loud message) when `redis-server` is not installed and
        /// `CI` is not `true`.
        pub(super) fn start() -> Option<Self> {
            for _ in 0..3 {
                let port = std::net::TcpListener::bind("127.0.0.1:0")
                    .and_then(|l| l.local_addr())
                    .expect("a free port")
                    .port();
                let dir =
                    std::env::temp_dir().join(format!("as-redis-{}", shared::random::token()));
                std::fs::create_dir_all(&dir).expect("temp dir");
                let spawned = Command::new("redis-server")
                    .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                    .arg("--dir")
                    .arg(&dir)
                    .args(["--save", "", "--appendonly", "no"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn();
                let child = match spawned {
                    Ok(c) => c,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        assert!(
                            std::env::var("CI").as_deref() != Ok("true"),
                            "redis-server is not installed (CI=true): apt-get install redis-server"
                        );
                        eprintln!(
                            "SKIPPED: redis-server is not installed; the Redis half of the store suite did not run"
                        );
                        return None;
                    }
                    Err(e) => panic!("cannot start redis-server: {e}"),
                };
                let mut server = Self { child, port, dir };
                if server.wait_ready() {
                    return Some(server);
                }
                let _ = server.child.kill();
            }
            panic!("redis-server did not become ready on three ports");
        }

        fn wait_ready(&mut self) -> bool {
            for _ in 0..200 {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return false;
                }
                if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
                    let mut buf = [0u8; 7];
                    if s.write_all(b"PING\r\n").is_ok()
                        && s.read_exact(&mut buf).is_ok()
                        && &buf == b"+PONG\r\n"
                    {
                        return true;
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            false
        }

        fn url(&self) -> String {
            format!("redis://127.0.0.1:{}/0", self.port)
        }

        /// A store on this server (prefix `test:`) whose clock reads `now`.
        pub(super) async fn store(&self, now: u64) -> RedisStore {
            RedisStore::connect(&self.url(), "test:", Arc::new(TestClock::new(now)))
                .await
                .expect("connect")
        }

        pub(super) async fn connection(&self) -> ::redis::aio::MultiplexedConnection {
            ::redis::Client::open(self.url())
                .unwrap()
                .get_multiplexed_async_connection()
                .await
                .unwrap()
        }
    }

    impl Drop for RedisServer {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
