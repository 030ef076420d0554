//! `GET /authorize` (RFC 6749 §4.1.1 as profiled by OAuth 2.1) and the consent decision.
//!
//! Errors about the client or the redirect URI are shown on a page and never redirected
//! (AS-17, AS-28); every other error redirects with `error`, `error_description`, `state` and
//! `iss` (AS-25). Success redirects with `code`, `state` and `iss` (AS-24, RFC 9207).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use shared::pkce::PkceChallenge;
use shared::scope::ScopeSet;

use super::Params;
use crate::AppState;
use crate::error::OAuthError;
use crate::store::{ClientRecord, CodeRecord, digest};

/// A validated authorization request waiting for the user's decision.
#[derive(Debug, Clone)]
pub struct AuthzRequest {
    client: ClientRecord,
    redirect_uri: String,
    redirect_uri_sent: bool,
    state: Option<String>,
    code_challenge: String,
    scope: ScopeSet,
    resource: Option<String>,
}

/// Consent requests waiting for approve/deny, keyed by a random id, each with its CSRF token.
#[derive(Debug, Default)]
pub struct PendingConsents(Mutex<HashMap<String, (AuthzRequest, String, u64)>>);

const CONSENT_TTL: u64 = 600;
const MAX_PENDING: usize = 10_000;

impl PendingConsents {
    /// Stores a pending request; `None` when the table is full of unexpired requests (a
    /// flood must not evict other users' pending consents).
    fn insert(&self, req: AuthzRequest, now: u64) -> Option<(String, String)> {
        let id = shared::random::token();
        let csrf = shared::random::token();
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if m.len() >= MAX_PENDING {
            m.retain(|_, (_, _, exp)| *exp > now);
            if m.len() >= MAX_PENDING {
                return None;
            }
        }
        m.insert(id.clone(), (req, csrf.clone(), now + CONSENT_TTL));
        Some((id, csrf))
    }

    fn take(&self, id: &str, now: u64) -> Option<(AuthzRequest, String)> {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        m.remove(id)
            .filter(|(_, _, exp)| *exp > now)
            .map(|(r, c, _)| (r, c))
    }
}

/// An error page (never a redirect): the client or redirect URI cannot be trusted.
fn error_page(status: StatusCode, code: &str, description: &str) -> Response {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Authorization error</title></head>\
         <body><h1>Authorization error</h1><p><strong>{}</strong></p><p>{}</p>\
         <p>The application's request could not be trusted, so you were not sent back to it.</p></body></html>",
        html_escape(code),
        html_escape(description)
    );
    let mut res = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response();
    secure_page_headers(res.headers_mut());
    res
}

fn secure_page_headers(h: &mut HeaderMap) {
    secure_page_headers_for(h, None);
}

/// `form_target`: the origin the consent form may end up at (browsers apply `form-action` to
/// the redirect that follows the POST).
fn secure_page_headers_for(h: &mut HeaderMap, form_target: Option<&str>) {
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

/// A 303 redirect to the client's redirect URI with extra query parameters.
fn redirect(redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    let mut url = match url::Url::parse(redirect_uri) {
        Ok(u) => u,
        Err(_) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "bad redirect URI",
            );
        }
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
    }
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(loc) = HeaderValue::from_str(url.as_str()) {
        res.headers_mut().insert(header::LOCATION, loc);
    }
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn error_redirect(
    state: &AppState,
    req_redirect: &str,
    client_state: Option<&str>,
    e: &OAuthError,
) -> Response {
    let mut p: Vec<(&str, &str)> = vec![
        ("error", e.code.as_str()),
        ("error_description", &e.description),
    ];
    if let Some(s) = client_state {
        p.push(("state", s));
    }
    p.push(("iss", &state.issuer));
    tracing::debug!(oauth.error = %e.code, "authorization request refused");
    redirect(req_redirect, &p)
}

