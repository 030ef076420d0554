//! Prints DPoP proofs for `POST <htu>`, one per line (unique `jti`, `iat` now), signed by one
//! fresh key: the input of the token-endpoint DPoP benchmark (`ONLY=token-dpop
//! scripts/bench.sh`), so the load generator only sends them.
//!
//! `cargo run --release -p auth-server --example dpop_proofs -- http://127.0.0.1:3002/token 1000 [ES256|EdDSA|RS256]`

use std::io::Write as _;

fn main() {
    let mut args = std::env::args().skip(1);
    let htu = args.next().expect("usage: dpop_proofs HTU COUNT [ALG]");
    let count: usize = args
        .next()
        .and_then(|n| n.parse().ok())
        .expect("COUNT must be a number");
    let alg = args
        .next()
        .map(|a| shared::dpop::parse_alg(&a).expect("ALG: ES256, EdDSA or RS256"))
        .unwrap_or(shared::dpop::Algorithm::ES256);
    let key = shared::dpop::SigningKey::generate(alg).expect("key");
    let now = shared::clock::Clock::now_unix(&shared::clock::SystemClock);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for _ in 0..count {
        let p = shared::dpop::proof(&key, "POST", &htu, None, None, now).expect("proof");
        writeln!(out, "{p}").expect("stdout");
    }
}
