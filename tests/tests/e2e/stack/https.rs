//! HTTPS with a throw-away CA (issue 5 B, checklist AS-10): trusted through config, an untrusted
//! certificate fails with a clear TLS error.

use tests::*;

#[tokio::test]
async fn auth_server_serves_https_with_a_trusted_ca_and_refuses_untrusted_clients_as10() {
    let pki = TestPki::generate();
    let s = pki.https_auth_server(&[]).await;
    assert!(s.issuer().starts_with("https://127.0.0.1:"));
    let url = format!("{}/.well-known/oauth-authorization-server", s.issuer());
    let trusted = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let m: serde_json::Value = get_json(&trusted, &url).await;
    assert_eq!(m["issuer"], s.issuer());
    assert!(
        m["token_endpoint"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
    let untrusted = reqwest::Client::new();
    let err = untrusted.get(&url).send().await.unwrap_err();
    let chain = format!("{err:?}");
    assert!(err.is_connect(), "{chain}");
    assert!(chain.to_lowercase().contains("certificate"), "{chain}");
}

#[tokio::test]
async fn whole_stack_over_https_with_the_ca_trusted_through_client_config() {
    let pki = TestPki::generate();
    let mcp_listener = loopback_listener().await;
    let resource = format!(
        "https://127.0.0.1:{}/mcp",
        mcp_listener.local_addr().unwrap().port()
    );
    let auth = pki.https_auth_server(&[&resource]).await;
    let mut cfg = mcp_server::Config::new(auth.issuer(), &resource);
    cfg.tls_cert = Some(pki.cert_path.clone());
    cfg.tls_key = Some(pki.key_path.clone());
    cfg.auth_server_ca = Some(pki.dir.join("ca.pem"));
    std::fs::write(pki.dir.join("ca.pem"), &pki.ca_pem).unwrap();
    cfg.resources_dir = Some(mcp_resources_dir());
    let mcp = mcp_server::serve(mcp_listener, cfg)
        .await
        .expect("MCP over HTTPS");
    assert_eq!(mcp.resource_url(), resource);
    let config = http_oauth2_client::OAuthConfig::builder(&resource)
        .headless()
        .scopes("mcp")
        .add_root_certificate_pem(pki.ca_pem.as_bytes())
        .unwrap()
        .build()
        .unwrap();
    let session = http_oauth2_client::OAuthSession::connect(config)
        .await
        .expect("login over HTTPS");
    let client =
        http_oauth2_client::McpClient::connect(session.client(), session.server_url().clone())
            .await
            .unwrap();
    let r = client
        .call_tool("echo", serde_json::json!({"message": "tls"}), None)
        .await
        .unwrap();
    assert_eq!(r["content"][0]["text"], "tls");
    // Without the CA the MCP server's certificate is refused.
    let plain = reqwest::Client::new();
    let err = plain.get(&resource).send().await.unwrap_err();
    assert!(
        format!("{err:?}").to_lowercase().contains("certificate"),
        "{err:?}"
    );
}
