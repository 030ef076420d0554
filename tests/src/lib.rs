//! Test harness: starts the real servers in-process on `127.0.0.1:0` and returns handles that
//! stop them on drop; helpers for driving the OAuth flow over real HTTP.

#![allow(missing_docs, unreachable_pub)]

pub mod mcp;
pub mod mcp_fixture;
pub mod mock_as;
pub mod oauth;
pub mod oidc;
pub mod redis;
pub mod webdriver;

/// `docs/INTEGRATION.md`, compiled: its Rust blocks are doc tests of this crate.
#[doc = include_str!("../../docs/INTEGRATION.md")]
pub mod integration_doc {}

use std::path::PathBuf;

use shared::pkce::{PkceChallenge, PkceVerifier};

/// Installs a test subscriber once (safe to call from every test).
///
/// With `E2E_LOG_DIR` set, every log line of the process goes to a file in that folder
/// instead (one file per test process), so that a run of the whole suite at
/// `RUST_LOG=trace` can be scanned for secrets afterwards (`scripts/scan-logs.py`, issue 11
/// item 17; `scripts/test-all.sh` does both).
pub fn init_tracing() {
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"))
    };
    if let Some(dir) = std::env::var_os("E2E_LOG_DIR") {
        let path = std::path::Path::new(&dir).join(format!("e2e-{}.log", std::process::id()));
        if let Ok(file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter())
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
                .try_init();
            return;
        }
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_test_writer()
        .try_init();
}

/// Binds a loopback listener on an ephemeral port.
pub async fn loopback_listener() -> tokio::net::TcpListener {
    tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0")
}

/// An authorization server with test defaults (fault injection on, ephemeral keys), adjusted
/// by `tweak`.
pub async fn auth_server(
    tweak: impl FnOnce(&mut auth_server::Config),
) -> auth_server::RunningServer {
    init_tracing();
    let mut cfg = auth_server::Config::default();
    cfg.faults.enabled = true;
    cfg.keys_dir = None;
    tweak(&mut cfg);
    auth_server::serve(loopback_listener().await, cfg)
        .await
        .expect("auth server starts")
}

/// A plain HTTP client that never follows redirects.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .expect("client")
}

/// GETs `url` with `client` and parses the JSON body (panics on any failure).
pub async fn get_json<T: serde::de::DeserializeOwned>(client: &reqwest::Client, url: &str) -> T {
    client
        .get(url)
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON body")
}

/// A PKCE pair.
pub fn pkce() -> (PkceVerifier, PkceChallenge) {
    let v = PkceVerifier::generate();
    let c = PkceChallenge::s256(&v);
    (v, c)
}

/// Query parameters of a redirect `Location`.
pub fn location_params(res: &reqwest::Response) -> Vec<(String, String)> {
    let loc = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("a Location header");
    url::Url::parse(loc)
        .expect("absolute Location")
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// One parameter of a list.
pub fn param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Runs `/authorize` (state `st-123`, S256 challenge, `extra` parameters) and returns the code.
pub async fn authorize_code(
    issuer: &str,
    client_id: &str,
    redirect_uri: &str,
    challenge: &PkceChallenge,
    extra: &[(&str, &str)],
) -> String {
    oauth::authorize_request(issuer, client_id, redirect_uri)
        .challenge(challenge)
        .state("st-123")
        .params(extra)
        .code()
        .await
}

/// A command for one of the workspace's server binaries with `args` and `env`: stdin closed,
/// stdout and stderr piped, and the variables that would change its address or its log
/// colours (`AUTH_SERVER__BIND`, `MCP_SERVER__BIND`, `NO_COLOR`) removed.
pub fn server_command(bin: &str, args: &[&str], env: &[(&str, &str)]) -> std::process::Command {
    use std::process::Stdio;
    let mut cmd = std::process::Command::new(workspace_binary(bin));
    cmd.args(args)
        .env_remove("AUTH_SERVER__BIND")
        .env_remove("MCP_SERVER__BIND")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// A REST API at `http://ADDR/api` protected by the MCP server's `JwtAuthLayer` (a real
/// authorization server whose resource it is, a real challenge and PRM document): `routes`
/// (paths under `/api/`) behind the layer. Returns the API's base URL and the authorization
/// server; the API serves until the test's runtime ends.
pub async fn protected_rest_api(routes: axum::Router) -> (String, auth_server::RunningServer) {
    let listener = loopback_listener().await;
    let api = format!("http://{}/api", listener.local_addr().expect("local addr"));
    let a = {
        let api = api.clone();
        auth_server(move |c| c.resources = vec![api]).await
    };
    let layer = mcp_server::auth::JwtAuthLayer::builder()
        .issuer(a.issuer())
        .resource(&api)
        .build()
        .expect("auth layer");
    let prm = serde_json::json!({"resource": api, "authorization_servers": [a.issuer()], "scopes_supported": ["mcp"]});
    let app = routes.layer(layer).route(
        "/.well-known/oauth-protected-resource/api",
        axum::routing::get(move || async move { axum::Json(prm) }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (api, a)
}

/// Path of a workspace binary built next to the test executable.
pub fn workspace_binary(name: &str) -> PathBuf {
    let mut dir = std::env::current_exe().expect("current exe");
    dir.pop();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.join(name)
}

/// A fresh temporary folder, removed on drop.
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("{prefix}-{}", shared::random::token()));
        std::fs::create_dir_all(&dir).expect("temporary folder");
        Self(dir)
    }

    /// A path inside.
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A throw-away certificate authority and a server certificate for `127.0.0.1` and
/// `localhost`, written as PEM files into a fresh temporary folder.
#[derive(Debug)]
pub struct TestPki {
    pub dir: PathBuf,
    pub ca_pem: String,
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
}

impl TestPki {
    pub fn generate() -> Self {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "oauth-mcp test CA");
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA cert");
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let key = KeyPair::generate().expect("server key");
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned()]).expect("server params");
        params
            .subject_alt_names
            .push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
        let cert = params.signed_by(&key, &issuer).expect("server cert");
        let dir = std::env::temp_dir().join(format!("pki-{}", shared::random::token()));
        std::fs::create_dir_all(&dir).expect("pki dir");
        let cert_path = dir.join("server.pem");
        let key_path = dir.join("server-key.pem");
        std::fs::write(&cert_path, cert.pem()).expect("write cert");
        std::fs::write(&key_path, key.serialize_pem()).expect("write key");
        Self {
            dir,
            ca_pem: ca_cert.pem(),
            cert_path,
            key_path,
        }
    }
}

