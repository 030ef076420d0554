//! Issue 15 A on Redis: the authorization server's DPoP replay cache lives in the shared
//! store, so two instances of one deployment (same issuer, same keys folder, one Redis)
//! accept a proof once between them: a proof used at instance A is refused at instance B
//! (EX-03, EX-44). Skips loudly without `redis-server` (fails under `CI=true`).

use auth_server::{Config, RunningServer};
use serde_json::Value;
use shared::dpop::{Algorithm, SigningKey};
use tests::redis::RedisServer;

const SERVICE: (&str, &str) = ("mcp-service", "dev-service-secret");

/// An instance on Redis (or, without one, on its own memory store) with `issuer` (or its
/// own URL).
async fn instance(
    redis: Option<&RedisServer>,
    keys: &std::path::Path,
    issuer: Option<&str>,
) -> (RunningServer, String) {
    let mut cfg = Config {
        keys_dir: Some(keys.to_path_buf()),
        store_key_prefix: "e2e-dpop:".into(),
        ..Config::default()
    };
    if let Some(r) = redis {
        cfg.store = r.url();
    }
    cfg.rate_limits.token_per_minute = 0;
    assert!(
        cfg.dpop.enabled,
        "DPoP is on by default at the authorization server"
    );
    if let Some(i) = issuer {
        cfg.issuer = i.to_owned();
    }
    let server = auth_server::serve(tests::loopback_listener().await, cfg)
        .await
        .expect("an instance starts on Redis");
    let url = format!("http://{}", server.local_addr());
    (server, url)
}

/// `client_credentials` at `url` with `proof`: (status, body).
async fn token(url: &str, proof: &str) -> (u16, Value) {
    let res = tests::http()
        .post(format!("{url}/token"))
        .basic_auth(SERVICE.0, Some(SERVICE.1))
        .header("dpop", proof)
        .form(&[("grant_type", "client_credentials"), ("scope", "mcp")])
        .send()
        .await
        .expect("token request");
    (res.status().as_u16(), res.json().await.expect("JSON"))
}

#[tokio::test]
async fn a_dpop_proof_used_at_one_instance_is_refused_at_the_other_ex03_ex44() {
    tests::init_tracing();
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let keys = std::env::temp_dir().join(format!("e2e-dpop-keys-{}", shared::random::token()));
    let (a, issuer) = instance(Some(&redis), &keys, None).await;
    let (b, b_url) = instance(Some(&redis), &keys, Some(&issuer)).await;
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    // The proof names the public token endpoint (the issuer's), whichever instance answers.
    let htu = format!("{issuer}/token");
    let proof = |now| shared::dpop::proof(&key, "POST", &htu, None, None, now).unwrap();
    let now = shared::clock::Clock::now_unix(&shared::clock::SystemClock);

    let p = proof(now);
    let (status, body) = token(&issuer, &p).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    let (status, body) = token(&b_url, &p).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_dpop_proof");
    assert_eq!(body["error_description"], "DPoP proof was already used");

    // Instance B accepts fresh proofs for the shared issuer; A then refuses B's.
    let q = proof(now);
    let (status, body) = token(&b_url, &q).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = token(&issuer, &q).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error_description"], "DPoP proof was already used");

    drop((a, b));
    let _ = std::fs::remove_dir_all(&keys);
}

/// The control: without a shared store each instance keeps its own replay cache, so the same
/// proof is accepted by both (why several instances need `store = "redis://..."`; the MCP
/// server's `jti` cache is per instance by design, see DEPLOYMENT.md).
#[tokio::test]
async fn without_a_shared_store_each_instance_remembers_only_its_own_proofs_ex03() {
    tests::init_tracing();
    let keys = std::env::temp_dir().join(format!("e2e-dpop-keys-{}", shared::random::token()));
    let (a, issuer) = instance(None, &keys, None).await;
    let (b, b_url) = instance(None, &keys, Some(&issuer)).await;
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let now = shared::clock::Clock::now_unix(&shared::clock::SystemClock);
    let p = shared::dpop::proof(&key, "POST", &format!("{issuer}/token"), None, None, now).unwrap();
    assert_eq!(token(&issuer, &p).await.0, 200);
    assert_eq!(
        token(&issuer, &p).await.0,
        400,
        "replayed at the same instance"
    );
    assert_eq!(token(&b_url, &p).await.0, 200, "another instance's cache");
    drop((a, b));
    let _ = std::fs::remove_dir_all(&keys);
}
