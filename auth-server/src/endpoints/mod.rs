//! One module per endpoint, plus what several of them share: the strict form parser
//! ([`form`]), client authentication ([`client_auth`]), resource and scope resolution
//! ([`resolve`]) and the `no-store` rendering.

mod authorize;
mod client_auth;
pub(crate) mod dpop;
mod faults;
mod form;
pub(crate) mod idjag;
mod introspect;
mod jwks;
pub(crate) mod metadata;
pub(crate) mod register;
mod resolve;
mod revoke;
mod token;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::AppState;
use crate::error::OAuthError;

/// Every route.
pub(crate) fn routes(state: Arc<AppState>) -> Router {
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
            .route(
                "/_faults",
                post(faults::set_fault).delete(faults::clear_faults),
            )
            .route("/_faults/rotate-keys", post(faults::rotate_keys));
    }
    r.with_state(state)
}

/// Renders an endpoint's result with `Cache-Control: no-store` and `Pragma: no-cache` on
/// success (RFC 6749 §5.1, RFC 7591 §3.2.1); errors render as RFC 6749 JSON, which carries
/// them too (`OAuthError::into_response`).
fn no_store<T: IntoResponse>(result: Result<T, OAuthError>) -> Response {
    match result {
        Ok(ok) => {
            let mut res = ok.into_response();
            let h = res.headers_mut();
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            res
        }
        Err(e) => e.into_response(),
    }
}
