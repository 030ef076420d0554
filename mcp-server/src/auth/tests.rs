//! In-process tests of [`JwtAuthLayer`] with `tower::ServiceExt::oneshot` (no MCP server, no
//! authorization server): an Ed25519 key made at test start, its JWKS served from a loopback
//! listener, tokens signed here. Each case asserts the exact status and `WWW-Authenticate`.

use std::convert::Infallible;
use std::sync::Arc;

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use axum::body::Body;
use http::{Request, Response, StatusCode, header};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use shared::scope::ScopeSet;
use tower::{Service, ServiceBuilder, ServiceExt as _};

use super::{AuthContext, JwtAuthLayer};

const ISSUER: &str = "http://as.test";
const RESOURCE: &str = "http://rs.test/mcp";
const PRM: &str = "http://rs.test/.well-known/oauth-protected-resource/mcp";
const KID: &str = "k1";

fn b64(bytes: &[u8]) -> String {
    shared::random::b64url(bytes)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

struct Fixture {
    key: Ed25519KeyPair,
    jwks_url: String,
    _server: tokio::task::JoinHandle<()>,
}

impl Fixture {
    /// A fresh key and its JWKS on `127.0.0.1:0`.
    async fn start() -> Self {
        let key = Ed25519KeyPair::generate().unwrap();
        let jwks = json!({"keys": [{
            "kty": "OKP", "crv": "Ed25519", "x": b64(key.public_key().as_ref()),
            "kid": KID, "use": "sig", "alg": "EdDSA",
        }]})
        .to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().route(
            "/jwks",
            axum::routing::get(move || {
                let jwks = jwks.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], jwks) }
            }),
        );
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            key,
            jwks_url: format!("http://{addr}/jwks"),
            _server: server,
        }
    }

    /// A signed `at+jwt` with `claims`.
    fn token(&self, claims: &Value) -> String {
        let header = json!({"alg": "EdDSA", "typ": "at+jwt", "kid": KID});
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let sig = self.key.sign(input.as_bytes());
        format!("{input}.{}", b64(sig.as_ref()))
    }

    /// The layer under test in front of a service that answers with the subject it finds
    /// in the request extensions.
    fn service(
        &self,
    ) -> impl Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Clone {
        let layer = JwtAuthLayer::builder()
            .issuer(ISSUER)
            .resource(RESOURCE)
            .resource_metadata_url(PRM)
            .jwks_url(&self.jwks_url)
            .algorithms([jsonwebtoken::Algorithm::EdDSA])
            .required_scopes(ScopeSet::parse("mcp:tools:call"))
            .build()
            .unwrap();
        ServiceBuilder::new()
            .layer(layer)
            .service_fn(|req: Request<Body>| async move {
                let body = match req.extensions().get::<Arc<AuthContext>>() {
                    Some(ctx) => format!("{} {} {}", ctx.subject, ctx.client_id, ctx.scopes),
                    None => "no context".to_owned(),
                };
                Ok::<_, Infallible>(Response::new(Body::from(body)))
            })
    }
}

fn claims(aud: &str, exp: u64, scope: &str) -> Value {
    json!({
        "iss": ISSUER, "sub": "alice", "aud": aud, "exp": exp, "iat": now(),
        "jti": "j1", "client_id": "c1", "scope": scope,
    })
}

fn request(token: Option<&str>) -> Request<Body> {
    let mut b = Request::builder().uri("/mcp");
    if let Some(t) = token {
        b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    b.body(Body::empty()).unwrap()
}

async fn call<S>(svc: &S, token: Option<&str>) -> (StatusCode, Option<String>, String)
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Clone,
{
    let r = svc.clone().oneshot(request(token)).await.unwrap();
    let www = r
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned());
    let status = r.status();
    let body = r.into_body().collect().await.unwrap().to_bytes();
    (status, www, String::from_utf8(body.to_vec()).unwrap())
}

fn invalid_token(description: &str) -> String {
    format!(
        r#"Bearer error="invalid_token", error_description="{description}", scope="mcp:tools:call", resource_metadata="{PRM}""#
    )
}

#[tokio::test]
async fn no_token_gets_401_with_resource_metadata_and_no_error_code() {
    let f = Fixture::start().await;
    let (status, www, _) = call(&f.service(), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        www.as_deref(),
        Some(format!(r#"Bearer scope="mcp:tools:call", resource_metadata="{PRM}""#).as_str())
    );
}

#[tokio::test]
async fn malformed_token_gets_401_invalid_token() {
    let f = Fixture::start().await;
    let (status, www, _) = call(&f.service(), Some("not-a-jwt")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(www, Some(invalid_token("malformed token")));
}

#[tokio::test]
async fn token_for_another_audience_gets_401_invalid_token() {
    let f = Fixture::start().await;
    let t = f.token(&claims(
        "http://other.test/mcp",
        now() + 600,
        "mcp:tools:call",
    ));
    let (status, www, _) = call(&f.service(), Some(&t)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        www,
        Some(invalid_token("token not issued for this resource"))
    );
}

#[tokio::test]
async fn expired_token_gets_401_invalid_token() {
    let f = Fixture::start().await;
    let t = f.token(&claims(RESOURCE, now() - 3600, "mcp:tools:call"));
    let (status, www, _) = call(&f.service(), Some(&t)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(www, Some(invalid_token("token expired")));
}

#[tokio::test]
async fn token_without_the_required_scope_gets_403_insufficient_scope() {
    let f = Fixture::start().await;
    let t = f.token(&claims(RESOURCE, now() + 600, "mcp:tools:read"));
    let (status, www, _) = call(&f.service(), Some(&t)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        www,
        Some(format!(
            r#"Bearer error="insufficient_scope", error_description="the access token lacks a scope this request needs", scope="mcp:tools:call", resource_metadata="{PRM}""#
        ))
    );
}

#[tokio::test]
async fn valid_token_reaches_the_inner_service_with_the_auth_context_twice() {
    let f = Fixture::start().await;
    let svc = f.service();
    let t = f.token(&claims(RESOURCE, now() + 600, "mcp:tools:call"));
    // The second call is answered from the verified-token cache (the synchronous path).
    for _ in 0..2 {
        let (status, www, body) = call(&svc, Some(&t)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(www, None);
        assert_eq!(body, "alice c1 mcp:tools:call");
    }
}
