//! The `/_faults` control endpoints, routed only when `faults.enabled` is set.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use crate::AppState;
use crate::error::OAuthError;
use crate::faults::FaultRequest;

/// `POST /_faults`: `{"endpoint", "fault", "times"}`.
pub(super) async fn set_fault(
    State(state): State<Arc<AppState>>,
    body: axum::body::Bytes,
) -> Result<StatusCode, OAuthError> {
    let req: FaultRequest = serde_json::from_slice(&body)
        .map_err(|e| OAuthError::invalid_request(format!("bad fault request: {e}")))?;
    if state.faults.set(&req.endpoint, req.fault, req.times) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(OAuthError::invalid_request("unknown endpoint"))
    }
}

/// `DELETE /_faults`
pub(super) async fn clear_faults(State(state): State<Arc<AppState>>) -> StatusCode {
    state.faults.clear();
    StatusCode::NO_CONTENT
}

/// `POST /_faults/rotate-keys`: `{"kid": <the new key's id>}`.
pub(super) async fn rotate_keys(
    State(state): State<Arc<AppState>>,
) -> Result<Json<serde_json::Value>, OAuthError> {
    let kid = state
        .faults
        .rotate_keys()
        .ok_or_else(|| OAuthError::server_error("key rotation failed"))?;
    Ok(Json(serde_json::json!({ "kid": kid })))
}
