//! The client's enterprise mode (ID-JAG, EX-23, EX-24) against a small test server on
//! 127.0.0.1:0 that plays the enterprise IdP (`/idp`: headless sign-in, RFC 8693 token
//! exchange issuing ID-JAGs signed with `shared::assertion::create_id_jag`), the MCP
//! authorization server (`/as`: the JWT bearer grant, checked with
//! `shared::assertion::verify_id_jag` and a jti replay list) and the MCP resource (`/mcp`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use http_oauth2_client::oauth::enterprise::EnterpriseLogin;
use http_oauth2_client::{AuthOnDemand, LoginMode, OAuthConfig};
use serde_json::json;
use shared::assertion::{AssertionPolicy, IdJagClaims, IdJagExpectations};
use shared::clock::TestClock;
use shared::dpop::{Algorithm, JwkSet, SigningKey};
use shared::jwt::Audience;

struct Idp {
    base: String,
    key: SigningKey,
    events: Mutex<Vec<String>>,
    jtis: Mutex<Vec<String>>,
    issued: Mutex<u32>,
}

type S = Arc<Idp>;

impl Idp {
    fn ev(&self, e: impl Into<String>) {
        self.events.lock().unwrap().push(e.into());
    }
    fn count(&self, prefix: &str) -> usize {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.starts_with(prefix))
            .count()
    }
    fn idp(&self) -> String {
        format!("{}/idp", self.base)
    }
    fn mcp_as(&self) -> String {
        format!("{}/as", self.base)
    }
    fn resource(&self) -> String {
        format!("{}/mcp", self.base)
    }
    fn now() -> u64 {
        shared::clock::Clock::now_unix(&shared::clock::SystemClock)
    }
}

fn err(code: &str) -> Response {
    (StatusCode::BAD_REQUEST, axum::Json(json!({"error": code}))).into_response()
}

fn metadata(issuer: &str) -> serde_json::Value {
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "code_challenge_methods_supported": ["S256"],
    })
}

async fn idp_authorize(State(s): State<S>, Query(q): Query<HashMap<String, String>>) -> Response {
    s.ev("idp authorize");
    let redirect = format!(
        "{}?code=idp-code&state={}",
        q["redirect_uri"],
        q.get("state").cloned().unwrap_or_default()
    );
    Redirect::to(&redirect).into_response()
}

async fn idp_token(State(s): State<S>, Form(f): Form<HashMap<String, String>>) -> Response {
    let grant = f.get("grant_type").map(String::as_str).unwrap_or("");
    match grant {
        "authorization_code" if f.get("code").map(String::as_str) == Some("idp-code") => {
            s.ev("idp code");
            axum::Json(
                json!({"access_token": "idp-at", "token_type": "Bearer", "expires_in": 3600}),
            )
            .into_response()
        }
        shared::assertion::TOKEN_EXCHANGE_GRANT => {
            let ok = f.get("requested_token_type").map(String::as_str)
                == Some(shared::assertion::ID_JAG_TOKEN_TYPE)
                && f.get("subject_token").map(String::as_str) == Some("idp-at")
                && f.get("subject_token_type").map(String::as_str)
                    == Some(shared::assertion::TOKEN_TYPE_ACCESS_TOKEN)
                && f.get("audience") == Some(&s.mcp_as())
                && f.get("resource") == Some(&s.resource());
            if !ok {
                s.ev(format!("idp exchange refused {f:?}"));
                return err("invalid_request");
            }
            s.ev("idp exchange");
            let now = Idp::now();
            let claims = IdJagClaims {
                iss: s.idp(),
                sub: "alice".into(),
                aud: Audience::One(s.mcp_as()),
                client_id: "mcp-client".into(),
                jti: shared::random::token(),
                exp: now + 300,
                iat: now,
                resource: Some(Audience::One(s.resource())),
                scope: Some("mcp:tools:read".into()),
            };
            let jag = shared::assertion::create_id_jag(&s.key, None, &claims).unwrap();
            axum::Json(json!({
                "access_token": jag,
                "issued_token_type": shared::assertion::ID_JAG_TOKEN_TYPE,
                "token_type": "N_A",
                "expires_in": 300,
            }))
            .into_response()
        }
        _ => err("unsupported_grant_type"),
    }
}

