//! Enterprise-managed authorization (MCP extension; ID-JAG, issue 15 B), both roles:
//!
//! - as the MCP authorization server, the JWT bearer grant (RFC 7523 §2.1) with an ID-JAG
//!   from a trusted IdP (checklist EX-20..EX-22): [`jwt_bearer`];
//! - as the enterprise IdP, RFC 8693 token exchange of the user's access token for an
//!   ID-JAG under the configured policy (EX-23): [`token_exchange`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use shared::assertion::{
    AssertionPolicy, ID_JAG_TOKEN_TYPE, ID_JAG_TYP, IdJagClaims, IdJagExpectations,
    TOKEN_TYPE_ACCESS_TOKEN,
};
use shared::dpop::JwkSet;
use shared::jwt::Audience;
use shared::scope::ScopeSet;

use super::client_auth::AuthenticatedClient;
use super::form::Params;
use super::resolve::resolve_scope;
use crate::AppState;
use crate::config::TrustedIdp;
use crate::error::OAuthError;
use crate::store::ReplayKind;

/// How long a fetched IdP JWK Set is used at least and at most, seconds.
const JWKS_MIN_TTL: u64 = 60;
const JWKS_MAX_TTL: u64 = 3_600;

/// Fetched key sets (trusted IdPs' `jwks_url`, clients' `jwks_uri`) by URL, with their
/// expiry. Bounded: at most [`MAX_CACHED_JWKS`] URLs.
#[derive(Debug, Default)]
pub(crate) struct RemoteJwks {
    cache: Mutex<HashMap<String, Cached>>,
    /// Trusted IdPs' `jwks_uri` from their metadata (discovery), by issuer.
    discovered: Mutex<HashMap<String, String>>,
}

/// How many fetched key sets are kept.
const MAX_CACHED_JWKS: usize = 1_000;
/// A key set is refetched for an unknown `kid` (key rotation) at most this often, seconds.
const REFETCH_AFTER_SECS: u64 = 30;

/// A fetched key set.
#[derive(Debug, Clone)]
struct Cached {
    keys: Arc<JwkSet>,
    fetched_at: u64,
    expires_at: u64,
}

impl RemoteJwks {
    /// The keys of `idp`: inline, cached, or fetched from its `jwks_url`; `refetch`: fetch
    /// again unless the cached set is younger than [`REFETCH_AFTER_SECS`] (an unknown `kid`).
    async fn idp(
        &self,
        state: &AppState,
        idp: &TrustedIdp,
        refetch: bool,
    ) -> Result<Arc<JwkSet>, OAuthError> {
        if let Some(k) = &idp.jwks {
            return Ok(Arc::new(k.clone()));
        }
        let url = match &idp.jwks_url {
            Some(u) => u.clone(),
            None => self.discover(state, &idp.issuer).await.map_err(|e| {
                tracing::warn!(idp.issuer = %idp.issuer, error = %e, "IdP discovery failed");
                OAuthError::temporarily_unavailable("the identity provider's keys are unavailable")
            })?,
        };
        self.get(state, &url, refetch).await.map_err(|e| {
            tracing::warn!(idp.issuer = %idp.issuer, error = %e, "IdP JWKS fetch failed");
            OAuthError::temporarily_unavailable("the identity provider's keys are unavailable")
        })
    }

    /// The key set at `url`, cached or fetched under the metadata-document address policy;
    /// `refetch`: fetch again unless the cached set is younger than [`REFETCH_AFTER_SECS`].
    pub(crate) async fn get(
        &self,
        state: &AppState,
        url: &str,
        refetch: bool,
    ) -> Result<Arc<JwkSet>, String> {
        let now = state.clock.now_unix();
        if let Some(c) = self.lock().get(url)
            && c.expires_at > now
            && (!refetch || c.fetched_at + REFETCH_AFTER_SECS > now)
        {
            return Ok(c.keys.clone());
        }
        let (body, ttl) = state
            .cimd
            .fetch_json(url)
            .await
            .map_err(|e| e.to_string())?;
        let keys: JwkSet = serde_json::from_slice(&body).map_err(|_| "not a JWK Set".to_owned())?;
        let keys = Arc::new(keys);
        let exp = now + ttl.clamp(JWKS_MIN_TTL, JWKS_MAX_TTL);
        let mut cache = self.lock();
        if cache.len() >= MAX_CACHED_JWKS {
            cache.retain(|_, c| c.expires_at > now);
            if cache.len() >= MAX_CACHED_JWKS {
                cache.clear();
            }
        }
        cache.insert(
            url.to_owned(),
            Cached {
                keys: keys.clone(),
                fetched_at: now,
                expires_at: exp,
            },
        );
        Ok(keys)
    }

