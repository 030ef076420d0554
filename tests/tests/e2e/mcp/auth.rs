//! The MCP server as an OAuth resource server: Protected Resource Metadata (RS-01..RS-04),
//! challenges (RS-06, RS-07), token placement (RS-10), token validation (RS-12..RS-16) and
//! introspection (RS-13).

use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use tests::mcp::{LEGACY, challenge, content_type};
use tests::mcp_fixture::{ALL, mcp_fixture, mcp_fixture_with, mcp_server_for};
use tests::mock_as::{MockAs, at_header, claims, ed25519, es256, forge, now, rs256, sign};

#[tokio::test]
async fn rs01_rs02_rs04_prm_served_at_path_inserted_and_root_urls() {
    let s = mcp_fixture().await;
    let root = format!("{}/.well-known/oauth-protected-resource", s.base());
    for url in [s.prm_url(), root] {
        let r = s.http.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200, "{url}");
        assert!(content_type(&r).starts_with("application/json"));
        let d: Value = r.json().await.unwrap();
        assert_eq!(d["resource"], s.url);
        assert!(!s.url.ends_with('/'));
        assert_eq!(d["authorization_servers"], json!([s.as_.issuer]));
        assert_eq!(d["bearer_methods_supported"], json!(["header"]));
        let scopes = d["scopes_supported"].as_array().unwrap();
        assert!(scopes.contains(&json!("mcp:tools:call")));
        assert!(!scopes.contains(&json!("offline_access")));
    }
}

#[tokio::test]
async fn rs06_no_token_gets_401_with_resource_metadata_and_no_error_code() {
    let s = mcp_fixture().await;
    let r = tests::mcp_post(
        &s.url,
        None,
        tests::mcp::jsonrpc::request(1, "ping", json!({})),
    )
    .await;
    assert_eq!(r.status(), 401);
    let w = challenge(&r);
    assert_eq!(w, format!("Bearer resource_metadata=\"{}\"", s.prm_url()));
    assert!(!w.contains("error="));
}

#[tokio::test]
async fn rs10_token_in_query_string_is_refused() {
    let s = mcp_fixture().await;
    let t = s.token(ALL);
    let r = tests::mcp_post(
        &format!("{}?access_token={t}", s.url),
        None,
        tests::mcp::jsonrpc::request(1, "initialize", json!({})),
    )
    .await;
    assert_eq!(r.status(), 400);
    assert!(challenge(&r).contains("invalid_request"));
}

/// RS-12..RS-15: every forged, misdirected or expired token gets 401 `invalid_token` with the
/// resource metadata URL; a `jku` is never fetched; the correct token works (the control).
#[tokio::test]
async fn rs12_rs13_rs14_rs15_attack_tokens_get_401_invalid_token() {
    let s = mcp_fixture().await;
    let (iss, aud) = (s.as_.issuer.clone(), s.url.clone());
    let other = es256();
    let good = || claims(&iss, &aud, ALL);
    let edited = |edit: &dyn Fn(&mut Value)| {
        let mut c = good();
        edit(&mut c);
        sign(&s.key, &c, Some("at+jwt"))
    };
    let alg_none = format!(
        "{}.{}.",
        shared::random::b64url(
            json!({"alg":"none","typ":"at+jwt","kid": s.key.kid})
                .to_string()
                .as_bytes()
        ),
        shared::random::b64url(good().to_string().as_bytes())
    );
    // HS256 signed with the public key material (key confusion).
    let public_material = EncodingKey::from_secret(&serde_json::to_vec(&s.key.jwk).unwrap());
    // RS-15: a jku pointing at an attacker's JWKS is never fetched.
    let attacker = MockAs::start(&[&other], 300).await;
    let mut jku = at_header(Algorithm::ES256, &other.kid);
    jku.jku = Some(format!("{}/jwks", attacker.issuer));
    let cases: Vec<(&str, String)> = vec![
        (
            "wrong aud",
            sign(
                &s.key,
                &claims(&iss, "http://127.0.0.1:1/mcp", ALL),
                Some("at+jwt"),
            ),
        ),
        (
            "wrong iss",
            sign(
                &s.key,
                &claims("http://127.0.0.1:1", &aud, ALL),
                Some("at+jwt"),
            ),
        ),
        ("expired", edited(&|c| c["exp"] = json!(now() - 3600))),
        ("nbf in future", edited(&|c| c["nbf"] = json!(now() + 3600))),
        ("missing typ", sign(&s.key, &good(), None)),
        ("typ JWT", sign(&s.key, &good(), Some("JWT"))),
        (
            "no iss",
            edited(&|c| drop(c.as_object_mut().unwrap().remove("iss"))),
        ),
        ("alg none", alg_none),
        (
            "HS256 with public key",
            forge(
                &at_header(Algorithm::HS256, &s.key.kid),
                &good(),
                &public_material,
            ),
        ),
        ("unknown kid", sign(&other, &good(), Some("at+jwt"))),
        // A key from another JWKS presenting our key's kid.
        (
            "key from another JWKS",
            forge(
                &at_header(Algorithm::ES256, &s.key.kid),
                &good(),
                &other.enc,
            ),
        ),
        ("jku to attacker JWKS", forge(&jku, &good(), &other.enc)),
        ("garbage", "not.a.jwt".to_owned()),
    ];
    for (name, token) in cases {
        let r = s.initialize(&token, LEGACY).await;
        assert_eq!(r.status(), 401, "{name}");
        let w = challenge(&r);
        assert!(w.contains("error=\"invalid_token\""), "{name}: {w}");
        let metadata = format!("resource_metadata=\"{}\"", s.prm_url());
        assert!(w.contains(&metadata), "{name}: {w}");
    }
    assert_eq!(attacker.jwks_hits(), 0);
    assert_eq!(s.initialize(&s.token(ALL), LEGACY).await.status(), 200);
}

