//! `GET /authorize`: errors about the client or redirect URI are shown, never redirected;
//! the rest redirect with `state` and `iss`.

use axum::http::{StatusCode, header};

use super::{ISSUER, PUBLIC_CLIENT, REDIRECT, Reply, Server};

/// An HTML error page with the AS-27 headers and no redirect.
#[track_caller]
fn assert_error_page(r: &Reply, code: &str, description: &str) {
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.header(header::LOCATION).is_none(), "redirected");
    assert_eq!(
        r.header(header::CONTENT_TYPE),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(r.header(header::X_FRAME_OPTIONS), Some("DENY"));
    assert_eq!(r.header(header::CACHE_CONTROL), Some("no-store"));
    assert_eq!(r.header(header::REFERRER_POLICY), Some("no-referrer"));
    assert_eq!(
        r.header(header::CONTENT_SECURITY_POLICY),
        Some(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
        )
    );
    let body = r.text();
    assert!(
        body.contains(&format!(
            "<p><strong>{code}</strong></p><p>{description}</p>"
        )),
        "{body}"
    );
}

#[tokio::test]
async fn unknown_client_is_shown_not_redirected() {
    let s = Server::new();
    let r = s
        .get("/authorize?response_type=code&client_id=nobody&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb&state=s")
        .await;
    assert_error_page(&r, "invalid_client", "unknown client_id");
}

#[tokio::test]
async fn unregistered_redirect_uri_is_shown_not_redirected() {
    let s = Server::new();
    let (r, _) = s
        .authorize(&[("redirect_uri", "https://evil.example/callback")])
        .await;
    // The helper already sent the good redirect_uri: the repeat is refused first.
    assert_error_page(
        &r,
        "invalid_request",
        "client_id or redirect_uri is repeated",
    );
    let r = s
        .get(&format!(
            "/authorize?response_type=code&client_id={PUBLIC_CLIENT}&redirect_uri=https%3A%2F%2Fevil.example%2Fcallback&state=s"
        ))
        .await;
    assert_error_page(
        &r,
        "invalid_request",
        "redirect_uri is not registered for this client",
    );
}

#[tokio::test]
async fn missing_client_id_is_shown_not_redirected() {
    let s = Server::new();
    let r = s.get("/authorize?response_type=code").await;
    assert_error_page(&r, "invalid_request", "missing client_id");
}

#[tokio::test]
async fn good_request_redirects_with_code_state_and_iss_under_auto_approve() {
    let s = Server::new();
    let (r, _) = s.authorize(&[("state", "xyz")]).await;
    assert_eq!(r.header(header::CACHE_CONTROL), Some("no-store"));
    let (url, query) = r.redirect();
    assert_eq!(
        format!("{}://{}{}", url.scheme(), url.authority(), url.path()),
        REDIRECT
    );
    let names: Vec<&str> = query.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["code", "state", "iss"]);
    assert_eq!(query[0].1.len(), 43, "a 256-bit base64url code");
    assert_eq!(query[1].1, "xyz");
    assert_eq!(query[2].1, ISSUER);
}

