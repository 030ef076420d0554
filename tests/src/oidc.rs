//! node-oidc-provider (npm `oidc-provider` 9.13.3, OpenID Certified) as a third-party
//! authorization server (issue 13 part C): `tests/oidc/server.mjs`, started on a
//! `127.0.0.1:0` port it prints, configured per test with JSON options (see the script's
//! header: `issuerSlash`, `issuerPath`, `openidOnly`, `profile: "generic"`, `restrictRegistrationScopes`).
//! Installed by `scripts/install-test-deps.sh` (`npm ci` in `tests/oidc`).
//!
//! Absent node or `tests/oidc/node_modules/oidc-provider`: [`OidcProvider::start`] returns
//! `None` after a loud SKIP line, unless `CI` is set (not empty, not `false`/`0`): then it
//! panics, so CI never passes by skipping.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncBufReadExt as _;

/// The pre-registered confidential clients (client_credentials), for tokens a test needs
/// directly: `svc` mints normal tokens, `svc-expired` tokens whose `exp` is an hour past.
pub const SERVICE_CLIENT: (&str, &str) = ("svc", "svc-secret-for-tests");
/// See [`SERVICE_CLIENT`].
pub const EXPIRED_CLIENT: (&str, &str) = ("svc-expired", "svc-secret-for-tests");

/// The `tests/oidc` node project.
pub fn project_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/oidc"))
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// A running provider; killed on drop (and it exits by itself when its stdin closes).
#[derive(Debug)]
pub struct OidcProvider {
    _child: tokio::process::Child,
    issuer: String,
    port: u16,
}

impl OidcProvider {
    /// Starts the provider with `options`; `None` (after a loud SKIP line) when node or the
    /// npm package is missing outside CI.
    pub async fn start(options: serde_json::Value) -> Option<Self> {
        crate::init_tracing();
        let dir = project_dir();
        let installed = dir
            .join("node_modules/oidc-provider/package.json")
            .is_file();
        let node = std::process::Command::new("node")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !(installed && node) {
            let why = if node {
                "tests/oidc/node_modules/oidc-provider is not installed (run scripts/install-test-deps.sh)"
            } else {
                "node is not installed"
            };
            assert!(
                !in_ci(),
                "CI is set but the third-party provider cannot run: {why}"
            );
            eprintln!("SKIP (loud): oidc-provider e2e test not run: {why}");
            return None;
        }
        let mut child = tokio::process::Command::new("node")
            .arg(dir.join("server.mjs"))
            .arg(options.to_string())
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn node tests/oidc/server.mjs");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("oidc-provider printed its port within 30 s")
            .expect("read oidc-provider stdout")
            .expect("oidc-provider exited before printing its port");
        // Keep draining stdout (a closed pipe would kill the provider with EPIPE).
        tokio::spawn(async move {
            while let Ok(Some(l)) = lines.next_line().await {
                eprintln!("oidc-provider: {l}");
            }
        });
        let v: serde_json::Value = serde_json::from_str(&line).expect("the port line is JSON");
        Some(Self {
            _child: child,
            issuer: v["issuer"].as_str().expect("issuer").to_owned(),
            port: u16::try_from(v["port"].as_u64().expect("port")).expect("a port"),
        })
    }

    /// The issuer, exactly as the provider writes it (with a trailing slash under
    /// `issuerSlash`).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The raw token-endpoint answer to a client_credentials request by `client`.
    pub async fn client_credentials(
        &self,
        client: (&str, &str),
        scope: &str,
        resource: &str,
    ) -> serde_json::Value {
        let res = crate::http()
            .post(format!("{}/token", self.issuer.trim_end_matches('/')))
            .basic_auth(client.0, Some(client.1))
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", scope),
                ("resource", resource),
            ])
            .send()
            .await
            .expect("token request");
        res.json().await.expect("token response JSON")
    }

    /// A client_credentials access token (JWT, `aud` = `resource`).
    pub async fn service_token(&self, client: (&str, &str), scope: &str, resource: &str) -> String {
        let v = self.client_credentials(client, scope, resource).await;
        v["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no access token: {v}"))
            .to_owned()
    }

    /// Our MCP server with this provider as its authorization server, adjusted by `tweak`.
    pub async fn mcp_server(
        &self,
        tweak: impl FnOnce(&mut mcp_server::Config),
    ) -> mcp_server::RunningServer {
        let mut c = mcp_server::Config::new(&self.issuer, "");
        c.resources_dir = Some(crate::mcp_resources_dir());
        tweak(&mut c);
        mcp_server::serve(crate::loopback_listener().await, c)
            .await
            .expect("MCP server starts")
    }
}

/// A headless OAuth session of our client for `mcp_url` (dynamic registration, login at the
/// provider), with `tweak` applied to the configuration builder.
pub async fn session(
    mcp_url: &str,
    tweak: impl FnOnce(http_oauth2_client::OAuthConfigBuilder) -> http_oauth2_client::OAuthConfigBuilder,
) -> Result<http_oauth2_client::OAuthSession, http_oauth2_client::ClientError> {
    let b = http_oauth2_client::OAuthConfig::builder(mcp_url)
        .headless()
        .allow_insecure_http()
        .with_token_store(std::sync::Arc::new(
            http_oauth2_client::InMemoryTokenStore::default(),
        ));
    http_oauth2_client::OAuthSession::connect(tweak(b).build().expect("client config")).await
}
