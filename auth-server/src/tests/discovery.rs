//! Metadata documents and the JWKS.

use axum::http::StatusCode;

use super::{ISSUER, Server};

async fn public_json(s: &Server, path: &str) -> serde_json::Value {
    s.get(path).await.assert_public_json()
}

#[tokio::test]
async fn metadata_document_is_computed_from_config_and_cacheable() {
    let s = Server::new();
    let m = public_json(&s, "/.well-known/oauth-authorization-server").await;
    assert_eq!(m["issuer"], ISSUER);
    for (member, path) in [
        ("authorization_endpoint", "/authorize"),
        ("token_endpoint", "/token"),
        ("jwks_uri", "/jwks"),
        ("registration_endpoint", "/register"),
        ("revocation_endpoint", "/revoke"),
        ("introspection_endpoint", "/introspect"),
    ] {
        assert_eq!(m[member], format!("{ISSUER}{path}"), "{member}");
    }
    assert_eq!(
        m["token_endpoint_auth_methods_supported"],
        serde_json::json!([
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
            "none"
        ])
    );
    assert_eq!(
        m["revocation_endpoint_auth_methods_supported"],
        m["token_endpoint_auth_methods_supported"]
    );
    assert_eq!(
        m["introspection_endpoint_auth_methods_supported"],
        serde_json::json!([
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt"
        ])
    );
    assert_eq!(
        m["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(m["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(m["authorization_response_iss_parameter_supported"], true);
    assert_eq!(m["resource_indicators_supported"], true);
    assert!(
        m.get("subject_types_supported").is_none(),
        "OIDC-only member"
    );
}

#[tokio::test]
async fn openid_configuration_adds_the_oidc_members_and_can_be_turned_off() {
    let s = Server::new();
    let m = public_json(&s, "/.well-known/openid-configuration").await;
    assert_eq!(m["issuer"], ISSUER);
    assert_eq!(m["subject_types_supported"], serde_json::json!(["public"]));
    assert_eq!(
        m["id_token_signing_alg_values_supported"],
        serde_json::json!(["ES256"])
    );

    let off = Server::with(|c| {
        c.openid_configuration = false;
        c.registration_enabled = false;
    });
    off.get("/.well-known/openid-configuration")
        .await
        .assert_oauth_error(StatusCode::NOT_FOUND, "invalid_request", "no such endpoint");
    let m = off
        .get("/.well-known/oauth-authorization-server")
        .await
        .json();
    assert!(m.get("registration_endpoint").is_none());
}

#[tokio::test]
async fn jwks_publishes_the_current_public_key_only_at_both_paths() {
    let s = Server::new();
    let jwks = public_json(&s, "/jwks").await;
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let k = &keys[0];
    assert_eq!(k["kid"], s.state.keys.ring().current.kid.as_str());
    assert_eq!(k["alg"], "ES256");
    assert_eq!(k["use"], "sig");
    assert!(k.get("d").is_none(), "private member published");
    assert_eq!(public_json(&s, "/.well-known/jwks.json").await, jwks);
}
