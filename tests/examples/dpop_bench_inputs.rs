//! Benchmark helper for DPoP `tools/call` (`scripts/bench.sh`, `ONLY=dpop` or `all`): signs one
//! access token bound to a fresh proof key (`cnf.jkt`) with the authorization server's key in
//! `KEYS_DIR` (as the server itself would), and N proofs for `POST RESOURCE` with that token,
//! each with its own `jti` and `iat` = now. A proof is single-use (the server's replay cache
//! refuses a second use), so the load script sends each proof once; N must cover the run.
//! Writes `OUT_DIR/token` and `OUT_DIR/proofs` (one per line).
//!
//! Usage: `dpop_bench_inputs KEYS_DIR ISSUER RESOURCE N OUT_DIR [ES256|EdDSA|RS256]`.

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
}
