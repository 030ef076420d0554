//! `http-oauth2-client`: log in to an OAuth-protected MCP server and use it.
//!
//! Exit codes:
//! * 0: success
//! * 1: the MCP operation failed (JSON-RPC error, tool returned `isError`, protocol error)
//! * 2: usage or configuration error (bad flag, bad config file, token store unusable)
//! * 3: authorization required or denied (log in again, check client id, scopes, consent)
//! * 4: network or discovery failure (server unreachable, timeout, metadata refused)

mod config;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use http_oauth2_client::token::decode_claims_unverified;
use http_oauth2_client::{
    ClientError, FileTokenStore, InMemoryTokenStore, LoginMode, McpClient, OAuthConfig,
    OAuthSession, Progress, TokenStore, TransportPreference,
};
use serde_json::{Value, json};
use shared::secret::ClientSecret;

const DEFAULT_SERVER: &str = "http://127.0.0.1:3003/mcp";

/// OAuth 2.1-protected MCP client: discovery, registration, login (browser or headless),
/// refresh, encrypted token storage, and the MCP operations.
#[derive(Debug, Parser)]
#[command(
    name = "http-oauth2-client",
    version,
    after_help = "Exit codes: 0 ok, 1 MCP/operation error, 2 usage/config, 3 authorization required/denied, 4 network/discovery.\nWithout a subcommand: log in if needed, run the MCP operations and print a report."
)]
struct Cli {
    #[command(flatten)]
    opts: GlobalOpts,
    #[command(subcommand)]
    command: Option<Command>,
    /// MCP endpoint URL (default: config `server_url`, else http://127.0.0.1:3003/mcp).
    #[arg(value_name = "SERVER_URL")]
    server_url: Option<String>,
}

#[derive(Debug, Args, Clone)]
struct GlobalOpts {
    /// Log in without a browser: fetch the authorization URL and read the redirect
    /// (needs an auto-approving authorization server).
    #[arg(long, global = true)]
    headless: bool,
    /// Do not open a browser; print the authorization URL only.
    #[arg(long, global = true)]
    no_browser: bool,
    /// Pre-registered client id (skips CIMD and dynamic registration).
    #[arg(long, global = true, value_name = "ID")]
    client_id: Option<String>,
    /// Client secret of a confidential client (prefer OAUTH2_CLIENT__CLIENT_SECRET).
    #[arg(long, global = true, value_name = "SECRET")]
    client_secret: Option<String>,
    /// Use the client_credentials grant (needs --client-id and --client-secret).
    #[arg(long, global = true)]
    client_credentials: bool,
    /// Issuer the --client-id is registered at (refuses servers that use another AS).
    #[arg(long, global = true, value_name = "URL")]
    issuer: Option<String>,
    /// Client ID Metadata Document URL (used if the server supports CIMD).
    #[arg(long, global = true, value_name = "URL")]
    client_metadata_url: Option<String>,
    /// Scopes to request, space-separated.
    #[arg(long, global = true, value_name = "SCOPES")]
    scope: Option<String>,
    /// Encrypted token store file ("memory" for none).
    #[arg(long, global = true, value_name = "FILE")]
    token_store: Option<String>,
    /// Configuration file (TOML).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Allow plain http to non-loopback hosts (development only).
    #[arg(long, global = true)]
    insecure_http: bool,
    /// Also trust the CA certificate(s) in this PEM file (a private or test CA).
    #[arg(long, global = true, value_name = "PEM")]
    ca_cert: Option<PathBuf>,
    /// Request timeout in seconds.
    #[arg(long, global = true, value_name = "SECS")]
    timeout: Option<u64>,
    /// Machine-readable JSON output.
    #[arg(long, global = true)]
    json: bool,
    /// MCP transport: auto (stateless 2026-07-28, then initialize sessions, then HTTP+SSE),
    /// stateless, session, or sse (2024-11-05).
    #[arg(long, global = true, value_enum, default_value_t = Transport::Auto)]
    transport: Transport,
    /// More logging on stderr (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Transport {
    Auto,
    Stateless,
    Session,
    Sse,
}

