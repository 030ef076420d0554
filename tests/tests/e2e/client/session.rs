//! Sessions: the whole headless flow with dynamic registration (CL-10, CL-13, CL-14, CL-18,
//! CL-19, CL-23, CL-25) and stored credentials, client credentials (CL-11), CIMD client ids
//! (CL-10), issuer-bound pre-registered clients (CL-16), the loopback listener (CL-28), and
//! `Send` public handles.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::header;
use http_oauth2_client::{
    BearerAuth, ClientError, InMemoryTokenStore, LoginMode, McpClient, OAuthConfig, OAuthSession,
    TokenManager, TokenStore, TransportKind,
};
use serde_json::json;

use super::mock;
use super::{asm, asm_with_registration, publish};

/// The whole headless flow against the mock: probe -> PRM from the header -> AS metadata ->
/// dynamic registration (CL-13, CL-14) -> headless authorize with PKCE, state, iss and
/// resource (CL-18, CL-19, CL-23, CL-25) -> code exchange -> McpClient falls back from
/// `server/discover` to `initialize` (TR-24), keeps the session id (TR-38), reads JSON and
/// SSE responses with progress (TR-07, PR-39).
#[tokio::test]
async fn headless_session_registers_logs_in_and_talks_mcp_cl10_tr24() {
    let m = mock::spawn().await;
    let mut doc = asm_with_registration(&m);
    doc["authorization_response_iss_parameter_supported"] = json!(true);
    publish(&m, doc);
    let store: Arc<dyn TokenStore> = Arc::new(InMemoryTokenStore::default());
    let cfg = OAuthConfig::builder(m.mcp_url())
        .login_mode(LoginMode::Headless)
        .with_token_store(store.clone())
        .build()
        .unwrap();
    let session = OAuthSession::connect(cfg).await.unwrap();
    assert_eq!(session.client_id(), "dyn-1");
    assert_eq!(session.resource(), m.mcp_url());
    let form = m.form(0);
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["resource"], m.mcp_url());
    assert_eq!(form["redirect_uri"], "http://127.0.0.1/callback");
    let stored = store.load_client(&m.base()).unwrap().unwrap();
    assert_eq!(stored.client_id, "dyn-1");

    let mcp = McpClient::connect(session.client(), session.server_url().clone())
        .await
        .unwrap();
    assert_eq!(mcp.transport_kind(), TransportKind::Session);
    assert_eq!(mcp.session_id().as_deref(), Some("sess-1"));
    let tools = mcp.list_tools().await.unwrap();
    assert_eq!(tools[0]["name"], "echo");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let progress =
        Arc::new(move |p: http_oauth2_client::Progress| s2.lock().unwrap().push(p.progress));
    let r = mcp
        .call_tool("echo", json!({"text": "hi"}), Some(progress))
        .await
        .unwrap();
    assert_eq!(r["content"][0]["text"], "hi");
    assert_eq!(*seen.lock().unwrap(), vec![1.0]);
    let e = mcp.list_prompts().await.unwrap_err();
    assert!(matches!(e, ClientError::Mcp { code: -32601, .. }));
    assert_eq!(m.requests_without_session(), 0);
    assert_eq!(
        m.mcp_methods()[..3],
        ["server/discover", "initialize", "notifications/initialized"]
    );

    // A second session reuses the stored registration and tokens: no new login.
    let hits = m.token_hits();
    let cfg = OAuthConfig::builder(m.mcp_url())
        .headless()
        .with_token_store(store)
        .build()
        .unwrap();
    let again = OAuthSession::connect(cfg).await.unwrap();
    assert_eq!(again.client_id(), "dyn-1");
    assert_eq!(m.token_hits(), hits);
}

/// A confidential pre-registered client uses client_secret_basic and the
/// client_credentials grant, with `resource` (CL-11, CL-19).
#[tokio::test]
async fn client_credentials_session_uses_basic_auth_cl11() {
    let m = mock::spawn().await;
    publish(&m, asm(&m.base()));
    let cfg = OAuthConfig::builder(m.mcp_url())
        .client_id("svc")
        .client_secret(shared::secret::ClientSecret::new("s3cret".into()))
        .issuer(m.base())
        .login_mode(LoginMode::ClientCredentials)
        .build()
        .unwrap();
    let s = OAuthSession::connect(cfg).await.unwrap();
    assert_eq!(s.client_id(), "svc");
    let form = m.form(0);
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["resource"], m.mcp_url());
    assert!(!form.contains_key("client_secret"));
    use base64::Engine as _;
    let basic = m.basic_auth(0);
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(basic.strip_prefix("Basic ").unwrap())
        .unwrap();
    assert_eq!(decoded, b"svc:s3cret");
}

