//! Client ID Metadata Documents: an https URL used as `client_id` is fetched and its JSON
//! becomes the client's metadata (checklist AS-56..AS-60).
//!
//! SSRF defences: https only; no userinfo, fragment or dot segments; the host is resolved first
//! and every address must be public (no loopback, private, link-local, CGNAT, ULA, multicast),
//! then the connection is pinned to the checked address (no DNS rebinding between check and
//! use); no redirects; 5 s timeout; at most 5 KiB read. Loopback over http is allowed only by
//! the explicitly named `insecure_allow_loopback_metadata_documents` development setting.
//! Valid documents are cached per `Cache-Control: max-age` (bounded); errors are never cached.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use futures_util::StreamExt as _;

use crate::store::ClientRecord;

const MAX_DOC_BYTES: usize = 5 * 1024;
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_TTL: u64 = 300;
const MAX_TTL: u64 = 3600;

/// Why a metadata document cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CimdError {
    /// The URL breaks the CIMD URL rules.
    #[error("client_id URL is not acceptable: {0}")]
    Url(&'static str),
    /// The host resolves to an address that must not be fetched.
    #[error("client_id host resolves to a non-public address")]
    Blocked,
    /// DNS, connection, status, size or time failure.
    #[error("fetching the document failed: {0}")]
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

/// Fetcher with a cache of valid documents.
#[derive(Debug)]
pub(crate) struct MetadataDocuments {
    insecure_loopback: bool,
    cache: moka::future::Cache<String, (ClientRecord, u64)>,
}

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
                || (o[0] == 198 && (o[1] & 0xfe) == 18)
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8))
        }
    }
}

impl MetadataDocuments {
    /// A fetcher; `insecure_loopback` lets http loopback URLs through (development only).
    pub(crate) fn new(insecure_loopback: bool) -> Self {
        Self {
            insecure_loopback,
            cache: moka::future::Cache::builder().max_capacity(1_000).build(),
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

    /// The client described by the document at `client_id`, from cache or fetched.
    pub(crate) async fn client(
        &self,
        client_id: &str,
        now: u64,
    ) -> Result<ClientRecord, CimdError> {
        if let Some((record, exp)) = self.cache.get(client_id).await
            && exp > now
        {
            return Ok(record);
        }
        let url = self.check_url(client_id)?;
        let (body, ttl) = self.fetch(&url).await?;
        let record = self.parse(client_id, &body, now)?;
        self.cache
            .insert(client_id.to_owned(), (record.clone(), now + ttl))
            .await;
        Ok(record)
    }

    async fn fetch(&self, url: &url::Url) -> Result<(Vec<u8>, u64), CimdError> {
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
        let ttl = res
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.split(',').find_map(|d| {
                    d.trim()
                        .strip_prefix("max-age=")
                        .and_then(|n| n.parse::<u64>().ok())
                })
            })
            .unwrap_or(DEFAULT_TTL)
            .min(MAX_TTL);
        let mut body = Vec::new();
        let mut stream = res.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| CimdError::Fetch(e.without_url().to_string()))?;
            if body.len() + chunk.len() > MAX_DOC_BYTES {
                return Err(CimdError::Fetch("document larger than 5 KiB".into()));
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
}
