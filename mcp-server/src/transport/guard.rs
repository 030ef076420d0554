//! DNS-rebinding protection (checklist TR-03, TR-51, §10 P-13): a present `Origin` outside
//! the allow-list, or a `Host` outside the allowed hosts, gets 403. On by default, failing
//! closed with a loopback allow-list.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use futures_util::future::{BoxFuture, Either};
use http::{HeaderValue, Method, StatusCode, header};
use tower::{Layer, Service};

use crate::config::Config;

/// Which `Origin` and `Host` values are accepted.
#[derive(Debug)]
pub(crate) struct HostPolicy {
    enabled: bool,
    origins: Vec<String>,
    hosts: Vec<String>,
    resource_host: Option<String>,
}

fn loopback_name(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

/// Splits `host[:port]` (IPv6 in brackets) and returns the host part.
fn host_part(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("");
    }
    authority.rsplit_once(':').map_or(authority, |(h, p)| {
        if p.chars().all(|c| c.is_ascii_digit()) {
            h
        } else {
            authority
        }
    })
}

impl HostPolicy {
    pub(crate) fn new(config: &Config, resource_url: &str) -> Self {
        let resource_host = url::Url::parse(resource_url).ok().and_then(|u| {
            u.host_str()
                .map(|h| h.trim_matches(['[', ']']).to_ascii_lowercase())
        });
        Self {
            enabled: config.dns_rebinding_protection,
            origins: config
                .allowed_origins
                .iter()
                .map(|o| o.trim_end_matches('/').to_owned())
                .collect(),
            hosts: config.allowed_hosts.clone(),
            resource_host,
        }
    }

    pub(crate) fn origin_allowed(&self, origin: &str) -> bool {
        if !self.enabled {
            return true;
        }
        if !self.origins.is_empty() {
            return self.origins.iter().any(|o| o == origin);
        }
        match url::Url::parse(origin) {
            Ok(u) => {
                matches!(u.scheme(), "http" | "https")
                    && u.host_str().map(loopback_name).unwrap_or(false)
            }
            Err(_) => false,
        }
    }

    pub(crate) fn host_allowed(&self, host: &str) -> bool {
        if !self.enabled {
            return true;
        }
        if !self.hosts.is_empty() && self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
            return true;
        }
        let name = host_part(host);
        if self.hosts.is_empty() && loopback_name(name) {
            return true;
        }
        self.resource_host
            .as_deref()
            .is_some_and(|r| r.eq_ignore_ascii_case(name))
    }
}

fn forbidden(msg: &'static str) -> Response {
    super::message::error_response(
        StatusCode::FORBIDDEN,
        None,
        jsonrpsee::types::ErrorObject::borrowed(
            jsonrpsee::types::error::INVALID_REQUEST_CODE,
            msg,
            None,
        ),
    )
}

// Spelled out (not built from `shared::mcp::header`): `HeaderValue::from_static` needs one
// literal, and building it per request would allocate. A test checks both lists against
// `shared::mcp::header`.
// DPoP (RFC 9449): browsers send the `DPoP` proof header and must read `DPoP-Nonce`.
const EXPOSE: &str = "www-authenticate, mcp-session-id, mcp-protocol-version, dpop-nonce";
const DEFAULT_ALLOW_HEADERS: &str = "authorization, content-type, accept, mcp-protocol-version, mcp-session-id, mcp-method, mcp-name, last-event-id, dpop";

/// Tower layer for [`Guard`].
#[derive(Debug, Clone)]
pub(crate) struct GuardLayer {
    policy: Arc<HostPolicy>,
}

impl GuardLayer {
    pub(crate) fn new(policy: Arc<HostPolicy>) -> Self {
        Self { policy }
    }
}

impl<S> Layer<S> for GuardLayer {
    type Service = Guard<S>;
    fn layer(&self, inner: S) -> Guard<S> {
        Guard {
            inner,
            policy: self.policy.clone(),
        }
    }
}

/// Origin/Host validation (TR-03) and CORS (RS-23) in one service. Requests without an
/// `Origin` header (every non-browser client) pass straight to the inner service, with no
/// allocation; the public metadata routes are exempt from the Origin/Host rules.
#[derive(Debug, Clone)]
pub(crate) struct Guard<S> {
    inner: S,
    policy: Arc<HostPolicy>,
}

type GuardFuture<F> = Either<F, BoxFuture<'static, Result<Response, Infallible>>>;

fn ready(r: Response) -> BoxFuture<'static, Result<Response, Infallible>> {
    Box::pin(async move { Ok(r) })
}