impl TestPki {
    /// An authorization server on HTTPS with this certificate; `resources` replaces the
    /// accepted resources unless empty.
    pub async fn https_auth_server(&self, resources: &[&str]) -> auth_server::RunningServer {
        auth_server(|c| {
            c.tls_cert = Some(self.cert_path.clone());
            c.tls_key = Some(self.key_path.clone());
            if !resources.is_empty() {
                c.resources = resources.iter().map(|r| (*r).to_owned()).collect();
            }
        })
        .await
    }
}

impl Drop for TestPki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Captures every log line (TRACE and up) written on this thread while the guard lives. With
/// `#[tokio::test]`'s current-thread runtime the in-process servers log on this thread too.
#[derive(Clone, Debug, Default)]
pub struct LogCapture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl LogCapture {
    /// A subscriber writing every line (TRACE and up) into this capture.
    pub fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + 'static {
        let sink = self.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .finish()
    }

    /// Captures on this thread while the guard lives.
    pub fn install(&self) -> tracing::subscriber::DefaultGuard {
        tracing::subscriber::set_default(self.subscriber())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }
}

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Both servers in-process on loopback (the `devstack` crate, as the CLI's demo uses).
pub type Stack = devstack::DevStack;

/// Starts the stack with the test defaults (fault injection on, the sample resources served);
/// `tweak_as` and `tweak_mcp` adjust the configs.
pub async fn stack(
    tweak_as: impl FnOnce(&mut auth_server::Config),
    tweak_mcp: impl FnOnce(&mut mcp_server::Config),
) -> Stack {
    init_tracing();
    devstack::DevStack::start_with(
        |c| {
            c.faults.enabled = true;
            tweak_as(c);
        },
        |c| {
            c.resources_dir = Some(mcp_resources_dir());
            tweak_mcp(c);
        },
    )
    .await
    .expect("both servers start")
}

/// The sample resources folder of the MCP server crate.
pub fn mcp_resources_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../mcp-server/resources"
    ))
}

/// A client-credentials access token for the service client.
pub async fn service_token(issuer: &str, scope: &str) -> String {
    oauth::token_request(issuer)
        .service_credentials()
        .scope(scope)
        .access_token()
        .await
}

/// A raw session-era MCP POST with a bearer token.
pub async fn mcp_post(
    url: &str,
    token: Option<&str>,
    body: serde_json::Value,
) -> reqwest::Response {
    let req = mcp::McpRequest::post(&http(), url);
    match token {
        Some(t) => req.token(t),
        None => req,
    }
    .json(&body)
    .await
}

/// `initialize` in the session era; returns the session id.
pub async fn mcp_initialize(url: &str, token: &str) -> String {
    let res = mcp_post(url, Some(token), mcp::jsonrpc::initialize(mcp::LEGACY)).await;
    assert_eq!(res.status(), 200, "initialize");
    res.headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .expect("Mcp-Session-Id")
        .to_owned()
}

/// An OAuth session for the stack's MCP server: dynamic registration, headless login.
pub async fn oauth_session(stack: &Stack) -> http_oauth2_client::OAuthSession {
    let config = http_oauth2_client::OAuthConfig::builder(stack.mcp_url())
        .headless()
        .allow_insecure_http()
        .scopes("mcp")
        .with_token_store(std::sync::Arc::new(
            http_oauth2_client::InMemoryTokenStore::default(),
        ))
        .build()
        .expect("client config");
    http_oauth2_client::OAuthSession::connect(config)
        .await
        .expect("OAuth login")
}
