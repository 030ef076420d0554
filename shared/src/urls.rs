//! URL rules shared by both sides: loopback detection (RFC 8252 §7.3), redirect-URI matching
//! with the loopback-port exception (checklist AS-14/AS-15), well-known URL construction by
//! path insertion (RFC 8414 §3.1, RFC 9728 §3.1) and canonical resource identifiers.
//!
//! ```
//! use shared::urls::{redirect_uri_matches, well_known_url};
//! assert!(redirect_uri_matches("http://127.0.0.1/cb", "http://127.0.0.1:51234/cb"));
//! assert!(!redirect_uri_matches("https://app.example/cb", "https://app.example/cb/"));
//! assert_eq!(
//!     well_known_url("https://as.example/tenant", "oauth-authorization-server").unwrap(),
//!     "https://as.example/.well-known/oauth-authorization-server/tenant"
//! );
//! ```

use url::{Host, Url};

/// Whether the host is a loopback name or address (`localhost`, `127.0.0.0/8`, `[::1]`).
pub fn is_loopback_host(host: Option<Host<&str>>) -> bool {
    match host {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Whether a parsed URL is `http` on a loopback host.
pub fn is_loopback_http(url: &Url) -> bool {
    url.scheme() == "http" && is_loopback_host(url.host())
}

/// Compares a requested redirect URI with a registered one: exact string equality, except
/// that for `http` loopback URIs the port may differ (RFC 8252 §7.3).
pub fn redirect_uri_matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    let (Ok(reg), Ok(req)) = (Url::parse(registered), Url::parse(requested)) else {
        return false;
    };
    if !is_loopback_http(&reg) || !is_loopback_http(&req) {
        return false;
    }
    // Everything except the port must be identical, compared on the serialised pieces.
    reg.scheme() == req.scheme()
        && reg.host_str() == req.host_str()
        && reg.path() == req.path()
        && reg.query() == req.query()
        && reg.fragment().is_none()
        && req.fragment().is_none()
        && reg.username() == req.username()
        && reg.password().is_none()
        && req.password().is_none()
        && strip_port(registered, &reg) == strip_port(requested, &req)
}

/// The raw string with the `:port` removed, so that no normalisation hides a difference.
fn strip_port(raw: &str, parsed: &Url) -> String {
    match parsed.port() {
        Some(p) => raw.replacen(&format!(":{p}"), "", 1),
        None => raw.to_owned(),
    }
}

/// Builds `scheme://host[:port]/.well-known/<suffix><path>` from an issuer or resource URL
/// (path insertion; a trailing `/` of the path is stripped first).
pub fn well_known_url(base: &str, suffix: &str) -> Result<String, url::ParseError> {
    let url = Url::parse(base)?;
    let path = url.path().trim_end_matches('/');
    let mut origin = url.origin().ascii_serialization();
    origin.push_str("/.well-known/");
    origin.push_str(suffix);
    origin.push_str(path);
    Ok(origin)
}

/// The canonical form of a resource URI (RFC 8707, MCP "canonical server URI"): lower-case
/// scheme and host, no fragment, no trailing slash unless the path is `/` itself.
pub fn canonical_resource(raw: &str) -> Result<String, url::ParseError> {
    let mut url = Url::parse(raw)?;
    url.set_fragment(None);
    let mut s = url.to_string();
    if url.path() != "/" && s.ends_with('/') && url.query().is_none() {
        s.pop();
    }
    if url.path() == "/" && url.query().is_none() && s.ends_with('/') {
        s.pop();
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_any_port_but_nothing_else_differs() {
        assert!(redirect_uri_matches(
            "http://localhost/cb",
            "http://localhost:1234/cb"
        ));
        assert!(redirect_uri_matches(
            "http://[::1]:8080/cb",
            "http://[::1]:9/cb"
        ));
        assert!(!redirect_uri_matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:5/cb2"
        ));
        assert!(!redirect_uri_matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.2:5/cb"
        ));
        assert!(!redirect_uri_matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:5/cb?x=1"
        ));
        assert!(!redirect_uri_matches(
            "https://a.example/cb",
            "https://a.example:444/cb"
        ));
        assert!(!redirect_uri_matches(
            "https://a.example/cb",
            "https://A.example/cb"
        ));
    }

    #[test]
    fn well_known_path_insertion() {
        assert_eq!(
            well_known_url("http://127.0.0.1:3003/mcp", "oauth-protected-resource").unwrap(),
            "http://127.0.0.1:3003/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(
            well_known_url("http://127.0.0.1:3002", "oauth-authorization-server").unwrap(),
            "http://127.0.0.1:3002/.well-known/oauth-authorization-server"
        );
        assert_eq!(
            well_known_url("http://127.0.0.1:3002/", "oauth-authorization-server").unwrap(),
            "http://127.0.0.1:3002/.well-known/oauth-authorization-server"
        );
    }

    #[test]
    fn canonical_resource_drops_trailing_slash_and_fragment() {
        assert_eq!(
            canonical_resource("HTTP://Host:1/mcp/#x").unwrap(),
            "http://host:1/mcp"
        );
        assert_eq!(
            canonical_resource("https://h.example/").unwrap(),
            "https://h.example"
        );
    }
}
