//! DPoP on the client side (RFC 9449; issue 15, ADR 0011).
//!
//! A [`DpopKey`] is one session's proof key and the newest server nonce per origin. The
//! session's [`crate::oauth::token_endpoint::TokenEndpoint`] sends a proof with every token
//! request, and the middlewares ([`crate::AuthOnDemand`], [`crate::BearerAuth`]) send
//! `Authorization: DPoP <token>` plus a proof with `ath` on every request they authorise,
//! when the tokens are DPoP-bound (`token_type: DPoP`). A `use_dpop_nonce` answer (400 from
//! the authorization server, 401 from the resource server) is retried once with the nonce;
//! every `DPoP-Nonce` response header replaces the nonce kept for its origin.
//!
//! The private key is stored with the tokens it is bound to ([`crate::token::TokenSet`]'s
//! `dpop_key`), so the encrypted [`crate::FileTokenStore`] keeps it encrypted at rest with
//! the store key, and a restarted client proves possession with the same key.
//!
//! When it is used: [`DpopMode::Auto`] (default) turns DPoP on when the authorization
//! server lists a supported algorithm in `dpop_signing_alg_values_supported` AND the
//! resource accepts DPoP (its protected-resource metadata lists
//! `dpop_signing_alg_values_supported`, RFC 9728 §2), or when the resource's metadata says
//! `dpop_bound_access_tokens_required`. An authorization server that offers DPoP in front of a
//! resource that says nothing about it gets bearer requests: a DPoP-bound token would be
//! refused there (identity providers such as node-oidc-provider advertise DPoP for every
//! resource); [`DpopMode::Always`]
//! forces it (CLI `--dpop`); [`DpopMode::Never`] keeps bearer tokens.
//!
//! ```no_run
//! use std::sync::Arc;
//! use http_oauth2_client::{AuthOnDemand, DpopMode, FileTokenStore, OAuthConfig};
//! # fn f() -> Result<(), http_oauth2_client::ClientError> {
//! let config = OAuthConfig::builder("https://mcp.example/mcp")
//!     .dpop(DpopMode::Always) // or Auto (the default) / Never
//!     .with_token_store(Arc::new(FileTokenStore::open("tokens.jwe")?))
//!     .build()?;
//! // Every request this client authorises carries `Authorization: DPoP` and a `DPoP` proof.
//! let client = AuthOnDemand::new(config).client()?;
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use http::{Extensions, HeaderMap, HeaderValue, StatusCode};
use reqwest::{Request, Response};
use reqwest_middleware::Next;
use shared::clock::SharedClock;
use shared::dpop::{Algorithm, SigningKey};
use shared::oauth::{AuthorizationServerMetadata, ProtectedResourceMetadata};
use shared::secret::AccessToken;

use crate::error::ClientError;

/// Whether the client uses DPoP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum DpopMode {
    /// When both the authorization server and the resource list a supported algorithm in
    /// common, or the resource requires DPoP-bound tokens.
    #[default]
    Auto,
    /// Always (the authorization server may still answer with a bearer token, which is
    /// then used as such).
    Always,
    /// Never: bearer tokens only.
    Never,
}

/// A string-array member of a metadata document, whether the type models it as a field
/// or keeps it in `extra` (read through the serialised form, once per session, so a typed
/// field added to `shared::oauth` later does not turn DPoP off silently).
fn str_list(doc: &serde_json::Value, name: &str) -> Vec<String> {
    doc.get(name)
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The algorithm to use for `mode` given the servers' metadata, or `None` for bearer.
/// Preference: ES256, EdDSA, RS256, among those both servers list (a list that is absent
/// allows all).
pub fn choose_algorithm(
    mode: DpopMode,
    as_metadata: &AuthorizationServerMetadata,
    prm: &ProtectedResourceMetadata,
) -> Option<Algorithm> {
    if mode == DpopMode::Never {
        return None;
    }
    let as_doc = serde_json::to_value(as_metadata).unwrap_or_default();
    let rs_doc = serde_json::to_value(prm).unwrap_or_default();
    let as_algs = str_list(&as_doc, "dpop_signing_alg_values_supported");
    let rs_algs = str_list(&rs_doc, "dpop_signing_alg_values_supported");
    let rs_requires = rs_doc
        .get("dpop_bound_access_tokens_required")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    let allowed = |list: &[String], a: Algorithm| {
        list.is_empty() || list.iter().any(|n| n == shared::dpop::alg_name(a))
    };
    let pick = shared::dpop::SUPPORTED_ALGS
        .into_iter()
        .find(|a| allowed(&as_algs, *a) && allowed(&rs_algs, *a));
    let both_offer = !as_algs.is_empty() && !rs_algs.is_empty();
    let wanted = mode == DpopMode::Always || both_offer || rs_requires;
    if !wanted {
        return None;
    }
    if pick.is_none() {
        tracing::warn!("no DPoP algorithm in common with the servers; using bearer tokens");
    }
    pick
}

/// One session's DPoP key and server nonces. Cheap to clone (an `Arc`). `Debug` shows the
/// key thumbprint only.
#[derive(Clone)]
pub struct DpopKey {
    inner: Arc<Inner>,
}

struct Inner {
    key: ArcSwap<SigningKey>,
    /// Newest `DPoP-Nonce` per origin (ASCII serialisation).
    nonces: Mutex<HashMap<String, String>>,
    clock: SharedClock,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopKey")
            .field("jkt", &self.thumbprint())
            .finish_non_exhaustive()
    }
}

