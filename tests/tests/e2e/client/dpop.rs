//! The client's DPoP (RFC 9449) and `private_key_jwt` (RFC 7523) against a small test
//! server on 127.0.0.1:0 that is both the authorization server and the protected resource,
//! and checks every proof with `shared::dpop::verify` and every client assertion with
//! `shared::assertion::verify_client_assertion`: proofs on token and resource requests,
//! nonce retries (EX-08), key binding across a client restart with the key encrypted at
//! rest, and unchanged bearer behaviour when nobody advertises DPoP.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_oauth2_client::{
    AuthOnDemand, DpopMode, FileTokenStore, LoginMode, OAuthConfig, TokenStore,
};
use serde_json::json;
use shared::assertion::{AssertionPolicy, verify_client_assertion};
use shared::dpop::{Algorithm, JwkSet, ProofPolicy, RequestContext, SigningKey};

#[derive(Default)]
struct Log {
    /// (path, what happened) in order.
    events: Vec<(String, String)>,
    /// Access token -> the thumbprint it is bound to (`cnf.jkt`).
    bound: HashMap<String, String>,
    /// Proof `jti`s seen (replay check: the caller's job, done here as a server would).
    jtis: Vec<String>,
    issued: u32,
}

struct Server {
    base: String,
    /// Advertise and issue DPoP-bound tokens.
    dpop: bool,
    as_nonce: Option<&'static str>,
    rs_nonce: Option<&'static str>,
    client_keys: JwkSet,
    log: Mutex<Log>,
}

type Shared = Arc<Server>;

impl Server {
    fn event(&self, path: &str, what: impl Into<String>) {
        self.log
            .lock()
            .unwrap()
            .events
            .push((path.into(), what.into()));
    }
    fn events(&self, path: &str) -> Vec<String> {
        let l = self.log.lock().unwrap();
        l.events
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, w)| w.clone())
            .collect()
    }
    fn now() -> u64 {
        shared::clock::Clock::now_unix(&shared::clock::SystemClock)
    }
    /// Verifies the single DPoP header of a request; records the jti (refusing a replay).
    fn check_proof(
        &self,
        headers: &HeaderMap,
        method: &Method,
        uri: &str,
        token: Option<&str>,
        nonce: Option<&'static str>,
    ) -> Result<String, shared::dpop::ProofError> {
        let mut all = headers.get_all("dpop").iter();
        let (Some(proof), None) = (all.next(), all.next()) else {
            return Err(shared::dpop::ProofError::Malformed(
                "not exactly one DPoP header",
            ));
        };
        let is_current = move |n: &str| Some(n) == nonce;
        let mut cx = RequestContext::new(method.as_str(), uri, Self::now());
        if let Some(t) = token {
            cx = cx.with_access_token(t);
        }
        if nonce.is_some() {
            cx = cx.with_nonce(&is_current);
        }
        let ok = shared::dpop::verify(proof.to_str().unwrap_or(""), &cx, &ProofPolicy::default())?;
        let mut l = self.log.lock().unwrap();
        assert!(!l.jtis.contains(&ok.jti), "the client reused a proof jti");
        l.jtis.push(ok.jti.clone());
        Ok(ok.jkt)
    }
}

fn oauth_error(status: StatusCode, code: &str, nonce: Option<&str>) -> Response {
    let mut r = (status, axum::Json(json!({"error": code}))).into_response();
    if let Some(n) = nonce {
        r.headers_mut().insert("dpop-nonce", n.parse().unwrap());
    }
    r
}

async fn prm(State(s): State<Shared>) -> Response {
    let mut doc = json!({"resource": format!("{}/mcp", s.base), "authorization_servers": [s.base]});
    if s.dpop {
        doc["dpop_bound_access_tokens_required"] = json!(true);
    }
    axum::Json(doc).into_response()
}

