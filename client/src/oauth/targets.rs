//! Where a URL named by a server may lead (CL-08, issue 11 item 14). A remote MCP server, or
//! the authorization server it names, must not make the client reach this machine or its
//! network: loopback, private, link-local and other non-public addresses are refused for
//! such URLs unless the MCP server itself is loopback (local development) or the user set
//! `allow_insecure_local_targets`. IP literals are checked in the URL ([`crate::UrlPolicy`]);
//! host names are checked after resolution (`PublicOnly`, installed on the session's OAuth
//! HTTP clients). An HTTP(S) proxy from the environment resolves names itself: then only the
//! URL check applies.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use url::Host;

/// Whether `ip` is not a public unicast address: loopback, private (RFC 1918, ULA),
/// link-local, site-local, unspecified, shared (100.64/10), reserved, multicast, or an IPv6
/// form that embeds such an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64, 6to4) or
/// hides it (Teredo).
pub fn is_local_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_local_v4(v4),
        IpAddr::V6(v6) => is_local_v6(v6),
    }
}

fn is_local_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || o[0] == 0 // 0.0.0.0/8, "this network"
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64.0.0/10, shared (CGNAT)
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0.0/24, IETF assignments
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // 198.18.0.0/15, benchmarking
        || o[0] >= 224 // multicast, reserved, broadcast
}

fn is_local_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    if ip.is_loopback() || ip.is_unspecified() {
        return true;
    }
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_local_v4(v4); // ::ffff:a.b.c.d
    }
    match s {
        [0, 0, 0, 0, 0, 0, hi, lo] => is_local_v4(embedded(hi, lo)), // IPv4-compatible
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => is_local_v4(embedded(hi, lo)), // NAT64
        [0x2002, hi, lo, ..] => is_local_v4(embedded(hi, lo)),       // 6to4
        [0x2001, 0, ..] => true, // Teredo: the IPv4 target is hidden
        [first, ..] => {
            (first & 0xfe00) == 0xfc00 // fc00::/7 unique local
                || (first & 0xffc0) == 0xfe80 // fe80::/10 link-local
                || (first & 0xffc0) == 0xfec0 // fec0::/10 site-local
                || (first & 0xff00) == 0xff00 // multicast
        }
    }
}

/// Whether a URL host is local: `localhost`, a `*.localhost` name (RFC 6761), or a local IP
/// literal ([`is_local_ip`]).
pub fn is_local_host(host: Host<&str>) -> bool {
    match host {
        Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        Host::Ipv4(ip) => is_local_v4(ip),
        Host::Ipv6(ip) => is_local_v6(ip),
    }
}

/// A DNS resolver that drops local addresses ([`is_local_ip`]) and fails when nothing else
/// remains, except for one exempt host (the MCP server the user configured).
#[derive(Debug, Clone, Default)]
pub(crate) struct PublicOnly {
    exempt: Option<String>,
}

impl PublicOnly {
    /// A filter that trusts `exempt` (e.g. the configured MCP server's host).
    pub(crate) fn exempting(exempt: Option<&str>) -> Self {
        Self {
            exempt: exempt.map(|h| h.trim_end_matches('.').to_ascii_lowercase()),
        }
    }
}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        let exempt = self
            .exempt
            .as_deref()
            .is_some_and(|e| e == host.trim_end_matches('.').to_ascii_lowercase());
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if exempt {
                return Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs);
            }
            let public: Vec<SocketAddr> =
                addrs.into_iter().filter(|a| !is_local_ip(a.ip())).collect();
            if public.is_empty() {
                return Err(format!(
                    "{host} resolves only to loopback or private addresses: refused for a remote server (CL-08; allow_insecure_local_targets() for development)"
                )
                .into());
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::UrlPolicy;
    use reqwest::dns::Resolve as _;

    #[test]
    fn local_addresses_in_every_form_are_recognised_cl08() {
        let local = [
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "192.0.0.8",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "ff02::1",
        ];
        for a in local {
            assert!(is_local_ip(a.parse().unwrap()), "{a} is local");
        }
        let public = [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::",
        ];
        for a in public {
            assert!(!is_local_ip(a.parse().unwrap()), "{a} is public");
        }
        for h in ["localhost", "LOCALHOST", "app.localhost", "localhost."] {
            assert!(is_local_host(Host::Domain(h)), "{h}");
        }
        assert!(!is_local_host(Host::Domain("as.example")));
    }

    /// Issue 11 item 14: a remote MCP server's metadata cannot send the client to loopback
    /// or private addresses; a loopback MCP server (development) or the explicit insecure
    /// option can.
    #[test]
    fn server_named_local_targets_need_a_loopback_server_or_the_insecure_option_cl08() {
        let remote = UrlPolicy::for_server(&"https://mcp.example/mcp".parse().unwrap());
        for u in [
            "http://127.0.0.1:3002",
            "https://127.0.0.1/prm",
            "https://localhost/.well-known/x",
            "https://10.0.0.7/token",
            "https://[::1]/token",
            "https://[::ffff:192.168.0.1]/token",
            "https://169.254.169.254/latest/meta-data",
        ] {
            let e = remote.check(u).unwrap_err();
            assert!(
                matches!(e, crate::ConfigError::LocalTarget(_)),
                "{u}: {e:?}"
            );
        }
        assert!(remote.check("https://as.example/token").is_ok());
        assert!(
            remote
                .allow_insecure_local_targets(true)
                .check("https://10.0.0.7/token")
                .is_ok()
        );
        let local = UrlPolicy::for_server(&"http://127.0.0.1:3003/mcp".parse().unwrap());
        assert!(local.check("http://127.0.0.1:3002").is_ok());
        assert!(local.check("https://10.0.0.7/token").is_ok());
    }

    /// Host names are judged by what they resolve to; the configured server's own host is
    /// exempt.
    #[tokio::test]
    async fn names_resolving_to_local_addresses_are_refused_unless_exempt_cl08() {
        let name = || "localhost".parse::<reqwest::dns::Name>().unwrap();
        let e = PublicOnly::exempting(None).resolve(name()).await.err();
        assert!(e.is_some_and(|e| e.to_string().contains("loopback or private")));
        let ok = PublicOnly::exempting(Some("LOCALHOST"))
            .resolve(name())
            .await;
        assert!(ok.is_ok_and(|mut a| a.next().is_some()));
    }
}
