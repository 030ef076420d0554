//! `POST /token` for codes and client credentials: RFC 9068 access tokens (AS-46..AS-48,
//! AS-51), PKCE at redemption (AS-32, AS-45), single-use and expiring codes (AS-23, AS-34),
//! redirect URI binding (AS-33), client authentication (AS-30, AS-37, AS-38), and hostile
//! requests (AS-29, AS-36, AS-37).

use serde_json::Value;
use tests::oauth::{CLI, SERVICE, introspect, token_request};
use tests::{auth_server, get_json, http, loopback_listener};

use super::{RESOURCE, cli_tokens, code_for_cli, exchange, refresh, str_of};

#[tokio::test]
async fn access_token_is_rfc9068_jwt_verifiable_with_jwks_as46_as47_as48_as51() {
    for alg in ["ES256", "EdDSA", "RS256"] {
        let s = auth_server(|c| {
            c.signing_algorithm = auth_server::config::SigningAlgorithm::parse(alg).unwrap()
        })
        .await;
        let issuer = s.issuer();
        let t = cli_tokens(issuer).await;
        let at = str_of(&t, "access_token");
        let header = jsonwebtoken::decode_header(at).unwrap();
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(format!("{:?}", header.alg), alg);
        let jwks: jsonwebtoken::jwk::JwkSet = get_json(&http(), &format!("{issuer}/jwks")).await;
        let jwk = jwks
            .find(header.kid.as_deref().unwrap())
            .expect("kid resolves in the JWKS");
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
        let mut val = jsonwebtoken::Validation::new(header.alg);
        val.set_audience(&[RESOURCE]);
        val.set_issuer(&[issuer]);
        val.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let claims: Value = jsonwebtoken::decode(at, &key, &val).unwrap().claims;
        for c in [
            "iss",
            "exp",
            "aud",
            "sub",
            "client_id",
            "iat",
            "jti",
            "scope",
            "nbf",
        ] {
            assert!(claims.get(c).is_some(), "{alg}: claim {c}");
        }
        assert_eq!(claims["aud"], RESOURCE);
        assert_eq!(claims["client_id"], CLI);
        assert_eq!(claims["sub"], "demo-user");
    }
}

#[tokio::test]
async fn wrong_verifier_is_invalid_grant_and_does_not_burn_the_code_as32_as45() {
    let s = auth_server(|_| {}).await;
    let issuer = s.issuer();
    let (code, v) = code_for_cli(issuer).await;
    let wrong = shared::pkce::PkceVerifier::generate();
    let res = exchange(issuer, &code, wrong.secret()).send().await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_grant");
    // The failed attempt did not consume the code.
    let res = exchange(issuer, &code, v.secret()).send().await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn replayed_code_is_refused_and_its_tokens_revoked_as23_as34() {
    let s = auth_server(|_| {}).await;
    let issuer = s.issuer();
    let (code, v) = code_for_cli(issuer).await;
    let first = exchange(issuer, &code, v.secret()).json().await;
    let at = str_of(&first, "access_token");
    assert_eq!(introspect(issuer, at).await["active"], true);
    let res = exchange(issuer, &code, v.secret()).send().await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_grant");
    assert_eq!(introspect(issuer, at).await["active"], false);
    let rt = str_of(&first, "refresh_token");
    assert_eq!(refresh(issuer, rt).send().await.status(), 400);
}

#[tokio::test]
async fn redirect_uri_must_match_at_token_endpoint_as33() {
    let s = auth_server(|_| {}).await;
    let issuer = s.issuer();
    let (code, v) = code_for_cli(issuer).await;
    let res = token_request(issuer)
        .authorization_code(&code, v.secret())
        .client_id(CLI)
        .redirect_uri("http://127.0.0.1:45679/callback")
        .json()
        .await;
    assert_eq!(res["error"], "invalid_grant");
}

#[tokio::test]
async fn expired_code_is_refused_as23() {
    let clock = shared::clock::TestClock::starting_now();
    let s = auth_server::serve_with_clock(
        loopback_listener().await,
        auth_server::Config::default(),
        std::sync::Arc::new(clock.clone()),
    )
    .await
    .unwrap();
    let issuer = s.issuer();
    let (code, v) = code_for_cli(issuer).await;
    clock.advance(std::time::Duration::from_secs(61));
    let res = exchange(issuer, &code, v.secret()).json().await;
    assert_eq!(res["error"], "invalid_grant");
}

#[tokio::test]
async fn client_authentication_errors_as30_as37_as38() {
    let s = auth_server(|_| {}).await;
    let token = || token_request(s.issuer());
    // Wrong secret over Basic: 401 with a Basic challenge.
    let res = token()
        .grant("client_credentials")
        .basic(SERVICE.0, "wrong-secret")
        .send()
        .await;
    assert_eq!(res.status(), 401);
    let challenge = res.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.starts_with("Basic"));
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );
    // Unknown client: invalid_client, never invalid_grant.
    let res = token().refresh("x").client_id("nobody").send().await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );
    // Two methods at once.
    let res = token()
        .service_credentials()
        .param("client_secret", SERVICE.1)
        .json()
        .await;
    assert_eq!(res["error"], "invalid_request");
    // client_secret_basic without client_id in the body, and client_secret_post, both work.
    let res = token().service_credentials().send().await;
    assert_eq!(res.status(), 200);
    assert!(
        res.json::<Value>()
            .await
            .unwrap()
            .get("refresh_token")
            .is_none()
    );
    let res = token()
        .grant("client_credentials")
        .client_id(SERVICE.0)
        .param("client_secret", SERVICE.1)
        .scope("mcp:tools:read")
        .send()
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap()["scope"],
        "mcp:tools:read"
    );
    // A public client cannot use client_credentials.
    let res = token()
        .grant("client_credentials")
        .client_id(CLI)
        .json()
        .await;
    assert_eq!(res["error"], "unauthorized_client");
}

#[tokio::test]
async fn hostile_token_requests_get_rfc_errors_as29_as36_as37() {
    let s = auth_server(|_| {}).await;
    let url = format!("{}/token", s.issuer());
    let c = http();
    let form_body = |body: Vec<u8>| {
        c.post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    };
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (
            form_body(
                b"grant_type=client_credentials&grant_type=refresh_token&client_id=mcp-cli"
                    .to_vec(),
            ),
            400,
            "invalid_request",
        ),
        (
            c.post(&url)
                .header("content-type", "application/json")
                .body("{\"grant_type\":\"client_credentials\"}"),
            400,
            "invalid_request",
        ),
        (
            c.post(&url)
                .form(&[("grant_type", "password"), ("client_id", CLI)]),
            400,
            "unsupported_grant_type",
        ),
        (
            c.post(&url).form(&[("client_id", CLI)]),
            400,
            "invalid_request",
        ),
        (
            form_body(vec![0xff, 0xfe, b'=', b'%', b'%']),
            400,
            "invalid_request",
        ),
        (
            form_body("x=".repeat(40_000).into_bytes()),
            413,
            "invalid_request",
        ),
        (c.get(&url), 405, "invalid_request"),
    ];
    for (req, status, code) in cases {
        let res = req.send().await.unwrap();
        assert_eq!(res.status().as_u16(), status);
        assert_eq!(res.headers()["cache-control"], "no-store");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], code, "{body}");
    }
}