async fn asm(State(s): State<Shared>) -> Response {
    let mut doc = json!({
        "issuer": s.base,
        "token_endpoint": format!("{}/token", s.base),
        "grant_types_supported": ["client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
    });
    if s.dpop {
        doc["dpop_signing_alg_values_supported"] = json!(["ES256", "EdDSA", "RS256"]);
    }
    axum::Json(doc).into_response()
}

async fn token(
    State(s): State<Shared>,
    method: Method,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let uri = format!("{}/token", s.base);
    // private_key_jwt: the assertion is verified against the client's registered key.
    let policy = AssertionPolicy::new([s.base.as_str(), uri.as_str()]);
    if form.get("client_assertion_type").map(String::as_str)
        != Some(shared::assertion::CLIENT_ASSERTION_TYPE)
    {
        s.event("/token", "no client assertion");
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", None);
    }
    let assertion = form.get("client_assertion").cloned().unwrap_or_default();
    if let Err(e) =
        verify_client_assertion(&assertion, "svc", &s.client_keys, &policy, Server::now())
    {
        s.event("/token", format!("bad client assertion: {e}"));
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", None);
    }
    let jkt = if s.dpop {
        match s.check_proof(&headers, &method, &uri, None, s.as_nonce) {
            Ok(jkt) => Some(jkt),
            Err(e) => {
                s.event("/token", format!("refused: {}", e.error_code()));
                return oauth_error(StatusCode::BAD_REQUEST, e.error_code(), s.as_nonce);
            }
        }
    } else {
        assert!(headers.get("dpop").is_none(), "a proof without DPoP");
        None
    };
    let mut l = s.log.lock().unwrap();
    l.issued += 1;
    let at = format!("at-{}", l.issued);
    if let Some(j) = &jkt {
        l.bound.insert(at.clone(), j.clone());
    }
    l.events.push(("/token".into(), "issued".into()));
    axum::Json(json!({
        "access_token": at,
        "token_type": if jkt.is_some() { "DPoP" } else { "Bearer" },
        "expires_in": 3600,
    }))
    .into_response()
}

async fn resource(
    State(s): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let url = format!("{}{}", s.base, uri);
    let challenge = format!(
        r#"Bearer resource_metadata="{}/.well-known/oauth-protected-resource/mcp", DPoP algs="ES256 EdDSA RS256""#,
        s.base
    );
    let unauthorized = |s: &Server, what: &str, www: String, nonce: Option<&str>| {
        s.event("/mcp", what);
        let mut r = StatusCode::UNAUTHORIZED.into_response();
        r.headers_mut()
            .insert("www-authenticate", www.parse().unwrap());
        if let Some(n) = nonce {
            r.headers_mut().insert("dpop-nonce", n.parse().unwrap());
        }
        r
    };
    let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return unauthorized(&s, "no token", challenge, None);
    };
    let (scheme, token) = auth.split_once(' ').unwrap_or(("", ""));
    if !s.dpop {
        assert!(headers.get("dpop").is_none(), "a proof without DPoP");
        s.event("/mcp", format!("{scheme} ok"));
        return axum::Json(json!({"ok": true})).into_response();
    }
    let bound = s.log.lock().unwrap().bound.get(token).cloned();
    if !scheme.eq_ignore_ascii_case("dpop") || bound.is_none() {
        return unauthorized(&s, "not a DPoP token", challenge, None);
    }
    match s.check_proof(&headers, &method, &url, Some(token), s.rs_nonce) {
        Ok(jkt) if Some(&jkt) == bound.as_ref() => {
            s.event("/mcp", "DPoP ok");
            axum::Json(json!({"ok": true, "jkt": jkt})).into_response()
        }
        Ok(_) => unauthorized(
            &s,
            "wrong key",
            r#"DPoP error="invalid_token""#.into(),
            None,
        ),
        Err(e) => unauthorized(
            &s,
            &format!("refused: {}", e.error_code()),
            format!(r#"DPoP error="{}", algs="ES256""#, e.error_code()),
            s.rs_nonce,
        ),
    }
}

async fn start(
    dpop: bool,
    as_nonce: Option<&'static str>,
    rs_nonce: Option<&'static str>,
    client_key: &SigningKey,
) -> Shared {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = Arc::new(Server {
        base,
        dpop,
        as_nonce,
        rs_nonce,
        client_keys: JwkSet {
            keys: vec![client_key.public_jwk().clone()],
        },
        log: Mutex::new(Log::default()),
    });
    let app = axum::Router::new()
        .route("/.well-known/oauth-protected-resource/mcp", get(prm))
        .route("/.well-known/oauth-authorization-server", get(asm))
        .route("/token", post(token))
        .route("/mcp", get(resource).post(resource))
        .with_state(server.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    server
}

fn config(s: &Server, key_pem: &str, store: Option<Arc<dyn TokenStore>>) -> OAuthConfig {
    let mut b = OAuthConfig::builder(format!("{}/mcp", s.base))
        .client_id("svc")
        .issuer(s.base.clone())
        .login_mode(LoginMode::ClientCredentials)
        .private_key_jwt_pem(key_pem)
        .unwrap();
    if let Some(st) = store {
        b = b.with_token_store(st);
    }
    b.build().unwrap()
}

async fn get_mcp(auth: &AuthOnDemand, s: &Server) -> serde_json::Value {
    let resp = auth
        .client()
        .unwrap()
        .get(format!("{}/mcp?q=1", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        200,
        "events: {:?}",
        s.log.lock().unwrap().events
    );
    resp.json().await.unwrap()
}

#[tokio::test]
async fn dpop_proofs_on_token_and_resource_requests_with_nonce_retries_ex02_ex03_ex08() {
    let client_key = SigningKey::generate(Algorithm::ES256).unwrap();
    let s = start(true, Some("as-nonce"), Some("rs-nonce"), &client_key).await;
    let auth = AuthOnDemand::new(config(&s, client_key.private_pem(), None));
    let body = get_mcp(&auth, &s).await;
    // Token endpoint: the first proof has no nonce, the retry carries the AS nonce; the
    // client assertion verified both times.
    assert_eq!(s.events("/token"), ["refused: use_dpop_nonce", "issued"]);
    // Resource: no token (401 challenge) -> DPoP without the RS nonce -> with it.
    assert_eq!(
        s.events("/mcp"),
        ["no token", "refused: use_dpop_nonce", "DPoP ok"]
    );
    let jkt = body["jkt"].as_str().unwrap().to_owned();
    assert_eq!(s.log.lock().unwrap().bound["at-1"], jkt);
    // The nonce is kept: the next request needs one round trip, with a fresh proof.
    get_mcp(&auth, &s).await;
    assert_eq!(s.events("/mcp").len(), 4);
    assert_eq!(s.events("/mcp")[3], "DPoP ok");
    assert_eq!(s.events("/token").len(), 2);
    let tokens = auth.session().unwrap().token_manager().tokens().unwrap();
    assert!(tokens.dpop_bound);
}

#[tokio::test]
async fn dpop_key_survives_a_client_restart_encrypted_in_the_file_store_ex04() {
    let client_key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let s = start(true, None, None, &client_key).await;
    let dir = std::env::temp_dir().join(format!(
        "dpop-store-{}-{}",
        std::process::id(),
        shared::random::token()
    ));
    let path = dir.join("tokens.jwe");
    let open = || -> Arc<dyn TokenStore> { Arc::new(FileTokenStore::open(&path).unwrap()) };

    let first = AuthOnDemand::new(config(&s, client_key.private_pem(), Some(open())));
    let jkt = get_mcp(&first, &s).await["jkt"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(s.events("/token"), ["issued"]);
    drop(first);

    // The key is stored with the tokens, and only encrypted.
    let store = open();
    let key = http_oauth2_client::StoreKey::new(s.base.clone(), format!("{}/mcp", s.base), "svc");
    let stored = store.load(&key).unwrap().unwrap();
    assert!(stored.dpop_bound);
    let pem = stored.dpop_key.as_ref().unwrap().secret().to_owned();
    assert_eq!(SigningKey::from_pkcs8_pem(&pem).unwrap().thumbprint(), jkt);
    let raw = std::fs::read_to_string(&path).unwrap();
    assert_eq!(raw.trim().split('.').count(), 5, "a compact JWE");
    let body_line = pem.lines().nth(1).unwrap();
    assert!(!raw.contains("PRIVATE KEY") && !raw.contains(body_line));
    assert!(
        !format!("{stored:?}").contains(body_line),
        "Debug is redacted"
    );

    // A restarted client (new process state, same store) proves with the same key: the
    // server accepts the stored token without a new token request.
    let second = AuthOnDemand::new(config(&s, client_key.private_pem(), Some(open())));
    let again = get_mcp(&second, &s).await;
    assert_eq!(again["jkt"], jkt.as_str());
    assert_eq!(s.events("/token"), ["issued"], "no new token request");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn bearer_is_unchanged_without_dpop_metadata_and_dpop_never_opts_out_ex01() {
    let client_key = SigningKey::generate(Algorithm::RS256).unwrap();
    let s = start(false, None, None, &client_key).await;
    let auth = AuthOnDemand::new(config(&s, client_key.private_pem(), None));
    get_mcp(&auth, &s).await;
    assert_eq!(s.events("/token"), ["issued"]);
    assert_eq!(s.events("/mcp"), ["no token", "Bearer ok"]);
    assert!(
        !auth
            .session()
            .unwrap()
            .token_manager()
            .tokens()
            .unwrap()
            .dpop_bound
    );

    // A server that advertises DPoP, with DPoP turned off in the client: no proof is sent,
    // so the DPoP-only test server refuses the token request.
    let s = start(true, None, None, &client_key).await;
    let cfg = OAuthConfig::builder(format!("{}/mcp", s.base))
        .client_id("svc")
        .issuer(s.base.clone())
        .login_mode(LoginMode::ClientCredentials)
        .private_key_jwt_pem(client_key.private_pem())
        .unwrap()
        .dpop(DpopMode::Never)
        .build()
        .unwrap();
    let resp = AuthOnDemand::new(cfg)
        .client()
        .unwrap()
        .get(format!("{}/mcp", s.base))
        .send()
        .await;
    assert!(
        resp.is_err(),
        "token request without a proof must fail here"
    );
    assert_eq!(s.events("/token"), ["refused: invalid_dpop_proof"]);
}

#[tokio::test]
async fn a_client_assertion_from_another_key_is_refused_ex30() {
    let registered = SigningKey::generate(Algorithm::ES256).unwrap();
    let other = SigningKey::generate(Algorithm::ES256).unwrap();
    let s = start(true, None, None, &registered).await;
    let auth = AuthOnDemand::new(config(&s, other.private_pem(), None));
    let resp = auth
        .client()
        .unwrap()
        .get(format!("{}/mcp", s.base))
        .send()
        .await;
    assert!(resp.is_err());
    let ev = s.events("/token");
    assert_eq!(ev.len(), 1);
    assert!(ev[0].starts_with("bad client assertion"), "{ev:?}");
}

/// The CLI: `--private-key-jwt` authenticates the client-credentials grant, DPoP is used
/// because the server advertises it (nonce retry included), and `--no-dpop` turns it off.
#[tokio::test]
async fn cli_logs_in_with_private_key_jwt_and_dpop_and_no_dpop_turns_it_off_ex01_ex30() {
    let client_key = SigningKey::generate(Algorithm::ES256).unwrap();
    let s = start(true, Some("as-nonce"), None, &client_key).await;
    let dir = std::env::temp_dir().join(format!(
        "dpop-cli-{}-{}",
        std::process::id(),
        shared::random::token()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let pem = dir.join("client-key.pem");
    std::fs::write(&pem, client_key.private_pem()).unwrap();
    let run = |extra: &'static [&'static str]| {
        let mut cmd = tokio::process::Command::new(tests::workspace_binary("http-oauth2-client"));
        cmd.arg("login")
            .arg(format!("{}/mcp", s.base))
            .args([
                "--client-credentials",
                "--client-id",
                "svc",
                "--issuer",
                &s.base,
            ])
            .arg("--private-key-jwt")
            .arg(&pem)
            .args(["--token-store", "memory"])
            .args(extra)
            .current_dir(&dir)
            .env("RUST_LOG", "warn");
        async move {
            cmd.output()
                .await
                .expect("run the CLI (cargo build --workspace --bins)")
        }
    };
    let out = run(&[]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(s.events("/token"), ["refused: use_dpop_nonce", "issued"]);
    let stderr =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(
        !stderr.contains("PRIVATE KEY") && !stderr.contains("at-1"),
        "{stderr}"
    );

    let out = run(&["--no-dpop"]).await;
    assert_ne!(out.status.code(), Some(0));
    assert_eq!(
        s.events("/token").last().map(String::as_str),
        Some("refused: invalid_dpop_proof")
    );
    std::fs::remove_dir_all(&dir).ok();
}