#[tokio::test]
async fn errors_after_the_client_is_known_redirect_with_state_and_iss() {
    let s = Server::new();
    let r = s
        .get(&format!(
            "/authorize?response_type=code&client_id={PUBLIC_CLIENT}&redirect_uri={}&state=abc",
            urlencode(REDIRECT)
        ))
        .await;
    let (_, query) = r.redirect();
    assert_eq!(
        query,
        [
            ("error", "invalid_request"),
            ("error_description", "code_challenge is required (PKCE)"),
            ("state", "abc"),
            ("iss", ISSUER),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
    let (r, _) = s.authorize(&[("code_challenge_method", "plain")]).await;
    let (_, query) = r.redirect();
    assert_eq!(query[0], ("error".into(), "invalid_request".into()));
    assert_eq!(
        query[1],
        (
            "error_description".into(),
            "parameter code_challenge_method is repeated".into()
        )
    );
    let (r, _) = s.authorize(&[("scope", "admin")]).await;
    let (_, query) = r.redirect();
    assert_eq!(query[0], ("error".into(), "invalid_scope".into()));
    assert_eq!(
        query[1],
        ("error_description".into(), "unknown scope admin".into())
    );
}

#[tokio::test]
async fn without_auto_approve_a_consent_page_with_a_csrf_cookie_is_shown() {
    let s = Server::with(|c| c.auto_approve = false);
    let (r, _) = s.authorize(&[("state", "xyz")]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.header(header::CONTENT_SECURITY_POLICY),
        Some(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http://127.0.0.1:5555; frame-ancestors 'none'"
        )
    );
    let cookie = r.header(header::SET_COOKIE).expect("cookie");
    assert!(cookie.starts_with("as_consent_csrf="), "{cookie}");
    assert!(
        cookie.ends_with("; Path=/authorize; HttpOnly; SameSite=Strict; Max-Age=600"),
        "{cookie}"
    );
    let body = r.text();
    assert!(body.contains("<span id=\"client-name\">MCP command-line client</span>"));
    assert!(body.contains("<strong id=\"redirect-host\">127.0.0.1</strong>"));
    assert!(body.contains("<li><code>mcp</code></li>"));
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Registers a public client with `redirect_uri` anonymously; returns its id.
async fn register_client(s: &Server, redirect_uri: &str) -> String {
    let r = s
        .send(
            axum::http::Request::post("/register")
                .header(header::CONTENT_TYPE, "application/json")
                .body(axum::body::Body::from(
                    serde_json::json!({ "redirect_uris": [redirect_uri] }).to_string(),
                ))
                .unwrap(),
        )
        .await;
    r.assert_no_store_json(StatusCode::CREATED)["client_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `GET /authorize` for `client_id` and `redirect_uri` with a PKCE challenge (unless
/// `pkce` is false) and `state=s1`.
async fn authorize_as(s: &Server, client_id: &str, redirect_uri: &str, pkce: bool) -> Reply {
    let v = shared::pkce::PkceVerifier::generate();
    let c = shared::pkce::PkceChallenge::s256(&v);
    let mut q = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("state", "s1"),
    ];
    if pkce {
        q.extend([
            ("code_challenge", c.as_str()),
            ("code_challenge_method", "S256"),
        ]);
    }
    s.get(&format!(
        "/authorize?{}",
        serde_urlencoded::to_string(&q).unwrap()
    ))
    .await
}

/// Issue 11 item 4: with auto-approve on (the default), a self-registered client whose
/// redirect URI is not loopback gets the consent page, not a code sent without interaction.
#[tokio::test]
async fn dynamic_client_with_a_remote_redirect_sees_the_consent_page_under_auto_approve_as12() {
    let s = Server::new();
    let evil = "https://evil.example/x";
    let id = register_client(&s, evil).await;
    let r = authorize_as(&s, &id, evil, true).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.header(header::LOCATION));
    assert!(r.header(header::LOCATION).is_none());
    let body = r.text();
    assert!(
        body.contains("<strong id=\"redirect-host\">evil.example</strong>"),
        "{body}"
    );
    assert!(body.contains("This client registered itself"), "{body}");
}

/// Loopback redirect URIs (the MCP SDK clients, the CLI) and configured clients keep
/// auto-approve.
#[tokio::test]
async fn loopback_redirects_and_configured_clients_keep_auto_approve_as12() {
    let s = Server::with(|c| {
        c.clients.push(crate::config::ClientConfig {
            client_id: "configured-web".into(),
            client_secret: None,
            client_name: None,
            redirect_uris: vec!["https://app.example/cb".into()],
            grant_types: vec!["authorization_code".into()],
            scopes: vec![],
            dpop_bound_access_tokens: false,
            jwks: None,
            jwks_uri: None,
        });
    });
    let id = register_client(&s, "http://127.0.0.1/cb").await;
    let (_, q) = authorize_as(&s, &id, "http://127.0.0.1:4711/cb", true)
        .await
        .redirect();
    assert_eq!(q[0].0, "code");
    let (url, q) = authorize_as(&s, "configured-web", "https://app.example/cb", true)
        .await
        .redirect();
    assert_eq!(url.host_str(), Some("app.example"));
    assert_eq!(q[0].0, "code");
}

/// Issue 11 item 4 (RFC 9700 §4.11.2): for an untrusted client (self-registered, remote
/// redirect URI) an error before any user interaction is shown on a page, never redirected,
/// with consent on or off.
#[tokio::test]
async fn errors_for_untrusted_clients_are_shown_not_redirected_as28() {
    for auto_approve in [true, false] {
        let s = Server::with(|c| c.auto_approve = auto_approve);
        let evil = "https://evil.example/x";
        let id = register_client(&s, evil).await;
        let r = authorize_as(&s, &id, evil, false).await;
        assert_error_page(&r, "invalid_request", "code_challenge is required (PKCE)");
    }
}
