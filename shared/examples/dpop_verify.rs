//! Instruction-count harness for [`shared::dpop::verify`] (issue 15 D), for callgrind on a
//! release build (`cargo build --release -p shared --example dpop_verify`):
//!
//! * `dpop_verify gen N FILE [ES256|EdDSA]`: writes N proofs (distinct `jti`, `ath` of a
//!   fixed token, `iat` = a fixed time) for `POST https://rs.example/mcp`, one per line;
//! * `dpop_verify read FILE`: only reads them (the baseline to subtract);
//! * `dpop_verify verify FILE`: reads and verifies each (method, URI, token, the default
//!   policy), exiting non-zero on any refusal; `verify-htu FILE`: the same with the URI
//!   normalised once (`RequestContext::for_htu`), as the resource and authorization
//!   servers do.
//!
//! `(Ir(verify) - Ir(read)) / N` is the cost of one verification in instructions:
//! `valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/dpop_verify verify FILE`.

use shared::dpop::{Algorithm, ProofPolicy, RequestContext, SigningKey};

const URI: &str = "https://rs.example/mcp";
const TOKEN: &str = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJl";
const NOW: u64 = 1_700_000_000;

fn read(file: &str) -> Vec<String> {
    std::fs::read_to_string(file)
        .expect("proof file")
        .lines()
        .map(str::to_owned)
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("gen") => {
            let n: usize = args[2].parse().expect("N");
            let alg = match args.get(4).map(String::as_str) {
                Some("EdDSA") => Algorithm::EdDSA,
                _ => Algorithm::ES256,
            };
            let key = SigningKey::generate(alg).expect("key");
            let mut out = String::new();
            for _ in 0..n {
                let p = shared::dpop::proof(&key, "POST", URI, Some(TOKEN), None, NOW).unwrap();
                out.push_str(&p);
                out.push('\n');
            }
            std::fs::write(&args[3], out).expect("write");
        }
        Some("read") => {
            let proofs = read(&args[2]);
            println!("{} proofs", std::hint::black_box(proofs).len());
        }
        Some(mode @ ("verify" | "verify-htu")) => {
            let proofs = read(&args[2]);
            let policy = ProofPolicy::default();
            // `verify`: the URI as given (normalised per proof); `verify-htu`: normalised once,
            // as the resource server and the authorization server do.
            let htu = shared::dpop::Htu::new(URI).unwrap();
            let mut ok = 0usize;
            for p in &proofs {
                let cx = if mode == "verify" {
                    RequestContext::new("POST", URI, NOW)
                } else {
                    RequestContext::for_htu("POST", &htu, NOW)
                }
                .with_access_token(TOKEN);
                match shared::dpop::verify(std::hint::black_box(p), &cx, &policy) {
                    Ok(v) => ok += std::hint::black_box(v).jti.len().min(1),
                    Err(e) => {
                        eprintln!("refused: {e}");
                        std::process::exit(1);
                    }
                }
            }
            println!("{ok} proofs verified");
        }
        _ => {
            eprintln!(
                "usage: dpop_verify gen N FILE [ES256|EdDSA] | read FILE | verify FILE | verify-htu FILE"
            );
            std::process::exit(2);
        }
    }
}
