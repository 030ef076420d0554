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

use super::{AuthContext, JwtAuthLayer, JwtAuthLayerBuilder, TokenProfile};

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
        self.token_with_header(
            &json!({"alg": "EdDSA", "typ": "at+jwt", "kid": KID}),
            claims,
        )
    }

    /// A token signed with this key under any header.
    fn token_with_header(&self, header: &Value, claims: &Value) -> String {
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
        self.service_with(|b| b)
    }

    /// [`Self::service`] with more builder settings.
    fn service_with(
        &self,
        more: impl FnOnce(JwtAuthLayerBuilder) -> JwtAuthLayerBuilder,
    ) -> impl Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Clone {
        let layer = more(
            JwtAuthLayer::builder()
                .issuer(ISSUER)
                .resource(RESOURCE)
                .resource_metadata_url(PRM)
                .jwks_url(&self.jwks_url)
                .algorithms([jsonwebtoken::Algorithm::EdDSA])
                .required_scopes(ScopeSet::parse("mcp:tools:call")),
        )
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
    assert_eq!(
        www,
        Some(invalid_token("malformed token (not a signed JWT)"))
    );
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
        Some(invalid_token(
            "token not issued for this resource: aud must contain http://rs.test/mcp (found http://other.test/mcp)"
        ))
    );
}

