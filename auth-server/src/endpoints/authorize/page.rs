//! The HTML the authorization endpoint shows: the error page (for requests that cannot be
//! answered at the redirect URI) and the consent page, both with the AS-27 headers.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AuthzRequest;

/// An error page (never a redirect): the client or redirect URI cannot be trusted.
pub(super) fn error_page(status: StatusCode, code: &str, description: &str) -> Response {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Authorization error</title></head>\
         <body><h1>Authorization error</h1><p><strong>{}</strong></p><p>{}</p>\
         <p>The application's request could not be trusted, so you were not sent back to it.</p></body></html>",
        html_escape(code),
        html_escape(description)
    );
    html(status, body, None)
}

/// What the consent page shows, taken from the request before it is stored.
#[derive(Debug)]
pub(super) struct ConsentView {
    name: String,
    client_id: String,
    redirect_host: String,
    /// The origin the form may end up at: browsers apply `form-action` to the redirect after
    /// the POST (for private-use schemes, which have no origin, the scheme).
    redirect_origin: Option<String>,
    localhost_only: bool,
    dynamic: bool,
    scopes: String,
    resource: String,
}

impl ConsentView {
    pub(super) fn new(req: &AuthzRequest) -> Self {
        let client = &req.client;
        let redirect_url = url::Url::parse(&req.redirect_uri).ok();
        let redirect_host = redirect_url
            .as_ref()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        let redirect_origin = redirect_url.as_ref().map(|u| match u.origin() {
            o @ url::Origin::Tuple(..) => o.ascii_serialization(),
            url::Origin::Opaque(_) => format!("{}:", u.scheme()),
        });
        let localhost_only = client
            .redirect_uris
            .iter()
            .all(|r| url::Url::parse(r).is_ok_and(|u| shared::urls::is_loopback_host(u.host())));
        Self {
            name: client
                .client_name
                .clone()
                .unwrap_or_else(|| client.client_id.clone()),
            client_id: client.client_id.clone(),
            redirect_host,
            redirect_origin,
            localhost_only,
            dynamic: client.dynamic,
            scopes: req
                .scope
                .iter()
                .map(|s| format!("<li><code>{}</code></li>", html_escape(s)))
                .collect(),
            resource: req.resource.clone().unwrap_or_default(),
        }
    }
}

/// The consent page for `user`, posting `request_id` and `csrf_token` to the decision
/// endpoint.
pub(super) fn consent_page(view: &ConsentView, user: &str, id: &str, csrf: &str) -> Response {
    let warning = if view.localhost_only {
        "<p class=\"warn\">This application only redirects to this computer (localhost). Approve only if you started it yourself.</p>"
    } else {
        ""
    };
    let unverified = if view.dynamic {
        "<p class=\"warn\">This client registered itself; its name is not verified.</p>"
    } else {
        ""
    };
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Authorize {name}</title>\
<style>body{{font-family:sans-serif;max-width:36em;margin:3em auto}}.warn{{color:#a40}}button{{font-size:1.1em;margin-right:1em}}</style></head><body>\
<h1>Authorize <span id=\"client-name\">{name}</span>?</h1>\
<p>Client id: <code>{client_id}</code></p>\
<p>After your decision you will be sent to <strong id=\"redirect-host\">{host}</strong>.</p>\
{warning}{unverified}\
<p>Signed in as <strong>{user}</strong>. It asks for access to <code>{resource}</code> with these scopes:</p><ul>{scopes}</ul>\
<form method=\"post\" action=\"/authorize/decision\">\
<input type=\"hidden\" name=\"request_id\" value=\"{id}\"><input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
<button id=\"approve\" type=\"submit\" name=\"decision\" value=\"approve\">Approve</button>\
<button id=\"deny\" type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form></body></html>",
        name = html_escape(&view.name),
        client_id = html_escape(&view.client_id),
        host = html_escape(&view.redirect_host),
        user = html_escape(user),
        resource = html_escape(&view.resource),
        scopes = view.scopes,
    );
    html(StatusCode::OK, body, view.redirect_origin.as_deref())
}

/// An HTML response with the AS-27 headers; `form_target` is an extra `form-action` origin.
fn html(status: StatusCode, body: String, form_target: Option<&str>) -> Response {
    let mut res = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response();
    secure_page_headers(res.headers_mut(), form_target);
    res
}

fn secure_page_headers(h: &mut HeaderMap, form_target: Option<&str>) {
    // AS-27: no framing (clickjacking), no caching, no referrer leaks.
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    let csp = format!(
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'{}; frame-ancestors 'none'",
        form_target.map(|o| format!(" {o}")).unwrap_or_default()
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escape_covers_markup_and_quotes() {
        assert_eq!(
            html_escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
