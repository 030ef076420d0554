//! Issue 11 item 14 (CL-08): URLs named by a remote MCP server or its authorization server
//! (`resource_metadata`, issuers, endpoints) may not lead the client to loopback or private
//! addresses; a loopback MCP server (development) or `allow_insecure_local_targets` may.
//! The mock listens on 127.0.0.1, so every request it sees is one the client should not
//! have sent on behalf of a remote server.

use std::time::Duration;

use http_oauth2_client::oauth::{discovery, oauth_http_client};
use http_oauth2_client::{ClientError, ConfigError, UrlPolicy};

use super::mock;
use super::{asm, prm};

const REMOTE_MCP: &str = "https://mcp.example/mcp";

fn http() -> reqwest_middleware::ClientWithMiddleware {
    oauth_http_client(Duration::from_secs(5), Duration::from_secs(5), 0)
}

fn remote() -> (url::Url, UrlPolicy) {
    let url = url::Url::parse(REMOTE_MCP).unwrap();
    let policy = UrlPolicy::for_server(&url);
    (url, policy)
}

fn is_local_target(e: &ClientError) -> bool {
    matches!(e, ClientError::Config(ConfigError::LocalTarget(_)))
}

/// A remote server's challenge names `resource_metadata` on 127.0.0.1: refused before any
/// request; with the explicit insecure option it is fetched.
#[tokio::test]
async fn a_remote_servers_resource_metadata_on_loopback_is_refused_cl08() {
    let m = mock::spawn().await;
    m.doc("/prm", prm(&m, REMOTE_MCP));
    let header_url = format!("{}/prm", m.base());
    let (server, policy) = remote();
    let e = discovery::protected_resource_metadata(&http(), &server, Some(&header_url), &policy)
        .await
        .unwrap_err();
    assert!(is_local_target(&e), "{e:?}");
    assert!(m.gets().is_empty(), "{:?}", m.gets());

    let allowed = policy.allow_insecure_local_targets(true);
    let got = discovery::protected_resource_metadata(&http(), &server, Some(&header_url), &allowed)
        .await
        .unwrap();
    assert_eq!(got.resource, REMOTE_MCP);
    assert_eq!(m.gets(), ["/prm"]);
}

/// A remote server's PRM names an authorization server on 127.0.0.1: its metadata is not
/// fetched.
#[tokio::test]
async fn a_remote_servers_authorization_server_on_loopback_is_refused_cl08() {
    let m = mock::spawn().await;
    m.doc("/.well-known/oauth-authorization-server", asm(&m.base()));
    let (_, policy) = remote();
    let e = discovery::authorization_server_metadata(&http(), &m.base(), &policy)
        .await
        .unwrap_err();
    assert!(is_local_target(&e), "{e:?}");
    assert!(m.gets().is_empty(), "{:?}", m.gets());
    let allowed = policy.allow_insecure_local_targets(true);
    assert!(
        discovery::authorization_server_metadata(&http(), &m.base(), &allowed)
            .await
            .is_ok()
    );
}