/// Resolves a client: configured, registered, or a Client ID Metadata Document URL.
async fn find_client(state: &AppState, client_id: &str) -> Result<ClientRecord, String> {
    if let Some(c) = state.store.client(client_id) {
        return Ok(c);
    }
    if state.config.client_metadata_documents && crate::cimd::is_metadata_url(client_id) {
        return state
            .cimd
            .client(client_id, state.clock.now_unix())
            .await
            .map_err(|e| format!("client metadata document could not be used: {e}"));
    }
    Err("unknown client_id".into())
}

/// `GET /authorize`
pub(crate) async fn authorize(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref().unwrap_or("").as_bytes());
    // Step 1: client and redirect URI; failures are shown, never redirected.
    if params.is_repeated("client_id") || params.is_repeated("redirect_uri") {
        return error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "client_id or redirect_uri is repeated",
        );
    }
    let Some(client_id) = params.get("client_id") else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "missing client_id",
        );
    };
    let client = match find_client(&state, client_id).await {
        Ok(c) => c,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, "invalid_client", &e),
    };
    let (redirect_uri, sent) = match params.get("redirect_uri") {
        Some(r) => {
            if !client
                .redirect_uris
                .iter()
                .any(|reg| shared::urls::redirect_uri_matches(reg, r))
            {
                return error_page(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "redirect_uri is not registered for this client",
                );
            }
            (r.to_owned(), true)
        }
        None if client.redirect_uris.len() == 1 => (client.redirect_uris[0].clone(), false),
        None => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "missing redirect_uri",
            );
        }
    };
    let client_state = if params.is_repeated("state") {
        None
    } else {
        params.get("state")
    };
    // Step 2: everything else redirects.
    match validate(&state, &params, client, redirect_uri.clone(), sent) {
        Ok(req) => {
            if state.config.auto_approve {
                issue_code(&state, req)
            } else {
                consent_page(&state, req)
            }
        }
        Err(e) => error_redirect(&state, &redirect_uri, client_state, &e),
    }
}

fn validate(
    state: &AppState,
    params: &Params,
    client: ClientRecord,
    redirect_uri: String,
    redirect_uri_sent: bool,
) -> Result<AuthzRequest, OAuthError> {
    if params.is_repeated("resource") {
        return Err(OAuthError::invalid_target(
            "exactly one resource per authorization request",
        ));
    }
    params.reject_repeated()?;
    match params.get("response_type") {
        None => return Err(OAuthError::invalid_request("missing response_type")),
        Some("code") => {}
        Some(_) => {
            return Err(OAuthError::unsupported_response_type(
                "only response_type=code is supported",
            ));
        }
    }
    if !client.grant_types.iter().any(|g| g == "authorization_code") {
        return Err(OAuthError::unauthorized_client(
            "client may not use the authorization code grant",
        ));
    }
    let challenge = params
        .get("code_challenge")
        .ok_or_else(|| OAuthError::invalid_request("code_challenge is required (PKCE)"))?;
    match params.get("code_challenge_method") {
        Some("S256") => {}
        None => {
            return Err(OAuthError::invalid_request(
                "code_challenge_method is required; plain is not supported, use S256",
            ));
        }
        Some(_) => {
            return Err(OAuthError::invalid_request(
                "unsupported code_challenge_method; use S256",
            ));
        }
    }
    let challenge = PkceChallenge::parse_s256(challenge)
        .map_err(|e| OAuthError::invalid_request(format!("invalid code_challenge: {e}")))?;
    let resource = resolve_resource(state, params.get("resource"))?;
    let scope = resolve_scope(state, &client, params.get("scope"))?;
    Ok(AuthzRequest {
        client,
        redirect_uri,
        redirect_uri_sent,
        state: params.get("state").map(str::to_owned),
        code_challenge: challenge.as_str().to_owned(),
        scope,
        resource: Some(resource),
    })
}