async fn as_token(State(s): State<S>, Form(f): Form<HashMap<String, String>>) -> Response {
    if f.get("grant_type").map(String::as_str) != Some(shared::assertion::JWT_BEARER_GRANT) {
        return err("unsupported_grant_type");
    }
    let keys = JwkSet {
        keys: vec![s.key.public_jwk().clone()],
    };
    let resources = vec![s.resource()];
    let client_id = f.get("client_id").cloned().unwrap_or_default();
    let expected = IdJagExpectations {
        idp_issuer: &s.idp(),
        client_id: &client_id,
        resources: &resources,
    };
    let verified = shared::assertion::verify_id_jag(
        f.get("assertion").map(String::as_str).unwrap_or(""),
        &keys,
        &expected,
        &AssertionPolicy::new([s.mcp_as()]),
        Idp::now(),
    );
    let v = match verified {
        Ok(v) => v,
        Err(e) => {
            s.ev(format!("as refused: {e}"));
            return err("invalid_grant");
        }
    };
    {
        let mut j = s.jtis.lock().unwrap();
        if j.contains(&v.jti) {
            s.ev("as refused: replay");
            return err("invalid_grant");
        }
        j.push(v.jti);
    }
    let mut n = s.issued.lock().unwrap();
    *n += 1;
    s.ev(format!("as jwt-bearer for {}", v.claims.sub));
    axum::Json(json!({
        "access_token": format!("mcp-at-{n}"),
        "token_type": "Bearer",
        "expires_in": 60,
        "scope": v.claims.scope,
    }))
    .into_response()
}

async fn mcp(State(s): State<S>, headers: HeaderMap) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if auth.starts_with("Bearer mcp-at-") {
        s.ev(format!("mcp ok {auth}"));
        return axum::Json(json!({"ok": true})).into_response();
    }
    s.ev("mcp 401");
    let mut r = StatusCode::UNAUTHORIZED.into_response();
    let ch = format!(
        r#"Bearer resource_metadata="{}/.well-known/oauth-protected-resource/mcp""#,
        s.base
    );
    r.headers_mut()
        .insert("www-authenticate", ch.parse().unwrap());
    r
}

async fn start() -> S {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let s = Arc::new(Idp {
        base,
        key: SigningKey::generate(Algorithm::ES256).unwrap(),
        events: Mutex::new(Vec::new()),
        jtis: Mutex::new(Vec::new()),
        issued: Mutex::new(0),
    });
    let (idp, mcp_as, resource) = (s.idp(), s.mcp_as(), s.resource());
    let app = axum::Router::new()
        .route(
            "/.well-known/oauth-authorization-server/idp",
            get(move || async move { axum::Json(metadata(&idp)) }),
        )
        .route(
            "/.well-known/oauth-authorization-server/as",
            get({
                let i = mcp_as.clone();
                move || async move { axum::Json(metadata(&i)) }
            }),
        )
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(move || async move {
                axum::Json(json!({"resource": resource, "authorization_servers": [mcp_as]}))
            }),
        )
        .route("/idp/authorize", get(idp_authorize))
        .route("/idp/token", post(idp_token))
        .route("/as/token", post(as_token))
        .route("/mcp", get(mcp))
        .with_state(s.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    s
}

async fn get_mcp(auth: &AuthOnDemand, s: &Idp) {
    let resp = auth
        .client()
        .unwrap()
        .get(s.resource())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{:?}", s.events.lock().unwrap());
}

#[tokio::test]
async fn enterprise_login_exchanges_an_id_jag_and_repeats_the_exchange_on_expiry_ex23_ex24() {
    let s = start().await;
    let clock = TestClock::starting_now();
    let flow = EnterpriseLogin::builder(s.idp(), "idp-client")
        .login_mode(LoginMode::Headless)
        .build()
        .unwrap();
    let config = OAuthConfig::builder(s.resource())
        .client_id("mcp-client")
        .with_clock(Arc::new(clock.clone()))
        .login_flow(Arc::new(flow))
        .build()
        .unwrap();
    let auth = AuthOnDemand::new(config);
    get_mcp(&auth, &s).await;
    assert_eq!(
        *s.events.lock().unwrap(),
        [
            "mcp 401",
            "idp authorize",
            "idp code",
            "idp exchange",
            "as jwt-bearer for alice",
            "mcp ok Bearer mcp-at-1"
        ]
    );
    // The MCP token (60 s, no refresh token) expires: the exchange is repeated with the
    // IdP session, without a second sign-in at the IdP nor a browser at the MCP AS.
    clock.advance(std::time::Duration::from_secs(120));
    get_mcp(&auth, &s).await;
    assert_eq!(s.count("idp authorize"), 1);
    assert_eq!(s.count("idp exchange"), 2);
    assert_eq!(s.count("as jwt-bearer"), 2);
    assert_eq!(s.count("mcp ok Bearer mcp-at-2"), 1);
    assert_eq!(s.count("as refused"), 0);
}

#[tokio::test]
async fn an_id_jag_for_another_client_is_refused_by_the_verifier_ex21() {
    let s = start().await;
    let flow = EnterpriseLogin::builder(s.idp(), "idp-client")
        .login_mode(LoginMode::Headless)
        .build()
        .unwrap();
    // The IdP issues ID-JAGs for `mcp-client`; this client is `intruder` at the MCP AS.
    let config = OAuthConfig::builder(s.resource())
        .client_id("intruder")
        .login_flow(Arc::new(flow))
        .build()
        .unwrap();
    let res = AuthOnDemand::new(config)
        .client()
        .unwrap()
        .get(s.resource())
        .send()
        .await;
    assert!(res.is_err());
    assert_eq!(
        s.count("as refused: assertion client_id"),
        1,
        "{:?}",
        s.events.lock().unwrap()
    );
}
