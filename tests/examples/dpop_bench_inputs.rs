//! Benchmark helper for DPoP `tools/call` (`scripts/bench.sh`, `ONLY=dpop` or `all`): signs one
//! access token bound to a fresh proof key (`cnf.jkt`) with the authorization server's key in
//! `KEYS_DIR` (as the server itself would), and N proofs for `POST RESOURCE` with that token,
//! each with its own `jti` and `iat` = now. A proof is single-use (the server's replay cache
//! refuses a second use), so the load script sends each proof once; N must cover the run.
//! Writes `OUT_DIR/token` and `OUT_DIR/proofs` (one per line).
//!
//! Usage: `dpop_bench_inputs KEYS_DIR ISSUER RESOURCE N OUT_DIR [ES256|EdDSA|RS256]`.
//!
//! With `MEASURE=1` it also prints, on stderr, the single-core cost of `shared::dpop::verify`
//! on these proofs and of the bare signature check (aws-lc-rs), to split the DPoP cost into
//! the unavoidable signature and the rest.

use std::io::Write as _;
use std::time::Duration;

use auth_server::config::SigningAlgorithm;
use auth_server::keys::Keys;
use shared::dpop::{self, SigningKey};

fn fail(msg: &str) -> ! {
    eprintln!("{msg}");
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 6 {
        fail("usage: dpop_bench_inputs KEYS_DIR ISSUER RESOURCE N OUT_DIR [ES256|EdDSA|RS256]");
    }
    let (issuer, resource) = (&args[2], &args[3]);
    let n: usize = args[4]
        .parse()
        .unwrap_or_else(|_| fail("N must be a number"));
    let out = std::path::Path::new(&args[5]);
    let alg = args
        .get(6)
        .map(|a| dpop::parse_alg(a).unwrap_or_else(|| fail("alg: ES256, EdDSA or RS256")))
        .unwrap_or(dpop::Algorithm::ES256);
    let keys = Keys::load_or_generate(
        std::path::Path::new(&args[1]),
        SigningAlgorithm::ES256,
        Duration::from_secs(3600),
    )
    .unwrap_or_else(|e| fail(&format!("keys: {e}")));
    let key = SigningKey::generate(alg).unwrap_or_else(|e| fail(&format!("proof key: {e}")));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let claims = serde_json::json!({
        "iss": issuer, "sub": "bench-user", "aud": resource, "exp": now + 3600, "iat": now,
        "nbf": now, "jti": shared::random::token(), "client_id": "bench", "scope": "mcp",
        "cnf": {"jkt": key.thumbprint()},
    });
    let token = keys
        .ring()
        .current
        .sign_jwt(&claims)
        .unwrap_or_else(|| fail("signing failed"));
    std::fs::write(out.join("token"), format!("{token}\n"))
        .unwrap_or_else(|e| fail(&format!("write token: {e}")));
    let file = std::fs::File::create(out.join("proofs"))
        .unwrap_or_else(|e| fail(&format!("create proofs: {e}")));
    let mut w = std::io::BufWriter::new(file);
    for _ in 0..n {
        let p = dpop::proof(&key, "POST", resource, Some(&token), None, now)
            .unwrap_or_else(|e| fail(&format!("proof: {e}")));
        writeln!(w, "{p}").unwrap_or_else(|e| fail(&format!("write proofs: {e}")));
    }
    w.flush()
        .unwrap_or_else(|e| fail(&format!("write proofs: {e}")));
    if std::env::var("MEASURE").is_ok_and(|v| v == "1") {
        measure(&key, resource, &token, now);
    }
}

/// Microseconds per call of `f` over `n` calls.
fn per_call(n: u32, mut f: impl FnMut()) -> f64 {
    let t = std::time::Instant::now();
    for _ in 0..n {
        f();
    }
    t.elapsed().as_secs_f64() * 1e6 / f64::from(n)
}

fn measure(key: &SigningKey, resource: &str, token: &str, now: u64) {
    use aws_lc_rs::signature::{self, KeyPair as _};
    const N: u32 = 5_000;
    let proofs: Vec<String> = (0..N)
        .map(|_| dpop::proof(key, "POST", resource, Some(token), None, now).unwrap())
        .collect();
    let ctx = dpop::RequestContext::new("POST", resource, now).with_access_token(token);
    let policy = dpop::ProofPolicy::default();
    let mut it = proofs.iter();
    let verify = per_call(N, || {
        let p = it.next().unwrap();
        assert!(dpop::verify(p, &ctx, &policy).is_ok());
    });
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let msg = proofs[0].as_bytes();
    let es =
        signature::EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let es_sig = es.sign(&rng, msg).unwrap();
    let es_pub = signature::UnparsedPublicKey::new(
        &signature::ECDSA_P256_SHA256_FIXED,
        es.public_key().as_ref().to_vec(),
    );
    let es256 = per_call(N, || assert!(es_pub.verify(msg, es_sig.as_ref()).is_ok()));
    let ed = signature::Ed25519KeyPair::generate().unwrap();
    let ed_sig = ed.sign(msg);
    let ed_pub =
        signature::UnparsedPublicKey::new(&signature::ED25519, ed.public_key().as_ref().to_vec());
    let ed25519 = per_call(N, || assert!(ed_pub.verify(msg, ed_sig.as_ref()).is_ok()));
    eprintln!(
        "one core: shared::dpop::verify ({}) {verify:.1} us/proof; bare signature check: ES256 {es256:.1} us, Ed25519 {ed25519:.1} us",
        dpop::alg_name(key.algorithm())
    );
}
