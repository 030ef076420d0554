//! Command-line arguments (clap).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use http_oauth2_client::TransportPreference;

/// OAuth 2.1-protected MCP client: discovery, registration, login (browser or headless),
/// refresh, encrypted token storage, and the MCP operations.
#[derive(Debug, Parser)]
#[command(
    name = "http-oauth2-client",
    version,
    after_help = "Exit codes: 0 ok, 1 MCP/operation error, 2 usage/config, 3 authorization required/denied, 4 network/discovery.\nWithout a subcommand: log in if needed, run the MCP operations and print a report."
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) opts: GlobalOpts,
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
    /// MCP endpoint URL (default: config `server_url`, else http://127.0.0.1:3003/mcp).
    #[arg(value_name = "SERVER_URL")]
    pub(crate) server_url: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub(crate) struct GlobalOpts {
    /// Log in without a browser: fetch the authorization URL and read the redirect
    /// (needs an auto-approving authorization server).
    #[arg(long, global = true)]
    pub(crate) headless: bool,
    /// Do not open a browser; print the authorization URL only.
    #[arg(long, global = true)]
    pub(crate) no_browser: bool,
    /// Pre-registered client id (skips CIMD and dynamic registration).
    #[arg(long, global = true, value_name = "ID")]
    pub(crate) client_id: Option<String>,
    /// Client secret of a confidential client (prefer OAUTH2_CLIENT__CLIENT_SECRET); needs --issuer.
    #[arg(long, global = true, value_name = "SECRET")]
    pub(crate) client_secret: Option<String>,
    /// Authenticate the client with private_key_jwt (RFC 7523) using this PKCS#8 PEM key
    /// (P-256, Ed25519 or RSA) instead of a secret; needs --client-id and --issuer.
    #[arg(long, global = true, value_name = "PEM")]
    pub(crate) private_key_jwt: Option<PathBuf>,
    /// DPoP-bound tokens (RFC 9449) even when the servers do not advertise DPoP (default:
    /// used when the authorization server advertises it).
    #[arg(long, global = true, conflicts_with = "no_dpop")]
    pub(crate) dpop: bool,
    /// Never use DPoP (bearer tokens only).
    #[arg(long, global = true)]
    pub(crate) no_dpop: bool,
    /// Enterprise-managed authorization (ID-JAG): sign in at this identity provider (an
    /// OAuth issuer URL) and exchange its token for an ID-JAG redeemed at the MCP server's
    /// authorization server; needs --idp-client-id.
    #[arg(long, global = true, value_name = "URL", requires = "idp_client_id")]
    pub(crate) idp: Option<String>,
    /// This application's client id at the --idp identity provider.
    #[arg(long, global = true, value_name = "ID")]
    pub(crate) idp_client_id: Option<String>,
    /// Use the client_credentials grant (needs --client-id and --client-secret or --private-key-jwt).
    #[arg(long, global = true)]
    pub(crate) client_credentials: bool,
    /// Issuer the --client-id is registered at (refuses servers that use another AS).
    #[arg(long, global = true, value_name = "URL")]
    pub(crate) issuer: Option<String>,
    /// Client ID Metadata Document URL (used if the server supports CIMD).
    #[arg(long, global = true, value_name = "URL")]
    pub(crate) client_metadata_url: Option<String>,
    /// Scopes to request, space-separated.
    #[arg(long, global = true, value_name = "SCOPES")]
    pub(crate) scope: Option<String>,
    /// Encrypted token store file ("memory" for none).
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) token_store: Option<String>,
    /// Configuration file (TOML).
    #[arg(long, global = true, value_name = "PATH")]
    pub(crate) config: Option<PathBuf>,
    /// Allow plain http to non-loopback hosts (development only).
    #[arg(long, global = true)]
    pub(crate) insecure_http: bool,
    /// Let a remote server's metadata point at loopback or private addresses (development,
    /// intranets; always allowed when SERVER_URL itself is loopback).
    #[arg(long, global = true)]
    pub(crate) insecure_local_targets: bool,
    /// Also trust the CA certificate(s) in this PEM file (a private or test CA).
    #[arg(long, global = true, value_name = "PEM")]
    pub(crate) ca_cert: Option<PathBuf>,
    /// Request timeout in seconds.
    #[arg(long, global = true, value_name = "SECS")]
    pub(crate) timeout: Option<u64>,
    /// Machine-readable JSON output.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// MCP transport: auto (stateless 2026-07-28, then initialize sessions, then HTTP+SSE),
    /// stateless, session, or sse (2024-11-05).
    #[arg(long, global = true, value_enum, default_value_t = Transport::Auto)]
    pub(crate) transport: Transport,
    /// More logging on stderr (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum Transport {
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
pub(crate) enum Command {
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
pub(crate) struct UrlArg {
    /// MCP endpoint URL.
    #[arg(value_name = "SERVER_URL")]
    pub(crate) server_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ToolsCmd {
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
pub(crate) enum ResourcesCmd {
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
pub(crate) enum PromptsCmd {
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