fn cors_headers(h: &mut http::HeaderMap, origin: HeaderValue) {
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSE),
    );
    h.append(header::VARY, HeaderValue::from_static("origin"));
}

impl<S> Service<Request> for Guard<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = GuardFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let p = &self.policy;
        let public = req.uri().path().starts_with("/.well-known/");
        if p.enabled
            && !public
            && let Some(h) = req.headers().get(header::HOST)
            && !h.to_str().map(|h| p.host_allowed(h)).unwrap_or(false)
        {
            return Either::Right(ready(forbidden("Host not allowed")));
        }
        let Some(origin) = req.headers().get(header::ORIGIN).cloned() else {
            return Either::Left(self.inner.call(req));
        };
        let allowed = origin
            .to_str()
            .map(|o| p.origin_allowed(o))
            .unwrap_or(false);
        if !allowed && !public {
            return Either::Right(ready(forbidden("Origin not allowed")));
        }
        // CORS preflight (never reaches authentication).
        if req.method() == Method::OPTIONS
            && req
                .headers()
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        {
            let mut r = StatusCode::NO_CONTENT.into_response();
            if allowed {
                let h = r.headers_mut();
                cors_headers(h, origin);
                h.insert(
                    header::ACCESS_CONTROL_ALLOW_METHODS,
                    HeaderValue::from_static("GET, POST, DELETE, OPTIONS"),
                );
                let requested = req
                    .headers()
                    .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
                    .cloned()
                    .unwrap_or(HeaderValue::from_static(DEFAULT_ALLOW_HEADERS));
                h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested);
                h.insert(
                    header::ACCESS_CONTROL_MAX_AGE,
                    HeaderValue::from_static("600"),
                );
            }
            return Either::Right(ready(r));
        }
        let fut = self.inner.call(req);
        Either::Right(Box::pin(async move {
            let mut r = fut.await?;
            if allowed {
                cors_headers(r.headers_mut(), origin);
            }
            Ok(r)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tr03_default_policy_is_loopback_only() {
        let c = Config::new("http://127.0.0.1:3002", "http://127.0.0.1:3003/mcp");
        let p = HostPolicy::new(&c, "http://127.0.0.1:3003/mcp");
        assert!(p.origin_allowed("http://localhost:6274"));
        assert!(p.origin_allowed("http://127.0.0.1:3000"));
        assert!(p.origin_allowed("http://[::1]:3000"));
        assert!(!p.origin_allowed("https://evil.example"));
        assert!(!p.origin_allowed("null"));
        assert!(p.host_allowed("127.0.0.1:3003"));
        assert!(p.host_allowed("localhost"));
        assert!(p.host_allowed("[::1]:3003"));
        assert!(!p.host_allowed("evil.example"));
        assert!(!p.host_allowed("evil.example:3003"));
        assert!(!p.host_allowed("127.0.0.1.evil.example"));
    }

    #[test]
    fn rs23_cors_lists_name_the_mcp_headers() {
        use shared::mcp::header::{METHOD, NAME, PROTOCOL_VERSION, SESSION_ID};
        for h in [SESSION_ID, PROTOCOL_VERSION] {
            assert!(EXPOSE.split(", ").any(|x| x == h), "{h}");
        }
        for h in [SESSION_ID, PROTOCOL_VERSION, METHOD, NAME] {
            assert!(DEFAULT_ALLOW_HEADERS.split(", ").any(|x| x == h), "{h}");
        }
        // DPoP: the proof header may be sent, the nonce header read (RFC 9449 §8).
        let dpop = shared::dpop::DPOP_HEADER.to_ascii_lowercase();
        assert!(DEFAULT_ALLOW_HEADERS.split(", ").any(|x| x == dpop));
        let nonce = shared::dpop::DPOP_NONCE_HEADER.to_ascii_lowercase();
        assert!(EXPOSE.split(", ").any(|x| x == nonce));
    }

    #[test]
    fn tr03_configured_lists_are_exact() {
        let mut c = Config::new("http://127.0.0.1:3002", "https://mcp.example/mcp");
        c.allowed_origins = vec!["https://app.example".into()];
        let p = HostPolicy::new(&c, "https://mcp.example/mcp");
        assert!(p.origin_allowed("https://app.example"));
        assert!(!p.origin_allowed("http://localhost:1"));
        assert!(p.host_allowed("mcp.example"));
        assert!(p.host_allowed("localhost:80"));
    }
}
