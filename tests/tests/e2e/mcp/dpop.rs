//! DPoP (RFC 9449) at the MCP server's auth layer, over real sockets: tokens bound to a
//! client key (`cnf.jkt`) minted by the mock AS, proofs made with `shared::dpop` (and forged
//! by hand where a library would refuse), every bad proof refused with its own reason
//! (checklist EX-02, EX-03, EX-06, EX-07, EX-08).

use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use shared::dpop::{self, SigningKey};
use tests::mcp::{LEGACY, jsonrpc};
use tests::mcp_fixture::{ALL, McpFixture, mcp_fixture_with};
use tests::mock_as::{bound_claims, now, raw_jws, sign};

async fn dpop_fixture(tweak: impl FnOnce(&mut mcp_server::Config)) -> McpFixture {
    mcp_fixture_with(|c| {
        c.dpop.enabled = true;
        tweak(c);
    })
    .await
}

/// A token bound to `key`.
fn bound(s: &McpFixture, key: &SigningKey) -> String {
    sign(
        &s.key,
        &bound_claims(&s.as_.issuer, &s.url, ALL, key.thumbprint()),
        Some("at+jwt"),
    )
}

/// A fresh proof for `POST <resource>` with `token`.
fn proof(s: &McpFixture, key: &SigningKey, token: &str) -> String {
    dpop::proof(key, "POST", &s.url, Some(token), None, now()).unwrap()
}

