//! The AS metadata behind `jwks_uri` discovery (issue 11 item 10): cached with a lifetime,
//! never kept when its `issuer` mismatches, refetched (throttled) when it leads to a failure.
//! A loopback AS whose metadata and JWKS change under test control; [`JwtAuthLayer`] called
//! with `oneshot`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use axum::body::Body;
use http::{Request, Response, StatusCode, header};
use serde_json::{Value, json};
use tower::{Service, ServiceBuilder, ServiceExt as _};

use super::{JwksSettings, JwtAuthLayer};

const RESOURCE: &str = "http://rs.test/mcp";

struct Key {
    pair: Ed25519KeyPair,
    kid: &'static str,
}

impl Key {
    fn new(kid: &'static str) -> Self {
        Self {
            pair: Ed25519KeyPair::generate().unwrap(),
            kid,
        }
    }
    fn jwk(&self) -> Value {
        json!({"kty": "OKP", "crv": "Ed25519", "x": shared::random::b64url(self.pair.public_key().as_ref()),
               "kid": self.kid, "use": "sig", "alg": "EdDSA"})
    }
}

#[derive(Default)]
struct AsState {
    /// The `issuer` the metadata document claims.
    claimed_issuer: Mutex<String>,
    /// The path `jwks_uri` names.
    jwks_path: Mutex<String>,
    /// JWKS documents by path (others: 404).
    jwks: Mutex<HashMap<String, Value>>,
    metadata_hits: AtomicUsize,
}

struct TestAs {
    issuer: String,
    state: Arc<AsState>,
    _task: tokio::task::JoinHandle<()>,
}

impl TestAs {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(AsState::default());
        *state.claimed_issuer.lock().unwrap() = issuer.clone();
        let (st, base) = (state.clone(), issuer.clone());
        let app = axum::Router::new()
            .route(
                "/.well-known/oauth-authorization-server",
                axum::routing::get(move || {
                    let (st, base) = (st.clone(), base.clone());
                    async move {
                        st.metadata_hits.fetch_add(1, Ordering::SeqCst);
                        let doc = json!({
                            "issuer": *st.claimed_issuer.lock().unwrap(),
                            "authorization_endpoint": format!("{base}/authorize"),
                            "token_endpoint": format!("{base}/token"),
                            "jwks_uri": format!("{base}{}", st.jwks_path.lock().unwrap()),
                            "response_types_supported": ["code"],
                        });
                        axum::Json(doc)
                    }
                }),
            )
            .fallback({
                let st = state.clone();
                move |uri: http::Uri| {
                    let st = st.clone();
                    async move {
                        match st.jwks.lock().unwrap().get(uri.path()) {
                            Some(v) => (StatusCode::OK, axum::Json(v.clone())),
                            None => (StatusCode::NOT_FOUND, axum::Json(json!({}))),
                        }
                    }
                }
            });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            issuer,
            state,
            _task: task,
        }
    }

    fn claim_issuer(&self, issuer: &str) {
        *self.state.claimed_issuer.lock().unwrap() = issuer.to_owned();
    }

    /// Serves `keys` at `path` (no keys: 404) and names `path` as `jwks_uri` if `advertise`.
    fn serve_jwks(&self, path: &str, keys: &[&Key], advertise: bool) {
        let mut m = self.state.jwks.lock().unwrap();
        if keys.is_empty() {
            m.remove(path);
        } else {
            m.insert(
                path.to_owned(),
                json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()}),
            );
        }
        if advertise {
            *self.state.jwks_path.lock().unwrap() = path.to_owned();
        }
    }

    fn metadata_hits(&self) -> usize {
        self.state.metadata_hits.load(Ordering::SeqCst)
    }

    fn token(&self, key: &Key) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let header = json!({"alg": "EdDSA", "typ": "at+jwt", "kid": key.kid});
        let claims = json!({"iss": self.issuer, "sub": "alice", "aud": RESOURCE,
            "exp": now + 600, "iat": now, "jti": shared::random::token(), "client_id": "c1",
            "scope": "mcp"});
        let input = format!(
            "{}.{}",
            shared::random::b64url(header.to_string().as_bytes()),
            shared::random::b64url(claims.to_string().as_bytes())
        );
        let sig = key.pair.sign(input.as_bytes());
        format!("{input}.{}", shared::random::b64url(sig.as_ref()))
    }

    /// The layer with `jwks_uri` discovery in front of a service answering 200.
    fn service(
        &self,
        settings: JwksSettings,
    ) -> impl Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Clone {
        let layer = JwtAuthLayer::builder()
            .issuer(&self.issuer)
            .resource(RESOURCE)
            .algorithms([jsonwebtoken::Algorithm::EdDSA])
            .jwks_settings(settings)
            .build()
            .unwrap();
        ServiceBuilder::new()
            .layer(layer)
            .service_fn(|_req: Request<Body>| async { Ok(Response::new(Body::empty())) })
    }
}