#[tokio::test]
async fn expired_token_gets_401_invalid_token() {
    let f = Fixture::start().await;
    let t = f.token(&claims(RESOURCE, now() - 3600, "mcp:tools:call"));
    let (status, www, _) = call(&f.service(), Some(&t)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        www,
        Some(invalid_token("token expired (exp is past, leeway 30 s)"))
    );
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

/// The layer's own `required_scopes` check answers like the MCP server's per-method one:
/// with DPoP on, the 403 also carries the `DPoP` challenge (RFC 9449 §7.1; ADR 0014).
#[tokio::test]
async fn layer_scope_check_with_dpop_on_adds_the_dpop_challenge_rs07_ex07() {
    let f = Fixture::start().await;
    let svc = f.service_with(|b| b.dpop(crate::DpopSettings::default()));
    let t = f.token(&claims(RESOURCE, now() + 600, "mcp:tools:read"));
    let r = svc.oneshot(request(Some(&t))).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let schemes: Vec<String> = r
        .headers()
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .map(|v| v.to_str().unwrap().split(' ').next().unwrap().to_owned())
        .collect();
    assert_eq!(schemes, ["Bearer", "DPoP"]);
    let dpop = r
        .headers()
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .nth(1)
        .unwrap();
    assert!(
        dpop.to_str()
            .unwrap()
            .contains(r#"error="insufficient_scope""#),
        "{dpop:?}"
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

/// The claims a generic-JWT provider (Auth0's default profile) issues: `azp`, no `jti`, no
/// `client_id`, scopes in `scp`.
fn generic_claims(iss: &str, aud: Value) -> Value {
    json!({
        "iss": iss, "sub": "alice", "aud": aud, "exp": now() + 600, "iat": now(),
        "azp": "c-azp", "scp": ["mcp:tools:call", "mcp:tools:read"],
    })
}

#[tokio::test]
async fn each_refusal_names_its_reason_rs12() {
    let f = Fixture::start().await;
    let svc = f.service();
    let jwt_typ = json!({"alg": "EdDSA", "typ": "JWT", "kid": KID});
    let no_typ = json!({"alg": "EdDSA", "kid": KID});
    let good = claims(RESOURCE, now() + 600, "mcp:tools:call");
    let mut no_jti = good.clone();
    no_jti.as_object_mut().unwrap().remove("jti");
    let mut no_client = good.clone();
    no_client.as_object_mut().unwrap().remove("client_id");
    let mut wrong_iss = good.clone();
    wrong_iss["iss"] = json!("http://as.test/");
    let mut scp_only = good.clone();
    scp_only.as_object_mut().unwrap().remove("scope");
    scp_only["scp"] = json!(["mcp:tools:call"]);
    let mut future = good.clone();
    future["nbf"] = json!(now() + 3600);
    let cases = [
        (
            f.token_with_header(&jwt_typ, &good),
            "token typ must be at+jwt (found JWT)",
        ),
        (
            f.token_with_header(&no_typ, &good),
            "token typ must be at+jwt (found none)",
        ),
        (
            f.token(&no_jti),
            "token has no jti claim (required by the rfc9068 profile)",
        ),
        (
            f.token(&no_client),
            "token has no client_id claim (required by the rfc9068 profile)",
        ),
        (
            f.token(&wrong_iss),
            "wrong issuer: iss must be http://as.test (found http://as.test/)",
        ),
        (
            f.token(&scp_only),
            "token carries scopes in scp, not scope (the rfc9068 profile reads scope only)",
        ),
        (
            f.token(&future),
            "token not yet valid (nbf is in the future)",
        ),
    ];
    for (token, reason) in cases {
        let (status, www, body) = call(&svc, Some(&token)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{reason}");
        assert_eq!(www, Some(invalid_token(reason)));
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["error_description"], reason);
    }
}

#[tokio::test]
async fn generic_jwt_profile_accepts_azp_scp_no_jti_and_typ_jwt_rs12() {
    let f = Fixture::start().await;
    let svc = f.service_with(|b| b.profile(TokenProfile::generic_jwt()));
    for header in [
        json!({"alg": "EdDSA", "typ": "JWT", "kid": KID}),
        json!({"alg": "EdDSA", "kid": KID}),
        json!({"alg": "EdDSA", "typ": "at+jwt", "kid": KID}),
    ] {
        let t = f.token_with_header(&header, &generic_claims(ISSUER, json!(RESOURCE)));
        let (status, _, body) = call(&svc, Some(&t)).await;
        assert_eq!(status, StatusCode::OK, "{header}");
        assert_eq!(body, "alice c-azp mcp:tools:call mcp:tools:read");
    }
    // scp as a space-separated string too.
    let mut c = generic_claims(ISSUER, json!(RESOURCE));
    c["scp"] = json!("mcp:tools:call");
    let (status, _, body) = call(&svc, Some(&f.token(&c))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "alice c-azp mcp:tools:call");
    // What stays mandatory: another typ, the issuer, the audience, exp.
    let id_token = json!({"alg": "EdDSA", "typ": "id+jwt", "kid": KID});
    let (_, www, _) = call(
        &svc,
        Some(&f.token_with_header(&id_token, &generic_claims(ISSUER, json!(RESOURCE)))),
    )
    .await;
    assert_eq!(
        www,
        Some(invalid_token(
            "token typ must be at+jwt or JWT (found id+jwt)"
        ))
    );
    let mut expired = generic_claims(ISSUER, json!(RESOURCE));
    expired["exp"] = json!(now() - 3600);
    let (status, _, _) = call(&svc, Some(&f.token(&expired))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = call(
        &svc,
        Some(&f.token(&generic_claims("http://evil.test", json!(RESOURCE)))),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn single_relaxation_turns_on_only_itself_rs12() {
    let f = Fixture::start().await;
    let svc = f.service_with(|b| {
        b.profile(TokenProfile {
            client_id_from_azp: true,
            ..TokenProfile::rfc9068()
        })
    });
    let mut c = claims(RESOURCE, now() + 600, "mcp:tools:call");
    c.as_object_mut().unwrap().remove("client_id");
    c["azp"] = json!("c-azp");
    let (status, _, body) = call(&svc, Some(&f.token(&c))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "alice c-azp mcp:tools:call");
    // typ JWT is still refused under this profile.
    let t = f.token_with_header(&json!({"alg": "EdDSA", "typ": "JWT", "kid": KID}), &c);
    let (_, www, _) = call(&svc, Some(&t)).await;
    assert_eq!(
        www,
        Some(invalid_token("token typ must be at+jwt (found JWT)"))
    );
}

#[tokio::test]
async fn any_configured_audience_is_accepted_and_others_refused_rs13() {
    let f = Fixture::start().await;
    let svc = f.service_with(|b| b.audiences(["api://app-id", "0000-guid"]));
    for aud in [json!("api://app-id"), json!(["x", "0000-guid"])] {
        let mut c = claims(RESOURCE, now() + 600, "mcp:tools:call");
        c["aud"] = aud.clone();
        let (status, _, _) = call(&svc, Some(&f.token(&c))).await;
        assert_eq!(status, StatusCode::OK, "{aud}");
    }
    // The resource itself is no longer accepted once audiences are configured.
    let (_, www, _) = call(
        &svc,
        Some(&f.token(&claims(RESOURCE, now() + 600, "mcp:tools:call"))),
    )
    .await;
    assert_eq!(
        www,
        Some(invalid_token(
            "token not issued for this resource: aud must contain api://app-id or 0000-guid (found http://rs.test/mcp)"
        ))
    );
}

#[tokio::test]
async fn trailing_slash_issuer_matches_exactly_rs14() {
    let f = Fixture::start().await;
    let svc = f.service_with(|b| b.issuer("http://as.test/"));
    let mut c = claims(RESOURCE, now() + 600, "mcp:tools:call");
    c["iss"] = json!("http://as.test/");
    let (status, _, _) = call(&svc, Some(&f.token(&c))).await;
    assert_eq!(status, StatusCode::OK);
    // Without the slash it is another issuer: no normalisation.
    let (_, www, _) = call(
        &svc,
        Some(&f.token(&claims(RESOURCE, now() + 600, "mcp:tools:call"))),
    )
    .await;
    assert_eq!(
        www,
        Some(invalid_token(
            "wrong issuer: iss must be http://as.test/ (found http://as.test)"
        ))
    );
}