/// `initialize` with `Authorization: <scheme> <token>` and these `DPoP` header values.
async fn send(s: &McpFixture, scheme: &str, token: &str, proofs: &[&str]) -> reqwest::Response {
    let mut rb = s
        .http
        .post(&s.url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("authorization", format!("{scheme} {token}"));
    for p in proofs {
        rb = rb.header("dpop", *p);
    }
    rb.body(jsonrpc::initialize(LEGACY).to_string())
        .send()
        .await
        .unwrap()
}

/// Every `WWW-Authenticate` value.
fn challenges(r: &reqwest::Response) -> Vec<String> {
    r.headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// `(status, error, error_description, the DPoP challenge)` of a refusal.
async fn refusal(r: reqwest::Response) -> (u16, String, String, String) {
    let status = r.status().as_u16();
    let dpop = challenges(&r)
        .into_iter()
        .find(|c| c.starts_with("DPoP "))
        .unwrap_or_default();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
        body["error_description"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        dpop,
    )
}

fn es256_pem_key(key: &SigningKey) -> EncodingKey {
    EncodingKey::from_ec_pem(key.private_pem().as_bytes()).unwrap()
}

#[tokio::test]
async fn ex02_ex06_dpop_bound_token_with_valid_proof_is_accepted_for_each_alg() {
    let s = dpop_fixture(|_| {}).await;
    for alg in [Algorithm::ES256, Algorithm::EdDSA, Algorithm::RS256] {
        let key = SigningKey::generate(alg).unwrap();
        let t = bound(&s, &key);
        let r = send(&s, "DPoP", &t, &[&proof(&s, &key, &t)]).await;
        assert_eq!(r.status(), 200, "{alg:?}");
        // A second request with the (now cached) token and a fresh proof: accepted.
        let r = send(&s, "DPoP", &t, &[&proof(&s, &key, &t)]).await;
        assert_eq!(r.status(), 200, "{alg:?} cached");
    }
}

#[tokio::test]
async fn ex07_unauthenticated_challenge_names_bearer_and_dpop_algs_and_prm_advertises_dpop() {
    let s = dpop_fixture(|_| {}).await;
    let r = tests::mcp_post(&s.url, None, jsonrpc::request(1, "ping", json!({}))).await;
    assert_eq!(r.status(), 401);
    assert_eq!(
        challenges(&r),
        vec![
            format!("Bearer resource_metadata=\"{}\"", s.prm_url()),
            r#"DPoP algs="ES256 EdDSA RS256""#.to_owned(),
        ]
    );
    let prm: Value = s
        .http
        .get(s.prm_url())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        prm["dpop_signing_alg_values_supported"],
        json!(["ES256", "EdDSA", "RS256"])
    );
    assert_eq!(prm["dpop_bound_access_tokens_required"], json!(false));
}

#[tokio::test]
async fn ex06_dpop_off_leaves_prm_and_challenge_bearer_only() {
    let s = mcp_fixture_with(|_| {}).await;
    let r = tests::mcp_post(&s.url, None, jsonrpc::request(1, "ping", json!({}))).await;
    assert_eq!(challenges(&r).len(), 1);
    let prm: Value = s
        .http
        .get(s.prm_url())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(prm.get("dpop_signing_alg_values_supported").is_none());
    // A bound token sent as Bearer is refused even with DPoP off (RFC 9449 §7.2).
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let (status, error, desc, _) = refusal(send(&s, "Bearer", &bound(&s, &key), &[]).await).await;
    assert_eq!((status, error.as_str()), (401, "invalid_token"));
    assert!(desc.contains("DPoP-bound"), "{desc}");
}

/// EX-03/EX-07: each bad proof (or misuse of a token) gets 401 with its own error and
/// description; the valid request (the control) passes.
#[tokio::test]
async fn ex03_ex07_each_bad_proof_is_refused_with_its_reason() {
    let s = dpop_fixture(|_| {}).await;
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let other = SigningKey::generate(Algorithm::ES256).unwrap();
    let t = bound(&s, &key);
    let n = now();
    let p = |method: &str, url: &str, tok: Option<&str>, iat: u64| {
        dpop::proof(&key, method, url, tok, None, iat).unwrap()
    };
    let base = s.base();
    let claims = |extra: Value| {
        let mut c = json!({"jti": shared::random::token(), "htm": "POST", "htu": s.url,
            "iat": n, "ath": dpop::ath(&t)});
        if let (Some(c), Some(e)) = (c.as_object_mut(), extra.as_object()) {
            c.extend(e.clone());
        }
        c
    };
    let mut jwk = serde_json::to_value(key.public_jwk()).unwrap();
    // The private scalar (any base64url value will do: the member's presence is the fault).
    jwk["d"] = json!(shared::random::b64url(&[1u8; 32]));
    let private_jwk = raw_jws(
        &json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk}),
        &claims(json!({})),
        &es256_pem_key(&key),
        Algorithm::ES256,
    );
    let hs256 = raw_jws(
        &json!({"typ": "dpop+jwt", "alg": "HS256",
            "jwk": {"kty": "oct", "k": shared::random::b64url(b"0123456789abcdef0123456789abcdef")}}),
        &claims(json!({})),
        &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
        Algorithm::HS256,
    );
    let wrong_typ = raw_jws(
        &json!({"typ": "JWT", "alg": "ES256", "jwk": key.public_jwk()}),
        &claims(json!({})),
        &es256_pem_key(&key),
        Algorithm::ES256,
    );
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "malformed",
            "not-a-jwt".into(),
            "DPoP proof is malformed: not a compact JWS",
        ),
        (
            "stale (iat 400 s ago)",
            p("POST", &s.url, Some(&t), n - 400),
            "DPoP proof iat is too old",
        ),
        (
            "future (iat in 400 s)",
            p("POST", &s.url, Some(&t), n + 400),
            "DPoP proof iat is in the future",
        ),
        (
            "wrong method",
            p("GET", &s.url, Some(&t), n),
            "DPoP proof htm does not match the request method",
        ),
        (
            "wrong path",
            p("POST", &format!("{base}/other"), Some(&t), n),
            "DPoP proof htu does not match the request URI",
        ),
        (
            "wrong host",
            p(
                "POST",
                &s.url.replace("127.0.0.1", "localhost"),
                Some(&t),
                n,
            ),
            "DPoP proof htu does not match the request URI",
        ),
        (
            "wrong key (thumbprint is not cnf.jkt)",
            dpop::proof(&other, "POST", &s.url, Some(&t), None, n).unwrap(),
            "DPoP proof key does not match the token's cnf.jkt",
        ),
        ("symmetric alg", hs256, "DPoP proof alg must be asymmetric"),
        (
            "private key in jwk",
            private_jwk,
            "DPoP proof jwk contains private key material",
        ),
        (
            "typ not dpop+jwt",
            wrong_typ,
            "DPoP proof typ must be dpop+jwt",
        ),
        (
            "missing ath",
            p("POST", &s.url, None, n),
            "DPoP proof lacks ath for the presented access token",
        ),
        (
            "wrong ath (another token's hash)",
            p("POST", &s.url, Some("another-token"), n),
            "DPoP proof ath does not match the access token",
        ),
    ];
    for (name, proof, want) in &cases {
        let (status, error, desc, www) = refusal(send(&s, "DPoP", &t, &[proof]).await).await;
        assert_eq!(status, 401, "{name}");
        assert_eq!(error, "invalid_dpop_proof", "{name}");
        assert_eq!(desc, *want, "{name}");
        assert!(
            www.starts_with(r#"DPoP error="invalid_dpop_proof""#) && www.contains("algs="),
            "{name}: {www}"
        );
    }
    // No proof at all, and two DPoP headers.
    let (status, error, desc, _) = refusal(send(&s, "DPoP", &t, &[]).await).await;
    assert_eq!(
        (status, error.as_str(), desc.as_str()),
        (
            401,
            "invalid_dpop_proof",
            "DPoP proof missing (no DPoP header)"
        )
    );
    let (a, b) = (proof(&s, &key, &t), proof(&s, &key, &t));
    let (status, error, desc, _) = refusal(send(&s, "DPoP", &t, &[&a, &b]).await).await;
    assert_eq!(
        (status, error.as_str(), desc.as_str()),
        (401, "invalid_dpop_proof", "more than one DPoP header")
    );
    // The control: the same token with a good proof works.
    assert_eq!(
        send(&s, "DPoP", &t, &[&proof(&s, &key, &t)]).await.status(),
        200
    );
}

