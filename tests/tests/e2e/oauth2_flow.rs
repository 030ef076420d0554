//! Authorization-server behaviour over real HTTP: discovery, registration, code + PKCE,
//! refresh rotation, client credentials, revocation, introspection, and the AS rows of the
//! checklist (each test names the IDs it proves).

use serde_json::Value;
use tests::*;

const CLI: &str = "mcp-cli";
const REDIRECT: &str = "http://127.0.0.1:45678/callback";
const RESOURCE: &str = "http://127.0.0.1:3003/mcp";

async fn form(url: String, body: &[(&str, &str)]) -> reqwest::Response {
    http().post(url).form(body).send().await.expect("post")
}

async fn json(res: reqwest::Response) -> Value {
    res.json().await.expect("json body")
}

async fn code_for_cli(issuer: &str) -> (String, shared::pkce::PkceVerifier) {
    let (v, c) = pkce();
    let code = authorize_code(
        issuer,
        CLI,
        REDIRECT,
        &c,
        &[("scope", "mcp"), ("resource", RESOURCE)],
    )
    .await;
    (code, v)
}

async fn exchange(issuer: &str, code: &str, verifier: &str) -> reqwest::Response {
    form(
        format!("{issuer}/token"),
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", verifier),
            ("client_id", CLI),
            ("redirect_uri", REDIRECT),
            ("resource", RESOURCE),
        ],
    )
    .await
}

async fn refresh(issuer: &str, rt: &str) -> reqwest::Response {
    form(
        format!("{issuer}/token"),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("client_id", CLI),
        ],
    )
    .await
}

async fn introspect(issuer: &str, token: &str) -> Value {
    let res = http()
        .post(format!("{issuer}/introspect"))
        .basic_auth("mcp-server", Some("dev-mcp-server-secret"))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    json(res).await
}

