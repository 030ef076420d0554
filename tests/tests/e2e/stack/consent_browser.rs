//! The consent page in a real browser (issue 5 C): headless Chromium through chromedriver.
//! Approve leads to a code that redeems for a token, deny leads to `access_denied` at the
//! client's redirect URI, and a forged CSRF value is refused (checklist AS-26, AS-27, AS-61).

use std::sync::{Arc, Mutex};

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

fn authorize_url(
    issuer: &str,
    redirect: &str,
    challenge: &shared::pkce::PkceChallenge,
    state: &str,
) -> String {
    let mut u = url::Url::parse(&format!("{issuer}/authorize")).unwrap();
    u.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", "mcp-cli")
        .append_pair("redirect_uri", redirect)
        .append_pair("code_challenge", challenge.as_str())
        .append_pair("code_challenge_method", "S256")
        .append_pair("scope", "mcp")
        .append_pair("state", state);
    u.to_string()
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
    let s = auth_server(|c| c.auto_approve = false).await;
    let issuer = s.issuer().to_owned();
    let browser = Browser::start().await.expect("headless Chromium");
    let (redirect, seen, _cb) = callback_server().await;

    // Approve.
    let (verifier, challenge) = pkce();
    browser
        .goto(&authorize_url(&issuer, &redirect, &challenge, "approve-1"))
        .await
        .unwrap();
    let text = browser.text().await.unwrap();
    assert!(text.contains("MCP command-line client"), "{text}");
    assert!(text.contains("127.0.0.1"), "redirect host shown: {text}");
    assert!(text.contains("mcp"), "{text}");
    browser.click("#approve").await.unwrap();
    let q = wait_for_callback(&seen).await;
    assert_eq!(param(&q, "state"), Some("approve-1"));
    assert_eq!(param(&q, "iss"), Some(issuer.as_str()));
    let code = param(&q, "code").expect("code").to_owned();
    let res = http()
        .post(format!("{issuer}/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("code_verifier", verifier.secret()),
            ("client_id", "mcp-cli"),
            ("redirect_uri", redirect.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // Deny.
    seen.lock().unwrap().clear();
    let (_, challenge) = pkce();
    browser
        .goto(&authorize_url(&issuer, &redirect, &challenge, "deny-1"))
        .await
        .unwrap();
    browser.click("#deny").await.unwrap();
    let q = wait_for_callback(&seen).await;
    assert_eq!(param(&q, "error"), Some("access_denied"));
    assert_eq!(param(&q, "state"), Some("deny-1"));
    assert!(param(&q, "code").is_none());
}

#[tokio::test]
async fn browser_with_forged_csrf_value_is_refused_as27() {
    let s = auth_server(|c| c.auto_approve = false).await;
    let issuer = s.issuer().to_owned();
    let browser = Browser::start().await.expect("headless Chromium");
    let (redirect, seen, _cb) = callback_server().await;
    let (_, challenge) = pkce();
    browser
        .goto(&authorize_url(&issuer, &redirect, &challenge, "forged"))
        .await
        .unwrap();
    browser
        .execute(
            "document.querySelector('input[name=csrf_token]').value = 'forged-value'; return 1;",
        )
        .await
        .unwrap();
    browser.click("#approve").await.unwrap();
    browser.wait_for_text("CSRF check failed").await.unwrap();
    assert!(browser.url().await.unwrap().starts_with(&issuer));
    assert!(seen.lock().unwrap().is_empty(), "no redirect to the client");
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
    let metadata: shared::oauth::AuthorizationServerMetadata = http()
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            s.issuer()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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
