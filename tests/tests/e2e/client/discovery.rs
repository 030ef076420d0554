//! Discovery: the `resource_metadata` URL from the challenge first (CL-02), then the
//! path-inserted and root well-known URLs (CL-02, P-01); PRM for another resource refused
//! (CL-03); RFC 8414 then OIDC metadata URLs (CL-05); issuer mismatch refused (CL-06); S256
//! required (CL-07, P-08).

use std::time::Duration;

use http_oauth2_client::oauth::{discovery, oauth_http_client};
use http_oauth2_client::{ClientError, UrlPolicy};
use serde_json::json;

use super::mock::{self, Mock};
use super::{asm, prm};

fn http() -> reqwest_middleware::ClientWithMiddleware {
    oauth_http_client(Duration::from_secs(5), Duration::from_secs(5), 0)
}

fn server(m: &Mock) -> url::Url {
    url::Url::parse(&m.mcp_url()).unwrap()
}

/// The URL policy of a session with `m`'s (loopback) MCP server.
fn policy(m: &Mock) -> UrlPolicy {
    UrlPolicy::for_server(&server(m))
}

const PRM_INSERTED: &str = "/.well-known/oauth-protected-resource/mcp";
const PRM_ROOT: &str = "/.well-known/oauth-protected-resource";
const ASM_ROOT: &str = "/.well-known/oauth-authorization-server";

async fn prm_of(m: &Mock) -> Result<shared::oauth::ProtectedResourceMetadata, ClientError> {
    discovery::protected_resource_metadata(&http(), &server(m), None, &policy(m)).await
}

/// CL-02: the `resource_metadata` URL from the challenge is used first.
#[tokio::test]
async fn discovery_uses_resource_metadata_from_header_cl02() {
    let m = mock::spawn().await;
    m.doc("/custom/prm", prm(&m, &m.mcp_url()));
    let header_url = format!("{}/custom/prm", m.base());
    let got = discovery::protected_resource_metadata(
        &http(),
        &server(&m),
        Some(&header_url),
        &policy(&m),
    )
    .await
    .unwrap();
    assert_eq!(got.resource, m.mcp_url());
    assert_eq!(m.gets(), ["/custom/prm"]);
    // The probe finds the header on a 401.
    let ch = discovery::probe(&http(), &server(&m))
        .await
        .unwrap()
        .unwrap();
    assert!(ch.resource_metadata().unwrap().ends_with(PRM_INSERTED));
}

/// CL-02 / P-01: path-inserted well-known first, then the root.
#[tokio::test]
async fn discovery_probes_path_inserted_then_root_cl02() {
    let m = mock::spawn().await;
    m.doc(PRM_ROOT, prm(&m, &m.mcp_url()));
    assert_eq!(prm_of(&m).await.unwrap().resource, m.mcp_url());
    assert_eq!(m.gets(), [PRM_INSERTED, PRM_ROOT]);
    m.clear_gets();
    m.doc(PRM_INSERTED, prm(&m, &m.mcp_url()));
    prm_of(&m).await.unwrap();
    assert_eq!(m.gets(), [PRM_INSERTED]);
}

/// CL-03 / P-02: PRM naming another resource is refused.
#[tokio::test]
async fn discovery_refuses_resource_mismatch_cl03() {
    let m = mock::spawn().await;
    m.doc(PRM_INSERTED, prm(&m, "https://evil.example/mcp"));
    let e = prm_of(&m).await.unwrap_err();
    assert!(matches!(e, ClientError::Discovery { .. }), "{e}");
}

/// CL-05: RFC 8414 path insertion, then the OIDC variants, in order.
#[tokio::test]
async fn discovery_as_metadata_tries_rfc8414_then_oidc_variants_cl05() {
    let m = mock::spawn().await;
    let issuer = format!("{}/tenant", m.base());
    m.doc("/tenant/.well-known/openid-configuration", asm(&issuer));
    let got = discovery::authorization_server_metadata(&http(), &issuer, &policy(&m))
        .await
        .unwrap();
    assert_eq!(got.issuer, issuer);
    assert_eq!(
        m.gets(),
        [
            "/.well-known/oauth-authorization-server/tenant",
            "/.well-known/openid-configuration/tenant",
            "/tenant/.well-known/openid-configuration",
        ]
    );
    m.clear_gets();
    m.doc(
        "/.well-known/oauth-authorization-server/tenant",
        asm(&issuer),
    );
    discovery::authorization_server_metadata(&http(), &issuer, &policy(&m))
        .await
        .unwrap();
    assert_eq!(m.gets(), ["/.well-known/oauth-authorization-server/tenant"]);
}

/// The client's verdict on `m`'s root AS metadata.
async fn asm_error(m: &Mock) -> ClientError {
    discovery::authorization_server_metadata(&http(), &m.base(), &policy(m))
        .await
        .unwrap_err()
}

/// CL-06: metadata with another issuer is refused.
#[tokio::test]
async fn discovery_refuses_issuer_mismatch_cl06() {
    let m = mock::spawn().await;
    m.doc(ASM_ROOT, asm(&format!("{}/", m.base())));
    let e = asm_error(&m).await;
    assert!(
        matches!(e, ClientError::Discovery { ref reason, .. } if reason.contains("CL-06")),
        "{e}"
    );
}

/// CL-07 / P-08: no S256 (or no list at all) means refusal.
#[tokio::test]
async fn discovery_refuses_missing_s256_cl07() {
    let m = mock::spawn().await;
    let mut doc = asm(&m.base());
    doc.as_object_mut()
        .unwrap()
        .remove("code_challenge_methods_supported");
    m.doc(ASM_ROOT, doc);
    let e = asm_error(&m).await;
    assert!(
        matches!(e, ClientError::Discovery { ref reason, .. } if reason.contains("S256")),
        "{e}"
    );
    let mut doc = asm(&m.base());
    doc["code_challenge_methods_supported"] = json!(["plain"]);
    m.doc(ASM_ROOT, doc);
    asm_error(&m).await;
}
