//! HTTPS with a throw-away CA (issue 5 B, checklist AS-10): trusted through config, an untrusted
//! certificate fails with a clear TLS error.

use tests::*;

#[tokio::test]
async fn auth_server_serves_https_with_a_trusted_ca_and_refuses_untrusted_clients_as10() {
    let pki = TestPki::generate();
    let s = auth_server(|c| {
        c.tls_cert = Some(pki.cert_path.clone());
        c.tls_key = Some(pki.key_path.clone());
    })
    .await;
    assert!(s.issuer().starts_with("https://127.0.0.1:"));
    let url = format!("{}/.well-known/oauth-authorization-server", s.issuer());
    let trusted = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let m: serde_json::Value = trusted
        .get(&url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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
