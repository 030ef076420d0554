//! Client authentication at the token, revocation and introspection endpoints (checklist
//! AS-30, AS-38): HTTP Basic (`client_secret_basic`), `client_secret_post`, or `client_id`
//! alone for public clients (`none`).

use axum::http::{HeaderMap, header};
use base64::Engine as _;

use super::form::Params;
use crate::AppState;
use crate::error::OAuthError;
use crate::store::{ClientRecord, digest};

/// How the client authenticated.
#[derive(Debug)]
pub(crate) struct AuthenticatedClient {
    /// The client.
    pub(crate) client: ClientRecord,
    /// Whether HTTP Basic was used.
    pub(crate) basic: bool,
    /// Whether the client proved a secret (confidential).
    pub(crate) confidential: bool,
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
        // Nothing to decode (the common case): the form decoder would return `s` itself.
        if !s.contains(['%', '+', '&']) {
            return s.to_owned();
        }
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
pub(crate) async fn authenticate_client(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
) -> Result<AuthenticatedClient, OAuthError> {
    let basic = basic_credentials(headers)?;
    let body_secret = params.get("client_secret");
    let body_id = params.get("client_id");
    if params.get("client_assertion_type").is_some() || params.get("client_assertion").is_some() {
        if basic.is_some() || body_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "use exactly one client authentication method",
            ));
        }
        return private_key_jwt(state, params, body_id).await;
    }
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
    let client = match state.client(client_id).await? {
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
    if client.auth_method == shared::oauth::TokenEndpointAuthMethod::PrivateKeyJwt {
        // A key-holding client never authenticates by its id alone.
        return Err(
            OAuthError::invalid_client("this client authenticates with private_key_jwt")
                .with_basic_challenge(used_basic),
        );
    }
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

/// `private_key_jwt` (RFC 7523 §2.2, checklist EX-30): a client assertion signed by a key of
/// the client's registered `jwks`, `iss` = `sub` = the client, `aud` = our issuer or token
/// endpoint, short `exp`, single-use `jti` (the store's replay cache).
async fn private_key_jwt(
    state: &AppState,
    params: &Params,
    body_id: Option<&str>,
) -> Result<AuthenticatedClient, OAuthError> {
    if params.get("client_assertion_type") != Some(shared::assertion::CLIENT_ASSERTION_TYPE) {
        return Err(OAuthError::invalid_client(
            "unsupported client_assertion_type",
        ));
    }
    let assertion = params.get("client_assertion").ok_or_else(|| {
        OAuthError::invalid_request("missing required parameter client_assertion")
    })?;
    // The client is named by `client_id` or by the assertion's (then verified) `iss`.
    let client_id = match body_id {
        Some(id) => id.to_owned(),
        None => shared::assertion::peek_issuer(assertion)
            .ok_or_else(|| OAuthError::invalid_client("client assertion is malformed"))?,
    };
    let unknown = || OAuthError::invalid_client("unknown client or bad credentials");
    let client = state.client(&client_id).await?.ok_or_else(unknown)?;
    if client.auth_method != shared::oauth::TokenEndpointAuthMethod::PrivateKeyJwt {
        return Err(unknown());
    }
    let now = state.clock.now_unix();
    let policy = shared::assertion::AssertionPolicy::new([
        state.issuer.clone(),
        format!("{}/token", state.issuer),
    ]);
    let verify = |keys: &shared::dpop::JwkSet| {
        shared::assertion::verify_client_assertion(assertion, &client_id, keys, &policy, now)
    };
    let verified = match verify(&*client_keys(state, &client, false).await?) {
        // No key fits (unknown kid, or none verifies): the client may have rotated the keys
        // at its jwks_uri; refetch once (at most every 30 s per URL).
        Err(shared::assertion::AssertionError::Jws(
            shared::dpop::ProofError::BadJwk | shared::dpop::ProofError::BadSignature,
        )) if client.keys.jwks.is_none() => verify(&*client_keys(state, &client, true).await?),
        other => other,
    }
    .map_err(|e| OAuthError::invalid_client(format!("client assertion refused: {e}")))?;
    let id = format!("{client_id}:{}", verified.jti);
    if !state
        .store
        .first_use(
            crate::store::ReplayKind::ClientAssertion,
            &id,
            now,
            verified.exp.max(now) + 60,
        )
        .await?
    {
        return Err(OAuthError::invalid_client(
            "client assertion was already used",
        ));
    }
    Ok(AuthenticatedClient {
        client,
        basic: false,
        confidential: true,
    })
}

/// A `private_key_jwt` client's keys: inline, or from its `jwks_uri` (cached; `refetch`
/// after an unknown `kid`).
async fn client_keys(
    state: &AppState,
    client: &ClientRecord,
    refetch: bool,
) -> Result<std::sync::Arc<shared::dpop::JwkSet>, OAuthError> {
    match (&client.keys.jwks, &client.keys.jwks_uri) {
        (Some(jwks), _) => Ok(std::sync::Arc::new(jwks.clone())),
        (None, Some(uri)) => state
            .remote_jwks
            .get(state, uri, refetch)
            .await
            .map_err(|e| {
                tracing::warn!(client.id = %client.client_id, error = %e, "client jwks_uri fetch failed");
                OAuthError::invalid_client("the client's keys could not be fetched")
            }),
        (None, None) => Err(OAuthError::invalid_client(
            "unknown client or bad credentials",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let mut h = HeaderMap::new();
        let v = base64::engine::general_purpose::STANDARD.encode("my%20client:s%3Acret");
        h.insert(header::AUTHORIZATION, format!("Basic {v}").parse().unwrap());
        let (id, secret) = basic_credentials(&h).unwrap().unwrap();
        assert_eq!(id, "my client");
        assert_eq!(secret, "s:cret");
    }

    /// The shortcut for credentials with nothing to decode gives what the form decoder gives,
    /// and a form-encoded `&` still cuts the value as before (AS-30).
    #[test]
    fn basic_credentials_without_escapes_match_the_form_decoder_as30() {
        for (id, secret) in [
            ("mcp-service", "dev-service-secret"),
            ("a b", "x+y"),
            ("c%3Ad", "p%25q"),
            ("e&f", "g=h"),
            ("", "only-secret"),
            ("ünï", "çødé"),
        ] {
            let mut h = HeaderMap::new();
            let v = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
            h.insert(header::AUTHORIZATION, format!("Basic {v}").parse().unwrap());
            let form = |s: &str| -> String {
                form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            assert_eq!(
                basic_credentials(&h).unwrap().unwrap(),
                (form(id), form(secret)),
                "{id}:{secret}"
            );
        }
    }
}
