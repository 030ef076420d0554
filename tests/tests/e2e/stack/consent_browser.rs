//! The consent page in a real browser (issue 5 C): headless Chromium through chromedriver.
//! Approve leads to a code that redeems for a token, deny leads to `access_denied` at the
//! client's redirect URI, and a forged CSRF value is refused (checklist AS-26, AS-27, AS-61).

use std::sync::{Arc, Mutex};

use shared::pkce::PkceChallenge;
use tests::oauth::{CLI, authorize_request, token_request};
use tests::webdriver::Browser;
use tests::*;

/// A client-side loopback callback that records the query it receives.
async fn callback_server() -> (
    String,
    Arc<Mutex<Vec<(String, String)>>>,
    tokio::task::JoinHandle<()>,
) {
    let listener = loopback_listener().await;
    let url = format!(
        "http://127.0.0.1:{}/callback",
        listener.local_addr().unwrap().port()
    );
    let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let store = seen.clone();
    let app = axum::Router::new().route(
        "/callback",
        axum::routing::get(move |axum::extract::RawQuery(q): axum::extract::RawQuery| {
            let store = store.clone();
            async move {
                let pairs = url::form_urlencoded::parse(q.unwrap_or_default().as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect();
                *store.lock().unwrap() = pairs;
                axum::response::Html("<p id=done>You can close this window.</p>")
            }
        }),
    );
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, seen, task)
}

/// The consent page for `mcp-cli` (scope `mcp`) with `challenge` and `state`.
fn authorize_url(issuer: &str, redirect: &str, challenge: &PkceChallenge, state: &str) -> String {
    authorize_request(issuer, CLI, redirect)
        .challenge(challenge)
        .param("scope", "mcp")
        .state(state)
        .url()
}

/// An AS showing its consent page, a headless browser and a recording client callback.
struct ConsentFixture {
    auth: auth_server::RunningServer,
    browser: Browser,
    redirect: String,
    seen: Arc<Mutex<Vec<(String, String)>>>,
    _callback: tokio::task::JoinHandle<()>,
}

impl ConsentFixture {
    async fn start() -> Self {
        let auth = auth_server(|c| c.auto_approve = false).await;
        let browser = Browser::start().await.expect("headless Chromium");
        let (redirect, seen, callback) = callback_server().await;
        Self {
            auth,
            browser,
            redirect,
            seen,
            _callback: callback,
        }
    }

    /// Opens the consent page in the browser.
    async fn open(&self, challenge: &PkceChallenge, state: &str) {
        let url = authorize_url(self.auth.issuer(), &self.redirect, challenge, state);
        self.browser.goto(&url).await.unwrap();
    }
}

async fn wait_for_callback(seen: &Arc<Mutex<Vec<(String, String)>>>) -> Vec<(String, String)> {
    for _ in 0..100 {
        let v = seen.lock().unwrap().clone();
        if !v.is_empty() {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the browser never reached the callback");
}

#[tokio::test]
async fn browser_approve_yields_a_token_and_deny_yields_access_denied_as26_as61() {
    let f = ConsentFixture::start().await;
    let (browser, seen, redirect) = (&f.browser, &f.seen, &f.redirect);
    let issuer = f.auth.issuer();

    // Approve.
    let (verifier, challenge) = pkce();
    f.open(&challenge, "approve-1").await;
    let text = browser.text().await.unwrap();
    assert!(text.contains("MCP command-line client"), "{text}");
    assert!(text.contains("127.0.0.1"), "redirect host shown: {text}");
    assert!(text.contains("mcp"), "{text}");
    browser.click("#approve").await.unwrap();
    let q = wait_for_callback(seen).await;
    assert_eq!(param(&q, "state"), Some("approve-1"));
    assert_eq!(param(&q, "iss"), Some(issuer));
    let code = param(&q, "code").expect("code");
    let res = token_request(issuer)
        .authorization_code(code, verifier.secret())
        .client_id(CLI)
        .redirect_uri(redirect)
        .send()
        .await;
    assert_eq!(res.status(), 200);

    // Deny.
    seen.lock().unwrap().clear();
    let (_, challenge) = pkce();
    f.open(&challenge, "deny-1").await;
    browser.click("#deny").await.unwrap();
    let q = wait_for_callback(seen).await;
    assert_eq!(param(&q, "error"), Some("access_denied"));
    assert_eq!(param(&q, "state"), Some("deny-1"));
    assert!(param(&q, "code").is_none());
}

#[tokio::test]
async fn browser_with_forged_csrf_value_is_refused_as27() {
    let f = ConsentFixture::start().await;
    let (browser, issuer) = (&f.browser, f.auth.issuer());
    let (_, challenge) = pkce();
    f.open(&challenge, "forged").await;
    browser
        .execute(
            "document.querySelector('input[name=csrf_token]').value = 'forged-value'; return 1;",
        )
        .await
        .unwrap();
    browser.click("#approve").await.unwrap();
    browser.wait_for_text("CSRF check failed").await.unwrap();
    assert!(browser.url().await.unwrap().starts_with(issuer));
    assert!(
        f.seen.lock().unwrap().is_empty(),
        "no redirect to the client"
    );
}

/// The client library's own login pieces with a real browser: its loopback listener receives
/// Chromium's redirect and checks `state` and `iss`; a denial surfaces as the typed
/// `AuthorizationDenied { access_denied }` at the client.
#[tokio::test]
async fn client_loopback_login_in_chromium_approve_and_deny() {
    use http_oauth2_client::ClientError;
    use http_oauth2_client::oauth::authorize::AuthorizationRequest;
    use http_oauth2_client::oauth::login::LoopbackListener;

    let s = stack(|c| c.auto_approve = false, |_| {}).await;
    let metadata_url = format!("{}/.well-known/oauth-authorization-server", s.issuer());
    let metadata: shared::oauth::AuthorizationServerMetadata =
        get_json(&http(), &metadata_url).await;
    let browser = Browser::start().await.expect("headless Chromium");
    let template = url::Url::parse("http://127.0.0.1/callback").unwrap();
    let scopes = shared::scope::ScopeSet::parse("mcp");
    for (button, approve) in [("#approve", true), ("#deny", false)] {
        let listener = LoopbackListener::bind(&template).await.unwrap();
        let req = AuthorizationRequest::new(
            &metadata,
            "mcp-cli",
            listener.redirect_uri(),
            Some(&scopes),
            s.mcp_url(),
            true,
        )
        .unwrap();
        let authorization_url = req.url().to_string();
        let wait = tokio::spawn(async move {
            listener
                .wait(&req, std::time::Duration::from_secs(20))
                .await
        });
        browser.goto(&authorization_url).await.unwrap();
        browser.click(button).await.unwrap();
        let result = wait.await.unwrap();
        if approve {
            let code = result.expect("approved: the client's listener gets a code");
            assert!(!code.secret().is_empty());
        } else {
            match result {
                Err(ClientError::AuthorizationDenied { code, .. }) => {
                    assert_eq!(code.as_str(), "access_denied")
                }
                other => panic!("expected access_denied at the client, got {other:?}"),
            }
        }
    }
}
