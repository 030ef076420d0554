//! `GET /authorize` and the consent page: PKCE required and S256 only (AS-18, AS-19, AS-25),
//! client and redirect URI errors shown, never redirected (AS-14, AS-17, AS-28), response
//! type, resource and scope errors redirected (AS-13, AS-21), CSRF and framing protection
//! (AS-27, AS-61).

use tests::oauth::{AuthorizeRequest, CLI, CLI_REDIRECT, authorize_request};
use tests::{auth_server, http, location_params, param, pkce};

use super::exchange;

#[tokio::test]
async fn missing_or_plain_pkce_is_refused_by_redirect_as18_as19_as25() {
    let s = auth_server(|_| {}).await;
    let issuer = s.issuer();
    let (_, c) = pkce();
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![], "code_challenge"),
        (vec![("code_challenge", c.as_str())], "plain"),
        (
            vec![
                ("code_challenge", c.as_str()),
                ("code_challenge_method", "plain"),
            ],
            "S256",
        ),
        (
            vec![
                ("code_challenge", "short"),
                ("code_challenge_method", "S256"),
            ],
            "code_challenge",
        ),
    ];
    for (extra, needle) in cases {
        let p = authorize_request(issuer, CLI, CLI_REDIRECT)
            .state("xyz")
            .params(&extra)
            .error_redirect()
            .await;
        assert_eq!(param(&p, "error"), Some("invalid_request"));
        let description = param(&p, "error_description").unwrap();
        assert!(description.contains(needle), "{p:?}");
        assert_eq!(param(&p, "state"), Some("xyz"));
        assert_eq!(param(&p, "iss"), Some(issuer));
        assert!(param(&p, "code").is_none());
    }
}

#[tokio::test]
async fn client_and_redirect_errors_are_shown_not_redirected_as14_as17_as28() {
    let s = auth_server(|_| {}).await;
    let (_, c) = pkce();
    for (client, redirect) in [
        ("unknown-client", CLI_REDIRECT),
        (CLI, "http://127.0.0.1:45678/callback/extra"),
        (CLI, "http://evil.example/callback"),
        (CLI, "http://127.0.0.1:45678/CALLBACK"),
    ] {
        let res = authorize_request(s.issuer(), client, redirect)
            .challenge(&c)
            .send()
            .await;
        assert_eq!(res.status(), 400, "{client} {redirect}");
        assert!(res.headers().get("location").is_none());
        let content_type = res.headers()["content-type"].to_str().unwrap();
        assert!(content_type.starts_with("text/html"));
    }
}

#[tokio::test]
async fn unsupported_response_type_and_unknown_resource_redirect_with_error_as13_as21() {
    let s = auth_server(|_| {}).await;
    let (_, c) = pkce();
    let request = || authorize_request(s.issuer(), CLI, CLI_REDIRECT).challenge(&c);
    let cases = [
        (
            request()
                .without("response_type")
                .param("response_type", "token"),
            "unsupported_response_type",
        ),
        (
            request().param("resource", "https://other.example/mcp"),
            "invalid_target",
        ),
        (request().param("scope", "admin"), "invalid_scope"),
    ];
    for (req, error) in cases {
        let res = req.send().await;
        assert_eq!(param(&location_params(&res), "error"), Some(error));
    }
}

/// The consent page for `req`: its session cookie and the page.
async fn consent_page(req: AuthorizeRequest) -> (reqwest::Response, String) {
    let res = req.send().await;
    let cookie = res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    (res, cookie)
}

/// The value of the hidden form field `name`.
fn field(page: &str, name: &str) -> String {
    let start = page.find(&format!("name=\"{name}\" value=\"")).unwrap() + name.len() + 15;
    page[start..].split('"').next().unwrap().to_owned()
}

/// Posts the consent decision form.
async fn decide(issuer: &str, request_id: &str, csrf: &str, cookie: &str) -> reqwest::Response {
    http()
        .post(format!("{issuer}/authorize/decision"))
        .header("cookie", cookie)
        .form(&[
            ("request_id", request_id),
            ("csrf_token", csrf),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn consent_page_csrf_and_framing_protection_as27_as61() {
    let s = auth_server(|c| c.auto_approve = false).await;
    let issuer = s.issuer();
    let (v, c) = pkce();
    let request = |state: &str| {
        authorize_request(issuer, CLI, CLI_REDIRECT)
            .challenge(&c)
            .state(state)
    };
    let (res, cookie) = consent_page(request("s1")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"));
    let page = res.text().await.unwrap();
    assert!(
        page.contains("127.0.0.1"),
        "the redirect host is shown (AS-61)"
    );
    let (rid, csrf) = (field(&page, "request_id"), field(&page, "csrf_token"));
    // A forged CSRF value is refused (and burns the pending request).
    assert_eq!(decide(issuer, &rid, "forged", &cookie).await.status(), 403);
    assert_eq!(decide(issuer, &rid, &csrf, &cookie).await.status(), 400);
    // A fresh request approved with the right CSRF value and cookie redirects with 303.
    let (res, cookie) = consent_page(request("s2")).await;
    let page = res.text().await.unwrap();
    let (rid, csrf) = (field(&page, "request_id"), field(&page, "csrf_token"));
    let res = decide(issuer, &rid, &csrf, &cookie).await;
    assert_eq!(res.status(), 303);
    let p = location_params(&res);
    assert_eq!(param(&p, "state"), Some("s2"));
    let code = param(&p, "code").unwrap();
    let res = exchange(issuer, code, v.secret()).send().await;
    assert_eq!(res.status(), 200);
}