impl DpopKey {
    /// A fresh key for `alg`.
    pub fn generate(alg: Algorithm, clock: SharedClock) -> Result<Self, ClientError> {
        let key = SigningKey::generate(alg)
            .map_err(|e| ClientError::Protocol(format!("DPoP key: {e}")))?;
        Ok(Self::with_key(key, clock))
    }

    /// Wraps an existing key.
    pub fn with_key(key: SigningKey, clock: SharedClock) -> Self {
        Self {
            inner: Arc::new(Inner {
                key: ArcSwap::from_pointee(key),
                nonces: Mutex::new(HashMap::new()),
                clock,
            }),
        }
    }

    /// The RFC 7638 thumbprint of the current key.
    pub fn thumbprint(&self) -> String {
        self.inner.key.load().thumbprint().to_owned()
    }

    /// The current private key as PEM (stored, encrypted, with the tokens).
    pub(crate) fn private_pem(&self) -> String {
        self.inner.key.load().private_pem().to_owned()
    }

    /// Adopts the key stored with tokens (after a restart, or tokens another process
    /// obtained), unless it is already the current one.
    pub(crate) fn adopt(&self, pem: &str) {
        if self.inner.key.load().private_pem() == pem {
            return;
        }
        match SigningKey::from_pkcs8_pem(pem) {
            Ok(k) => {
                tracing::debug!(dpop.jkt = k.thumbprint(), "using the stored DPoP key");
                self.inner.key.store(Arc::new(k));
            }
            Err(e) => tracing::warn!(error = %e, "stored DPoP key unusable; keeping a new one"),
        }
    }

    /// The nonce kept for `origin`.
    pub fn nonce_for(&self, origin: &url::Origin) -> Option<String> {
        let g = self.inner.nonces.lock().ok()?;
        g.get(&origin.ascii_serialization()).cloned()
    }

    /// Keeps the `DPoP-Nonce` of a response from `origin` (the newest one wins).
    pub fn remember_nonce(&self, origin: &url::Origin, headers: &HeaderMap) {
        let Some(n) = headers
            .get(shared::dpop::DPOP_NONCE_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|n| !n.is_empty() && n.len() <= 512)
        else {
            return;
        };
        if let Ok(mut g) = self.inner.nonces.lock() {
            g.insert(origin.ascii_serialization(), n.to_owned());
        }
    }

    /// A proof for `method` `url` (with `ath` of `token` if given) and the origin's nonce.
    pub fn proof(
        &self,
        method: &str,
        url: &url::Url,
        token: Option<&AccessToken>,
    ) -> Result<HeaderValue, ClientError> {
        let nonce = self.nonce_for(&url.origin());
        let key = self.inner.key.load();
        let p = shared::dpop::proof(
            &key,
            method,
            url.as_str(),
            token.map(AccessToken::secret),
            nonce.as_deref(),
            self.inner.clock.now_unix(),
        )
        .map_err(|e| ClientError::Protocol(format!("DPoP proof: {e}")))?;
        let mut v = HeaderValue::from_str(&p)
            .map_err(|_| ClientError::Protocol("DPoP proof is not a header value".into()))?;
        v.set_sensitive(true);
        Ok(v)
    }

    /// `req` with `Authorization: DPoP <token>` and a fresh proof.
    pub(crate) fn authorize(
        &self,
        mut req: Request,
        token: &AccessToken,
    ) -> Result<Request, ClientError> {
        let proof = self.proof(req.method().as_str(), req.url(), Some(token))?;
        let mut v = HeaderValue::from_str(&format!("DPoP {}", token.secret())).map_err(|_| {
            ClientError::Protocol(
                "the access token contains characters not allowed in a header".into(),
            )
        })?;
        v.set_sensitive(true);
        let h = req.headers_mut();
        h.insert(http::header::AUTHORIZATION, v);
        h.insert(shared::dpop::DPOP_HEADER, proof);
        Ok(req)
    }
}

