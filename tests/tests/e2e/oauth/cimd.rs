//! Client ID Metadata Documents: fetched and validated (AS-56..AS-58), refused when the
//! document is wrong (AS-57), and SSRF-guarded (AS-60).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};
use tests::oauth::{authorize_request, token_request};
use tests::{auth_server, loopback_listener, pkce};

/// A metadata document served on loopback: its URL and how often it was fetched.
struct Document {
    url: String,
    fetches: Arc<AtomicUsize>,
    _task: tokio::task::JoinHandle<()>,
}

/// Serves the JSON document `doc(url)` at `/client.json` on loopback.
async fn serve_document(doc: impl Fn(&str) -> Value) -> Document {
    let listener = loopback_listener().await;
    let url = format!("http://{}/client.json", listener.local_addr().unwrap());
    let body = doc(&url);
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = fetches.clone();
    let app = axum::Router::new().route(
        "/client.json",
        axum::routing::get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            let body = body.clone();
            async move { axum::Json(body) }
        }),
    );
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Document {
        url,
        fetches,
        _task: task,
    }
}

/// A loopback redirect URI listed (port-free) in the documents below.
const REDIRECT: &str = "http://127.0.0.1:40000/cb";

/// An authorization request for the client whose id is `client_url`, redirecting to `redirect`.
async fn authorize(issuer: &str, client_url: &str, redirect: &str) -> reqwest::Response {
    let (_, c) = pkce();
    authorize_request(issuer, client_url, redirect)
        .challenge(&c)
        .send()
        .await
}

#[tokio::test]
async fn client_id_metadata_document_is_fetched_and_validated_as56_as57_as58() {
    let s = auth_server(|c| c.insecure_allow_loopback_metadata_documents = true).await;
    let issuer = s.issuer();
    let doc = serve_document(|url| {
        json!({
            "client_id": url, "client_name": "CIMD app",
            "redirect_uris": ["http://127.0.0.1/cb"], "token_endpoint_auth_method": "none"
        })
    })
    .await;
    let (v, c) = pkce();
    let code = authorize_request(issuer, &doc.url, REDIRECT)
        .challenge(&c)
        .code()
        .await;
    let res = token_request(issuer)
        .authorization_code(&code, v.secret())
        .client_id(&doc.url)
        .redirect_uri(REDIRECT)
        .send()
        .await;
    assert_eq!(res.status(), 200);
    // A redirect URI not in the document is shown as an error, not redirected (AS-58).
    let res = authorize(issuer, &doc.url, "https://evil.example/cb").await;
    assert_eq!(res.status(), 400);
    assert!(res.headers().get("location").is_none());
}

/// Each document is fetched (once) and refused for its own reason, shown on the error page
/// and never redirected: a failed fetch would also give 400, so the reason is checked.
#[tokio::test]
async fn metadata_document_with_mismatched_id_or_secret_is_refused_as57() {
    let s = auth_server(|c| c.insecure_allow_loopback_metadata_documents = true).await;
    let cases = [
        (
            json!({"client_id": "https://other.example/client.json", "client_name": "x",
                   "redirect_uris": ["http://127.0.0.1/cb"]}),
            "client_id does not equal the document URL",
        ),
        (
            json!({"client_name": "x", "redirect_uris": ["http://127.0.0.1/cb"],
                   "client_secret": "s3cret-s3cret"}),
            "documents must not carry a client secret",
        ),
    ];
    for (doc, reason) in cases {
        let doc = serve_document(move |url| {
            let mut d = doc.clone();
            if d.get("client_id").is_none() {
                d["client_id"] = json!(url);
            }
            d
        })
        .await;
        let res = authorize(s.issuer(), &doc.url, REDIRECT).await;
        assert_eq!(res.status(), 400, "{reason}");
        assert!(res.headers().get("location").is_none());
        let page = res.text().await.unwrap();
        assert!(page.contains(reason), "{reason}: {page}");
        assert_eq!(doc.fetches.load(Ordering::SeqCst), 1, "{reason}");
    }
}

#[tokio::test]
async fn metadata_document_on_loopback_is_blocked_without_the_insecure_setting_as60() {
    let s = auth_server(|_| {}).await;
    let doc = serve_document(|url| {
        json!({"client_id": url, "client_name": "x", "redirect_uris": ["http://127.0.0.1/cb"]})
    })
    .await;
    let res = authorize(s.issuer(), &doc.url, REDIRECT).await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("https is required"));
    assert_eq!(
        doc.fetches.load(Ordering::SeqCst),
        0,
        "blocked before any fetch"
    );
}