/// CL-10: a Client ID Metadata Document URL is used as client_id when the AS supports it;
/// otherwise the client registers dynamically.
#[tokio::test]
async fn cimd_url_is_the_client_id_when_supported_cl10() {
    let m = mock::spawn().await;
    let mut doc = asm_with_registration(&m);
    doc["client_id_metadata_document_supported"] = json!(true);
    publish(&m, doc.clone());
    let cimd = "https://app.example/oauth/client.json";
    let cfg = || {
        OAuthConfig::builder(m.mcp_url())
            .client_metadata_url(cimd)
            .headless()
            .build()
            .unwrap()
    };
    let client_id = || async {
        OAuthSession::prepare(cfg())
            .await
            .unwrap()
            .client_id()
            .to_owned()
    };
    assert_eq!(client_id().await, cimd);
    doc["client_id_metadata_document_supported"] = json!(false);
    publish(&m, doc);
    assert_eq!(client_id().await, "dyn-1");
}

/// CL-16: pre-registered credentials bound to an issuer are never offered to a server whose
/// PRM names another authorization server.
#[tokio::test]
async fn preregistered_client_is_bound_to_its_issuer_cl16() {
    let m = mock::spawn().await;
    publish(&m, asm(&m.base()));
    let cfg = |issuer: &str| {
        OAuthConfig::builder(m.mcp_url())
            .client_id("mcp-cli")
            .issuer(issuer)
            .headless()
            .build()
            .unwrap()
    };
    let e = OAuthSession::prepare(cfg("https://other-as.example"))
        .await
        .unwrap_err();
    assert!(
        matches!(e, ClientError::Discovery { ref reason, .. } if reason.contains("CL-16")),
        "{e}"
    );
    let issuer = OAuthSession::prepare(cfg(&m.base()))
        .await
        .unwrap()
        .issuer()
        .to_owned();
    assert_eq!(issuer, m.base());
}

/// CL-28: the interactive flow's loopback listener gets the browser's redirect on an
/// ephemeral 127.0.0.1 port, ignores other paths, answers with a small page, validates
/// state/iss (a forged redirect without the state is discarded, CL-23), and times out
/// when nothing arrives.
#[tokio::test]
async fn loopback_listener_receives_the_browser_redirect_cl28() {
    use http_oauth2_client::oauth::authorize::AuthorizationRequest;
    use http_oauth2_client::oauth::login::LoopbackListener;
    let m = mock::spawn().await;
    let meta: shared::oauth::AuthorizationServerMetadata =
        serde_json::from_value(asm(&m.base())).unwrap();
    let template = url::Url::parse("http://127.0.0.1/callback").unwrap();
    let listener = LoopbackListener::bind(&template).await.unwrap();
    assert!(listener.redirect_uri().starts_with("http://127.0.0.1:"));
    let req = AuthorizationRequest::new(
        &meta,
        "cli",
        listener.redirect_uri(),
        None,
        &m.mcp_url(),
        false,
    )
    .unwrap();
    let auth_url = req.url().clone();
    let browser = tokio::spawn(async move {
        let c = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let r = c.get(auth_url).send().await.unwrap();
        let loc = url::Url::parse(r.headers()[header::LOCATION].to_str().unwrap()).unwrap();
        let mut fav = loc.clone();
        fav.set_path("/favicon.ico");
        fav.set_query(None);
        assert_eq!(c.get(fav).send().await.unwrap().status(), 404);
        let mut forged = loc.clone();
        forged.set_query(Some("code=evil&state=forged"));
        assert_eq!(c.get(forged).send().await.unwrap().status(), 400);
        let page = c.get(loc).send().await.unwrap();
        assert_eq!(page.status(), 200);
        page.text().await.unwrap()
    });
    let code = listener.wait(&req, Duration::from_secs(10)).await.unwrap();
    assert!(code.secret().starts_with("code-"));
    assert!(browser.await.unwrap().contains("Authorization complete"));

    let listener = LoopbackListener::bind(&template).await.unwrap();
    let req =
        AuthorizationRequest::new(&meta, "cli", listener.redirect_uri(), None, "r", false).unwrap();
    let e = listener
        .wait(&req, Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::Timeout { .. }), "{e}");
}

fn assert_send<T: Send>(_: &T) {}
fn assert_send_sync<T: Send + Sync>() {}

/// The public handles are Send + Sync and their futures are Send, so callers can share them
/// across tasks and `tokio::spawn` the calls.
#[test]
fn public_handles_and_futures_are_send() {
    assert_send_sync::<McpClient>();
    assert_send_sync::<OAuthSession>();
    assert_send_sync::<TokenManager>();
    assert_send_sync::<BearerAuth>();
    assert_send_sync::<http_oauth2_client::FileTokenStore>();
    let cfg = OAuthConfig::builder("http://127.0.0.1:1/mcp")
        .build()
        .unwrap();
    let f = OAuthSession::connect(cfg);
    assert_send(&f);
    let http: reqwest_middleware::ClientWithMiddleware = reqwest::Client::new().into();
    let f = McpClient::connect(http, url::Url::parse("http://127.0.0.1:1/mcp").unwrap());
    assert_send(&f);
}

/// The futures of an McpClient's operations are Send.
#[allow(dead_code)]
fn mcp_operation_futures_are_send(c: &McpClient) {
    assert_send(&c.list_tools());
    assert_send(&c.call_tool("x", json!({}), None));
    assert_send(&c.read_resource("x"));
    assert_send(&c.get_prompt("x", None));
    assert_send(&c.ping());
}