/// RFC 8707: the requested resource must be one we serve (compared in canonical form); the
/// configured spelling is what goes into `aud`. Absent: the single configured resource.
pub(crate) fn resolve_resource(
    state: &AppState,
    requested: Option<&str>,
) -> Result<String, OAuthError> {
    let configured = &state.config.resources;
    let Some(requested) = requested else {
        return match configured.as_slice() {
            [only] => Ok(only.clone()),
            _ => Err(OAuthError::invalid_target("resource is required")),
        };
    };
    let url = url::Url::parse(requested)
        .map_err(|_| OAuthError::invalid_target("resource must be an absolute URI"))?;
    if url.fragment().is_some() {
        return Err(OAuthError::invalid_target(
            "resource must not contain a fragment",
        ));
    }
    let canon = shared::urls::canonical_resource(requested)
        .map_err(|_| OAuthError::invalid_target("resource must be an absolute URI"))?;
    configured
        .iter()
        .find(|c| shared::urls::canonical_resource(c).is_ok_and(|cc| cc == canon))
        .cloned()
        .ok_or_else(|| OAuthError::invalid_target("unknown resource"))
}

/// Requested scope checked against offered and client-allowed scopes; absent = the default.
pub(crate) fn resolve_scope(
    state: &AppState,
    client: &ClientRecord,
    requested: Option<&str>,
) -> Result<ScopeSet, OAuthError> {
    let allowed = client
        .scopes
        .clone()
        .unwrap_or_else(|| state.offered_scopes.clone());
    let requested = match requested {
        Some(s) => ScopeSet::parse(s),
        None => {
            let default = ScopeSet::parse(&state.config.default_scope);
            if default.is_subset_of(&allowed) {
                default
            } else {
                allowed.clone()
            }
        }
    };
    if requested.is_empty() {
        return Err(OAuthError::invalid_scope("no scope requested"));
    }
    for s in requested.iter() {
        if !state.offered_scopes.contains(s) {
            return Err(OAuthError::invalid_scope(format!("unknown scope {s}")));
        }
        if !allowed.satisfies(s) {
            return Err(OAuthError::invalid_scope(format!(
                "scope {s} is not allowed for this client"
            )));
        }
    }
    Ok(requested)
}

fn issue_code(state: &AppState, req: AuthzRequest) -> Response {
    let code = shared::random::token();
    let now = state.clock.now_unix();
    state.store.put_code(
        digest(&code),
        CodeRecord {
            client_id: req.client.client_id.clone(),
            redirect_uri: req.redirect_uri_sent.then(|| req.redirect_uri.clone()),
            code_challenge: req.code_challenge,
            scope: req.scope,
            resource: req.resource,
            subject: state.config.subject.clone(),
            expires_at: now + state.config.code_ttl_secs,
            redeemed_grant: None,
        },
    );
    tracing::info!(client.id = %req.client.client_id, "authorization code issued");
    let mut p: Vec<(&str, &str)> = vec![("code", &code)];
    if let Some(s) = &req.state {
        p.push(("state", s));
    }
    p.push(("iss", &state.issuer));
    redirect(&req.redirect_uri, &p)
}

const CSRF_COOKIE: &str = "as_consent_csrf";

