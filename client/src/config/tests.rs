//! Unit tests of the parent module.

use super::*;

fn secret() -> ClientSecret {
    ClientSecret::new("s3cret".into())
}

/// Issue 11 item 11: a confidential client is bound to its issuer, so a secret without
/// `issuer` is a configuration error (the MCP server must not choose where it goes).
#[test]
fn a_client_secret_without_an_issuer_is_a_config_error_cl16() {
    let e = OAuthConfig::builder("http://127.0.0.1:3003/mcp")
        .client_id("svc")
        .client_secret(secret())
        .login_mode(LoginMode::ClientCredentials)
        .build()
        .unwrap_err();
    assert!(matches!(e, ConfigError::Invalid(_)), "{e:?}");
    assert!(e.to_string().contains("issuer"), "{e}");
    assert!(!e.to_string().contains("s3cret"), "{e}");

    let ok = OAuthConfig::builder("http://127.0.0.1:3003/mcp")
        .client_id("svc")
        .client_secret(secret())
        .issuer("http://127.0.0.1:3002")
        .build();
    assert!(ok.is_ok(), "{ok:?}");
    // A public client needs no issuer.
    assert!(
        OAuthConfig::builder("http://127.0.0.1:3003/mcp")
            .client_id("mcp-cli")
            .build()
            .is_ok()
    );
}
