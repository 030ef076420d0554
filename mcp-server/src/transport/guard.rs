//! DNS-rebinding protection (checklist TR-03, TR-51, §10 P-13): a present `Origin` outside
//! the allow-list, or a `Host` outside the allowed hosts, gets 403. On by default, failing
//! closed with a loopback allow-list.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::{StatusCode, header};

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
    super::rpc_error(StatusCode::FORBIDDEN, None, -32600, msg, None)
}

/// The middleware.
pub(crate) async fn guard(State(p): State<Arc<HostPolicy>>, req: Request, next: Next) -> Response {
    if p.enabled {
        if let Some(o) = req.headers().get(header::ORIGIN) {
            let ok = o.to_str().map(|o| p.origin_allowed(o)).unwrap_or(false);
            if !ok {
                return forbidden("Origin not allowed");
            }
        }
        if let Some(h) = req.headers().get(header::HOST) {
            let ok = h.to_str().map(|h| p.host_allowed(h)).unwrap_or(false);
            if !ok {
                return forbidden("Host not allowed");
            }
        }
    }
    next.run(req).await
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
