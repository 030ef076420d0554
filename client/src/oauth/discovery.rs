//! Discovery (CL-02 … CL-07): Protected Resource Metadata (RFC 9728) from the 401's
//! `resource_metadata`, else the path-inserted then root well-known URL, with the `resource`
//! check; authorization-server metadata (RFC 8414 path insertion, then the OpenID Connect
//! variants) with the `issuer` check and S256 required.
//!
//! ```no_run
//! # async fn f() -> Result<(), http_oauth2_client::ClientError> {
//! use http_oauth2_client::oauth::{discovery, oauth_http_client};
//! use std::time::Duration;
//! let http = oauth_http_client(Duration::from_secs(10), Duration::from_secs(5), 2);
//! let url = url::Url::parse("http://127.0.0.1:3003/mcp").unwrap();
//! // What the server's URLs may point at: loopback targets only because this server is.
//! let policy = http_oauth2_client::UrlPolicy::for_server(&url);
//! let probe = discovery::probe(&http, &url).await?;
//! let prm = discovery::protected_resource_metadata(
//!     &http, &url, probe.as_ref().and_then(|c| c.resource_metadata()), &policy).await?;
//! let asm = discovery::authorization_server_metadata(&http, &prm.authorization_servers[0], &policy).await?;
//! # Ok(()) }
//! ```

use reqwest_middleware::ClientWithMiddleware;
use shared::oauth::{AuthorizationServerMetadata, ProtectedResourceMetadata};
use shared::urls::{canonical_resource, well_known_url};
use url::Url;

use super::challenge::{Challenge, bearer_challenge};
use crate::config::UrlPolicy;
use crate::error::ClientError;

const MAX_METADATA_BYTES: usize = 256 * 1024;

/// Sends an unauthenticated MCP `ping` to learn whether the server is protected. Returns the
/// Bearer challenge of a 401 (or 403), or `None` when the server answered without asking for
/// authorization.
#[tracing::instrument(skip_all, fields(mcp.url = %server_url))]
pub async fn probe(
    http: &ClientWithMiddleware,
    server_url: &Url,
) -> Result<Option<Challenge>, ClientError> {
    let resp = http
        .post(server_url.clone())
        .header(http::header::ACCEPT, "application/json, text/event-stream")
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(
            shared::mcp::header::PROTOCOL_VERSION,
            shared::mcp::SESSION_VERSIONS[0],
        )
        .body(r#"{"jsonrpc":"2.0","id":0,"method":"ping"}"#)
        .send()
        .await?;
    let status = resp.status();
    if status == http::StatusCode::UNAUTHORIZED || status == http::StatusCode::FORBIDDEN {
        return Ok(Some(bearer_challenge(resp.headers()).unwrap_or(
            Challenge {
                scheme: "Bearer".into(),
                params: Vec::new(),
            },
        )));
    }
    Ok(None)
}

async fn get_json<T: serde::de::DeserializeOwned>(
    http: &ClientWithMiddleware,
    url: &Url,
) -> Result<Option<T>, ClientError> {
    let resp = http
        .get(url.clone())
        .header(http::header::ACCEPT, "application/json")
        .send()
        .await?;
    if !resp.status().is_success() {
        tracing::debug!(url = %url, status = %resp.status(), "metadata candidate not found");
        return Ok(None);
    }
    let body = super::read_limited(resp, MAX_METADATA_BYTES).await?;
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|e| ClientError::Discovery {
            reason: format!("{url}: invalid metadata document"),
            source: Some(Box::new(e)),
        })
}

