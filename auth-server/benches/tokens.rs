//! Micro-benchmarks of the authorization server's hot paths: minting an access token per
//! algorithm (the cost that bounds `/token` throughput) and PKCE verification.
//! Run: `cargo bench -p auth-server --bench tokens`.

use std::hint::black_box;

use auth_server::config::SigningAlgorithm;
use auth_server::keys::SigningKey;
use criterion::{Criterion, criterion_group, criterion_main};
use shared::jwt::{AccessTokenClaims, Audience};
use shared::pkce::{PkceChallenge, PkceVerifier};

fn claims() -> AccessTokenClaims {
    AccessTokenClaims {
        iss: "http://127.0.0.1:3002".into(),
        sub: "demo-user".into(),
        aud: Audience::One("http://127.0.0.1:3003/mcp".into()),
        exp: 2_000_000_000,
        iat: 1_900_000_000,
        nbf: Some(1_900_000_000),
        jti: shared::random::token(),
        client_id: "mcp-cli".into(),
        scope: Some("mcp".into()),
        cnf: None,
    }
}

fn mint(c: &mut Criterion) {
    let mut g = c.benchmark_group("mint_access_token");
    for alg in SigningAlgorithm::ALL {
        let key = SigningKey::generate(alg).expect("key");
        let claims = claims();
        g.bench_function(alg.as_str(), |b| {
            b.iter(|| black_box(key.sign_jwt(black_box(&claims))))
        });
    }
    g.finish();
}

fn pkce(c: &mut Criterion) {
    let v = PkceVerifier::generate();
    let ch = PkceChallenge::s256(&v);
    c.bench_function("pkce_s256_verify", |b| {
        b.iter(|| black_box(ch.verify(black_box(&v))))
    });
}

criterion_group!(benches, mint, pkce);
criterion_main!(benches);
