//! One module per endpoint, plus the strict form parser and client authentication they share.

pub mod authorize;
pub mod introspect;
pub mod jwks;
pub mod metadata;
pub mod register;
pub mod revoke;
pub mod token;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, header};
use axum::routing::{get, post};
use base64::Engine as _;

use crate::AppState;
use crate::error::OAuthError;
use crate::store::{ClientRecord, digest};

/// Every route.
pub fn routes(state: Arc<AppState>) -> Router {
    let mut r = Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            get(metadata::oauth),
        )
        .route("/authorize", get(authorize::authorize))
        .route("/authorize/decision", post(authorize::decision))
        .route("/token", post(token::token))
        .route("/jwks", get(jwks::jwks))
        .route("/.well-known/jwks.json", get(jwks::jwks))
        .route("/register", post(register::register))
        .route("/revoke", post(revoke::revoke))
        .route("/introspect", post(introspect::introspect));
    if state.config.openid_configuration {
        r = r.route("/.well-known/openid-configuration", get(metadata::openid));
    }
    if state.faults.enabled() {
        r = r
            .route("/_faults", post(set_fault).delete(clear_faults))
            .route("/_faults/rotate-keys", post(rotate_keys));
    }
    r.with_state(state)
}

async fn set_fault(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
    body: axum::body::Bytes,
) -> Result<axum::http::StatusCode, OAuthError> {
    let req: crate::faults::FaultRequest = serde_json::from_slice(&body)
        .map_err(|e| OAuthError::invalid_request(format!("bad fault request: {e}")))?;
    if state.faults.set(&req.endpoint, req.fault, req.times) {
        Ok(axum::http::StatusCode::NO_CONTENT)
    } else {
        Err(OAuthError::invalid_request("unknown endpoint"))
    }
}

async fn clear_faults(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
) -> axum::http::StatusCode {
    state.faults.clear();
    axum::http::StatusCode::NO_CONTENT
}

async fn rotate_keys(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
) -> Result<axum::Json<serde_json::Value>, OAuthError> {
    let kid = state
        .faults
        .rotate_keys()
        .ok_or_else(|| OAuthError::server_error("key rotation failed"))?;
    Ok(axum::Json(serde_json::json!({ "kid": kid })))
}

/// Renders an endpoint's result with `Cache-Control: no-store` and `Pragma: no-cache` on
/// success (RFC 6749 §5.1, RFC 7591 §3.2.1); errors render as RFC 6749 JSON, which carries
/// them too (`OAuthError::into_response`).
pub(crate) fn no_store<T: axum::response::IntoResponse>(
    result: Result<T, OAuthError>,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    match result {
        Ok(ok) => {
            let mut res = ok.into_response();
            let h = res.headers_mut();
            h.insert(
                header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            );
            h.insert(
                header::PRAGMA,
                axum::http::HeaderValue::from_static("no-cache"),
            );
            res
        }
        Err(e) => e.into_response(),
    }
}

/// Parameters of a form body or query string, parsed strictly (checklist AS-11, AS-29):
/// repeated parameters are an error, empty values count as absent, unknown ones are ignored.
#[derive(Debug, Default)]
pub struct Params {
    map: HashMap<String, String>,
    repeated: Vec<String>,
    resources: Vec<String>,
}

impl Params {
    /// Parses `application/x-www-form-urlencoded` bytes.
    pub fn parse(bytes: &[u8]) -> Self {
        let mut p = Params::default();
        for (k, v) in form_urlencoded::parse(bytes) {
            if v.is_empty() {
                continue;
            }
            if k == "resource" {
                p.resources.push(v.clone().into_owned());
            }
            if p.map.contains_key(k.as_ref()) {
                if !p.repeated.iter().any(|r| r == k.as_ref()) {
                    p.repeated.push(k.into_owned());
                }
                continue;
            }
            p.map.insert(k.into_owned(), v.into_owned());
        }
        p
    }

    /// A parameter value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(String::as_str)
    }

    /// Whether `key` was repeated.
    pub fn is_repeated(&self, key: &str) -> bool {
        self.repeated.iter().any(|r| r == key)
    }

    /// Fails with `invalid_request` if any parameter was repeated.
    pub fn reject_repeated(&self) -> Result<(), OAuthError> {
        match self.repeated.first() {
            Some(k) => Err(OAuthError::invalid_request(format!(
                "parameter {k} is repeated"
            ))),
            None => Ok(()),
        }
    }

    /// A required parameter.
    pub fn require(&self, key: &str) -> Result<&str, OAuthError> {
        self.get(key)
            .ok_or_else(|| OAuthError::invalid_request(format!("missing parameter {key}")))
    }
}