fn same_resource(a: &str, b: &str) -> bool {
    match (canonical_resource(a), canonical_resource(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Fetches Protected Resource Metadata for `server_url` (CL-02) and checks its `resource`
/// (CL-03): equal to the server URL (lower-case scheme/host and trailing-slash differences
/// ignored), or, for the root well-known document, to the server's origin. Every URL
/// fetched, the challenge's `resource_metadata` included, passes `policy` (CL-08).
#[tracing::instrument(skip_all, fields(mcp.url = %server_url))]
pub async fn protected_resource_metadata(
    http: &ClientWithMiddleware,
    server_url: &Url,
    resource_metadata: Option<&str>,
    policy: &UrlPolicy,
) -> Result<ProtectedResourceMetadata, ClientError> {
    let server = server_url.as_str();
    let origin = server_url.origin().ascii_serialization();
    let mut candidates: Vec<(Url, bool)> = Vec::new();
    if let Some(rm) = resource_metadata {
        candidates.push((policy.check(rm)?, false));
    } else {
        let inserted = well_known_url(server, "oauth-protected-resource")
            .map_err(|e| ClientError::discovery(e.to_string()))?;
        let root = format!("{origin}/.well-known/oauth-protected-resource");
        if inserted != root {
            candidates.push((policy.check(&inserted)?, false));
        }
        candidates.push((policy.check(&root)?, true));
    }
    for (url, is_root) in candidates {
        let Some(prm) = get_json::<ProtectedResourceMetadata>(http, &url).await? else {
            continue;
        };
        let ok = same_resource(&prm.resource, server)
            || (is_root && same_resource(&prm.resource, &origin));
        if !ok {
            return Err(ClientError::discovery(format!(
                "protected resource metadata at {url} names resource `{}`, not `{server}` (CL-03): refusing it",
                prm.resource
            )));
        }
        if prm.authorization_servers.is_empty() {
            return Err(ClientError::discovery(format!(
                "protected resource metadata at {url} lists no authorization_servers"
            )));
        }
        return Ok(prm);
    }
    Err(ClientError::discovery(format!(
        "no protected resource metadata found for {server}"
    )))
}

/// The metadata URLs to try for `issuer`, in CL-05 order.
pub fn authorization_server_metadata_urls(issuer: &str) -> Result<Vec<String>, ClientError> {
    let url = Url::parse(issuer).map_err(|e| ClientError::discovery(format!("issuer: {e}")))?;
    let oauth = well_known_url(issuer, "oauth-authorization-server")
        .map_err(|e| ClientError::discovery(e.to_string()))?;
    let oidc = well_known_url(issuer, "openid-configuration")
        .map_err(|e| ClientError::discovery(e.to_string()))?;
    let path = url.path().trim_end_matches('/');
    let mut v = vec![oauth, oidc];
    if !path.is_empty() {
        v.push(format!(
            "{}{path}/.well-known/openid-configuration",
            url.origin().ascii_serialization()
        ));
    }
    Ok(v)
}

/// Fetches and validates authorization-server metadata: the first candidate that exists
/// (CL-05) must name exactly `issuer` (CL-06), advertise S256 (CL-07), and use endpoint
/// URLs that pass `policy` (CL-08), as must the issuer itself.
#[tracing::instrument(skip_all, fields(oauth.issuer = %issuer))]
pub async fn authorization_server_metadata(
    http: &ClientWithMiddleware,
    issuer: &str,
    policy: &UrlPolicy,
) -> Result<AuthorizationServerMetadata, ClientError> {
    policy.check(issuer)?;
    for candidate in authorization_server_metadata_urls(issuer)? {
        let url = policy.check(&candidate)?;
        let Some(meta) = get_json::<AuthorizationServerMetadata>(http, &url).await? else {
            continue;
        };
        if meta.issuer != issuer {
            return Err(ClientError::discovery(format!(
                "metadata at {url} names issuer `{}`, expected `{issuer}` (CL-06): refusing it",
                meta.issuer
            )));
        }
        if !meta.supports_s256() {
            return Err(ClientError::discovery(format!(
                "authorization server {issuer} does not advertise PKCE S256 in code_challenge_methods_supported (CL-07): refusing to continue"
            )));
        }
        for u in [
            meta.authorization_endpoint.as_deref(),
            meta.token_endpoint.as_deref(),
            meta.registration_endpoint.as_deref(),
            meta.revocation_endpoint.as_deref(),
        ]
        .into_iter()
        .flatten()
        {
            policy.check(u)?;
        }
        if meta.token_endpoint.is_none() {
            return Err(ClientError::discovery(format!(
                "authorization server {issuer} has no token_endpoint"
            )));
        }
        return Ok(meta);
    }
    Err(ClientError::discovery(format!(
        "no authorization server metadata found for issuer {issuer}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_urls_follow_cl05_order() {
        assert_eq!(
            authorization_server_metadata_urls("https://as.example/t").unwrap(),
            vec![
                "https://as.example/.well-known/oauth-authorization-server/t",
                "https://as.example/.well-known/openid-configuration/t",
                "https://as.example/t/.well-known/openid-configuration",
            ]
        );
        assert_eq!(
            authorization_server_metadata_urls("https://as.example").unwrap(),
            vec![
                "https://as.example/.well-known/oauth-authorization-server",
                "https://as.example/.well-known/openid-configuration",
            ]
        );
    }
}
