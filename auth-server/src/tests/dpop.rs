//! DPoP at the token endpoint (issue 15 A, checklist EX-01..EX-05, EX-07, EX-08).

use axum::http::{StatusCode, header};
use base64::Engine as _;
use shared::dpop::{Algorithm, SigningKey};

use super::{ISSUER, PUBLIC_CLIENT, REDIRECT, Reply, SERVICE, Server};

const TOKEN_URL: &str = "http://127.0.0.1:9/token";

fn key() -> SigningKey {
    SigningKey::generate(Algorithm::ES256).unwrap()
}

fn b64(v: &serde_json::Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

/// The claims of a JWT (unverified).
fn claims(jwt: &str) -> serde_json::Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

impl Server {
    fn now(&self) -> u64 {
        self.state.clock.now_unix()
    }

    fn proof(&self, key: &SigningKey) -> String {
        shared::dpop::proof(key, "POST", TOKEN_URL, None, None, self.now()).unwrap()
    }

    async fn token_with_proofs(
        &self,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
        proofs: &[&str],
    ) -> Reply {
        let headers: Vec<(&str, &str)> = proofs.iter().map(|p| ("DPoP", *p)).collect();
        self.post_form_with("/token", form, basic, &headers).await
    }

    async fn dpop_exchange(&self, proof: &str) -> Reply {
        let (code, verifier) = self.code().await;
        self.token_with_proofs(
            &[
                ("grant_type", "authorization_code"),
                ("client_id", PUBLIC_CLIENT),
                ("code", &code),
                ("code_verifier", verifier.secret()),
                ("redirect_uri", REDIRECT),
            ],
            None,
            &[proof],
        )
        .await
    }

    async fn dpop_refresh(&self, rt: &str, proof: Option<&str>) -> Reply {
        let form = [
            ("grant_type", "refresh_token"),
            ("client_id", PUBLIC_CLIENT),
            ("refresh_token", rt),
        ];
        self.token_with_proofs(&form, None, proof.as_slice()).await
    }
}

#[tokio::test]
async fn metadata_advertises_dpop_and_private_key_jwt_algs_ex01_ex30() {
    let s = Server::new();
    let m = s
        .get("/.well-known/oauth-authorization-server")
        .await
        .assert_public_json();
    let algs = serde_json::json!(["ES256", "EdDSA", "RS256"]);
    assert_eq!(m["dpop_signing_alg_values_supported"], algs);
    assert_eq!(m["token_endpoint_auth_signing_alg_values_supported"], algs);
    assert!(
        m["token_endpoint_auth_methods_supported"]
            .as_array()
            .unwrap()
            .contains(&"private_key_jwt".into())
    );
    let off = Server::with(|c| c.dpop.enabled = false);
    let m = off
        .get("/.well-known/oauth-authorization-server")
        .await
        .assert_public_json();
    assert!(m.get("dpop_signing_alg_values_supported").is_none());
}

#[tokio::test]
async fn a_proof_binds_the_access_token_and_the_public_clients_refresh_token_ex04() {
    let s = Server::new();
    let k = key();
    let t = s
        .dpop_exchange(&s.proof(&k))
        .await
        .assert_no_store_json(StatusCode::OK);
    assert_eq!(t["token_type"], "DPoP");
    let at = claims(t["access_token"].as_str().unwrap());
    assert_eq!(at["cnf"]["jkt"], k.thumbprint());
    let i = s.introspect(t["access_token"].as_str().unwrap()).await;
    assert_eq!(i["token_type"], "DPoP");
    assert_eq!(i["cnf"]["jkt"], k.thumbprint());
    let rt = t["refresh_token"].as_str().unwrap();
    // Without a proof, or with another key: refused, and the token is not consumed.
    s.dpop_refresh(rt, None).await.assert_oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_dpop_proof",
        "refresh token is DPoP-bound: send a proof by its key",
    );
    s.dpop_refresh(rt, Some(&s.proof(&key())))
        .await
        .assert_oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "refresh token is bound to another DPoP key",
        );
    let r = s
        .dpop_refresh(rt, Some(&s.proof(&k)))
        .await
        .assert_no_store_json(StatusCode::OK);
    assert_eq!(r["token_type"], "DPoP");
    assert_eq!(
        claims(r["access_token"].as_str().unwrap())["cnf"]["jkt"],
        k.thumbprint()
    );
    // The successor stays bound.
    s.dpop_refresh(r["refresh_token"].as_str().unwrap(), None)
        .await
        .assert_oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_dpop_proof",
            "refresh token is DPoP-bound: send a proof by its key",
        );
}

#[tokio::test]
async fn without_a_proof_tokens_stay_bearer_ex04() {
    let s = Server::new();
    let t = s.tokens().await;
    assert_eq!(t["token_type"], "Bearer");
    assert!(
        claims(t["access_token"].as_str().unwrap())
            .get("cnf")
            .is_none()
    );
    let c = s.service_token().await;
    assert_eq!(c["token_type"], "Bearer");
}

#[tokio::test]
async fn client_credentials_with_a_proof_is_dpop_bound_ex04() {
    let s = Server::new();
    let k = key();
    let t = s
        .token_with_proofs(
            &[("grant_type", "client_credentials")],
            Some(SERVICE),
            &[&s.proof(&k)],
        )
        .await
        .assert_no_store_json(StatusCode::OK);
    assert_eq!(t["token_type"], "DPoP");
    assert_eq!(
        claims(t["access_token"].as_str().unwrap())["cnf"]["jkt"],
        k.thumbprint()
    );
}

