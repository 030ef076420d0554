//! `GET /jwks` and `/.well-known/jwks.json`: public keys only (AS-51), cacheable.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::AppState;

/// The JWKS, with `Cache-Control: max-age` so resource servers cache it.
pub(super) async fn jwks(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        state.keys.ring().jwks_json(),
    )
}
