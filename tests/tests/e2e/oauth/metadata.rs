//! RFC 8414 metadata and the OIDC discovery document (AS-01..AS-09).

use serde_json::{Value, json};
use tests::{auth_server, http};

#[tokio::test]
async fn metadata_is_generated_from_config_as01_as03_as04_as05_as06_as07_as08_as09() {
    let s = auth_server(|_| {}).await;
    let issuer = s.issuer();
    let get = |path: &str| http().get(format!("{issuer}{path}")).send();
    let res = get("/.well-known/oauth-authorization-server")
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let content_type = res.headers()["content-type"].to_str().unwrap();
    assert!(content_type.starts_with("application/json"));
    let m: Value = res.json().await.unwrap();
    assert_eq!(m["issuer"], issuer);
    assert!(!issuer.ends_with('/'));
    assert_eq!(m["authorization_endpoint"], format!("{issuer}/authorize"));
    assert_eq!(m["token_endpoint"], format!("{issuer}/token"));
    assert_eq!(m["jwks_uri"], format!("{issuer}/jwks"));
    assert_eq!(m["response_types_supported"], json!(["code"]));
    assert_eq!(m["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(m["authorization_response_iss_parameter_supported"], true);
    assert_eq!(m["client_id_metadata_document_supported"], true);
    let lists = |key: &str, value: &str| m[key].as_array().unwrap().iter().any(|g| g == value);
    assert!(lists("grant_types_supported", "refresh_token"));
    assert!(lists("token_endpoint_auth_methods_supported", "none"));
    for key in [
        "registration_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
        "scopes_supported",
    ] {
        assert!(m.get(key).is_some(), "{key}");
    }
    for (_, v) in m.as_object().unwrap() {
        assert_ne!(v, &json!([]), "empty arrays are omitted (AS-03)");
    }
    let oidc: Value = get("/.well-known/openid-configuration")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(oidc["issuer"], issuer);
    assert!(oidc.get("subject_types_supported").is_some());
    assert!(oidc.get("id_token_signing_alg_values_supported").is_some());
    assert_eq!(oidc["code_challenge_methods_supported"], json!(["S256"]));
}
