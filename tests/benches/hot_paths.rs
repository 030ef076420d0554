//! Criterion micro-benchmarks of the per-request costs across the stack (issue 6 A):
//! JWT verification per algorithm (what the MCP server pays on a token-cache miss), a
//! verified-token cache hit, a JWKS key lookup, the client's per-request token path with a
//! fresh token, and the single-flight refresh with 1,000 concurrent callers.
//! Run: `cargo bench -p tests --bench hot_paths`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use auth_server::config::SigningAlgorithm;
use auth_server::keys::SigningKey;
use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{DecodingKey, Validation};
use shared::jwt::AccessTokenClaims;

const ISS: &str = "http://127.0.0.1:3002";
const AUD: &str = "http://127.0.0.1:3003/mcp";

fn claims() -> AccessTokenClaims {
    let now = shared::clock::Clock::now_unix(&shared::clock::SystemClock);
    serde_json::from_value(serde_json::json!({
        "iss": ISS, "sub": "bench", "aud": AUD, "exp": now + 3600, "iat": now, "nbf": now,
        "jti": shared::random::token(), "client_id": "bench", "scope": "mcp",
    }))
    .expect("claims")
}

/// A multi-thread runtime with `workers` worker threads.
fn runtime(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("runtime")
}

fn verify(c: &mut Criterion) {
    let mut g = c.benchmark_group("jwt_verify");
    for alg in SigningAlgorithm::ALL {
        let key = SigningKey::generate(alg).expect("key");
        let token = key.sign_jwt(&claims()).expect("token");
        let jwk_json = serde_json::to_value(&key.jwk).expect("jwk");
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk_json).expect("jwk");
        let dk = DecodingKey::from_jwk(&jwk).expect("decoding key");
        let jalg = jsonwebtoken::decode_header(&token).expect("header").alg;
        let mut v = Validation::new(jalg);
        v.set_issuer(&[ISS]);
        v.set_audience(&[AUD]);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        g.bench_function(alg.as_str(), |b| {
            b.iter(|| {
                black_box(
                    jsonwebtoken::decode::<AccessTokenClaims>(black_box(&token), &dk, &v)
                        .expect("valid"),
                )
            })
        });
    }
    g.finish();
}

fn server_caches(c: &mut Criterion) {
    let rt = runtime(1);
    let (stack, token, kid) = rt.block_on(async {
        let s = tests::stack(|_| {}, |_| {}).await;
        let token = tests::service_token(s.issuer(), "mcp").await;
        let kid = jsonwebtoken::decode_header(&token)
            .expect("header")
            .kid
            .expect("kid");
        (s, token, kid)
    });
    let auth = mcp_server::auth::JwtAuthLayer::builder()
        .issuer(stack.issuer())
        .resource(stack.mcp_url())
        .resource_metadata_url("http://127.0.0.1/.well-known/oauth-protected-resource/mcp")
        .build()
        .expect("layer");
    let authn = auth.authenticator().clone();
    rt.block_on(async { authn.validate(&token).await.expect("first validation") });
    c.bench_function("verified_token_cache_hit", |b| {
        b.iter(|| black_box(authn.cached(black_box(&token)).expect("cached")))
    });
    // The cache key: SHA-256 of the whole token (natively, with the CPU's SHA extensions;
    // callgrind does not emulate them, so the ladder's instruction count overstates it).
    c.bench_function("verified_token_cache_key_sha256", |b| {
        b.iter(|| black_box(shared::random::sha256(black_box(token.as_bytes()))))
    });
    c.bench_function("jwks_lookup_cached", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(authn.jwks().key(black_box(&kid)).await.expect("key")) })
    });
    drop(stack);
}

fn client_paths(c: &mut Criterion) {
    let rt = runtime(2);
    let (stack, session) = rt.block_on(async {
        // No per-address token rate limit: the refresh benchmark calls /token many times.
        let s = tests::stack(|c| c.rate_limits.token_per_minute = 0, |_| {}).await;
        let session = tests::oauth_session(&s).await;
        (s, session)
    });
    let manager = session.token_manager().clone();
    c.bench_function("client_access_token_fresh", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(manager.access_token().await.expect("token")) })
    });
    // Single flight: 1,000 callers on an expired token -> one token-endpoint call.
    c.bench_function("single_flight_refresh_1000_callers", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let manager = manager.clone();
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let seen = manager.generation();
                    let start = Instant::now();
                    let mut tasks = Vec::with_capacity(1000);
                    for _ in 0..1000 {
                        let m = manager.clone();
                        tasks.push(tokio::spawn(
                            async move { m.refresh_if_current(seen).await },
                        ));
                    }
                    for t in tasks {
                        t.await.expect("join").expect("refresh");
                    }
                    total += start.elapsed();
                }
                total
            }
        })
    });
    drop((session, stack));
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(3));
    targets = verify, server_caches, client_paths
}
criterion_main!(benches);
