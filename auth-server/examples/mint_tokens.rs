//! Benchmark helper: signs N distinct, valid access tokens with the authorization server's key
//! in `KEYS_DIR` (as the server itself would) and prints one per line.
//! Usage: `mint_tokens KEYS_DIR ISSUER RESOURCE N [SCOPE]`.

use std::io::Write as _;
use std::time::Duration;

use auth_server::config::SigningAlgorithm;
use auth_server::keys::Keys;
use shared::jwt::{AccessTokenClaims, Audience};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        eprintln!("usage: mint_tokens KEYS_DIR ISSUER RESOURCE N [SCOPE]");
        std::process::exit(2);
    }
    let n: usize = args[4].parse().unwrap_or_else(|_| {
        eprintln!("N must be a number");
        std::process::exit(2)
    });
    let scope = args.get(5).cloned().unwrap_or_else(|| "mcp".into());
    let keys = Keys::load_or_generate(
        std::path::Path::new(&args[1]),
        SigningAlgorithm::ES256,
        Duration::from_secs(3600),
    )
    .unwrap_or_else(|e| {
        eprintln!("keys: {e}");
        std::process::exit(2)
    });
    let ring = keys.ring();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for i in 0..n {
        let claims = AccessTokenClaims {
            iss: args[2].clone(),
            sub: format!("bench-user-{i}"),
            aud: Audience::One(args[3].clone()),
            exp: now + 3600,
            iat: now,
            nbf: Some(now),
            jti: shared::random::token(),
            client_id: "bench".into(),
            scope: Some(scope.clone()),
            cnf: None,
        };
        let token = ring.current.sign_jwt(&claims).unwrap_or_else(|| {
            eprintln!("signing failed");
            std::process::exit(1)
        });
        let _ = writeln!(out, "{token}");
    }
}