#[tokio::test]
async fn a_dpop_bound_client_gets_no_token_without_a_proof_ex05() {
    let s = Server::with(|c| {
        for client in &mut c.clients {
            if client.client_id == SERVICE.0 {
                client.dpop_bound_access_tokens = true;
            }
        }
    });
    s.token(&[("grant_type", "client_credentials")], Some(SERVICE))
        .await
        .assert_oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_dpop_proof",
            "this client must send a DPoP proof",
        );
    let t = s
        .token_with_proofs(
            &[("grant_type", "client_credentials")],
            Some(SERVICE),
            &[&s.proof(&key())],
        )
        .await
        .assert_no_store_json(StatusCode::OK);
    assert_eq!(t["token_type"], "DPoP");
}

/// A proof with this header and claims, signed by nobody (the checks before the signature
/// refuse it).
fn unsigned(header: serde_json::Value, claims: serde_json::Value) -> String {
    format!("{}.{}.c2ln", b64(&header), b64(&claims))
}

#[tokio::test]
async fn every_bad_proof_is_refused_with_invalid_dpop_proof_ex03_ex07() {
    let s = Server::new();
    let k = key();
    let now = s.now();
    let sign = |method: &str, uri: &str, iat: u64| {
        shared::dpop::proof(&k, method, uri, None, None, iat).unwrap()
    };
    let public = serde_json::to_value(k.public_jwk()).unwrap();
    let mut private = public.clone();
    private["d"] = "c2VjcmV0".into();
    let claims = serde_json::json!({"jti": "j", "htm": "POST", "htu": TOKEN_URL, "iat": now});
    let replayed = sign("POST", TOKEN_URL, now);
    let form = [("grant_type", "client_credentials")];
    assert_eq!(
        s.token_with_proofs(&form, Some(SERVICE), &[&replayed])
            .await
            .status,
        StatusCode::OK
    );
    let cases: Vec<(String, &str)> = vec![
        (
            "not-a-jwt".into(),
            "DPoP proof is malformed: not a compact JWS",
        ),
        (replayed, "DPoP proof was already used"),
        (
            sign("POST", TOKEN_URL, now - 301),
            "DPoP proof iat is too old",
        ),
        (
            sign("POST", TOKEN_URL, now + 301),
            "DPoP proof iat is in the future",
        ),
        (
            sign("GET", TOKEN_URL, now),
            "DPoP proof htm does not match the request method",
        ),
        (
            sign("POST", &format!("{ISSUER}/other"), now),
            "DPoP proof htu does not match the request URI",
        ),
        (
            unsigned(
                serde_json::json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": public}),
                claims.clone(),
            ),
            "DPoP proof alg must be asymmetric",
        ),
        (
            unsigned(
                serde_json::json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": private}),
                claims.clone(),
            ),
            "DPoP proof jwk contains private key material",
        ),
        (
            unsigned(
                serde_json::json!({"typ": "JWT", "alg": "ES256", "jwk": public}),
                claims.clone(),
            ),
            "DPoP proof typ must be dpop+jwt",
        ),
    ];
    for (proof, why) in cases {
        s.token_with_proofs(&form, Some(SERVICE), &[&proof])
            .await
            .assert_oauth_error(StatusCode::BAD_REQUEST, "invalid_dpop_proof", why);
    }
    let (a, b) = (s.proof(&k), s.proof(&k));
    s.token_with_proofs(&form, Some(SERVICE), &[&a, &b])
        .await
        .assert_oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_dpop_proof",
            "send exactly one DPoP header",
        );
}

#[tokio::test]
async fn with_nonces_on_a_proof_without_the_current_nonce_gets_use_dpop_nonce_ex08() {
    let s = Server::with(|c| c.dpop.nonce = true);
    let k = key();
    let form = [("grant_type", "client_credentials")];
    let r = s
        .token_with_proofs(&form, Some(SERVICE), &[&s.proof(&k)])
        .await;
    r.assert_oauth_error(
        StatusCode::BAD_REQUEST,
        "use_dpop_nonce",
        "DPoP proof lacks the server nonce",
    );
    let nonce = r
        .header(header::HeaderName::from_static("dpop-nonce"))
        .unwrap()
        .to_owned();
    let wrong = shared::dpop::proof(&k, "POST", TOKEN_URL, None, Some("stale"), s.now()).unwrap();
    s.token_with_proofs(&form, Some(SERVICE), &[&wrong])
        .await
        .assert_oauth_error(
            StatusCode::BAD_REQUEST,
            "use_dpop_nonce",
            "DPoP proof nonce is not current",
        );
    let good = shared::dpop::proof(&k, "POST", TOKEN_URL, None, Some(&nonce), s.now()).unwrap();
    let ok = s.token_with_proofs(&form, Some(SERVICE), &[&good]).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
    assert_eq!(
        ok.header(header::HeaderName::from_static("dpop-nonce")),
        Some(nonce.as_str())
    );
}

#[tokio::test]
async fn dpop_bound_clients_need_dpop_enabled_ex05() {
    let mut c = crate::Config::default();
    c.dpop.enabled = false;
    c.clients[1].dpop_bound_access_tokens = true;
    assert!(c.validate().is_err());
    let s = Server::with(|c| c.dpop.enabled = false);
    let r = s
        .send(
            axum::http::Request::post("/register")
                .header(header::CONTENT_TYPE, "application/json")
                .body(axum::body::Body::from(
                    r#"{"redirect_uris":["http://127.0.0.1/cb"],"dpop_bound_access_tokens":true}"#,
                ))
                .unwrap(),
        )
        .await;
    r.assert_oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_client_metadata",
        "dpop_bound_access_tokens is not supported here (DPoP is off)",
    );
}