/// EX-03: a proof is single-use, also when the token's verification is cached: the
/// verified-token cache never lets the proof check be skipped.
#[tokio::test]
async fn ex03_replayed_proof_is_refused_with_a_cached_token() {
    let s = dpop_fixture(|_| {}).await;
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let t = bound(&s, &key);
    let first = proof(&s, &key, &t);
    assert_eq!(send(&s, "DPoP", &t, &[&first]).await.status(), 200);
    // The token is now in the verified-token cache; the proof's jti is spent.
    let (status, error, desc, _) = refusal(send(&s, "DPoP", &t, &[&first]).await).await;
    assert_eq!(
        (status, error.as_str(), desc.as_str()),
        (
            401,
            "invalid_dpop_proof",
            "DPoP proof replayed (jti already used)"
        )
    );
    assert_eq!(
        send(&s, "DPoP", &t, &[&proof(&s, &key, &t)]).await.status(),
        200
    );
}

/// EX-06: a bound token as Bearer, and an unbound token with the DPoP scheme, are refused.
#[tokio::test]
async fn ex06_bound_token_as_bearer_and_unbound_token_as_dpop_are_refused() {
    let s = dpop_fixture(|_| {}).await;
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let t = bound(&s, &key);
    // Verified (and cached) through a DPoP request first, so the cached path is the one tested.
    assert_eq!(
        send(&s, "DPoP", &t, &[&proof(&s, &key, &t)]).await.status(),
        200
    );
    let r = send(&s, "Bearer", &t, &[]).await;
    let w = challenges(&r);
    let (status, error, desc, _) = refusal(r).await;
    assert_eq!((status, error.as_str()), (401, "invalid_token"));
    assert_eq!(
        desc,
        "token is DPoP-bound (cnf.jkt): present it with the DPoP scheme and a DPoP proof"
    );
    assert!(w[0].starts_with(r#"Bearer error="invalid_token""#), "{w:?}");
    // An unbound token with a valid proof under the DPoP scheme.
    let plain = s.token(ALL);
    let (status, error, desc, www) =
        refusal(send(&s, "DPoP", &plain, &[&proof(&s, &key, &plain)]).await).await;
    assert_eq!((status, error.as_str()), (401, "invalid_token"));
    assert!(desc.starts_with("token is not DPoP-bound"), "{desc}");
    assert!(www.starts_with(r#"DPoP error="invalid_token""#), "{www}");
    // Bearer tokens still work when DPoP is merely enabled.
    assert_eq!(s.initialize(&plain, LEGACY).await.status(), 200);
}

#[tokio::test]
async fn ex06_required_dpop_refuses_bearer_tokens_and_says_so_in_prm() {
    let s = dpop_fixture(|c| c.dpop.required = true).await;
    let plain = s.token(ALL);
    let (status, error, desc, _) = refusal(s.initialize(&plain, LEGACY).await).await;
    assert_eq!(
        (status, error.as_str(), desc.as_str()),
        (
            401,
            "invalid_token",
            "this resource accepts only DPoP-bound tokens"
        )
    );
    let prm: Value = s
        .http
        .get(s.prm_url())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(prm["dpop_bound_access_tokens_required"], json!(true));
    let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let t = bound(&s, &key);
    assert_eq!(
        send(&s, "DPoP", &t, &[&proof(&s, &key, &t)]).await.status(),
        200
    );
}

/// EX-08: with server nonces on, a proof without one gets `use_dpop_nonce` and a
/// `DPoP-Nonce`; the retry carrying it passes (and is answered with the current nonce); a
/// made-up nonce is refused.
#[tokio::test]
async fn ex08_nonce_required_then_satisfied() {
    let s = dpop_fixture(|c| c.dpop.nonce = true).await;
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let t = bound(&s, &key);
    let r = send(&s, "DPoP", &t, &[&proof(&s, &key, &t)]).await;
    let nonce = r
        .headers()
        .get("dpop-nonce")
        .expect("a DPoP-Nonce header")
        .to_str()
        .unwrap()
        .to_owned();
    let (status, error, _, www) = refusal(r).await;
    assert_eq!((status, error.as_str()), (401, "use_dpop_nonce"));
    assert!(www.starts_with(r#"DPoP error="use_dpop_nonce""#), "{www}");
    let made_up = dpop::proof(&key, "POST", &s.url, Some(&t), Some("made-up"), now()).unwrap();
    let (status, error, _, _) = refusal(send(&s, "DPoP", &t, &[&made_up]).await).await;
    assert_eq!((status, error.as_str()), (401, "use_dpop_nonce"));
    let with_nonce = dpop::proof(&key, "POST", &s.url, Some(&t), Some(&nonce), now()).unwrap();
    let r = send(&s, "DPoP", &t, &[&with_nonce]).await;
    assert_eq!(r.status(), 200);
    // The success carries the current nonce too (RFC 9449 §8.2; the same one unless the
    // 60 s slot just turned), and the next proof may use it.
    let next = r.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    assert_eq!(next.len(), nonce.len());
    let p = dpop::proof(&key, "POST", &s.url, Some(&t), Some(&next), now()).unwrap();
    assert_eq!(send(&s, "DPoP", &t, &[&p]).await.status(), 200);
    // Bearer answers do not.
    let r = s.initialize(&s.token(ALL), LEGACY).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("dpop-nonce").is_none());
}