/// POSTs `initialize` with `token` to `server`; returns the status.
async fn initialize_status(server: &mcp_server::RunningServer, token: &str, version: &str) -> u16 {
    tests::mcp_post(
        server.resource_url(),
        Some(token),
        tests::mcp::jsonrpc::initialize(version),
    )
    .await
    .status()
    .as_u16()
}

#[tokio::test]
async fn rs14_eddsa_tokens_verify_against_okp_jwk() {
    let key = ed25519();
    let as_ = MockAs::start(&[&key], 300).await;
    let server = mcp_server_for(&as_.issuer, |_| {}).await;
    let t = sign(
        &key,
        &claims(&as_.issuer, server.resource_url(), ALL),
        Some("at+jwt"),
    );
    assert_eq!(initialize_status(&server, &t, "2025-06-18").await, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn rs14_rs256_tokens_verify_and_alg_switch_is_refused() {
    let key = rs256();
    let ec = es256();
    let as_ = MockAs::start(&[&key, &ec], 300).await;
    let server = mcp_server_for(&as_.issuer, |_| {}).await;
    let c = claims(&as_.issuer, server.resource_url(), ALL);
    assert_eq!(
        initialize_status(&server, &sign(&key, &c, Some("at+jwt")), LEGACY).await,
        200
    );
    // PS256 with the RSA key's kid: the algorithm comes from the JWK, never from the token.
    let ps256 = forge(&at_header(Algorithm::PS256, &key.kid), &c, &key.enc);
    assert_eq!(initialize_status(&server, &ps256, LEGACY).await, 401);
    // An RS256-allowed config that excludes ES256 refuses EC keys.
    let rs_only = mcp_server_for(&as_.issuer, |c| c.algorithms = vec!["RS256".into()]).await;
    let t = sign(
        &ec,
        &claims(&as_.issuer, rs_only.resource_url(), ALL),
        Some("at+jwt"),
    );
    assert_eq!(initialize_status(&rs_only, &t, LEGACY).await, 401);
}

#[tokio::test]
async fn rs07_rs08_rs18_insufficient_scope_gets_403_with_required_scope() {
    let s = mcp_fixture().await;
    let read_only = s.token("mcp:tools:read");
    let sid = s.session(&read_only, LEGACY).await;
    let list = s.call(&read_only, &sid, "tools/list", json!({})).await;
    assert!(list["result"]["tools"].is_array());
    let r = s
        .post(&read_only)
        .session(&sid)
        .id(2)
        .rpc(
            "tools/call",
            json!({"name":"echo","arguments":{"message":"x"}}),
        )
        .await;
    assert_eq!(r.status(), 403);
    let w = challenge(&r);
    assert!(w.contains("error=\"insufficient_scope\""), "{w}");
    assert!(w.contains("scope=\"mcp:tools:call\""), "{w}");
    assert!(w.contains("resource_metadata="), "{w}");
    // The umbrella scope implies every mcp:* scope (RS-18).
    let all = s.token("mcp");
    let sid = s.session(&all, LEGACY).await;
    let echo = json!({"name":"echo","arguments":{"message":"x"}});
    let r = s.call(&all, &sid, "tools/call", echo).await;
    assert_eq!(r["result"]["content"][0]["text"], "x");
}

#[tokio::test]
async fn rs13_introspection_mode_rejects_revoked_tokens() {
    let s = mcp_fixture_with(|c| {
        c.introspection = Some(mcp_server::config::IntrospectionSettings::new(
            tests::oauth::MCP_SERVER_CLIENT.0,
            tests::oauth::MCP_SERVER_CLIENT.1,
        ));
    })
    .await;
    let good = s.token(ALL);
    s.session(&good, LEGACY).await;
    let revoked = s.token(ALL);
    s.as_.revoke(&revoked);
    let r = s.initialize(&revoked, LEGACY).await;
    assert_eq!(r.status(), 401);
    assert!(challenge(&r).contains("invalid_token"));
    assert_eq!(s.as_.introspect_hits(), 2);
}
