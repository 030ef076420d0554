//! Client ID Metadata Documents: an https URL used as `client_id` is fetched and its JSON
//! becomes the client's metadata (checklist AS-56..AS-60).
//!
//! SSRF defences: https only; no userinfo, fragment or dot segments; the host is resolved first
//! and every address must be public (no loopback, private, link-local, CGNAT, ULA, multicast),
//! then the connection is pinned to the checked address (no DNS rebinding between check and
//! use); no redirects; 5 s timeout; at most 5 KiB read. Loopback over http is allowed only by
//! the explicitly named `insecure_allow_loopback_metadata_documents` development setting.
//! Valid documents are cached per `Cache-Control: max-age` (bounded), not at all with `no-store`
//! or `no-cache`; errors are never cached. No proxy from the environment is ever used (a proxy
//! would resolve the name itself and bypass the address check). Fetch failures are shown to the
//! browser as one generic sentence; the detail (DNS name, status, address) is only logged.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use futures_util::StreamExt as _;

use crate::store::{ClientRecord, Store};

const MAX_DOC_BYTES: usize = 5 * 1024;
/// Largest JWK Set or authorization-server metadata document fetched ([`MetadataDocuments::fetch_json`]).
const MAX_JSON_BYTES: usize = 64 * 1024;
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_TTL: u64 = 300;
const MAX_TTL: u64 = 3600;

/// Why a metadata document cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CimdError {
    /// The URL breaks the CIMD URL rules.
    #[error("client_id URL is not acceptable: {0}")]
    Url(&'static str),
    /// The host resolves to an address that must not be fetched. Shown to the browser exactly
    /// like a failed fetch, so the page is no oracle for internal names (details are logged).
    #[error("the document could not be fetched")]
    Blocked,
    /// DNS, connection, status, size or time failure: the detail is logged, never shown.
    #[error("the document could not be fetched")]
    Fetch(String),
    /// The document is not valid client metadata.
    #[error("invalid document: {0}")]
    Invalid(String),
}

/// Whether a `client_id` is to be treated as a metadata-document URL (AS-56).
pub(crate) fn is_metadata_url(client_id: &str) -> bool {
    (client_id.starts_with("https://") || client_id.starts_with("http://"))
        && url::Url::parse(client_id).is_ok_and(|u| u.path() != "/" && !u.path().is_empty())
}

/// Fetcher with a cache of valid documents (in the store, so instances share it).
#[derive(Debug)]
pub(crate) struct MetadataDocuments {
    insecure_loopback: bool,
    cache: std::sync::Arc<dyn Store>,
}

/// Whether an address may be fetched: globally routable unicast only. IPv6 must be global
/// unicast (`2000::/3`), which excludes IPv4-compatible and -mapped forms, NAT64 `64:ff9b::/96`,
/// site-local `fec0::/10`, ULA, link-local and multicast; inside it, 6to4 `2002::/16` and the
/// IETF protocol block `2001::/23` (Teredo, benchmarking, ORCHID) embed or reach other
/// addresses and are refused, as is documentation `2001:db8::/32`.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 192 && o[1] == 88 && o[2] == 99)
                || (o[0] == 198 && (o[1] & 0xfe) == 18)
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            (s[0] & 0xe000) == 0x2000
                && s[0] != 0x2002
                && !(s[0] == 0x2001 && s[1] < 0x0200)
                && !(s[0] == 0x2001 && s[1] == 0x0db8)
        }
    }
}

