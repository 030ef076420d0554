//! Resource (RFC 8707) and scope (RFC 6749 §3.3) resolution, shared by `/authorize` and
//! `/token`.

use shared::scope::ScopeSet;

use crate::AppState;
use crate::error::OAuthError;
use crate::store::ClientRecord;

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
    // Borrowed: the check needs no copy of either set (issue 16 C).
    let allowed = client.scopes.as_ref().unwrap_or(&state.offered_scopes);
    let requested = match requested {
        Some(s) => ScopeSet::parse(s),
        None => {
            let default = ScopeSet::parse(&state.config.default_scope);
            if default.is_subset_of(allowed) {
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

/// A `resource` sent to `/token` with a code or refresh token must resolve to the resource
/// the grant was for (RFC 8707 §2.2); when absent, the grant's resource stands.
pub(crate) fn check_same_resource(
    state: &AppState,
    requested: Option<&str>,
    granted: Option<&String>,
) -> Result<(), OAuthError> {
    if let Some(r) = requested {
        let wanted = resolve_resource(state, Some(r))?;
        if Some(&wanted) != granted {
            return Err(OAuthError::invalid_target(
                "resource differs from the one authorized",
            ));
        }
    }
    Ok(())
}
