//! `private_key_jwt` (RFC 7523, EX-30) end to end: the real client, configured with a PEM
//! key and the client-credentials login, authenticates at our authorization server with
//! signed assertions and calls a tool on our MCP server with the token.

use std::sync::Arc;

use http_oauth2_client::{
    DpopMode, InMemoryTokenStore, LoginMode, McpClient, OAuthConfig, OAuthSession,
};
use shared::dpop::{Algorithm, JwkSet, SigningKey};

const CLIENT: &str = "key-service";

#[tokio::test]
async fn client_credentials_with_private_key_jwt_reach_tools_call_ex30() {
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let jwks = JwkSet {
        keys: vec![key.public_jwk().clone()],
    };
    let s = tests::stack(
        move |c| {
            c.clients.push(auth_server::config::ClientConfig {
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
        },
        |_| {},
    )
    .await;
    let config = OAuthConfig::builder(s.mcp_url())
        .client_id(CLIENT)
        .issuer(s.issuer())
        .login_mode(LoginMode::ClientCredentials)
        .private_key_jwt_pem(key.private_pem())
        .unwrap()
        .dpop(DpopMode::Never)
        .allow_insecure_http()
        .scopes("mcp")
        .with_token_store(Arc::new(InMemoryTokenStore::default()))
        .build()
        .unwrap();
    let session = OAuthSession::connect(config)
        .await
        .expect("client credentials with private_key_jwt");
    let mcp = McpClient::connect(session.client(), session.server_url().clone())
        .await
        .expect("MCP connect");
    let who = mcp
        .call_tool("whoami", serde_json::json!({}), None)
        .await
        .unwrap();
    assert_eq!(who["structuredContent"]["sub"], CLIENT);
    // A client that knows the id but not the key gets nothing.
    let other = SigningKey::generate(Algorithm::ES256).unwrap();
    let config = OAuthConfig::builder(s.mcp_url())
        .client_id(CLIENT)
        .issuer(s.issuer())
        .login_mode(LoginMode::ClientCredentials)
        .private_key_jwt_pem(other.private_pem())
        .unwrap()
        .dpop(DpopMode::Never)
        .allow_insecure_http()
        .with_token_store(Arc::new(InMemoryTokenStore::default()))
        .build()
        .unwrap();
    let err = OAuthSession::connect(config).await.expect_err("refused");
    assert!(
        http_oauth2_client::error::report(&err).contains("invalid_client"),
        "{}",
        http_oauth2_client::error::report(&err)
    );
    s.shutdown().await;
}

/// EX-30 with `jwks_uri`: the client's keys are fetched from a URL (here a loopback server,
/// allowed by the development flag), then cached: a second login does not fetch again.
#[tokio::test]
async fn client_keys_from_jwks_uri_are_fetched_once_and_authenticate_ex30() {
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let jwks = serde_json::json!({ "keys": [key.public_jwk()] });
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    let app = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let body = jwks.clone();
            async move { axum::Json(body) }
        }),
    );
    let listener = tests::loopback_listener().await;
    let jwks_uri = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let s = tests::stack(
        move |c| {
            c.insecure_allow_loopback_metadata_documents = true;
            c.clients.push(auth_server::config::ClientConfig {
                client_id: CLIENT.into(),
                client_secret: None,
                client_name: None,
                redirect_uris: vec![],
                grant_types: vec!["client_credentials".into()],
                scopes: vec![],
                dpop_bound_access_tokens: false,
                jwks: None,
                jwks_uri: Some(jwks_uri),
            });
        },
        |_| {},
    )
    .await;
    for _ in 0..2 {
        let config = OAuthConfig::builder(s.mcp_url())
            .client_id(CLIENT)
            .issuer(s.issuer())
            .login_mode(LoginMode::ClientCredentials)
            .private_key_jwt_pem(key.private_pem())
            .unwrap()
            .dpop(DpopMode::Never)
            .allow_insecure_http()
            .with_token_store(Arc::new(InMemoryTokenStore::default()))
            .build()
            .unwrap();
        let session = OAuthSession::connect(config)
            .await
            .expect("login with jwks_uri keys");
        let mcp = McpClient::connect(session.client(), session.server_url().clone())
            .await
            .expect("MCP connect");
        mcp.call_tool("echo", serde_json::json!({"message": "k"}), None)
            .await
            .unwrap();
    }
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    server.abort();
    s.shutdown().await;
}

/// EX-30: after the client rotates the keys at its `jwks_uri`, an assertion no cached key
/// verifies makes the server fetch again, at most every 30 s per URL (so forged assertions
/// cannot make it hammer the URL).
#[tokio::test]
async fn a_rotated_jwks_uri_is_refetched_at_most_every_30_s_ex30() {
    use http_oauth2_client::oauth::token_endpoint::{ClientCredentials, TokenEndpoint};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let old = Arc::new(SigningKey::generate(Algorithm::ES256).unwrap());
    let new = Arc::new(SigningKey::generate(Algorithm::ES256).unwrap());
    let served = Arc::new(std::sync::Mutex::new(
        serde_json::json!({ "keys": [old.public_jwk()] }),
    ));
    let hits = Arc::new(AtomicUsize::new(0));
    let (doc, counter) = (served.clone(), hits.clone());
    let app = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            let body = doc.lock().unwrap().clone();
            async move { axum::Json(body) }
        }),
    );
    let listener = tests::loopback_listener().await;
    let jwks_uri = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    let jwks_server = tokio::spawn(async move { axum::serve(listener, app).await });
    let cfg = auth_server::Config {
        keys_dir: None,
        insecure_allow_loopback_metadata_documents: true,
        clients: vec![auth_server::config::ClientConfig {
            client_id: CLIENT.into(),
            client_secret: None,
            client_name: None,
            redirect_uris: vec![],
            grant_types: vec!["client_credentials".into()],
            scopes: vec![],
            dpop_bound_access_tokens: false,
            jwks: None,
            jwks_uri: Some(jwks_uri),
        }],
        ..Default::default()
    };
    let clock = shared::clock::TestClock::starting_now();
    let s = auth_server::serve_with_clock(
        tests::loopback_listener().await,
        cfg,
        Arc::new(clock.clone()),
    )
    .await
    .unwrap();
    let token = |key: &Arc<SigningKey>| {
        let http = http_oauth2_client::oauth::oauth_http_client(
            std::time::Duration::from_secs(5),
            std::time::Duration::from_secs(5),
            0,
        );
        let url = url::Url::parse(&format!("{}/token", s.issuer())).unwrap();
        let e = TokenEndpoint::new(
            url,
            ClientCredentials::private_key_jwt(CLIENT, key.clone()),
            None,
            http,
        )
        .with_issuer(s.issuer());
        async move { e.client_credentials(None).await }
    };
    token(&old).await.expect("old key");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    *served.lock().unwrap() = serde_json::json!({ "keys": [new.public_jwk()] });
    // The cached set is fresh: no refetch yet, the new key is not known.
    assert!(token(&new).await.is_err());
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    clock.advance(std::time::Duration::from_secs(31));
    token(&new).await.expect("new key after the refetch");
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    // The retired key: refused, and no refetch within 30 s.
    assert!(token(&old).await.is_err());
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    jwks_server.abort();
    s.shutdown().await;
}
