//! Test harness: a tiny mock authorization server (RFC 8414 metadata, JWKS with a fetch
//! counter and `Cache-Control`, RFC 7662 introspection), real ES256/Ed25519 keys from
//! aws-lc-rs, real signed tokens, and a started MCP server.

#![allow(dead_code, unreachable_pub)]

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
use mcp_server::{Config, RunningServer};
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

#[derive(Default)]
pub struct AsState {
    pub issuer: Mutex<String>,
    pub jwks: Mutex<Value>,
    pub jwks_hits: AtomicUsize,
    pub introspect_hits: AtomicUsize,
    pub down: AtomicBool,
    pub max_age: Mutex<u64>,
    pub revoked: Mutex<HashSet<String>>,
}

pub struct MockAs {
    pub addr: SocketAddr,
    pub issuer: String,
    pub state: Arc<AsState>,
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
    s.jwks_hits.fetch_add(1, Ordering::SeqCst);
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
    s.introspect_hits.fetch_add(1, Ordering::SeqCst);
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
    body.split('&')
        .find_map(|p| p.strip_prefix("token="))
        .map(|t| {
            t.replace("%2B", "+")
                .replace("%2F", "/")
                .replace("%3D", "=")
        })
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
        *state.jwks.lock().unwrap() =
            json!({"keys": keys.iter().map(|k| &k.jwk).collect::<Vec<_>>()});
        *state.max_age.lock().unwrap() = max_age;
        let app = Router::new()
            .route("/.well-known/oauth-authorization-server", get(metadata))
            .route("/jwks", get(jwks))
            .route("/introspect", post(introspect))
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            addr,
            issuer,
            state,
            _task: task,
        }
    }

    pub fn jwks_hits(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }
}

pub struct Stack {
    pub as_: MockAs,
    pub key: Key,
    pub server: RunningServer,
    pub http: reqwest::Client,
    pub url: String,
}

pub async fn stack_with(f: impl FnOnce(&mut Config)) -> Stack {
    let key = es256();
    let as_ = MockAs::start(&[&key], 300).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut cfg = Config::new(&as_.issuer, "");
    cfg.resources_dir = Some(std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../mcp-server/resources"
    )));
    f(&mut cfg);
    let server = mcp_server::serve(listener, cfg).await.unwrap();
    let url = server.resource_url().to_owned();
    Stack {
        as_,
        key,
        server,
        http: reqwest::Client::new(),
        url,
    }
}

pub async fn stack() -> Stack {
    stack_with(|_| {}).await
}

pub const ALL: &str = "mcp";

impl Stack {
    pub fn token(&self, scope: &str) -> String {
        sign(
            &self.key,
            &claims(&self.as_.issuer, &self.url, scope),
            Some("at+jwt"),
        )
    }

    pub fn post(&self, token: &str) -> reqwest::RequestBuilder {
        self.http
            .post(&self.url)
            .bearer_auth(token)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
    }

    /// `initialize` and `notifications/initialized`; returns the session id.
    pub async fn session(&self, token: &str, version: &str) -> String {
        let r = self
            .post(token)
            .json(
                &json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                "protocolVersion": version, "capabilities": {},
                "clientInfo": {"name": "test", "version": "1"}}}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let sid = r.headers()["mcp-session-id"].to_str().unwrap().to_owned();
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["result"]["protocolVersion"], version);
        let r = self
            .post(token)
            .header("mcp-session-id", &sid)
            .header("mcp-protocol-version", version)
            .json(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        sid
    }

    /// One request inside a session; returns the JSON-RPC response.
    pub async fn call(&self, token: &str, sid: &str, method: &str, params: Value) -> Value {
        let r = self
            .post(token)
            .header("mcp-session-id", sid)
            .header("mcp-protocol-version", "2025-11-25")
            .json(&json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{method}");
        assert_eq!(r.headers()["content-type"], "application/json");
        r.json().await.unwrap()
    }

    /// A stateless 2026-07-28 request with correct headers.
    pub fn modern(&self, token: &str, method: &str, mut params: Value) -> reqwest::RequestBuilder {
        params["_meta"] = json!({
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "1"},
        });
        let name = params
            .get("name")
            .or_else(|| params.get("uri"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let mut b = self
            .post(token)
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", method);
        if let Some(n) = name {
            b = b.header("mcp-name", n);
        }
        b.json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
    }
}

/// Parses SSE text into (event, data) pairs.
pub fn sse_events(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let mut ev = "message".to_owned();
        let mut data = String::new();
        let mut any = false;
        for line in block.lines() {
            if let Some(e) = line.strip_prefix("event:") {
                ev = e.trim().to_owned();
                any = true;
            } else if let Some(d) = line.strip_prefix("data:") {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(d.strip_prefix(' ').unwrap_or(d));
                any = true;
            }
        }
        if any && !data.is_empty() {
            out.push((ev, data));
        }
    }
    out
}

/// Headers that replace (not add to) what a builder already has: `builder.headers(hmap(..))`.
pub fn hmap(pairs: &[(&'static str, &str)]) -> reqwest::header::HeaderMap {
    let mut m = reqwest::header::HeaderMap::new();
    for (k, v) in pairs {
        m.insert(*k, v.parse().unwrap());
    }
    m
}