async fn status<S>(svc: &S, token: &str) -> StatusCode
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Clone,
{
    let req = Request::builder()
        .uri("/mcp")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    svc.clone().oneshot(req).await.unwrap().status()
}

#[tokio::test]
async fn metadata_with_a_mismatched_issuer_is_not_kept_and_is_refetched_later_rs14() {
    let as_ = TestAs::start().await;
    let k1 = Key::new("k1");
    as_.serve_jwks("/jwks-a", &[&k1], true);
    as_.claim_issuer("http://evil.test");
    let svc = as_.service(JwksSettings {
        retry_after_failure: Duration::from_millis(300),
        ..JwksSettings::default()
    });
    assert_eq!(
        status(&svc, &as_.token(&k1)).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    // Within the retry interval: no new metadata fetch.
    assert_eq!(
        status(&svc, &as_.token(&k1)).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(as_.metadata_hits(), 1);
    // The AS fixes its document: picked up after the retry interval, not never.
    as_.claim_issuer(&as_.issuer.clone());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(status(&svc, &as_.token(&k1)).await, StatusCode::OK);
    assert_eq!(as_.metadata_hits(), 2);
}

#[tokio::test]
async fn moved_jwks_uri_is_found_by_refetching_the_metadata_after_a_failure() {
    let as_ = TestAs::start().await;
    let (k1, k2) = (Key::new("k1"), Key::new("k2"));
    as_.serve_jwks("/jwks-a", &[&k1], true);
    let svc = as_.service(JwksSettings::default());
    assert_eq!(status(&svc, &as_.token(&k1)).await, StatusCode::OK);
    // The keys move to another URL; the old one is gone.
    as_.serve_jwks("/jwks-b", &[&k1, &k2], true);
    as_.serve_jwks("/jwks-a", &[], false);
    assert_eq!(status(&svc, &as_.token(&k2)).await, StatusCode::OK);
    assert_eq!(as_.metadata_hits(), 2);
}

#[tokio::test]
async fn metadata_is_fetched_again_after_its_lifetime() {
    let as_ = TestAs::start().await;
    let (k1, k2) = (Key::new("k1"), Key::new("k2"));
    as_.serve_jwks("/jwks-a", &[&k1], true);
    let svc = as_.service(JwksSettings {
        metadata_ttl: Duration::from_millis(300),
        ..JwksSettings::default()
    });
    assert_eq!(status(&svc, &as_.token(&k1)).await, StatusCode::OK);
    // A new `jwks_uri` with a new key; the old URL keeps serving the old key only.
    as_.serve_jwks("/jwks-b", &[&k1, &k2], true);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(status(&svc, &as_.token(&k2)).await, StatusCode::OK);
    assert_eq!(as_.metadata_hits(), 2);
}

/// An AS that publishes only OpenID discovery, at `doc_path`, claiming `issuer_suffix` after
/// its origin; every request path is recorded.
async fn openid_only_as(
    doc_path: &'static str,
    issuer_suffix: &'static str,
    key: &Key,
) -> (String, Arc<Mutex<Vec<String>>>, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let issuer = format!("{base}{issuer_suffix}");
    let hits = Arc::new(Mutex::new(Vec::new()));
    let jwks = json!({"keys": [key.jwk()]});
    let (h, iss, b) = (hits.clone(), issuer.clone(), base.clone());
    let app = axum::Router::new().fallback(move |uri: http::Uri| {
        let (h, iss, b, jwks) = (h.clone(), iss.clone(), b.clone(), jwks.clone());
        async move {
            h.lock().unwrap().push(uri.path().to_owned());
            if uri.path() == doc_path {
                let doc = json!({"issuer": iss, "authorization_endpoint": format!("{b}/auth"),
                    "token_endpoint": format!("{b}/token"), "jwks_uri": format!("{b}/certs"),
                    "response_types_supported": ["code"]});
                (StatusCode::OK, axum::Json(doc))
            } else if uri.path() == "/certs" {
                (StatusCode::OK, axum::Json(jwks))
            } else {
                (StatusCode::NOT_FOUND, axum::Json(json!({})))
            }
        }
    });
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (issuer, hits, task)
}

fn token_for(key: &Key, issuer: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = json!({"alg": "EdDSA", "typ": "at+jwt", "kid": key.kid});
    let claims = json!({"iss": issuer, "sub": "alice", "aud": RESOURCE, "exp": now + 600,
        "iat": now, "jti": "j", "client_id": "c1", "scope": "mcp"});
    let input = format!(
        "{}.{}",
        shared::random::b64url(header.to_string().as_bytes()),
        shared::random::b64url(claims.to_string().as_bytes())
    );
    let sig = key.pair.sign(input.as_bytes());
    format!("{input}.{}", shared::random::b64url(sig.as_ref()))
}

fn discovering_service(
    issuer: &str,
) -> impl Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Clone {
    let layer = JwtAuthLayer::builder()
        .issuer(issuer)
        .resource(RESOURCE)
        .algorithms([jsonwebtoken::Algorithm::EdDSA])
        .build()
        .unwrap();
    ServiceBuilder::new()
        .layer(layer)
        .service_fn(|_req: Request<Body>| async { Ok(Response::new(Body::empty())) })
}

#[tokio::test]
async fn openid_discovery_path_appended_is_used_when_rfc8414_is_absent_rs14() {
    // Keycloak / Entra form: an issuer with a path, OpenID discovery appended to it.
    let k = Key::new("k1");
    let (issuer, hits, _task) = openid_only_as(
        "/realms/a/.well-known/openid-configuration",
        "/realms/a",
        &k,
    )
    .await;
    let svc = discovering_service(&issuer);
    assert_eq!(status(&svc, &token_for(&k, &issuer)).await, StatusCode::OK);
    assert_eq!(
        *hits.lock().unwrap(),
        [
            "/.well-known/oauth-authorization-server/realms/a",
            "/.well-known/openid-configuration/realms/a",
            "/realms/a/.well-known/openid-configuration",
            "/certs",
        ]
    );
}

#[tokio::test]
async fn trailing_slash_issuer_is_discovered_and_matched_exactly_rs14() {
    // Auth0 form: `https://TENANT.auth0.com/`, metadata only at the root OpenID URL.
    let k = Key::new("k1");
    let (issuer, hits, _task) = openid_only_as("/.well-known/openid-configuration", "/", &k).await;
    assert!(issuer.ends_with('/'));
    let svc = discovering_service(&issuer);
    assert_eq!(status(&svc, &token_for(&k, &issuer)).await, StatusCode::OK);
    assert_eq!(
        *hits.lock().unwrap(),
        [
            "/.well-known/oauth-authorization-server",
            "/.well-known/openid-configuration",
            "/certs",
        ]
    );
    // The same issuer without its slash is another issuer: the metadata does not match it.
    let svc = discovering_service(issuer.trim_end_matches('/'));
    assert_eq!(
        status(&svc, &token_for(&k, issuer.trim_end_matches('/'))).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
}