    /// The `jwks_uri` of the IdP `issuer` from its RFC 8414 metadata (whose `issuer` must
    /// equal it), fetched once.
    async fn discover(&self, state: &AppState, issuer: &str) -> Result<String, String> {
        if let Some(u) = self
            .discovered
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(issuer)
        {
            return Ok(u.clone());
        }
        let url = format!("{issuer}/.well-known/oauth-authorization-server");
        let (body, _) = state
            .cimd
            .fetch_json(&url)
            .await
            .map_err(|e| e.to_string())?;
        let meta: serde_json::Value =
            serde_json::from_slice(&body).map_err(|_| "metadata is not JSON".to_owned())?;
        if meta.get("issuer").and_then(|i| i.as_str()) != Some(issuer) {
            return Err("metadata issuer differs".into());
        }
        let jwks_uri = meta
            .get("jwks_uri")
            .and_then(|u| u.as_str())
            .ok_or_else(|| "metadata has no jwks_uri".to_owned())?
            .to_owned();
        self.discovered
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(issuer.to_owned(), jwks_uri.clone());
        Ok(jwks_uri)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cached>> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The JWT bearer grant with an ID-JAG (EX-21, EX-22): the access token's subject is the
/// ID-JAG's, its audience the ID-JAG's `resource`, its scopes requested ∩ the ID-JAG's. No
/// refresh token: the client repeats the exchange while its IdP session lasts.
pub(crate) async fn jwt_bearer(
    state: &AppState,
    params: &Params,
    client: &AuthenticatedClient,
    jkt: Option<&str>,
) -> Result<(String, String, ScopeSet), OAuthError> {
    let assertion = params.require("assertion")?;
    let iss = shared::assertion::peek_issuer(assertion)
        .ok_or_else(|| OAuthError::invalid_grant("assertion is malformed"))?;
    let idp = state
        .config
        .trusted_idps
        .iter()
        .find(|i| i.issuer == iss)
        .ok_or_else(|| OAuthError::invalid_grant("assertion issuer is not trusted"))?;
    let now = state.clock.now_unix();
    let expected = IdJagExpectations {
        idp_issuer: &idp.issuer,
        client_id: &client.client.client_id,
        resources: &state.config.resources,
    };
    let policy = AssertionPolicy::new([state.issuer.clone()]);
    let verify =
        |keys: &JwkSet| shared::assertion::verify_id_jag(assertion, keys, &expected, &policy, now);
    let keys = state.remote_jwks.idp(state, idp, false).await?;
    let v = match verify(&keys) {
        // No key fits (unknown kid, or none verifies): the IdP may have rotated; refetch
        // once (at most every REFETCH_AFTER_SECS per URL).
        Err(shared::assertion::AssertionError::Jws(
            shared::dpop::ProofError::BadJwk | shared::dpop::ProofError::BadSignature,
        )) if idp.jwks.is_none() => verify(&*state.remote_jwks.idp(state, idp, true).await?),
        other => other,
    }
    .map_err(|e| OAuthError::invalid_grant(format!("ID-JAG refused: {e}")))?;
    let resource = match (
        v.claims.resource.as_ref().and_then(Audience::first),
        params.get("resource"),
    ) {
        (Some(r), Some(asked)) if r != asked => {
            return Err(OAuthError::invalid_target(
                "resource differs from the ID-JAG's resource",
            ));
        }
        (Some(r), _) => r.to_owned(),
        (None, asked) => super::resolve::resolve_resource(state, asked)?,
    };
    let scope = match &v.claims.scope {
        None => resolve_scope(state, &client.client, params.get("scope"))?,
        Some(granted) => {
            let granted = ScopeSet::parse(granted);
            let asked = params
                .get("scope")
                .map_or_else(|| granted.clone(), ScopeSet::parse);
            let allowed = client
                .client
                .scopes
                .clone()
                .unwrap_or_else(|| state.offered_scopes.clone());
            let both: ScopeSet = asked
                .iter()
                .filter(|s| {
                    granted.satisfies(s) && allowed.satisfies(s) && state.offered_scopes.contains(s)
                })
                .map(str::to_owned)
                .collect();
            if both.is_empty() {
                return Err(OAuthError::invalid_scope(
                    "no requested scope is granted by the ID-JAG",
                ));
            }
            both
        }
    };
    // Single use (EX-21), after every other check.
    let id = format!("{}:{}", idp.issuer, v.jti);
    if !state
        .store
        .first_use(ReplayKind::IdJag, &id, now, v.exp.max(now) + 60)
        .await?
    {
        return Err(OAuthError::invalid_grant("ID-JAG was already used"));
    }
    tracing::info!(client.id = %client.client.client_id, idp.issuer = %idp.issuer, dpop = jkt.is_some(), "ID-JAG redeemed");
    Ok((v.claims.sub, resource, scope))
}

/// RFC 8693 token exchange for an ID-JAG (EX-23), as the enterprise IdP.
pub(crate) async fn token_exchange(
    state: &AppState,
    params: &Params,
    client: &AuthenticatedClient,
) -> Result<serde_json::Value, OAuthError> {
    let idp = &state.config.idp;
    if !idp.enabled {
        return Err(OAuthError::unsupported_grant_type("unsupported grant_type"));
    }
    if params.require("requested_token_type")? != ID_JAG_TOKEN_TYPE {
        return Err(OAuthError::invalid_request(
            "only ID-JAGs are issued by token exchange here",
        ));
    }
    let subject = params.require("subject_token")?;
    if params.require("subject_token_type")? != TOKEN_TYPE_ACCESS_TOKEN {
        return Err(OAuthError::invalid_request(
            "subject_token_type must be an access token of this server",
        ));
    }
    let user = crate::tokens::verify_own(state, subject)
        .ok_or_else(|| OAuthError::invalid_grant("subject_token is invalid or expired"))?;
    if state.store.is_jti_revoked(&user.jti).await? {
        return Err(OAuthError::invalid_grant(
            "subject_token is invalid or expired",
        ));
    }
    let client_id = &client.client.client_id;
    if &user.client_id != client_id {
        return Err(OAuthError::invalid_grant(
            "subject_token was issued to another client",
        ));
    }
    let audience = params.require("audience")?;
    let refuse = || {
        OAuthError::invalid_target(
            "the policy does not allow this client an ID-JAG for this audience",
        )
    };
    let rule = idp
        .policy
        .iter()
        .find(|r| &r.client_id == client_id && r.audiences.iter().any(|a| a == audience))
        .ok_or_else(refuse)?;
    let resource = params.get("resource");
    if !rule.resources.is_empty()
        && !resource.is_some_and(|r| rule.resources.iter().any(|x| x == r))
    {
        return Err(OAuthError::invalid_target(
            "the policy does not allow this resource",
        ));
    }
    let scope = match params.get("scope") {
        Some(s) if rule.scopes.is_empty() => Some(ScopeSet::parse(s)),
        Some(s) => Some(
            ScopeSet::parse(s)
                .iter()
                .filter(|x| rule.scopes.iter().any(|a| a == x))
                .map(str::to_owned)
                .collect(),
        ),
        None if rule.scopes.is_empty() => None,
        None => Some(rule.scopes.iter().cloned().collect()),
    }
    .filter(|s: &ScopeSet| !s.is_empty());
    let now = state.clock.now_unix();
    let claims = IdJagClaims {
        iss: state.issuer.clone(),
        sub: user.sub,
        aud: Audience::One(audience.to_owned()),
        client_id: rule
            .target_client_id
            .clone()
            .unwrap_or_else(|| client_id.clone()),
        jti: shared::random::token(),
        exp: now + idp.id_jag_ttl_secs,
        iat: now,
        resource: resource.map(|r| Audience::One(r.to_owned())),
        scope: scope.as_ref().map(ToString::to_string),
    };
    let jag = state
        .keys
        .ring()
        .current
        .sign_jwt_typed(ID_JAG_TYP, &claims)
        .ok_or_else(|| OAuthError::server_error("signing failed"))?;
    tracing::info!(client.id = %client_id, "ID-JAG issued");
    let mut out = serde_json::json!({
        "access_token": jag,
        "issued_token_type": ID_JAG_TOKEN_TYPE,
        "token_type": "N_A",
        "expires_in": idp.id_jag_ttl_secs,
    });
    if let Some(s) = scope {
        out["scope"] = s.to_string().into();
    }
    Ok(out)
}