impl From<Transport> for TransportPreference {
    fn from(t: Transport) -> Self {
        match t {
            Transport::Auto => Self::Auto,
            Transport::Stateless => Self::Stateless,
            Transport::Session => Self::Session,
            Transport::Sse => Self::HttpSse,
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Log in (always runs the authorization flow) and store the tokens.
    Login(UrlArg),
    /// Revoke the refresh token (if the server supports it) and forget stored tokens.
    Logout(UrlArg),
    /// Tools: list or call.
    #[command(subcommand)]
    Tools(ToolsCmd),
    /// Resources: list or read.
    #[command(subcommand)]
    Resources(ResourcesCmd),
    /// Prompts: list or get.
    #[command(subcommand)]
    Prompts(PromptsCmd),
    /// Show the stored access token's claims (decoded, not verified).
    Token {
        /// Also print the raw access token.
        #[arg(long)]
        show_secret: bool,
        #[command(flatten)]
        url: UrlArg,
    },
    /// Start the authorization server and the MCP server in-process and run the whole flow.
    Demo,
}

#[derive(Debug, Args)]
struct UrlArg {
    /// MCP endpoint URL.
    #[arg(value_name = "SERVER_URL")]
    server_url: Option<String>,
}

#[derive(Debug, Subcommand)]
enum ToolsCmd {
    /// List tools.
    List(UrlArg),
    /// Call a tool.
    Call {
        /// Tool name.
        name: String,
        /// Arguments as a JSON object.
        #[arg(long, default_value = "{}")]
        args: String,
        #[command(flatten)]
        url: UrlArg,
    },
}

#[derive(Debug, Subcommand)]
enum ResourcesCmd {
    /// List resources.
    List(UrlArg),
    /// Read a resource.
    Read {
        /// Resource URI.
        uri: String,
        #[command(flatten)]
        url: UrlArg,
    },
}

#[derive(Debug, Subcommand)]
enum PromptsCmd {
    /// List prompts.
    List(UrlArg),
    /// Get a prompt.
    Get {
        /// Prompt name.
        name: String,
        /// Arguments as a JSON object.
        #[arg(long)]
        args: Option<String>,
        #[command(flatten)]
        url: UrlArg,
    },
}

/// A failure with its exit code and a hint on what to do.
struct Failure {
    code: u8,
    message: String,
    hint: String,
}

impl Failure {
    fn usage(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            code: 2,
            message: message.into(),
            hint: hint.into(),
        }
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        let (code, hint) = match &e {
            ClientError::AuthorizationRequired(_) => (
                3,
                "run `http-oauth2-client login` (add --headless for an auto-approving server)",
            ),
            ClientError::AuthorizationDenied { .. } => (
                3,
                "the authorization was refused; check the requested --scope and approve the consent page",
            ),
            ClientError::TokenEndpoint { .. } => (
                3,
                "the token endpoint refused the request; check --client-id/--client-secret, or log in again",
            ),
            ClientError::InsufficientScope { .. } => (
                3,
                "request the missing scopes with --scope and log in again",
            ),
            ClientError::Registration(_) => (
                3,
                "pass a pre-registered --client-id (the demo server knows `mcp-cli`)",
            ),
            ClientError::AuthorizationResponse(_) => {
                (3, "the redirect did not verify; start the login again")
            }
            ClientError::Config(_) => (
                2,
                "fix the URL or option (https is required except for loopback; --insecure-http for development)",
            ),
            ClientError::Store(_) => (
                2,
                "check --token-store and its key file (mode 0600), or use --token-store memory",
            ),
            ClientError::Discovery(_) => (
                4,
                "check the server URL; the server must publish OAuth protected resource metadata",
            ),
            ClientError::Transport(_) | ClientError::Timeout(_) => (
                4,
                "check that the server is running and reachable, then retry",
            ),
            ClientError::Mcp { .. } | ClientError::Protocol(_) => (
                1,
                "check the name and --args against `tools list` / `prompts list`",
            ),
            _ => (1, "see the message above"),
        };
        Self {
            code,
            message: e.to_string(),
            hint: hint.to_owned(),
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match cli.opts.verbose {
        // reqwest-retry reports every transient retry at WARN; only the outcome matters here.
        0 => "warn,reqwest_retry=error",
        1 => "info",
        _ => "debug",
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level)),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let json_out = cli.opts.json;
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if json_out {
                println!(
                    "{}",
                    json!({"ok": false, "exit_code": f.code, "error": f.message, "hint": f.hint})
                );
            } else {
                eprintln!("error: {}\nhint: {}", f.message, f.hint);
            }
            ExitCode::from(f.code)
        }
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let Cli {
        opts,
        command,
        server_url,
    } = cli;
    let sub_url = match &command {
        Some(Command::Login(u) | Command::Logout(u) | Command::Token { url: u, .. }) => {
            u.server_url.clone()
        }
        Some(Command::Tools(ToolsCmd::List(u) | ToolsCmd::Call { url: u, .. })) => {
            u.server_url.clone()
        }
        Some(Command::Resources(ResourcesCmd::List(u) | ResourcesCmd::Read { url: u, .. })) => {
            u.server_url.clone()
        }
        Some(Command::Prompts(PromptsCmd::List(u) | PromptsCmd::Get { url: u, .. })) => {
            u.server_url.clone()
        }
        _ => None,
    };
    if matches!(command, Some(Command::Demo)) {
        return run_demo(opts.json).await;
    }
    let file = config::load(opts.config.as_deref()).map_err(|e| {
        Failure::usage(e, "fix the file (see config/client_config.toml for every key) or the OAUTH2_CLIENT__* variables")
    })?;
    let url = sub_url
        .or(server_url)
        .or(file.server_url.clone())
        .unwrap_or_else(|| DEFAULT_SERVER.to_owned());
    let config = build_config(&opts, &file, &url)?;
    let json_out = opts.json;

    match command {
        None => report(config, json_out, opts.transport).await,
        Some(Command::Login(_)) => {
            let s = OAuthSession::prepare(config).await?;
            s.login().await?;
            let summary = session_summary(&s);
            print_out(json_out, &summary, || {
                format!(
                    "Logged in to {} as client `{}` (issuer {}).\n{}",
                    s.resource(),
                    s.client_id(),
                    s.issuer(),
                    token_text(&summary["token"])
                )
            });
            Ok(())
        }
        Some(Command::Logout(_)) => {
            let s = OAuthSession::prepare(config).await?;
            let revoked = s.logout().await?;
            print_out(json_out, &json!({"ok": true, "revoked": revoked}), || {
                format!(
                    "Logged out{}; stored tokens for {} removed.",
                    if revoked {
                        " (refresh token revoked)"
                    } else {
                        ""
                    },
                    s.resource()
                )
            });
            Ok(())
        }
        Some(Command::Token { show_secret, .. }) => {
            let s = OAuthSession::prepare(config).await?;
            let Some(t) = s.token_manager().tokens() else {
                return Err(ClientError::AuthorizationRequired(
                    "no stored token for this server".into(),
                )
                .into());
            };
            let mut summary = session_summary(&s);
            if show_secret {
                summary["token"]["access_token"] = json!(t.access_token.secret());
            }
            print_out(json_out, &summary, || {
                let mut out = format!(
                    "Token for {} (client `{}`, issuer {}):\n{}",
                    s.resource(),
                    s.client_id(),
                    s.issuer(),
                    token_text(&summary["token"])
                );
                if show_secret {
                    out.push_str(&format!("\naccess token: {}", t.access_token.secret()));
                }
                out
            });
            Ok(())
        }
        Some(Command::Tools(cmd)) => {
            let (_s, mcp) = connect(config, opts.transport).await?;
            match cmd {
                ToolsCmd::List(_) => {
                    let tools = mcp.list_tools().await?;
                    print_out(json_out, &json!({"tools": tools}), || {
                        list_text("Tools", &tools)
                    });
                }
                ToolsCmd::Call { name, args, .. } => {
                    let args = parse_args(&args)?;
                    let progress = progress_printer(json_out);
                    let r = mcp.call_tool(&name, args, Some(progress)).await?;
                    print_out(json_out, &r, || tool_result_text(&r));
                    if r.get("isError").and_then(Value::as_bool) == Some(true) {
                        return Err(Failure {
                            code: 1,
                            message: format!("tool `{name}` reported an error"),
                            hint: "check the arguments against `tools list`".into(),
                        });
                    }
                }
            }
            Ok(())
        }
        Some(Command::Resources(cmd)) => {
            let (_s, mcp) = connect(config, opts.transport).await?;
            match cmd {
                ResourcesCmd::List(_) => {
                    let r = mcp.list_resources().await?;
                    print_out(json_out, &json!({"resources": r}), || {
                        list_text("Resources", &r)
                    });
                }
                ResourcesCmd::Read { uri, .. } => {
                    let r = mcp.read_resource(&uri).await?;
                    print_out(json_out, &r, || contents_text(&r));
                }
            }
            Ok(())
        }
        Some(Command::Prompts(cmd)) => {
            let (_s, mcp) = connect(config, opts.transport).await?;
            match cmd {
                PromptsCmd::List(_) => {
                    let r = mcp.list_prompts().await?;
                    print_out(json_out, &json!({"prompts": r}), || {
                        list_text("Prompts", &r)
                    });
                }
                PromptsCmd::Get { name, args, .. } => {
                    let args = args.as_deref().map(parse_args).transpose()?;
                    let r = mcp.get_prompt(&name, args).await?;
                    print_out(json_out, &r, || {
                        serde_json::to_string_pretty(&r).unwrap_or_default()
                    });
                }
            }
            Ok(())
        }
        Some(Command::Demo) => Ok(()),
    }
}

fn build_config(
    opts: &GlobalOpts,
    file: &config::FileConfig,
    url: &str,
) -> Result<OAuthConfig, Failure> {
    let mut b = OAuthConfig::builder(url);
    if let Some(id) = opts.client_id.clone().or(file.client_id.clone()) {
        b = b.client_id(id);
    }
    if let Some(s) = opts
        .client_secret
        .clone()
        .or(file.client_secret.clone())
        .filter(|s| !s.is_empty())
    {
        b = b.client_secret(ClientSecret::new(s));
    }
    if let Some(u) = opts
        .client_metadata_url
        .clone()
        .or(file.client_metadata_url.clone())
    {
        b = b.client_metadata_url(u);
    }
    if let Some(i) = opts.issuer.clone().or(file.issuer.clone()) {
        b = b.issuer(i);
    }
    if let Some(n) = &file.client_name {
        b = b.client_name(n.clone());
    }
    if let Some(s) = opts.scope.clone().or(file.scope.clone()) {
        b = b.scopes(&s);
    }
    if let Some(r) = &file.redirect_uri {
        b = b.redirect_uri(r.clone());
    }
    let client_credentials =
        opts.client_credentials || file.grant.as_deref() == Some("client_credentials");
    if let Some(g) = file.grant.as_deref()
        && !matches!(g, "authorization_code" | "client_credentials")
    {
        return Err(Failure::usage(
            format!("unknown grant `{g}`"),
            "use \"authorization_code\" or \"client_credentials\"",
        ));
    }
    let mode = if client_credentials {
        LoginMode::ClientCredentials
    } else if opts.headless || file.headless == Some(true) {
        LoginMode::Headless
    } else if opts.no_browser || file.open_browser == Some(false) {
        LoginMode::InteractiveNoBrowser
    } else {
        LoginMode::Interactive
    };
    b = b.login_mode(mode);
    if opts.insecure_http || file.allow_insecure_http == Some(true) {
        b = b.allow_insecure_http();
    }
    if let Some(path) = &opts.ca_cert {
        let pem = std::fs::read(path).map_err(|e| {
            Failure::usage(
                format!("cannot read --ca-cert {}: {e}", path.display()),
                "pass a PEM file with the CA certificate",
            )
        })?;
        b = b.add_root_certificate_pem(&pem).map_err(|e| {
            Failure::usage(
                format!("--ca-cert {}: {e}", path.display()),
                "pass a PEM file with the CA certificate",
            )
        })?;
    }
    if let Some(t) = opts.timeout.or(file.request_timeout_secs) {
        b = b.request_timeout(Duration::from_secs(t.max(1)));
    }
    if let Some(t) = file.login_timeout_secs {
        b = b.login_timeout(Duration::from_secs(t.max(1)));
    }
    if let Some(n) = file.max_retries {
        b = b.max_retries(n);
    }
    b = b.with_token_store(open_store(opts, file)?);
    b.build().map_err(|e| Failure::from(ClientError::Config(e)))
}

fn open_store(
    opts: &GlobalOpts,
    file: &config::FileConfig,
) -> Result<Arc<dyn TokenStore>, Failure> {
    let path = opts
        .token_store
        .clone()
        .or(file.token_store.clone())
        .map(PathBuf::from)
        .or_else(config::default_store_path);
    let Some(path) = path.filter(|p| p.as_os_str() != "memory") else {
        return Ok(Arc::new(InMemoryTokenStore::default()));
    };
    let store = if let Some(key) = file.token_store_key.as_deref().filter(|k| !k.is_empty()) {
        FileTokenStore::with_key_text(path, key)
    } else if let Some(kf) = &file.token_store_key_file {
        FileTokenStore::with_key_file(path, kf)
    } else {
        FileTokenStore::open(path)
    };
    Ok(Arc::new(store.map_err(Failure::from)?))
}

async fn connect(
    config: OAuthConfig,
    transport: Transport,
) -> Result<(OAuthSession, McpClient), Failure> {
    let timeout = config.request_timeout();
    let s = OAuthSession::connect(config).await?;
    let mcp = McpClient::connect_with(
        s.client(),
        s.server_url().clone(),
        timeout,
        transport.into(),
    )
    .await?;
    Ok((s, mcp))
}

fn parse_args(s: &str) -> Result<Value, Failure> {
    let v: Value = serde_json::from_str(s).map_err(|e| {
        Failure::usage(
            format!("--args is not valid JSON: {e}"),
            "pass a JSON object, e.g. --args '{\"message\":\"hi\"}'",
        )
    })?;
    if !v.is_object() {
        return Err(Failure::usage(
            "--args must be a JSON object",
            "e.g. --args '{\"a\":1}'",
        ));
    }
    Ok(v)
}

fn progress_printer(json_out: bool) -> Arc<dyn Fn(Progress) + Send + Sync> {
    Arc::new(move |p: Progress| {
        if json_out {
            return;
        }
        let total = p.total.map(|t| format!("/{t}")).unwrap_or_default();
        let msg = p.message.map(|m| format!(" {m}")).unwrap_or_default();
        eprintln!("  progress {}{total}{msg}", p.progress);
    })
}

fn print_out(json_out: bool, v: &Value, text: impl FnOnce() -> String) {
    if json_out {
        println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
    } else {
        println!("{}", text());
    }
}

fn session_summary(s: &OAuthSession) -> Value {
    let token = s.token_manager().tokens().map(|t| {
        json!({
            "scope": t.scope,
            "expires_at": t.expires_at,
            "has_refresh_token": t.refresh_token.is_some(),
            "claims": decode_claims_unverified(&t.access_token),
        })
    });
    json!({
        "ok": true,
        "server_url": s.server_url().as_str(),
        "resource": s.resource(),
        "issuer": s.issuer(),
        "client_id": s.client_id(),
        "token": token,
    })
}

fn token_text(t: &Value) -> String {
    if t.is_null() {
        return "  (no token)".into();
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let exp = t["expires_at"].as_u64().map_or("unknown".to_owned(), |e| {
        if e > now {
            format!("in {}s", e - now)
        } else {
            format!("{}s ago (will refresh)", now - e)
        }
    });
    let mut out = format!(
        "  scope: {}\n  expires: {exp}\n  refresh token: {}",
        t["scope"].as_str().unwrap_or("(not stated)"),
        if t["has_refresh_token"].as_bool() == Some(true) {
            "yes"
        } else {
            "no"
        }
    );
    if let Some(c) = t.get("claims").filter(|c| c.is_object()) {
        out.push_str("\n  claims (decoded, not verified):");
        for (k, v) in c.as_object().into_iter().flatten() {
            out.push_str(&format!("\n    {k}: {v}"));
        }
    }
    out
}

fn list_text(title: &str, items: &[Value]) -> String {
    let mut out = format!("{title} ({}):", items.len());
    for i in items {
        let name = i["name"].as_str().or(i["uri"].as_str()).unwrap_or("?");
        let desc = i["description"]
            .as_str()
            .or(i["title"].as_str())
            .unwrap_or("");
        let uri = i["uri"]
            .as_str()
            .filter(|u| *u != name)
            .map(|u| format!(" <{u}>"))
            .unwrap_or_default();
        out.push_str(&format!("\n  - {name}{uri}  {desc}"));
    }
    out
}

fn tool_result_text(r: &Value) -> String {
    let mut out = String::new();
    if r.get("isError").and_then(Value::as_bool) == Some(true) {
        out.push_str("(tool error) ");
    }
    for c in r["content"].as_array().into_iter().flatten() {
        match c["text"].as_str() {
            Some(t) => out.push_str(t),
            None => out.push_str(&c.to_string()),
        }
        out.push('\n');
    }
    if let Some(s) = r.get("structuredContent") {
        out.push_str(&format!("structured: {s}\n"));
    }
    out.trim_end().to_owned()
}

fn contents_text(r: &Value) -> String {
    let mut out = String::new();
    for c in r["contents"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "{} ({})\n",
            c["uri"].as_str().unwrap_or("?"),
            c["mimeType"].as_str().unwrap_or("?")
        ));
        match c["text"].as_str() {
            Some(t) => out.push_str(t),
            None => out.push_str("[binary content]"),
        }
        out.push('\n');
    }
    out.trim_end().to_owned()
}