fn consent_page(state: &AppState, req: AuthzRequest) -> Response {
    let now = state.clock.now_unix();
    let redirect_url = url::Url::parse(&req.redirect_uri).ok();
    let redirect_host = redirect_url
        .as_ref()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    // Browsers apply `form-action` to the redirect after the POST: allow the redirect's origin
    // (or, for private-use schemes, which have no origin, the scheme).
    let redirect_origin = redirect_url.as_ref().map(|u| match u.origin() {
        o @ url::Origin::Tuple(..) => o.ascii_serialization(),
        url::Origin::Opaque(_) => format!("{}:", u.scheme()),
    });
    let localhost_only = req
        .client
        .redirect_uris
        .iter()
        .all(|r| url::Url::parse(r).is_ok_and(|u| shared::urls::is_loopback_host(u.host())));
    let name = req
        .client
        .client_name
        .clone()
        .unwrap_or_else(|| req.client.client_id.clone());
    let scopes: String = req
        .scope
        .iter()
        .map(|s| format!("<li><code>{}</code></li>", html_escape(s)))
        .collect();
    let resource = req.resource.clone().unwrap_or_default();
    let client_id = req.client.client_id.clone();
    let dynamic = req.client.dynamic;
    let Some((id, csrf)) = state.consents.insert(req, now) else {
        return error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "too many pending authorization requests; try again in a few minutes",
        );
    };
    let warning = if localhost_only {
        "<p class=\"warn\">This application only redirects to this computer (localhost). Approve only if you started it yourself.</p>"
    } else {
        ""
    };
    let unverified = if dynamic {
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
        name = html_escape(&name),
        client_id = html_escape(&client_id),
        host = html_escape(&redirect_host),
        user = html_escape(&state.config.subject),
        resource = html_escape(&resource),
    );
    let secure = if state.issuer.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{CSRF_COOKIE}={csrf}; Path=/authorize; HttpOnly; SameSite=Strict; Max-Age={CONSENT_TTL}{secure}"
    );
    let mut res = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response();
    secure_page_headers_for(res.headers_mut(), redirect_origin.as_deref());
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// `POST /authorize/decision`: the consent form. CSRF is checked against the server-side
/// pending request and the double-submit cookie (AS-27). Redirects with 303 (AS-26).
pub(crate) async fn decision(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let params = Params::parse(&body);
    if params.reject_repeated().is_err() {
        return error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "repeated parameters",
        );
    }
    let (Some(id), Some(csrf)) = (params.get("request_id"), params.get("csrf_token")) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "missing request_id or csrf_token",
        );
    };
    let now = state.clock.now_unix();
    let Some((req, expected)) = state.consents.take(id, now) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "unknown or expired authorization request",
        );
    };
    let cookie_ok = cookie_value(&headers, CSRF_COOKIE)
        .is_some_and(|c| shared::random::constant_time_eq(c.as_bytes(), expected.as_bytes()));
    if !shared::random::constant_time_eq(csrf.as_bytes(), expected.as_bytes()) || !cookie_ok {
        return error_page(
            StatusCode::FORBIDDEN,
            "invalid_request",
            "CSRF check failed; start the authorization again",
        );
    }
    match params.get("decision") {
        Some("approve") => issue_code(&state, req),
        _ => {
            let e = OAuthError::access_denied("the user denied the request");
            error_redirect(&state, &req.redirect_uri, req.state.as_deref(), &e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TokenEndpointAuthMethod;

    fn req() -> AuthzRequest {
        AuthzRequest {
            client: ClientRecord {
                client_id: "c".into(),
                secret_digest: None,
                auth_method: TokenEndpointAuthMethod::None,
                redirect_uris: vec![],
                grant_types: vec![],
                scopes: None,
                client_name: None,
                application_type: "native".into(),
                dynamic: false,
                issued_at: 0,
            },
            redirect_uri: "http://127.0.0.1/cb".into(),
            redirect_uri_sent: true,
            state: None,
            code_challenge: "x".into(),
            scope: ScopeSet::parse("mcp"),
            resource: None,
        }
    }

    #[test]
    fn a_flood_of_pending_consents_is_refused_without_evicting_others() {
        let p = PendingConsents::default();
        let (first, _) = p.insert(req(), 100).unwrap();
        for _ in 1..MAX_PENDING {
            assert!(p.insert(req(), 100).is_some());
        }
        assert!(p.insert(req(), 100).is_none(), "full: refused");
        assert!(
            p.take(&first, 101).is_some(),
            "the first user's request survived"
        );
        // Once requests expire, there is room again.
        assert!(p.insert(req(), 100 + CONSENT_TTL + 1).is_some());
    }
}