/// Whether a response asks for a (new) nonce: `WWW-Authenticate: DPoP
/// error="use_dpop_nonce"` (resource server) with a `DPoP-Nonce` header.
pub(crate) fn asks_for_nonce(resp: &Response) -> bool {
    resp.status() == StatusCode::UNAUTHORIZED
        && resp.headers().contains_key(shared::dpop::DPOP_NONCE_HEADER)
        && resp
            .headers()
            .get_all(http::header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(shared::challenge::parse_www_authenticate)
            .any(|c| {
                c.scheme.eq_ignore_ascii_case("dpop")
                    && c.error() == Some(shared::dpop::USE_DPOP_NONCE)
            })
}

/// Sends `req` with `token`: as a bearer token, or (when `dpop` is given) as a DPoP token
/// with a proof, keeping any `DPoP-Nonce` and retrying once on `use_dpop_nonce` (EX-08).
pub(crate) async fn send_with_token(
    next: Next<'_>,
    req: Request,
    token: &AccessToken,
    dpop: Option<&DpopKey>,
    extensions: &mut Extensions,
) -> reqwest_middleware::Result<Response> {
    use crate::middleware::bearer::{mw, with_token};
    let Some(dpop) = dpop else {
        return next
            .run(with_token(req, token).map_err(mw)?, extensions)
            .await;
    };
    let origin = req.url().origin();
    let again = req.try_clone();
    let resp = next
        .clone()
        .run(dpop.authorize(req, token).map_err(mw)?, extensions)
        .await?;
    dpop.remember_nonce(&origin, resp.headers());
    match again {
        Some(again) if asks_for_nonce(&resp) => {
            tracing::debug!("resource server asks for a DPoP nonce; retrying once");
            drop(resp);
            let resp = next
                .run(dpop.authorize(again, token).map_err(mw)?, extensions)
                .await?;
            dpop.remember_nonce(&origin, resp.headers());
            Ok(resp)
        }
        _ => Ok(resp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(
        as_algs: Option<&[&str]>,
        rs: serde_json::Value,
    ) -> (AuthorizationServerMetadata, ProtectedResourceMetadata) {
        let mut m = AuthorizationServerMetadata::default();
        if let Some(a) = as_algs {
            m.extra.insert(
                "dpop_signing_alg_values_supported".into(),
                serde_json::json!(a),
            );
        }
        let mut p = ProtectedResourceMetadata::default();
        if let serde_json::Value::Object(o) = rs {
            p.extra = o;
        }
        (m, p)
    }

    #[test]
    fn dpop_is_used_when_the_servers_advertise_it_or_when_forced_ex01() {
        let (m, p) = meta(None, serde_json::json!({}));
        assert_eq!(
            choose_algorithm(DpopMode::Auto, &m, &p),
            None,
            "bearer unchanged"
        );
        assert_eq!(
            choose_algorithm(DpopMode::Always, &m, &p),
            Some(Algorithm::ES256)
        );
        let (m, p) = meta(Some(&["RS256", "EdDSA"]), serde_json::json!({}));
        assert_eq!(
            choose_algorithm(DpopMode::Auto, &m, &p),
            None,
            "the resource does not say it accepts DPoP"
        );
        let rs = serde_json::json!({"dpop_signing_alg_values_supported": ["ES256", "EdDSA"]});
        let (m, p) = meta(Some(&["RS256", "EdDSA"]), rs);
        assert_eq!(
            choose_algorithm(DpopMode::Auto, &m, &p),
            Some(Algorithm::EdDSA)
        );
        assert_eq!(choose_algorithm(DpopMode::Never, &m, &p), None);
        let (m, p) = meta(
            Some(&["ES256", "RS256"]),
            serde_json::json!({"dpop_signing_alg_values_supported": ["RS256"]}),
        );
        assert_eq!(
            choose_algorithm(DpopMode::Auto, &m, &p),
            Some(Algorithm::RS256)
        );
        let (m, p) = meta(
            None,
            serde_json::json!({"dpop_bound_access_tokens_required": true}),
        );
        assert_eq!(
            choose_algorithm(DpopMode::Auto, &m, &p),
            Some(Algorithm::ES256)
        );
        let (m, p) = meta(Some(&["HS256"]), serde_json::json!({}));
        assert_eq!(
            choose_algorithm(DpopMode::Auto, &m, &p),
            None,
            "nothing in common"
        );
    }

    #[test]
    fn nonces_are_kept_per_origin_and_the_newest_wins_ex08() {
        let k = DpopKey::generate(Algorithm::ES256, shared::clock::system()).unwrap();
        let a = url::Url::parse("https://as.example/token")
            .unwrap()
            .origin();
        let b = url::Url::parse("https://rs.example/mcp").unwrap().origin();
        let mut h = HeaderMap::new();
        h.insert("dpop-nonce", HeaderValue::from_static("n1"));
        k.remember_nonce(&a, &h);
        h.insert("dpop-nonce", HeaderValue::from_static("n2"));
        k.remember_nonce(&a, &h);
        assert_eq!(k.nonce_for(&a).as_deref(), Some("n2"));
        assert_eq!(k.nonce_for(&b), None);
        assert!(!format!("{k:?}").contains("PRIVATE"));
    }
}