/// Arguments for a known demo tool, derived from its input schema: strings get a greeting,
/// numbers small integers.
fn sample_args(tool: &Value) -> Value {
    let mut args = serde_json::Map::new();
    let schema = &tool["inputSchema"];
    for req in schema["required"].as_array().into_iter().flatten() {
        let Some(name) = req.as_str() else { continue };
        let v = match schema["properties"][name]["type"].as_str() {
            Some("number" | "integer") => json!(2),
            Some("boolean") => json!(true),
            _ => json!("hello from http-oauth2-client"),
        };
        args.insert(name.to_owned(), v);
    }
    Value::Object(args)
}

/// The default command: log in if needed, then discover, list, call and read, with a
/// readable (or `--json`) report.
async fn report(config: OAuthConfig, json_out: bool, transport: Transport) -> Result<(), Failure> {
    let t0 = std::time::Instant::now();
    let (s, mcp) = connect(config, transport).await?;
    let mut rep = session_summary(&s);
    rep["transport"] = json!(format!("{:?}", mcp.transport_kind()));
    rep["protocol_version"] = json!(mcp.protocol_version());
    let info = mcp.server_info();
    rep["server_info"] = info
        .get("serverInfo")
        .or_else(|| {
            info.get("_meta")
                .and_then(|m| m.get("io.modelcontextprotocol/serverInfo"))
        })
        .cloned()
        .unwrap_or(Value::Null);
    mcp.ping().await?;
    let tools = mcp.list_tools().await?;
    let mut calls = Vec::new();
    for name in ["echo", "add", "whoami", "slow_task"] {
        if let Some(tool) = tools.iter().find(|t| t["name"] == name) {
            let args = sample_args(tool);
            let progress = progress_printer(json_out);
            let r = mcp.call_tool(name, args.clone(), Some(progress)).await?;
            calls.push(json!({"tool": name, "arguments": args, "result": r}));
        }
    }
    let resources = mcp.list_resources().await.unwrap_or_default();
    let first_read = match resources.first().and_then(|r| r["uri"].as_str()) {
        Some(uri) => Some(mcp.read_resource(uri).await?),
        None => None,
    };
    let prompts = mcp.list_prompts().await.unwrap_or_default();
    let _ = mcp.close().await;
    rep["tools"] = json!(tools);
    rep["calls"] = json!(calls);
    rep["resources"] = json!(resources);
    rep["resource_read"] = json!(first_read);
    rep["prompts"] = json!(prompts);
    rep["elapsed_ms"] = json!(t0.elapsed().as_millis() as u64);
    print_out(json_out, &rep, || {
        let mut out = format!(
            "Connected to {} ({:?}, protocol {})\n  server: {}\n  issuer: {}\n  client: {}\n{}\n\n{}",
            s.server_url(),
            mcp.transport_kind(),
            mcp.protocol_version(),
            rep["server_info"],
            s.issuer(),
            s.client_id(),
            token_text(&rep["token"]),
            list_text("Tools", &tools)
        );
        for c in &calls {
            out.push_str(&format!(
                "\n\ncall {} {}\n  -> {}",
                c["tool"].as_str().unwrap_or("?"),
                c["arguments"],
                tool_result_text(&c["result"]).replace('\n', "\n     ")
            ));
        }
        out.push_str(&format!("\n\n{}", list_text("Resources", &resources)));
        if let Some(r) = &first_read {
            out.push_str(&format!("\n\nread:\n{}", contents_text(r)));
        }
        out.push_str(&format!("\n\n{}", list_text("Prompts", &prompts)));
        out.push_str(&format!("\n\nDone in {} ms.", t0.elapsed().as_millis()));
        out
    });
    Ok(())
}

/// `demo`: both servers in-process on ephemeral ports, then the whole flow step by step.
async fn run_demo(json_out: bool) -> Result<(), Failure> {
    let started = std::time::Instant::now();
    if !json_out {
        println!(
            "http-oauth2-client demo: OAuth 2.1 + MCP, every component real, all on loopback\n"
        );
    }
    let (steps, servers) = http_oauth2_client::demo::run(|step| {
        if !json_out {
            println!(
                "[{:>2}] {} ({:.1} ms)\n     {}",
                step.n, step.title, step.millis, step.detail
            );
        }
    })
    .await?;
    if json_out {
        println!(
            "{}",
            json!({"ok": true, "steps": steps, "total_ms": started.elapsed().as_secs_f64() * 1000.0})
        );
    } else {
        println!(
            "\ndone: {} steps in {:.0} ms; servers stopped.",
            steps.len(),
            started.elapsed().as_secs_f64() * 1000.0
        );
    }
    drop(servers);
    Ok(())
}
