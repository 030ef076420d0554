//! `private_key_jwt` client authentication (issue 15 C, checklist EX-30).

use axum::http::StatusCode;
use shared::assertion::{CLIENT_ASSERTION_TYPE, client_assertion};
use shared::dpop::{Algorithm, JwkSet, SigningKey};

use super::{ISSUER, Reply, Server};

const CLIENT: &str = "key-service";

fn server(key: &SigningKey) -> Server {
    let jwks = JwkSet {
        keys: vec![key.public_jwk().clone()],
    };
    Server::with(|c| {
        c.clients.push(crate::config::ClientConfig {
            client_id: CLIENT.into(),
            client_secret: None,
            client_name: None,
            redirect_uris: vec![],
            grant_types: vec!["client_credentials".into()],
            scopes: vec![],
            dpop_bound_access_tokens: false,
            jwks: Some(jwks),
            jwks_uri: None,
        });
    })
}

impl Server {
    async fn with_assertion(&self, path: &str, extra: &[(&str, &str)], assertion: &str) -> Reply {
        let mut form = vec![
            ("client_assertion_type", CLIENT_ASSERTION_TYPE),
            ("client_assertion", assertion),
        ];
        form.extend_from_slice(extra);
        self.post_form(path, &form, None).await
    }
}

const CC: [(&str, &str); 1] = [("grant_type", "client_credentials")];

#[tokio::test]
async fn a_signed_assertion_authenticates_once_at_token_and_introspection_ex30() {
    let k = SigningKey::generate(Algorithm::ES256).unwrap();
    let s = server(&k);
    let now = s.state.clock.now_unix();
    for aud in [ISSUER.to_owned(), format!("{ISSUER}/token")] {
        let a = client_assertion(&k, CLIENT, &aud, now, 60).unwrap();
        let t = s
            .with_assertion("/token", &CC, &a)
            .await
            .assert_no_store_json(StatusCode::OK);
        assert_eq!(t["token_type"], "Bearer");
        // The same assertion again: a replay.
        s.with_assertion("/token", &CC, &a)
            .await
            .assert_oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client assertion was already used",
            );
        let at = t["access_token"].as_str().unwrap();
        let a = client_assertion(&k, CLIENT, &aud, now, 60).unwrap();
        let i = s
            .with_assertion("/introspect", &[("token", at)], &a)
            .await
            .assert_no_store_json(StatusCode::OK);
        assert_eq!(i["active"], true);
    }
}

#[tokio::test]
async fn bad_assertions_are_invalid_client_ex30() {
    let k = SigningKey::generate(Algorithm::ES256).unwrap();
    let s = server(&k);
    let now = s.state.clock.now_unix();
    let other = SigningKey::generate(Algorithm::ES256).unwrap();
    let cases = [
        (
            client_assertion(&k, CLIENT, "https://elsewhere.example", now, 60).unwrap(),
            "client assertion refused: assertion aud does not name this authorization server",
        ),
        (
            client_assertion(&k, CLIENT, ISSUER, now - 600, 60).unwrap(),
            "client assertion refused: assertion has expired",
        ),
        (
            client_assertion(&k, CLIENT, ISSUER, now, 3_600).unwrap(),
            "client assertion refused: assertion lifetime is longer than allowed",
        ),
        (
            client_assertion(&other, CLIENT, ISSUER, now, 60).unwrap(),
            "client assertion refused: assertion: DPoP proof signature is invalid",
        ),
        (
            client_assertion(&k, "mcp-service", ISSUER, now, 60).unwrap(),
            "unknown client or bad credentials",
        ),
        ("garbage".to_owned(), "client assertion is malformed"),
    ];
    for (a, why) in cases {
        s.with_assertion("/token", &CC, &a)
            .await
            .assert_oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", why);
    }
    // The key-holding client by its id alone, or with a wrong assertion type.
    s.token(
        &[("grant_type", "client_credentials"), ("client_id", CLIENT)],
        None,
    )
    .await
    .assert_oauth_error(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        "this client authenticates with private_key_jwt",
    );
    let a = client_assertion(&k, CLIENT, ISSUER, now, 60).unwrap();
    s.post_form(
        "/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", "urn:example:other"),
            ("client_assertion", &a),
        ],
        None,
    )
    .await
    .assert_oauth_error(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        "unsupported client_assertion_type",
    );
    // An assertion and a secret: two methods.
    s.post_form(
        "/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", CLIENT_ASSERTION_TYPE),
            ("client_assertion", &a),
        ],
        Some(("mcp-service", "dev-service-secret")),
    )
    .await
    .assert_oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "use exactly one client authentication method",
    );
}

/// EX-05, EX-30 through registration: a client registered (with the initial access token)
/// with `private_key_jwt`, its `jwks` and `dpop_bound_access_tokens` authenticates with an
/// assertion and gets a token only with a DPoP proof; private keys and a key-less
/// `private_key_jwt` registration are refused.
#[tokio::test]
async fn a_registered_key_client_with_dpop_bound_tokens_ex05_ex30() {
    use axum::body::Body;
    use axum::http::{Method, Request, header};
    const IAT: &str = "initial-access-token-for-tests";
    let s = Server::with(|c| {
        c.registration_policy.initial_access_token =
            Some(shared::secret::ClientSecret::new(IAT.into()));
    });
    let register = |body: serde_json::Value| {
        Request::builder()
            .method(Method::POST)
            .uri("/register")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, format!("Bearer {IAT}"))
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let k = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let public = serde_json::to_value(k.public_jwk()).unwrap();
    let mut private = public.clone();
    private["d"] = "c2VjcmV0".into();
    let base = |jwks: serde_json::Value| {
        serde_json::json!({
            "token_endpoint_auth_method": "private_key_jwt",
            "grant_types": ["client_credentials"],
            "dpop_bound_access_tokens": true,
            "jwks": jwks,
        })
    };
    s.send(register(base(serde_json::json!({ "keys": [private] }))))
        .await
        .assert_oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client_metadata",
            "jwks must hold public asymmetric keys only",
        );
    let reg = s
        .send(register(base(serde_json::json!({ "keys": [public] }))))
        .await
        .assert_no_store_json(StatusCode::CREATED);
    assert!(reg.get("client_secret").is_none(), "{reg}");
    let id = reg["client_id"].as_str().unwrap().to_owned();
    let now = s.state.clock.now_unix();
    let a = client_assertion(&k, &id, ISSUER, now, 60).unwrap();
    s.with_assertion("/token", &CC, &a)
        .await
        .assert_oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_dpop_proof",
            "this client must send a DPoP proof",
        );
    let dpop = SigningKey::generate(Algorithm::ES256).unwrap();
    let proof =
        shared::dpop::proof(&dpop, "POST", &format!("{ISSUER}/token"), None, None, now).unwrap();
    let a = client_assertion(&k, &id, ISSUER, now, 60).unwrap();
    let t = s
        .post_form_with(
            "/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_assertion_type", CLIENT_ASSERTION_TYPE),
                ("client_assertion", &a),
            ],
            None,
            &[("DPoP", &proof)],
        )
        .await
        .assert_no_store_json(StatusCode::OK);
    assert_eq!(t["token_type"], "DPoP");
}
