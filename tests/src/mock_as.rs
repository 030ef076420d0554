//! A small mock authorization server for the MCP server's own suite: RFC 8414 metadata, a
//! JWKS with a fetch counter and `Cache-Control`, RFC 7662 introspection; real ES256, Ed25519
//! and RS256 keys from aws-lc-rs, and real signed tokens. The real authorization server cannot
//! serve these cases: tokens with forged headers and claims, a JWKS that goes down or changes
//! under test control.

// Test fixtures: the key and state types hold signing keys and locks that have no useful
// `Debug`.
#![allow(missing_debug_implementations)]

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use jsonwebtoken::jwk::{Jwk, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

pub struct Key {
    pub enc: EncodingKey,
    pub jwk: Jwk,
    pub kid: String,
    pub alg: Algorithm,
}

fn finish(enc: EncodingKey, alg: Algorithm) -> Key {
    let mut jwk = Jwk::from_encoding_key(&enc, alg).unwrap();
    let kid = jwk.thumbprint(ThumbprintHash::SHA256).unwrap();
    jwk.common.key_id = Some(kid.clone());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    Key { enc, jwk, kid, alg }
}

pub fn es256() -> Key {
    let kp = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let der = kp.to_pkcs8v1().unwrap();
    finish(EncodingKey::from_ec_der(der.as_ref()), Algorithm::ES256)
}

pub fn ed25519() -> Key {
    let kp = Ed25519KeyPair::generate().unwrap();
    let der = kp.to_pkcs8v1().unwrap();
    finish(EncodingKey::from_ed_der(der.as_ref()), Algorithm::EdDSA)
}

/// RS256 (RFC 9068's mandatory algorithm). aws-lc-rs gives PKCS#8; jsonwebtoken's RSA signer
/// wants the inner PKCS#1 `RSAPrivateKey`, so unwrap the PKCS#8 OCTET STRING.
pub fn rs256() -> Key {
    use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
    let kp = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let p8: Pkcs8V1Der<'static> = kp.as_der().unwrap();
    let der = p8.as_ref();
    const RSA_ALG_ID: &[u8] = &[
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let at = der
        .windows(RSA_ALG_ID.len())
        .position(|w| w == RSA_ALG_ID)
        .unwrap()
        + RSA_ALG_ID.len();
    assert_eq!(der[at], 0x04, "OCTET STRING");
    let (len, hdr) = match der[at + 1] {
        n if n < 0x80 => (usize::from(n), 2),
        0x81 => (usize::from(der[at + 2]), 3),
        0x82 => (
            (usize::from(der[at + 2]) << 8) | usize::from(der[at + 3]),
            4,
        ),
        other => panic!("unexpected length byte {other:#x}"),
    };
    let pkcs1 = &der[at + hdr..at + hdr + len];
    finish(EncodingKey::from_rsa_der(pkcs1), Algorithm::RS256)
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn claims(iss: &str, aud: &str, scope: &str) -> Value {
    let n = now();
    json!({
        "iss": iss, "sub": "alice", "aud": aud, "exp": n + 600, "iat": n, "nbf": n,
        "jti": shared::random::token(), "client_id": "test-client", "scope": scope,
    })
}

pub fn sign(key: &Key, claims: &Value, typ: Option<&str>) -> String {
    let mut h = Header::new(key.alg);
    h.typ = typ.map(str::to_owned);
    h.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&h, claims, &key.enc).unwrap()
}

/// What the mock serves and counts; tests reach it through [`MockAs`]'s methods.
#[derive(Default)]
struct AsState {
    issuer: Mutex<String>,
    jwks: Mutex<Value>,
    /// JWKS responses served, and introspection requests seen.
    hits: (AtomicUsize, AtomicUsize),
    down: AtomicBool,
    max_age: Mutex<u64>,
    revoked: Mutex<HashSet<String>>,
}

pub struct MockAs {
    pub addr: SocketAddr,
    pub issuer: String,
    state: Arc<AsState>,
    _task: tokio::task::JoinHandle<()>,
}

async fn metadata(State(s): State<Arc<AsState>>) -> impl IntoResponse {
    let iss = s.issuer.lock().unwrap().clone();
    axum::Json(json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/authorize"),
        "token_endpoint": format!("{iss}/token"),
        "jwks_uri": format!("{iss}/jwks"),
        "introspection_endpoint": format!("{iss}/introspect"),
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

async fn jwks(State(s): State<Arc<AsState>>) -> axum::response::Response {
    if s.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    s.hits.0.fetch_add(1, Ordering::SeqCst);
    // A little latency so concurrent first requests overlap with the fetch.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let body = s.jwks.lock().unwrap().clone();
    let max_age = *s.max_age.lock().unwrap();
    (
        [(header::CACHE_CONTROL, format!("public, max-age={max_age}"))],
        axum::Json(body),
    )
        .into_response()
}

async fn introspect(
    State(s): State<Arc<AsState>>,
    headers: HeaderMap,
    body: String,
) -> axum::response::Response {
    s.hits.1.fetch_add(1, Ordering::SeqCst);
    let expected = format!("Basic {}", base64_std(b"mcp-server:dev-mcp-server-secret"));
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        != Some(&expected)
    {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    let token = form_urlencoded_token(&body);
    let active = !s.revoked.lock().unwrap().contains(&token);
    if !active {
        return axum::Json(json!({"active": false})).into_response();
    }
    let claims: Value = jsonwebtoken::dangerous::insecure_decode::<Value>(&token)
        .map(|d| d.claims)
        .unwrap_or(json!({}));
    axum::Json(json!({
        "active": true, "scope": claims["scope"], "client_id": claims["client_id"],
        "sub": claims["sub"], "aud": claims["aud"], "iss": claims["iss"], "exp": claims["exp"],
    }))
    .into_response()
}

fn form_urlencoded_token(body: &str) -> String {
    url::form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

pub fn base64_std(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}

impl MockAs {
    pub async fn start(keys: &[&Key], max_age: u64) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let issuer = format!("http://{addr}");
        let state = Arc::new(AsState::default());
        *state.issuer.lock().unwrap() = issuer.clone();
        *state.max_age.lock().unwrap() = max_age;
        let app = Router::new()
            .route("/.well-known/oauth-authorization-server", get(metadata))
            .route("/jwks", get(jwks))
            .route("/introspect", post(introspect))
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let mock = Self {
            addr,
            issuer,
            state,
            _task: task,
        };
        mock.publish(keys);
        mock
    }

    pub fn jwks_hits(&self) -> usize {
        self.state.hits.0.load(Ordering::SeqCst)
    }

    pub fn introspect_hits(&self) -> usize {
        self.state.hits.1.load(Ordering::SeqCst)
    }

    /// Publishes exactly these keys from now on.
    pub fn publish(&self, keys: &[&Key]) {
        *self.state.jwks.lock().unwrap() =
            json!({"keys": keys.iter().map(|k| &k.jwk).collect::<Vec<_>>()});
    }

    /// While down, the JWKS endpoint answers 503.
    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
    }

    /// Introspection reports `token` inactive from now on.
    pub fn revoke(&self, token: &str) {
        self.state.revoked.lock().unwrap().insert(token.to_owned());
    }
}

/// An `at+jwt` header for `alg` naming `kid`; tests forge the rest.
pub fn at_header(alg: Algorithm, kid: &str) -> Header {
    let mut h = Header::new(alg);
    h.typ = Some("at+jwt".into());
    h.kid = Some(kid.to_owned());
    h
}

/// Encodes `claims` under any header with any key material.
pub fn forge(header: &Header, claims: &Value, key: &EncodingKey) -> String {
    jsonwebtoken::encode(header, claims, key).unwrap()
}

/// [`claims`] of a DPoP-bound token (RFC 9449 §6.1): `cnf.jkt` is the thumbprint of the
/// client's proof key (`shared::dpop::SigningKey::thumbprint`).
pub fn bound_claims(iss: &str, aud: &str, scope: &str, jkt: &str) -> Value {
    let mut c = claims(iss, aud, scope);
    c["cnf"] = json!({ "jkt": jkt });
    c
}

/// A compact JWS with any header (even one a library would refuse to write, e.g. a `jwk`
/// with private members) signed by `key` with `alg`: for forged DPoP proofs.
pub fn raw_jws(header: &Value, claims: &Value, key: &EncodingKey, alg: Algorithm) -> String {
    let h = shared::random::b64url(header.to_string().as_bytes());
    let c = shared::random::b64url(claims.to_string().as_bytes());
    let input = format!("{h}.{c}");
    let sig = jsonwebtoken::crypto::sign(input.as_bytes(), key, alg).unwrap();
    format!("{input}.{sig}")
}
