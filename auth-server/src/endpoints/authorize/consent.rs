//! The consent step: pending requests kept server-side, the double-submit CSRF cookie, and
//! `POST /authorize/decision` (AS-26, AS-27).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;

use super::AuthzRequest;
use super::page::{ConsentView, consent_page, error_page};
use super::{error_redirect, issue_code};
use crate::AppState;
use crate::endpoints::form::Params;
use crate::error::OAuthError;

/// Consent requests waiting for approve/deny, keyed by a random id, each with its CSRF token.
/// At most [`MAX_PENDING_PER_OWNER`] per subject and client: a flood through one client (or
/// by one user) only displaces its own oldest requests and never fills the table for others.
#[derive(Debug, Default)]
pub(crate) struct PendingConsents(Mutex<Pending>);

#[derive(Debug, Default)]
struct Pending {
    requests: HashMap<String, (AuthzRequest, String, u64)>,
    /// Request ids per (subject, client id), oldest first.
    by_owner: HashMap<(String, String), VecDeque<String>>,
}

const CONSENT_TTL: u64 = 600;
const MAX_PENDING: usize = 10_000;
const MAX_PENDING_PER_OWNER: usize = 32;
const CSRF_COOKIE: &str = "as_consent_csrf";

impl Pending {
    fn drop_expired(&mut self, now: u64) {
        self.requests.retain(|_, (_, _, exp)| *exp > now);
        let requests = &self.requests;
        self.by_owner.retain(|_, ids| {
            ids.retain(|id| requests.contains_key(id));
            !ids.is_empty()
        });
    }
}

impl PendingConsents {
    /// Stores a pending request of `subject`; `None` when the table is full of unexpired
    /// requests (a flood must not evict other users' pending consents). When this subject and
    /// client already have [`MAX_PENDING_PER_OWNER`] pending, the oldest of them is dropped.
    fn insert(&self, req: AuthzRequest, subject: &str, now: u64) -> Option<(String, String)> {
        let id = shared::random::token();
        let csrf = shared::random::token();
        let owner = (subject.to_owned(), req.client.client_id.clone());
        let mut p = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let own = p.by_owner.get(&owner).map_or(0, VecDeque::len);
        if own >= MAX_PENDING_PER_OWNER || p.requests.len() >= MAX_PENDING {
            p.drop_expired(now);
        }
        let oldest = p
            .by_owner
            .get_mut(&owner)
            .filter(|ids| ids.len() >= MAX_PENDING_PER_OWNER)
            .and_then(VecDeque::pop_front);
        if let Some(oldest) = oldest {
            p.requests.remove(&oldest);
        }
        if p.requests.len() >= MAX_PENDING {
            return None;
        }
        p.requests
            .insert(id.clone(), (req, csrf.clone(), now + CONSENT_TTL));
        p.by_owner.entry(owner).or_default().push_back(id.clone());
        Some((id, csrf))
    }

    fn take(&self, id: &str, now: u64) -> Option<(AuthzRequest, String)> {
        let mut p = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let (req, csrf, exp) = p.requests.remove(id)?;
        // The subject is not kept in the request: look in this client's queues.
        for ((_, client), ids) in &mut p.by_owner {
            if *client == req.client.client_id {
                ids.retain(|i| i != id);
            }
        }
        p.by_owner.retain(|_, ids| !ids.is_empty());
        (exp > now).then_some((req, csrf))
    }
}

/// Stores the request and shows the consent page, setting the CSRF cookie.
pub(super) fn ask(state: &AppState, req: AuthzRequest) -> Response {
    let now = state.clock.now_unix();
    let view = ConsentView::new(&req);
    let Some((id, csrf)) = state.consents.insert(req, &state.config.subject, now) else {
        return error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "too many pending authorization requests; try again in a few minutes",
        );
    };
    let mut res = consent_page(&view, &state.config.subject, &id, &csrf);
    let secure = if state.issuer.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{CSRF_COOKIE}={csrf}; Path=/authorize; HttpOnly; SameSite=Strict; Max-Age={CONSENT_TTL}{secure}"
    );
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
        Some("approve") => issue_code(&state, req).await,
        _ => {
            let e = OAuthError::access_denied("the user denied the request");
            error_redirect(&state, &req.redirect_uri, req.state.as_deref(), &e)
        }
    }
}

#[cfg(test)]
mod tests {
    use shared::oauth::TokenEndpointAuthMethod;
    use shared::scope::ScopeSet;

    use super::*;
    use crate::store::ClientRecord;

    fn req() -> AuthzRequest {
        req_of("c")
    }

    fn req_of(client_id: &str) -> AuthzRequest {
        AuthzRequest {
            client: ClientRecord {
                client_id: client_id.into(),
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
        let (first, _) = p.insert(req_of("first"), "u", 100).unwrap();
        for i in 1..MAX_PENDING {
            assert!(p.insert(req_of(&format!("c{i}")), "u", 100).is_some());
        }
        assert!(
            p.insert(req_of("late"), "u", 100).is_none(),
            "full: refused"
        );
        assert!(
            p.take(&first, 101).is_some(),
            "the first user's request survived"
        );
        // Once requests expire, there is room again.
        assert!(p.insert(req(), "u", 100 + CONSENT_TTL + 1).is_some());
    }

    #[test]
    fn one_subject_and_client_cannot_fill_the_pending_table_for_others() {
        let p = PendingConsents::default();
        let (victim, _) = p.insert(req_of("cli"), "alice", 100).unwrap();
        let (other_client, _) = p.insert(req_of("app"), "mallory", 100).unwrap();
        let (first_flood, _) = p.insert(req_of("cli"), "mallory", 100).unwrap();
        for _ in 0..MAX_PENDING {
            assert!(
                p.insert(req_of("cli"), "mallory", 100).is_some(),
                "never refused"
            );
        }
        let pending = p.0.lock().unwrap().requests.len();
        assert_eq!(pending, 2 + MAX_PENDING_PER_OWNER, "the flood is capped");
        assert!(
            p.take(&first_flood, 101).is_none(),
            "the flood displaced its own oldest"
        );
        assert!(
            p.take(&victim, 101).is_some(),
            "another subject's request survived"
        );
        assert!(
            p.take(&other_client, 101).is_some(),
            "another client's request survived"
        );
    }

    #[test]
    fn cookie_value_finds_the_named_cookie_among_several() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, "a=1; as_consent_csrf=tok".parse().unwrap());
        h.append(header::COOKIE, "b=2".parse().unwrap());
        assert_eq!(cookie_value(&h, CSRF_COOKIE), Some("tok"));
        assert_eq!(cookie_value(&h, "b"), Some("2"));
        assert_eq!(cookie_value(&h, "c"), None);
    }
}
