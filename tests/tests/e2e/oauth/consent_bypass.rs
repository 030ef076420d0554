//! Issue 11 item 4: no consent bypass by redirect. A Client ID Metadata Document (or a
//! self-registered client) naming a remote redirect URI gets the consent page even under
//! auto-approve, and an error before any user interaction is shown on a page instead of being
//! redirected to that client (RFC 9700 §4.11.2: the AS is no open redirector; AS-12, AS-28).

use serde_json::json;
use tests::oauth::authorize_request;
use tests::{auth_server, loopback_listener, pkce};

const EVIL: &str = "https://evil.example/cb";

/// Serves a metadata document listing only [`EVIL`] as redirect URI; returns its URL (the
/// `client_id`) and the task serving it.
async fn evil_document() -> (String, tokio::task::JoinHandle<()>) {
    let listener = loopback_listener().await;
    let url = format!("http://{}/client.json", listener.local_addr().unwrap());
    let doc = json!({
        "client_id": url, "client_name": "Totally legit app",
        "redirect_uris": [EVIL], "token_endpoint_auth_method": "none"
    });
    let app = axum::Router::new().route(
        "/client.json",
        axum::routing::get(move || {
            let doc = doc.clone();
            async move { axum::Json(doc) }
        }),
    );
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, task)
}

#[tokio::test]
async fn metadata_document_client_with_a_remote_redirect_is_never_auto_approved_as12_as28() {
    // auto_approve is on by default.
    let s = auth_server(|c| c.insecure_allow_loopback_metadata_documents = true).await;
    let (client_id, _task) = evil_document().await;
    let (_, c) = pkce();
    let res = authorize_request(s.issuer(), &client_id, EVIL)
        .challenge(&c)
        .state("st")
        .send()
        .await;
    assert_eq!(
        (res.status().as_u16(), res.headers().get("location")),
        (200, None),
        "a code went to the client's redirect URI without user interaction"
    );
    let page = res.text().await.unwrap();
    assert!(
        page.contains("<strong id=\"redirect-host\">evil.example</strong>"),
        "{page}"
    );

    // A validation error (no PKCE) before any interaction: shown, not redirected.
    let res = authorize_request(s.issuer(), &client_id, EVIL)
        .state("st")
        .send()
        .await;
    assert_eq!(res.status(), 400);
    assert!(res.headers().get("location").is_none(), "redirected");
    let page = res.text().await.unwrap();
    assert!(page.contains("code_challenge is required (PKCE)"), "{page}");
}