#[tokio::test]
async fn metadata_is_generated_from_config_as01_as03_as04_as05_as06_as07_as08_as09() {
    let s = auth_server(|_| {}).await;
    let issuer = s.issuer();
    let res = http()
        .get(format!("{issuer}/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let m = json(res).await;
    assert_eq!(m["issuer"], issuer);
    assert!(!issuer.ends_with('/'));
    assert_eq!(m["authorization_endpoint"], format!("{issuer}/authorize"));
    assert_eq!(m["token_endpoint"], format!("{issuer}/token"));
    assert_eq!(m["jwks_uri"], format!("{issuer}/jwks"));
    assert_eq!(m["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(
        m["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(m["authorization_response_iss_parameter_supported"], true);
    assert_eq!(m["client_id_metadata_document_supported"], true);
    assert!(
        m["grant_types_supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == "refresh_token")
    );
    assert!(
        m["token_endpoint_auth_methods_supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == "none")
    );
    for key in [
        "registration_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
        "scopes_supported",
    ] {
        assert!(m.get(key).is_some(), "{key}");
    }
    for (_, v) in m.as_object().unwrap() {
        assert_ne!(
            v,
            &serde_json::json!([]),
            "empty arrays are omitted (AS-03)"
        );
    }
    let oidc = json(
        http()
            .get(format!("{issuer}/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(oidc["issuer"], issuer);
    assert!(oidc.get("subject_types_supported").is_some());
    assert!(oidc.get("id_token_signing_alg_values_supported").is_some());
    assert_eq!(
        oidc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
}

#[tokio::test]
async fn black_box_client_does_register_authorize_token_refresh_revoke_introspect() {
    let s = auth_server(|_| {}).await;
    let issuer = s.issuer();
    // Registration (RFC 7591): 201 with all metadata (AS-63).
    let res = http()
        .post(format!("{issuer}/register"))
        .json(&serde_json::json!({
            "redirect_uris": ["http://127.0.0.1/cb"],
            "client_name": "black box",
            "unknown_field": "ignored (AS-64)",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let reg = json(res).await;
    let client_id = reg["client_id"].as_str().unwrap().to_owned();
    assert_eq!(reg["token_endpoint_auth_method"], "none");
    assert_eq!(reg["application_type"], "native");
    assert!(reg.get("client_secret").is_none());
    assert_eq!(
        reg["grant_types"],
        serde_json::json!(["authorization_code", "refresh_token"])
    );
    // Authorize with a loopback redirect on another port (AS-15).
    let (v, c) = pkce();
    let redirect = "http://127.0.0.1:61000/cb";
    let code = authorize_code(
        issuer,
        &client_id,
        redirect,
        &c,
        &[
            ("resource", RESOURCE),
            ("scope", "mcp:tools:read mcp:tools:call"),
        ],
    )
    .await;
    let res = form(
        format!("{issuer}/token"),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", v.secret()),
            ("client_id", &client_id),
            ("redirect_uri", redirect),
        ],
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let t = json(res).await;
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["scope"], "mcp:tools:call mcp:tools:read");
    assert!(t["expires_in"].as_u64().unwrap() > 0);
    let at = t["access_token"].as_str().unwrap().to_owned();
    let rt = t["refresh_token"].as_str().unwrap().to_owned();
    // Refresh rotates.
    let res = form(
        format!("{issuer}/token"),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
            ("client_id", &client_id),
        ],
    )
    .await;
    assert_eq!(res.status(), 200);
    let t2 = json(res).await;
    let rt2 = t2["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rt, rt2);
    // Introspection sees the access token.
    let i = introspect(issuer, &at).await;
    assert_eq!(i["active"], true);
    assert_eq!(i["client_id"], client_id.as_str());
    assert_eq!(i["aud"], RESOURCE);
    // Revoking the refresh token revokes the grant, and so the access tokens (AS-53).
    let res = form(
        format!("{issuer}/revoke"),
        &[("token", &rt2), ("client_id", &client_id)],
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        introspect(issuer, &at).await,
        serde_json::json!({"active": false})
    );
    assert_eq!(refresh(issuer, &rt2).await.status(), 400);
}

#[tokio::test]
async fn access_token_is_rfc9068_jwt_verifiable_with_jwks_as46_as47_as48_as51() {
    for alg in ["ES256", "EdDSA", "RS256"] {
        let s = auth_server(|c| {
            c.signing_algorithm = auth_server::config::SigningAlgorithm::parse(alg).unwrap()
        })
        .await;
        let issuer = s.issuer();
        let (code, v) = code_for_cli(issuer).await;
        let t = json(exchange(issuer, &code, v.secret()).await).await;
        let at = t["access_token"].as_str().unwrap();
        let header = jsonwebtoken::decode_header(at).unwrap();
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(format!("{:?}", header.alg), alg);
        let jwks: jsonwebtoken::jwk::JwkSet = http()
            .get(format!("{issuer}/jwks"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
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
async fn missing_or_plain_pkce_is_refused_by_redirect_as18_as19_as25() {
    let s = auth_server(|_| {}).await;
    let issuer = s.issuer();
    let (_, c) = pkce();
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![], "code_challenge"),
        (vec![("code_challenge", c.as_str())], "plain"),
        (
            vec![
                ("code_challenge", c.as_str()),
                ("code_challenge_method", "plain"),
            ],
            "S256",
        ),
        (
            vec![
                ("code_challenge", "short"),
                ("code_challenge_method", "S256"),
            ],
            "code_challenge",
        ),
    ];
    for (extra, needle) in cases {
        let mut q = vec![
            ("response_type", "code"),
            ("client_id", CLI),
            ("redirect_uri", REDIRECT),
            ("state", "xyz"),
        ];
        q.extend(extra);
        let res = http()
            .get(format!("{issuer}/authorize"))
            .query(&q)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303);
        let p = location_params(&res);
        assert_eq!(param(&p, "error"), Some("invalid_request"));
        assert!(
            param(&p, "error_description").unwrap().contains(needle),
            "{p:?}"
        );
        assert_eq!(param(&p, "state"), Some("xyz"));
        assert_eq!(param(&p, "iss"), Some(issuer));
        assert!(param(&p, "code").is_none());
    }
}

#[tokio::test]
async fn client_and_redirect_errors_are_shown_not_redirected_as14_as17_as28() {
    let s = auth_server(|_| {}).await;
    let issuer = s.issuer();
    let (_, c) = pkce();
    for (client, redirect) in [
        ("unknown-client", REDIRECT),
        (CLI, "http://127.0.0.1:45678/callback/extra"),
        (CLI, "http://evil.example/callback"),
        (CLI, "http://127.0.0.1:45678/CALLBACK"),
    ] {
        let res = http()
            .get(format!("{issuer}/authorize"))
            .query(&[
                ("response_type", "code"),
                ("client_id", client),
                ("redirect_uri", redirect),
                ("code_challenge", c.as_str()),
                ("code_challenge_method", "S256"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{client} {redirect}");
        assert!(res.headers().get("location").is_none());
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
    }
}

#[tokio::test]
async fn unsupported_response_type_and_unknown_resource_redirect_with_error_as13_as21() {
    let s = auth_server(|_| {}).await;
    let issuer = s.issuer();
    let (_, c) = pkce();
    let base = [
        ("client_id", CLI),
        ("redirect_uri", REDIRECT),
        ("code_challenge", c.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let mut q = base.to_vec();
    q.push(("response_type", "token"));
    let res = http()
        .get(format!("{issuer}/authorize"))
        .query(&q)
        .send()
        .await
        .unwrap();
    assert_eq!(
        param(&location_params(&res), "error"),
        Some("unsupported_response_type")
    );
    let mut q = base.to_vec();
    q.extend([
        ("response_type", "code"),
        ("resource", "https://other.example/mcp"),
    ]);
    let res = http()
        .get(format!("{issuer}/authorize"))
        .query(&q)
        .send()
        .await
        .unwrap();
    assert_eq!(
        param(&location_params(&res), "error"),
        Some("invalid_target")
    );
    let mut q = base.to_vec();
    q.extend([("response_type", "code"), ("scope", "admin")]);
    let res = http()
        .get(format!("{issuer}/authorize"))
        .query(&q)
        .send()
        .await
        .unwrap();
    assert_eq!(
        param(&location_params(&res), "error"),
        Some("invalid_scope")
    );
}

#[tokio::test]
async fn wrong_verifier_is_invalid_grant_and_does_not_burn_the_code_as32_as45() {
    let s = auth_server(|_| {}).await;
    let issuer = s.issuer();
    let (code, v) = code_for_cli(issuer).await;
    let wrong = shared::pkce::PkceVerifier::generate();
    let res = exchange(issuer, &code, wrong.secret()).await;
    assert_eq!(res.status(), 400);
    let e = json(res).await;
    assert_eq!(e["error"], "invalid_grant");
    // The failed attempt did not consume the code.
    assert_eq!(exchange(issuer, &code, v.secret()).await.status(), 200);
}

#[tokio::test]
async fn replayed_code_is_refused_and_its_tokens_revoked_as23_as34() {
    let s = auth_server(|_| {}).await;
    let issuer = s.issuer();
    let (code, v) = code_for_cli(issuer).await;
    let first = json(exchange(issuer, &code, v.secret()).await).await;
    let at = first["access_token"].as_str().unwrap();
    assert_eq!(introspect(issuer, at).await["active"], true);
    let res = exchange(issuer, &code, v.secret()).await;
    assert_eq!(res.status(), 400);
    assert_eq!(json(res).await["error"], "invalid_grant");
    assert_eq!(introspect(issuer, at).await["active"], false);
    assert_eq!(
        refresh(issuer, first["refresh_token"].as_str().unwrap())
            .await
            .status(),
        400
    );
}

#[tokio::test]
async fn redirect_uri_must_match_at_token_endpoint_as33() {
    let s = auth_server(|_| {}).await;
    let issuer = s.issuer();
    let (code, v) = code_for_cli(issuer).await;
    let res = form(
        format!("{issuer}/token"),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", v.secret()),
            ("client_id", CLI),
            ("redirect_uri", "http://127.0.0.1:45679/callback"),
        ],
    )
    .await;
    assert_eq!(json(res).await["error"], "invalid_grant");
}

#[tokio::test]
async fn expired_code_is_refused_as23() {
    let clock = shared::clock::TestClock::starting_now();
    let cfg = auth_server::Config::default();
    let s = auth_server::serve_with_clock(
        loopback_listener().await,
        cfg,
        std::sync::Arc::new(clock.clone()),
    )
    .await
    .unwrap();
    let issuer = s.issuer();
    let (code, v) = code_for_cli(issuer).await;
    clock.advance(std::time::Duration::from_secs(61));
    let res = exchange(issuer, &code, v.secret()).await;
    assert_eq!(json(res).await["error"], "invalid_grant");
}

#[tokio::test]
async fn rotated_refresh_token_reuse_revokes_the_grant_as41_as42() {
    let s = auth_server(|c| c.refresh_grace_secs = 0).await;
    let issuer = s.issuer();
    let (code, v) = code_for_cli(issuer).await;
    let t = json(exchange(issuer, &code, v.secret()).await).await;
    let rt1 = t["refresh_token"].as_str().unwrap().to_owned();
    let t2 = json(refresh(issuer, &rt1).await).await;
    let rt2 = t2["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(t2["scope"], "mcp");
    // Wait out the (zero-second) grace window: timestamps have one-second resolution.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let res = refresh(issuer, &rt1).await;
    assert_eq!(res.status(), 400);
    assert_eq!(json(res).await["error"], "invalid_grant");
    // The whole grant is dead: the current token and its access tokens too.
    assert_eq!(refresh(issuer, &rt2).await.status(), 400);
    assert_eq!(
        introspect(issuer, t2["access_token"].as_str().unwrap()).await["active"],
        false
    );
}

#[tokio::test]
async fn concurrent_refresh_within_grace_window_keeps_the_session_as45() {
    let s = auth_server(|_| {}).await;
    let issuer = s.issuer();
    let (code, v) = code_for_cli(issuer).await;
    let t = json(exchange(issuer, &code, v.secret()).await).await;
    let rt = t["refresh_token"].as_str().unwrap().to_owned();
    let (a, b) = tokio::join!(refresh(issuer, &rt), refresh(issuer, &rt));
    assert_eq!(a.status(), 200);
    assert_eq!(b.status(), 200);
    let rt_a = json(a).await["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(refresh(issuer, &rt_a).await.status(), 200);
}

#[tokio::test]
async fn refresh_scope_may_narrow_never_widen_as40() {
    let s = auth_server(|_| {}).await;
    let issuer = s.issuer();
    let (v, c) = pkce();
    let code = authorize_code(issuer, CLI, REDIRECT, &c, &[("scope", "mcp:tools:read")]).await;
    let t = json(exchange(issuer, &code, v.secret()).await).await;
    let rt = t["refresh_token"].as_str().unwrap();
    let res = form(
        format!("{issuer}/token"),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("client_id", CLI),
            ("scope", "mcp"),
        ],
    )
    .await;
    assert_eq!(json(res).await["error"], "invalid_scope");
}

#[tokio::test]
async fn client_authentication_errors_as30_as37_as38() {
    let s = auth_server(|_| {}).await;
    let issuer = s.issuer();
    let url = format!("{issuer}/token");
    // Wrong secret over Basic: 401 with a Basic challenge.
    let res = http()
        .post(&url)
        .basic_auth("mcp-service", Some("wrong-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(json(res).await["error"], "invalid_client");
    // Unknown client: invalid_client, never invalid_grant.
    let res = form(
        url.clone(),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", "nobody"),
        ],
    )
    .await;
    assert_eq!(res.status(), 401);
    assert_eq!(json(res).await["error"], "invalid_client");
    // Two methods at once.
    let res = http()
        .post(&url)
        .basic_auth("mcp-service", Some("dev-service-secret"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_secret", "dev-service-secret"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(json(res).await["error"], "invalid_request");
    // client_secret_basic without client_id in the body, and client_secret_post, both work.
    let res = http()
        .post(&url)
        .basic_auth("mcp-service", Some("dev-service-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let t = json(res).await;
    assert!(t.get("refresh_token").is_none());
    let res = form(
        url.clone(),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "mcp-service"),
            ("client_secret", "dev-service-secret"),
            ("scope", "mcp:tools:read"),
        ],
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(json(res).await["scope"], "mcp:tools:read");
    // A public client cannot use client_credentials.
    let res = form(
        url,
        &[("grant_type", "client_credentials"), ("client_id", CLI)],
    )
    .await;
    assert_eq!(json(res).await["error"], "unauthorized_client");
}

#[tokio::test]
async fn hostile_token_requests_get_rfc_errors_as29_as36_as37() {
    let s = auth_server(|_| {}).await;
    let issuer = s.issuer();
    let url = format!("{issuer}/token");
    let c = http();
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (
            c.post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body("grant_type=client_credentials&grant_type=refresh_token&client_id=mcp-cli"),
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
            c.post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(vec![0xff, 0xfe, b'=', b'%', b'%']),
            400,
            "invalid_request",
        ),
        (
            c.post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body("x=".repeat(40_000)),
            413,
            "invalid_request",
        ),
        (c.get(&url), 405, "invalid_request"),
    ];
    for (req, status, code) in cases {
        let res = req.send().await.unwrap();
        assert_eq!(res.status().as_u16(), status);
        assert_eq!(res.headers()["cache-control"], "no-store");
        let body = json(res).await;
        assert_eq!(body["error"], code, "{body}");
    }
}

#[tokio::test]
async fn registration_rules_as63_as65_as66_as67() {
    let s = auth_server(|_| {}).await;
    let issuer = s.issuer();
    let url = format!("{issuer}/register");
    let bad: Vec<(Value, &str)> = vec![
        (
            serde_json::json!({"redirect_uris": ["http://evil.example/cb"]}),
            "invalid_redirect_uri",
        ),
        (
            serde_json::json!({"redirect_uris": ["https://app.example/cb#x"]}),
            "invalid_redirect_uri",
        ),
        (
            serde_json::json!({"redirect_uris": ["http://127.0.0.1/cb"], "application_type": "web"}),
            "invalid_redirect_uri",
        ),
        (serde_json::json!({}), "invalid_redirect_uri"),
        (
            serde_json::json!({"redirect_uris": "https://app.example/cb"}),
            "invalid_client_metadata",
        ),
        (
            serde_json::json!({"redirect_uris": ["https://app.example/cb"], "token_endpoint_auth_method": "private_key_jwt"}),
            "invalid_client_metadata",
        ),
        (
            serde_json::json!({"redirect_uris": ["https://app.example/cb"], "jwks": {}, "jwks_uri": "https://app.example/jwks"}),
            "invalid_client_metadata",
        ),
        (
            serde_json::json!({"redirect_uris": ["https://app.example/cb"], "client_name": "x".repeat(500)}),
            "invalid_client_metadata",
        ),
        (
            serde_json::json!({"redirect_uris": vec!["https://app.example/cb"; 11]}),
            "invalid_redirect_uri",
        ),
    ];
    for (body, code) in bad {
        let res = http().post(&url).json(&body).send().await.unwrap();
        assert_eq!(res.status(), 400, "{body}");
        assert_eq!(json(res).await["error"], code, "{body}");
    }
    let res = http()
        .post(&url)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(json(res).await["error"], "invalid_client_metadata");
    // Confidential registration returns a secret that expires never (0), and an AS-chosen id.
    let res = http().post(&url).json(&serde_json::json!({
        "redirect_uris": ["https://app.example/cb"], "token_endpoint_auth_method": "client_secret_post",
        "client_id": "i-choose-my-id"})).send().await.unwrap();
    assert_eq!(res.status(), 201);
    let reg = json(res).await;
    assert_ne!(reg["client_id"], "i-choose-my-id");
    assert_eq!(reg["client_secret_expires_at"], 0);
    assert!(reg["client_secret"].as_str().unwrap().len() >= 32);
    assert_eq!(reg["application_type"], "web");
}

#[tokio::test]
async fn introspection_requires_client_authentication_as54_as55() {
    let s = auth_server(|_| {}).await;
    let issuer = s.issuer();
    let res = form(format!("{issuer}/introspect"), &[("token", "abc")]).await;
    assert_eq!(res.status(), 401);
    let res = form(
        format!("{issuer}/introspect"),
        &[("token", "abc"), ("client_id", CLI)],
    )
    .await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        introspect(issuer, "not-a-token").await,
        serde_json::json!({"active": false})
    );
}

#[tokio::test]
async fn revoking_an_access_token_makes_introspection_inactive_as52_as53() {
    let s = auth_server(|_| {}).await;
    let issuer = s.issuer();
    let (code, v) = code_for_cli(issuer).await;
    let t = json(exchange(issuer, &code, v.secret()).await).await;
    let at = t["access_token"].as_str().unwrap();
    // Another client cannot revoke it (silently ignored, still 200).
    let res = http()
        .post(format!("{issuer}/revoke"))
        .basic_auth("mcp-service", Some("dev-service-secret"))
        .form(&[("token", at)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(introspect(issuer, at).await["active"], true);
    let res = form(
        format!("{issuer}/revoke"),
        &[
            ("token", at),
            ("client_id", CLI),
            ("token_type_hint", "access_token"),
        ],
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(introspect(issuer, at).await["active"], false);
    // Unknown tokens also get 200 (RFC 7009 §2.2).
    let res = form(
        format!("{issuer}/revoke"),
        &[("token", "garbage"), ("client_id", CLI)],
    )
    .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn consent_page_csrf_and_framing_protection_as27_as61() {
    let s = auth_server(|c| c.auto_approve = false).await;
    let issuer = s.issuer();
    let (v, c) = pkce();
    let res = http()
        .get(format!("{issuer}/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", CLI),
            ("redirect_uri", REDIRECT),
            ("code_challenge", c.as_str()),
            ("code_challenge_method", "S256"),
            ("state", "s1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    assert!(
        res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    let cookie = res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let page = res.text().await.unwrap();
    assert!(
        page.contains("127.0.0.1"),
        "the redirect host is shown (AS-61)"
    );
    let field = |name: &str| -> String {
        let start = page.find(&format!("name=\"{name}\" value=\"")).unwrap() + name.len() + 15;
        page[start..].split('"').next().unwrap().to_owned()
    };
    let (rid, csrf) = (field("request_id"), field("csrf_token"));
    let decide = |csrf: String, cookie: Option<String>| {
        let mut r = http().post(format!("{issuer}/authorize/decision")).form(&[
            ("request_id", rid.clone()),
            ("csrf_token", csrf),
            ("decision", "approve".into()),
        ]);
        if let Some(c) = cookie {
            r = r.header("cookie", c);
        }
        r.send()
    };
    // A forged CSRF value is refused (and burns the pending request).
    assert_eq!(
        decide("forged".into(), Some(cookie.clone()))
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        decide(csrf.clone(), Some(cookie.clone()))
            .await
            .unwrap()
            .status(),
        400
    );
    // A fresh request approved with the right CSRF value and cookie redirects with 303.
    let res = http()
        .get(format!("{issuer}/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", CLI),
            ("redirect_uri", REDIRECT),
            ("code_challenge", c.as_str()),
            ("code_challenge_method", "S256"),
            ("state", "s2"),
        ])
        .send()
        .await
        .unwrap();
    let cookie = res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let page = res.text().await.unwrap();
    let get = |name: &str| -> String {
        let start = page.find(&format!("name=\"{name}\" value=\"")).unwrap() + name.len() + 15;
        page[start..].split('"').next().unwrap().to_owned()
    };
    let res = http()
        .post(format!("{issuer}/authorize/decision"))
        .header("cookie", cookie)
        .form(&[
            ("request_id", get("request_id")),
            ("csrf_token", get("csrf_token")),
            ("decision", "approve".into()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let p = location_params(&res);
    assert_eq!(param(&p, "state"), Some("s2"));
    let code = param(&p, "code").unwrap().to_owned();
    assert_eq!(exchange(issuer, &code, v.secret()).await.status(), 200);
}

#[tokio::test]
async fn fault_injection_drives_token_endpoint_failures() {
    let s = auth_server(|_| {}).await;
    let issuer = s.issuer();
    let ok = || {
        http()
            .post(format!("{issuer}/token"))
            .basic_auth("mcp-service", Some("dev-service-secret"))
            .form(&[("grant_type", "client_credentials")])
            .send()
    };
    assert!(
        s.faults()
            .set("token", auth_server::Fault::Status { status: 503 }, Some(1))
    );
    let res = ok().await.unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(json(res).await["error"], "temporarily_unavailable");
    assert_eq!(ok().await.unwrap().status(), 200);
    // Over HTTP: malformed JSON once.
    let res = http().post(format!("{issuer}/_faults")).json(&serde_json::json!({"endpoint": "token", "fault": {"kind": "malformed_json"}, "times": 1})).send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert!(ok().await.unwrap().json::<Value>().await.is_err());
    // Key switch: the JWKS now has a new current key and keeps the old one.
    let before: Value = json(http().get(format!("{issuer}/jwks")).send().await.unwrap()).await;
    let kid = s.faults().rotate_keys().unwrap();
    let after: Value = json(http().get(format!("{issuer}/jwks")).send().await.unwrap()).await;
    assert_eq!(after["keys"][0]["kid"], kid.as_str());
    assert_eq!(after["keys"][1]["kid"], before["keys"][0]["kid"]);
}

#[tokio::test]
async fn fault_endpoints_do_not_exist_unless_enabled() {
    let s = auth_server(|c| c.faults.enabled = false).await;
    let res = http()
        .post(format!("{}/_faults", s.issuer()))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert!(
        !s.faults()
            .set("token", auth_server::Fault::MalformedJson, None)
    );
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let s = auth_server(|c| c.rate_limits.register_per_minute = 2).await;
    let url = format!("{}/register", s.issuer());
    let body = serde_json::json!({"redirect_uris": ["http://127.0.0.1/cb"]});
    for _ in 0..2 {
        assert_eq!(
            http().post(&url).json(&body).send().await.unwrap().status(),
            201
        );
    }
    let res = http().post(&url).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.headers().get("retry-after").is_some());
}

#[tokio::test]
async fn binary_prints_listening_line_and_exits_2_on_bad_config() {
    let bin = workspace_binary("http-oauth2-mock-server");
    if !bin.exists() {
        panic!(
            "{} not built; run the tests through `cargo nextest run --workspace`",
            bin.display()
        );
    }
    let dir = std::env::temp_dir().join(format!("as-bin-{}", shared::random::token()));
    let mut child = tokio::process::Command::new(&bin)
        .args(["--bind", "127.0.0.1:0", "--keys-dir"])
        .arg(&dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    use tokio::io::AsyncBufReadExt as _;
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(std::time::Duration::from_secs(20), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let addr = line
        .strip_prefix("listening on http://")
        .expect(&line)
        .to_owned();
    assert!(!addr.ends_with(":0"));
    let m = json(
        http()
            .get(format!(
                "http://{addr}/.well-known/oauth-authorization-server"
            ))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(m["issuer"], format!("http://{addr}"));
    assert!(dir.join("signing_key.pem").exists());
    child.kill().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    // Bad config: clear message, exit code 2.
    let bad = std::env::temp_dir().join(format!("bad-{}.toml", shared::random::token()));
    std::fs::write(&bad, "issuer = 42\nnot_a_key = true\n").unwrap();
    let out = tokio::process::Command::new(&bin)
        .arg("--config")
        .arg(&bad)
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("error"));
    let _ = std::fs::remove_file(&bad);
}

/// Serves one JSON document on loopback and returns its URL.
async fn serve_document(
    doc: impl Fn(&str) -> Value + Send + Sync + 'static,
) -> (String, tokio::task::JoinHandle<()>) {
    let listener = loopback_listener().await;
    let url = format!("http://{}/client.json", listener.local_addr().unwrap());
    let body = doc(&url);
    let app = axum::Router::new().route(
        "/client.json",
        axum::routing::get(move || {
            let body = body.clone();
            async move { axum::Json(body) }
        }),
    );
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, task)
}

#[tokio::test]
async fn client_id_metadata_document_is_fetched_and_validated_as56_as57_as58() {
    let s = auth_server(|c| c.insecure_allow_loopback_metadata_documents = true).await;
    let issuer = s.issuer();
    let (url, _doc) = serve_document(|url| {
        serde_json::json!({
            "client_id": url, "client_name": "CIMD app",
            "redirect_uris": ["http://127.0.0.1/cb"], "token_endpoint_auth_method": "none"
        })
    })
    .await;
    let (v, c) = pkce();
    let code = authorize_code(issuer, &url, "http://127.0.0.1:40000/cb", &c, &[]).await;
    let res = form(
        format!("{issuer}/token"),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", v.secret()),
            ("client_id", &url),
            ("redirect_uri", "http://127.0.0.1:40000/cb"),
        ],
    )
    .await;
    assert_eq!(res.status(), 200);
    // A redirect URI not in the document is shown as an error, not redirected (AS-58).
    let res = http()
        .get(format!("{issuer}/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", url.as_str()),
            ("redirect_uri", "https://evil.example/cb"),
            ("code_challenge", c.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.headers().get("location").is_none());
}

#[tokio::test]
async fn metadata_document_with_mismatched_id_or_secret_is_refused_as57() {
    let s = auth_server(|c| c.insecure_allow_loopback_metadata_documents = true).await;
    let issuer = s.issuer();
    for doc in [
        serde_json::json!({"client_id": "https://other.example/client.json", "client_name": "x", "redirect_uris": ["http://127.0.0.1/cb"]}),
        serde_json::json!({"client_name": "x", "redirect_uris": ["http://127.0.0.1/cb"], "client_secret": "s3cret-s3cret"}),
    ] {
        let (url, _doc) = serve_document(move |url| {
            let mut d = doc.clone();
            if d.get("client_id").is_none() {
                d["client_id"] = serde_json::json!(url);
            }
            d
        })
        .await;
        let (_, c) = pkce();
        let res = http()
            .get(format!("{issuer}/authorize"))
            .query(&[
                ("response_type", "code"),
                ("client_id", url.as_str()),
                ("redirect_uri", "http://127.0.0.1:40000/cb"),
                ("code_challenge", c.as_str()),
                ("code_challenge_method", "S256"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400);
        assert!(res.headers().get("location").is_none());
    }
}

#[tokio::test]
async fn metadata_document_on_loopback_is_blocked_without_the_insecure_setting_as60() {
    let s = auth_server(|_| {}).await;
    let (url, _doc) = serve_document(|url| serde_json::json!({"client_id": url, "client_name": "x", "redirect_uris": ["http://127.0.0.1/cb"]})).await;
    let (_, c) = pkce();
    let res = http()
        .get(format!("{}/authorize", s.issuer()))
        .query(&[
            ("response_type", "code"),
            ("client_id", url.as_str()),
            ("redirect_uri", "http://127.0.0.1:40000/cb"),
            ("code_challenge", c.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("https is required"));
}