/// Checks the request is a form post (AS-29).
pub fn require_form(headers: &HeaderMap) -> Result<(), OAuthError> {
    let ok = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if ok {
        Ok(())
    } else {
        Err(OAuthError::invalid_request(
            "content type must be application/x-www-form-urlencoded",
        ))
    }
}

/// How the client authenticated.
#[derive(Debug)]
pub struct AuthenticatedClient {
    /// The client.
    pub client: ClientRecord,
    /// Whether HTTP Basic was used.
    pub basic: bool,
    /// Whether the client proved a secret (confidential).
    pub confidential: bool,
}

fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad =
        || OAuthError::invalid_client("malformed Basic credentials").with_basic_challenge(true);
    let value = value.to_str().map_err(|_| bad())?;
    let Some(b64) = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
    else {
        return Err(
            OAuthError::invalid_client("unsupported authorization scheme")
                .with_basic_challenge(true),
        );
    };
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let (id, secret) = raw.split_once(':').ok_or_else(bad)?;
    // RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
    let decode = |s: &str| -> String {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(Some((decode(id), decode(secret))))
}

/// Authenticates the client of a token, revocation or introspection request (AS-30, AS-38):
/// HTTP Basic or `client_secret_post` for confidential clients, `client_id` alone for public
/// ones; more than one method is `invalid_request`; unknown clients get `invalid_client`.
pub async fn authenticate_client(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
) -> Result<AuthenticatedClient, OAuthError> {
    let basic = basic_credentials(headers)?;
    let body_secret = params.get("client_secret");
    let body_id = params.get("client_id");
    if basic.is_some() && body_secret.is_some() {
        return Err(OAuthError::invalid_request(
            "use exactly one client authentication method",
        ));
    }
    let (client_id, secret, used_basic) = match &basic {
        Some((id, secret)) => {
            if body_id.is_some_and(|b| b != id) {
                return Err(OAuthError::invalid_request(
                    "client_id in the body differs from the authenticated client",
                ));
            }
            (id.as_str(), Some(secret.as_str()), true)
        }
        None => match body_id {
            Some(id) => (id, body_secret, false),
            None => {
                return Err(OAuthError::invalid_client("client authentication required"));
            }
        },
    };
    let unknown = || {
        OAuthError::invalid_client("unknown client or bad credentials")
            .with_basic_challenge(used_basic)
    };
    let client = match state.store.client(client_id) {
        Some(c) => c,
        None if crate::cimd::is_metadata_url(client_id)
            && state.config.client_metadata_documents =>
        {
            state
                .cimd
                .client(client_id, state.clock.now_unix())
                .await
                .map_err(|_| unknown())?
        }
        None => return Err(unknown()),
    };
    match (&client.secret_digest, secret) {
        (Some(expected), Some(given)) => {
            if !shared::random::constant_time_eq(expected, &digest(given)) {
                return Err(unknown());
            }
            Ok(AuthenticatedClient {
                client,
                basic: used_basic,
                confidential: true,
            })
        }
        (Some(_), None) => Err(unknown()),
        (None, Some(_)) => Err(OAuthError::invalid_client(
            "public clients do not authenticate with a secret",
        )
        .with_basic_challenge(used_basic)),
        (None, None) => Ok(AuthenticatedClient {
            client,
            basic: false,
            confidential: false,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_and_empty_parameters_as11() {
        let p = Params::parse(b"a=1&a=2&b=&c=3");
        assert!(p.is_repeated("a"));
        assert!(p.get("b").is_none());
        assert_eq!(p.get("c"), Some("3"));
        assert!(p.reject_repeated().is_err());
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let mut h = HeaderMap::new();
        let v = base64::engine::general_purpose::STANDARD.encode("my%20client:s%3Acret");
        h.insert(header::AUTHORIZATION, format!("Basic {v}").parse().unwrap());
        let (id, secret) = basic_credentials(&h).unwrap().unwrap();
        assert_eq!(id, "my client");
        assert_eq!(secret, "s:cret");
    }
}