/// How long a fetched document may be cached: `max-age` (at most [`MAX_TTL`]), [`DEFAULT_TTL`]
/// without one, 0 (not cached) with `no-store` or `no-cache`.
fn cache_ttl(cache_control: Option<&str>) -> u64 {
    let Some(value) = cache_control else {
        return DEFAULT_TTL;
    };
    let mut ttl = DEFAULT_TTL;
    for directive in value.split(',') {
        let (name, arg) = directive
            .trim()
            .split_once('=')
            .map_or((directive.trim(), None), |(n, a)| {
                (n.trim(), Some(a.trim()))
            });
        if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
            return 0;
        }
        if name.eq_ignore_ascii_case("max-age") {
            ttl = arg
                .map(|a| a.trim_matches('"'))
                .and_then(|a| a.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    ttl.min(MAX_TTL)
}

impl MetadataDocuments {
    /// A fetcher; `insecure_loopback` lets http loopback URLs through (development only).
    #[cfg(test)]
    pub(crate) fn new(insecure_loopback: bool) -> Self {
        Self::with_cache(
            insecure_loopback,
            std::sync::Arc::new(crate::store::memory::MemoryStore::default()),
        )
    }

    /// A fetcher caching in `cache`.
    pub(crate) fn with_cache(insecure_loopback: bool, cache: std::sync::Arc<dyn Store>) -> Self {
        Self {
            insecure_loopback,
            cache,
        }
    }

    fn check_url(&self, raw: &str) -> Result<url::Url, CimdError> {
        let url = url::Url::parse(raw).map_err(|_| CimdError::Url("not a URL"))?;
        if url.fragment().is_some() || raw.contains('#') {
            return Err(CimdError::Url("fragment"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(CimdError::Url("userinfo"));
        }
        // The parser removes dot segments, so look at the raw string.
        let path_part = raw.split_once("://").map(|(_, r)| r).unwrap_or(raw);
        if path_part.split(['/', '?']).any(|seg| {
            seg == "."
                || seg == ".."
                || seg.eq_ignore_ascii_case("%2e")
                || seg.eq_ignore_ascii_case("%2e%2e")
        }) {
            return Err(CimdError::Url("dot segments"));
        }
        match url.scheme() {
            "https" => Ok(url),
            "http" if self.insecure_loopback && shared::urls::is_loopback_host(url.host()) => {
                Ok(url)
            }
            _ => Err(CimdError::Url("https is required")),
        }
    }

    /// Fetches a JSON document (a trusted IdP's JWK Set) under the same address policy as
    /// metadata documents. Returns the body and its cache lifetime.
    pub(crate) async fn fetch_json(&self, raw: &str) -> Result<(Vec<u8>, u64), CimdError> {
        let url = self.check_url(raw)?;
        self.fetch_limited(&url, MAX_JSON_BYTES).await
    }

    /// The client described by the document at `client_id`, from cache or fetched.
    pub(crate) async fn client(
        &self,
        client_id: &str,
        now: u64,
    ) -> Result<ClientRecord, CimdError> {
        // A store that cannot answer is a cache miss: the document is fetched.
        match self.cache.cached_metadata(client_id, now).await {
            Ok(Some(record)) => return Ok(record),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "metadata-document cache unavailable"),
        }
        let url = self.check_url(client_id)?;
        let (body, ttl) = self.fetch(&url).await.inspect_err(|e| {
            let detail = match e {
                CimdError::Fetch(detail) => detail.as_str(),
                CimdError::Blocked => "the host resolves to a non-public address",
                _ => "",
            };
            tracing::warn!(client.id = %client_id, error = %detail, "client metadata document fetch failed");
        })?;
        let record = self.parse(client_id, &body, now)?;
        if ttl > 0
            && let Err(e) = self
                .cache
                .cache_metadata(client_id, record.clone(), now + ttl)
                .await
        {
            tracing::warn!(error = %e, "metadata-document cache unavailable");
        }
        Ok(record)
    }

    async fn fetch(&self, url: &url::Url) -> Result<(Vec<u8>, u64), CimdError> {
        self.fetch_limited(url, MAX_DOC_BYTES).await
    }

    async fn fetch_limited(
        &self,
        url: &url::Url,
        max_bytes: usize,
    ) -> Result<(Vec<u8>, u64), CimdError> {
        let host = url.host_str().ok_or(CimdError::Url("no host"))?.to_owned();
        let port = url.port_or_known_default().unwrap_or(443);
        let lookup_host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let addrs: Vec<SocketAddr> = tokio::time::timeout(
            FETCH_TIMEOUT,
            tokio::net::lookup_host((lookup_host.as_str(), port)),
        )
        .await
        .map_err(|_| CimdError::Fetch("DNS timeout".into()))?
        .map_err(|e| CimdError::Fetch(format!("DNS: {e}")))?
        .collect();
        let allowed =
            |a: &SocketAddr| is_public(a.ip()) || (self.insecure_loopback && a.ip().is_loopback());
        let Some(addr) = addrs.first().copied() else {
            return Err(CimdError::Fetch("no address".into()));
        };
        if !addrs.iter().all(allowed) {
            return Err(CimdError::Blocked);
        }
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(FETCH_TIMEOUT)
            .resolve(&lookup_host, addr)
            .build()
            .map_err(|e| CimdError::Fetch(e.to_string()))?;
        let res = client
            .get(url.clone())
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| CimdError::Fetch(e.without_url().to_string()))?;
        if !res.status().is_success() {
            return Err(CimdError::Fetch(format!("status {}", res.status())));
        }
        let ttl = cache_ttl(
            res.headers()
                .get("cache-control")
                .and_then(|v| v.to_str().ok()),
        );
        let mut body = Vec::new();
        let mut stream = res.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| CimdError::Fetch(e.without_url().to_string()))?;
            if body.len() + chunk.len() > max_bytes {
                return Err(CimdError::Fetch(format!(
                    "document larger than {} KiB",
                    max_bytes / 1024
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body, ttl))
    }

    fn parse(&self, client_id: &str, body: &[u8], now: u64) -> Result<ClientRecord, CimdError> {
        let v: serde_json::Value =
            serde_json::from_slice(body).map_err(|_| CimdError::Invalid("not JSON".into()))?;
        if v.get("client_id").and_then(|c| c.as_str()) != Some(client_id) {
            return Err(CimdError::Invalid(
                "client_id does not equal the document URL".into(),
            ));
        }
        if v.get("client_name").and_then(|c| c.as_str()).is_none() {
            return Err(CimdError::Invalid("client_name is required".into()));
        }
        if v.get("client_secret").is_some() || v.get("client_secret_expires_at").is_some() {
            return Err(CimdError::Invalid(
                "documents must not carry a client secret".into(),
            ));
        }
        // The document's own scope list is kept; each request is checked against the offered
        // scopes at authorization time.
        let offered =
            shared::scope::ScopeSet::parse(v.get("scope").and_then(|s| s.as_str()).unwrap_or(""));
        let record = crate::endpoints::register::client_from_metadata(
            &v,
            client_id.to_owned(),
            &offered,
            false,
            now,
        )
        .map_err(|e| CimdError::Invalid(e.description))?;
        if record.redirect_uris.is_empty() {
            return Err(CimdError::Invalid("redirect_uris is required".into()));
        }
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_blocked_as60() {
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "192.168.1.1",
            "172.16.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        assert!(is_public("93.184.216.34".parse().unwrap()));
        assert!(is_public("2606:2800:220:1::1".parse().unwrap()));
    }

    #[test]
    fn url_rules_as56() {
        let d = MetadataDocuments::new(false);
        assert!(d.check_url("https://app.example/client.json").is_ok());
        assert!(d.check_url("https://app.example/a/../client.json").is_err());
        assert!(d.check_url("https://user@app.example/client.json").is_err());
        assert!(d.check_url("https://app.example/client.json#x").is_err());
        assert!(d.check_url("http://app.example/client.json").is_err());
        assert!(d.check_url("http://127.0.0.1:9/client.json").is_err());
        assert!(
            MetadataDocuments::new(true)
                .check_url("http://127.0.0.1:9/client.json")
                .is_ok()
        );
    }

    #[test]
    fn translated_tunnelled_and_deprecated_ipv6_forms_are_blocked_as60() {
        for ip in [
            "64:ff9b::7f00:1",     // NAT64 of 127.0.0.1
            "64:ff9b::a9fe:a9fe",  // NAT64 of 169.254.169.254
            "64:ff9b::5db8:d822",  // NAT64 of a public address: still a translator
            "2002:7f00:1::1",      // 6to4 of 127.0.0.1
            "2002:5db8:d822::1",   // 6to4, any
            "2001::1",             // Teredo
            "2001:0:4136:e378::1", // Teredo
            "::127.0.0.1",         // IPv4-compatible
            "::10.0.0.1",          // IPv4-compatible
            "::ffff:10.0.0.1",     // IPv4-mapped
            "::ffff:0:10.0.0.1",   // IPv4-translated (RFC 2765)
            "fec0::1",             // site-local
            "192.0.0.8",           // IETF protocol assignments
            "192.0.0.170",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        assert!(is_public("2001:4860:4860::8888".parse().unwrap()));
        assert!(is_public("2a00:1450:4001::1".parse().unwrap()));
        assert!(is_public("8.8.8.8".parse().unwrap()));
    }

    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Serves a valid document at `/client.json` on loopback with this status and
    /// `Cache-Control`; returns its URL and a fetch counter.
    async fn serve_document(
        status: u16,
        cache_control: &'static str,
    ) -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/client.json", listener.local_addr().unwrap());
        let body = serde_json::json!({
            "client_id": url, "client_name": "doc",
            "redirect_uris": ["http://127.0.0.1/cb"], "token_endpoint_auth_method": "none"
        });
        let fetches = Arc::new(AtomicUsize::new(0));
        let counter = fetches.clone();
        let app = axum::Router::new().route(
            "/client.json",
            axum::routing::get(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                let body = body.clone();
                async move {
                    (
                        axum::http::StatusCode::from_u16(status).unwrap(),
                        [("cache-control", cache_control)],
                        axum::Json(body),
                    )
                }
            }),
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (url, fetches)
    }

    #[tokio::test]
    async fn a_no_store_document_is_fetched_again_every_time_as59() {
        let d = MetadataDocuments::new(true);
        let (url, fetches) = serve_document(200, "no-store").await;
        d.client(&url, 100).await.unwrap();
        d.client(&url, 101).await.unwrap();
        assert_eq!(fetches.load(Ordering::SeqCst), 2, "no-store is not cached");
        let (url, fetches) = serve_document(200, "max-age=60").await;
        d.client(&url, 100).await.unwrap();
        d.client(&url, 101).await.unwrap();
        assert_eq!(fetches.load(Ordering::SeqCst), 1, "max-age is cached");
    }

    #[tokio::test]
    async fn fetch_errors_are_generic_for_the_browser_as60() {
        let d = MetadataDocuments::new(true);
        let (not_found, _) = serve_document(404, "no-store").await;
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}/client.json", l.local_addr().unwrap())
        };
        let strict = MetadataDocuments::new(false);
        let shown = [
            d.client(&not_found, 1).await.unwrap_err().to_string(),
            d.client(&closed, 1).await.unwrap_err().to_string(),
            strict
                .client("https://127.0.0.1/client.json", 1)
                .await
                .unwrap_err()
                .to_string(),
        ];
        for text in &shown {
            for detail in [
                "404",
                "status",
                "refused",
                "connect",
                "DNS",
                "non-public",
                "127.0.0.1",
            ] {
                assert!(!text.contains(detail), "{text:?} reveals {detail}");
            }
        }
        assert!(shown.iter().all(|t| t == &shown[0]), "{shown:?}");
    }

    /// The proxy variables are read when a client is built, so the check runs in a child
    /// process whose environment names a proxy (changing this process's environment would race
    /// with other tests).
    #[tokio::test]
    async fn a_proxy_from_the_environment_is_never_used_as60() {
        const CHILD: &str = "AS_CIMD_PROXY_TEST_CHILD";
        if std::env::var_os(CHILD).is_some() {
            let proxy_hits = Arc::new(AtomicUsize::new(0));
            let proxy = tokio::net::TcpListener::bind(std::env::var("AS_CIMD_PROXY_ADDR").unwrap())
                .await
                .unwrap();
            let hits = proxy_hits.clone();
            tokio::spawn(async move {
                while let Ok((sock, _)) = proxy.accept().await {
                    hits.fetch_add(1, Ordering::SeqCst);
                    drop(sock);
                }
            });
            let (url, fetches) = serve_document(200, "no-store").await;
            let d = MetadataDocuments::new(true);
            let res = d.client(&url, 1).await;
            assert_eq!(proxy_hits.load(Ordering::SeqCst), 0, "the proxy was used");
            assert!(res.is_ok(), "{res:?}");
            assert_eq!(fetches.load(Ordering::SeqCst), 1);
            return;
        }
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let proxy = format!("http://{addr}");
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "cimd::tests::a_proxy_from_the_environment_is_never_used_as60",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, "1")
            .env("AS_CIMD_PROXY_ADDR", addr.to_string())
            .env("HTTP_PROXY", &proxy)
            .env("http_proxy", &proxy)
            .env("HTTPS_PROXY", &proxy)
            .env("https_proxy", &proxy)
            .env("ALL_PROXY", &proxy)
            .env_remove("NO_PROXY")
            .env_remove("no_proxy")
            .env_remove("REQUEST_METHOD")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("1 passed"),
            "child: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success());
    }
}
