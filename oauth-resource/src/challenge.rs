//! The 400/401/403/503 answers to failed authentication, with RFC 6750 §3 `WWW-Authenticate`
//! challenges written by [`shared::challenge::BearerChallenge`].

use http::{HeaderValue, Response, StatusCode, header};
use shared::challenge::{BearerChallenge, quote};
use shared::scope::ScopeSet;

use super::AuthError;

/// The DPoP side of a challenge response (RFC 9449 §7.1): a second `WWW-Authenticate` value
/// `DPoP algs=".."`, carrying the error when the request used the DPoP scheme.
#[derive(Debug)]
pub(crate) struct DpopChallenge<'a> {
    pub(crate) algs: &'a str,
    /// The error belongs to the DPoP challenge (not the Bearer one).
    pub(crate) on_dpop: bool,
    /// A fresh `DPoP-Nonce` to send (with `use_dpop_nonce`).
    pub(crate) nonce: Option<String>,
}

/// A challenge response: `WWW-Authenticate` from [`BearerChallenge`] (and, with DPoP on, a
/// `DPoP` challenge), `no-store`, and with an error code a JSON body `{"error",
/// "error_description"}` (RFC 6750 §3).
fn response<B: From<String>>(
    status: StatusCode,
    prm: &str,
    error: Option<(&str, &str)>,
    scope: Option<&ScopeSet>,
    dpop: Option<&DpopChallenge<'_>>,
) -> Response<B> {
    let on_dpop = dpop.is_some_and(|d| d.on_dpop);
    let mut www = BearerChallenge::new(prm);
    if let Some((code, desc)) = error
        && !on_dpop
    {
        www = www.error(code, desc);
    }
    if let Some(scope) = scope {
        www = www.scope(scope);
    }
    let body = match error {
        Some((code, desc)) => {
            serde_json::json!({"error": code, "error_description": desc}).to_string()
        }
        None => String::new(),
    };
    let mut r = Response::new(B::from(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&www.build()) {
        h.insert(header::WWW_AUTHENTICATE, v);
    }
    if let Some(d) = dpop {
        let mut s = String::with_capacity(96);
        s.push_str("DPoP ");
        if let Some((code, desc)) = error
            && on_dpop
        {
            s.push_str("error=");
            quote(&mut s, code);
            s.push_str(", error_description=");
            quote(&mut s, desc);
            s.push_str(", ");
        }
        s.push_str("algs=");
        quote(&mut s, d.algs);
        if let Ok(v) = HeaderValue::from_str(&s) {
            h.append(header::WWW_AUTHENTICATE, v);
        }
        if let Some(n) = &d.nonce
            && let Ok(v) = HeaderValue::from_str(n)
        {
            h.insert(shared::dpop::DPOP_NONCE_HEADER, v);
        }
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if error.is_some() {
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    r
}

/// The answer to a request that failed authentication (checklist RS-06, RS-09):
/// * no credentials: 401 `Bearer resource_metadata=".."` with no error code (RFC 6750 §3.1);
/// * bad token: 401 `error="invalid_token"`;
/// * bad DPoP proof: 401 `error="invalid_dpop_proof"`; nonce needed: 401
///   `error="use_dpop_nonce"` (RFC 9449 §7.1, §9);
/// * malformed request: 400 `error="invalid_request"`;
/// * keys unavailable: 503.
///
/// `scope`, when given, is added to the 401 challenge (the scopes the resource offers).
pub fn unauthorized<B: From<String>>(
    prm: &str,
    err: &AuthError,
    scope: Option<&ScopeSet>,
) -> Response<B> {
    challenge_response(prm, err, scope, None)
}

/// [`unauthorized`] with the DPoP challenge when DPoP is on.
pub(crate) fn challenge_response<B: From<String>>(
    prm: &str,
    err: &AuthError,
    scope: Option<&ScopeSet>,
    dpop: Option<&DpopChallenge<'_>>,
) -> Response<B> {
    match err {
        AuthError::Missing => response(StatusCode::UNAUTHORIZED, prm, None, scope, dpop),
        AuthError::InvalidRequest(d) => response(
            StatusCode::BAD_REQUEST,
            prm,
            Some(("invalid_request", d)),
            None,
            dpop,
        ),
        AuthError::InvalidToken(d) => response(
            StatusCode::UNAUTHORIZED,
            prm,
            Some(("invalid_token", d)),
            scope,
            dpop,
        ),
        AuthError::InvalidDpopProof(d) => response(
            StatusCode::UNAUTHORIZED,
            prm,
            Some((shared::dpop::INVALID_DPOP_PROOF, d)),
            None,
            dpop,
        ),
        AuthError::UseDpopNonce => response(
            StatusCode::UNAUTHORIZED,
            prm,
            Some((
                shared::dpop::USE_DPOP_NONCE,
                "DPoP proof lacks the current server nonce (see DPoP-Nonce)",
            )),
            None,
            dpop,
        ),
        AuthError::KeysUnavailable => {
            let mut r = Response::new(B::from(
                r#"{"error":"temporarily_unavailable","error_description":"authorization server keys unavailable"}"#
                    .to_owned(),
            ));
            *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r
        }
    }
}

/// 403 `insufficient_scope` listing every scope the operation needs (checklist RS-07, RS-08).
///
/// `from` is the PRM URL (`&str` or `&String`: the `Bearer` challenge), or the
/// [`Authenticator`](super::Authenticator) (also behind an `Arc`), which adds the `DPoP`
/// form when DPoP is on (RFC 9449 §7.1): the `DPoP` challenge alone when DPoP is required,
/// after the `Bearer` one when it is optional (ADR 0014).
pub fn forbidden_insufficient_scope<B: From<String>, P: InsufficientScope + ?Sized>(
    from: &P,
    required: &ScopeSet,
) -> Response<B> {
    from.insufficient_scope(required)
}

/// What a 403 `insufficient_scope` answer is built from ([`forbidden_insufficient_scope`]).
pub trait InsufficientScope {
    /// The 403 answer naming `required`.
    fn insufficient_scope<B: From<String>>(&self, required: &ScopeSet) -> Response<B>;
}

/// The PRM URL: the `Bearer` challenge.
impl InsufficientScope for str {
    fn insufficient_scope<B: From<String>>(&self, required: &ScopeSet) -> Response<B> {
        response(
            StatusCode::FORBIDDEN,
            self,
            Some((INSUFFICIENT_SCOPE, INSUFFICIENT_SCOPE_DESCRIPTION)),
            Some(required),
            None,
        )
    }
}

/// The PRM URL: the `Bearer` challenge.
impl InsufficientScope for String {
    fn insufficient_scope<B: From<String>>(&self, required: &ScopeSet) -> Response<B> {
        self.as_str().insufficient_scope(required)
    }
}

impl<T: InsufficientScope + ?Sized> InsufficientScope for std::sync::Arc<T> {
    fn insufficient_scope<B: From<String>>(&self, required: &ScopeSet) -> Response<B> {
        (**self).insufficient_scope(required)
    }
}

const INSUFFICIENT_SCOPE: &str = "insufficient_scope";
const INSUFFICIENT_SCOPE_DESCRIPTION: &str = "the access token lacks a scope this request needs";

/// `DPoP error="insufficient_scope", error_description="..", scope="..", algs="..",
/// resource_metadata=".."` (RFC 9449 §7.1 with RFC 6750 §3 and RFC 9728 §5.1).
fn dpop_insufficient_scope(prm: &str, required: &ScopeSet, algs: &str) -> String {
    let mut s = String::with_capacity(192);
    s.push_str("DPoP error=");
    quote(&mut s, INSUFFICIENT_SCOPE);
    s.push_str(", error_description=");
    quote(&mut s, INSUFFICIENT_SCOPE_DESCRIPTION);
    s.push_str(", scope=");
    quote(&mut s, &required.to_string());
    s.push_str(", algs=");
    quote(&mut s, algs);
    s.push_str(", resource_metadata=");
    quote(&mut s, prm);
    s
}

impl InsufficientScope for super::Authenticator {
    /// 403 `insufficient_scope` for a request this authenticator accepted, in the scheme(s)
    /// the request may have used (RFC 9449 §7.1; checklist RS-07, RS-08, EX-07):
    ///
    /// * DPoP off: the `Bearer` challenge of [`forbidden_insufficient_scope`] (unchanged);
    /// * DPoP required (`dpop_bound_access_tokens_required`): every accepted request used
    ///   the `DPoP` scheme, so only the `DPoP` challenge, carrying the error, `scope`,
    ///   `algs` and `resource_metadata`;
    /// * DPoP optional: the `Bearer` challenge first (bearer clients read it as before),
    ///   then the `DPoP` one with the same error and scope. The answer is about the token's
    ///   grant, not how it was presented, so it is true in both schemes, and the request
    ///   context ([`AuthContext`](super::AuthContext)) does not record the scheme.
    ///
    /// Off the hot path: only a refused request pays for it.
    fn insufficient_scope<B: From<String>>(&self, required: &ScopeSet) -> Response<B> {
        let prm = self.resource_metadata_url.as_str();
        let mut r = prm.insufficient_scope::<B>(required);
        let Some(d) = &self.dpop else {
            return r;
        };
        let h = r.headers_mut();
        if d.required {
            h.remove(header::WWW_AUTHENTICATE);
        }
        if let Ok(v) = HeaderValue::from_str(&dpop_insufficient_scope(prm, required, &d.algs)) {
            h.append(header::WWW_AUTHENTICATE, v);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn www(r: &Response<String>) -> &str {
        r.headers()[header::WWW_AUTHENTICATE].to_str().unwrap()
    }

    #[test]
    fn rs06_no_token_challenge_has_no_error_code() {
        let r: Response<String> = unauthorized(
            "http://h/.well-known/oauth-protected-resource/mcp",
            &AuthError::Missing,
            None,
        );
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            www(&r),
            r#"Bearer resource_metadata="http://h/.well-known/oauth-protected-resource/mcp""#
        );
    }

    #[test]
    fn rs06_bad_token_challenge_says_invalid_token() {
        let r: Response<String> = unauthorized(
            "http://h/prm",
            &AuthError::invalid("token \"expired\""),
            None,
        );
        assert_eq!(
            www(&r),
            r#"Bearer error="invalid_token", error_description="token \"expired\"", resource_metadata="http://h/prm""#
        );
    }

    fn authenticator(
        dpop: Option<crate::DpopSettings>,
    ) -> std::sync::Arc<super::super::Authenticator> {
        let mut b = crate::JwtAuthLayer::builder()
            .issuer("http://as.test")
            .resource("http://rs.test/mcp");
        if let Some(d) = dpop {
            b = b.dpop(d);
        }
        b.build().unwrap().authenticator().clone()
    }

    fn all_www(r: &Response<String>) -> Vec<&str> {
        r.headers()
            .get_all(header::WWW_AUTHENTICATE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    }

    const PRM: &str = "http://rs.test/.well-known/oauth-protected-resource/mcp";

    #[tokio::test]
    async fn rs07_ex07_insufficient_scope_uses_the_dpop_scheme_when_dpop_is_on() {
        let need = ScopeSet::parse("mcp:tools:call");
        let bearer = format!(
            r#"Bearer error="insufficient_scope", error_description="the access token lacks a scope this request needs", scope="mcp:tools:call", resource_metadata="{PRM}""#
        );
        let dpop = format!(
            r#"DPoP error="insufficient_scope", error_description="the access token lacks a scope this request needs", scope="mcp:tools:call", algs="ES256 EdDSA RS256", resource_metadata="{PRM}""#
        );
        // DPoP off: the Bearer form only, exactly what forbidden_insufficient_scope answers.
        let r: Response<String> = forbidden_insufficient_scope(&authenticator(None), &need);
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert_eq!(all_www(&r), vec![bearer.as_str()]);
        // DPoP optional: the Bearer form for bearer clients, then the DPoP form.
        let r: Response<String> = forbidden_insufficient_scope(
            &authenticator(Some(crate::DpopSettings::default())),
            &need,
        );
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert_eq!(all_www(&r), vec![bearer.as_str(), dpop.as_str()]);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(r.body()).unwrap()["error"],
            "insufficient_scope"
        );
        // DPoP required: every accepted request used the DPoP scheme.
        let strict = authenticator(Some(crate::DpopSettings {
            required: true,
            algorithms: vec![jsonwebtoken::Algorithm::EdDSA],
            ..Default::default()
        }));
        let r: Response<String> = forbidden_insufficient_scope(&strict, &need);
        assert_eq!(
            all_www(&r),
            vec![dpop.replace("ES256 EdDSA RS256", "EdDSA").as_str()]
        );
        // The DPoP challenge parses like any other (the client's step-up reads it).
        let parsed = shared::challenge::parse_www_authenticate(all_www(&r)[0]);
        assert_eq!(parsed[0].error(), Some("insufficient_scope"));
        assert_eq!(parsed[0].scope(), Some("mcp:tools:call"));
        assert_eq!(parsed[0].resource_metadata(), Some(PRM));
    }

    #[test]
    fn rs07_insufficient_scope_lists_scopes() {
        let r: Response<String> = forbidden_insufficient_scope(
            "http://h/prm",
            &ScopeSet::parse("mcp:tools:call mcp:tools:read"),
        );
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(www(&r).contains(r#"error="insufficient_scope""#));
        assert!(www(&r).contains(r#"scope="mcp:tools:call mcp:tools:read""#));
        assert!(www(&r).contains(r#"resource_metadata="http://h/prm""#));
    }
}
