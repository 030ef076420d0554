//! `http-oauth2-mock-server`: loads the config, binds, serves. Prints one stdout line,
//! `listening on http(s)://ADDR`, once ready; graceful shutdown on SIGTERM and Ctrl-C. Exit
//! code 2 on an invalid configuration, 1 when a valid one cannot be served (address in use,
//! unreadable keys or TLS files): `shared::process`.

use std::path::PathBuf;
use std::process::ExitCode;

use auth_server::Config;
use auth_server::config::SigningAlgorithm;
use clap::{Parser, Subcommand};

/// OAuth 2.1 authorization server for local MCP development (code + PKCE, refresh rotation,
/// client credentials, JWKS, DCR, revocation, introspection).
#[derive(Debug, Parser)]
#[command(name = "http-oauth2-mock-server", version)]
struct Cli {
    /// `--config PATH` (`AUTH_SERVER__*` variables override it) and `--bind ADDR` (default
    /// 127.0.0.1:3002).
    #[command(flatten)]
    server: shared::process::ServerArgs,
    /// Issuer URL (default `http://` + the bound address).
    #[arg(long)]
    issuer: Option<String>,
    /// Folder of signing keys (default `keys`), generated when absent.
    #[arg(long, global = true)]
    keys_dir: Option<PathBuf>,
    /// Use throw-away in-memory keys instead of a keys folder.
    #[arg(long)]
    ephemeral_keys: bool,
    /// Adds an accepted RFC 8707 resource (repeatable).
    #[arg(long = "resource")]
    resources: Vec<String>,
    /// Grant-state store: `memory` (default) or `redis://HOST:PORT/DB`, shared by several
    /// instances (same `--issuer`, same `--keys-dir`).
    #[arg(long, value_name = "memory|redis://HOST:PORT/DB")]
    store: Option<String>,
    /// Prefix of every Redis key (default `mcp-auth:`).
    #[arg(long, value_name = "PREFIX")]
    store_prefix: Option<String>,
    /// Signing algorithm: ES256 (default), RS256 or EdDSA.
    #[arg(long, global = true)]
    algorithm: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Key management.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
}

#[derive(Debug, Subcommand)]
enum KeysAction {
    /// Generates the signing key if none exists.
    Generate,
    /// Generates a new signing key; the old one stays published as retired.
    Rotate,
}

const PROGRAM: &str = "http-oauth2-mock-server";

fn load_config(cli: &Cli) -> Result<Config, String> {
    let mut cfg: Config =
        cli.server
            .load("AUTH_SERVER", &["resources", "scopes"], |c: &mut Config| {
                &mut c.bind
            })?;
    if let Some(i) = &cli.issuer {
        cfg.issuer = i.clone();
    }
    if cli.ephemeral_keys {
        cfg.keys_dir = None;
    } else if let Some(k) = &cli.keys_dir {
        cfg.keys_dir = Some(k.clone());
    } else if cfg.keys_dir.is_none() {
        cfg.keys_dir = Some(PathBuf::from("keys"));
    }
    if let Some(s) = &cli.store {
        cfg.store = s.clone();
    }
    if let Some(p) = &cli.store_prefix {
        cfg.store_key_prefix = p.clone();
    }
    if let Some(a) = &cli.algorithm {
        cfg.signing_algorithm = SigningAlgorithm::parse(a)
            .ok_or_else(|| format!("unknown algorithm {a:?} (ES256, RS256, EdDSA)"))?;
    }
    for r in &cli.resources {
        if !cfg.resources.contains(r) {
            cfg.resources.push(r.clone());
        }
    }
    cfg.validate()
        .map_err(|e| format!("invalid configuration: {e}"))?;
    Ok(cfg)
}

fn main() -> ExitCode {
    use shared::process::{EXIT_CONFIG, EXIT_FAILURE, fail};
    let cli = Cli::parse();
    let _logs = shared::process::init_server_tracing("info");
    let cfg = match load_config(&cli) {
        Ok(c) => c,
        Err(e) => return fail(PROGRAM, e, EXIT_CONFIG),
    };
    if let Some(Command::Keys { action }) = &cli.command {
        let dir = cfg
            .keys_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("keys"));
        let ttl = std::time::Duration::from_secs(cfg.retired_key_ttl_secs);
        let keys = match auth_server::keys::Keys::load_or_generate(&dir, cfg.signing_algorithm, ttl)
        {
            Ok(k) => k,
            Err(e) => return fail(PROGRAM, e, EXIT_FAILURE),
        };
        let kid = match action {
            KeysAction::Generate => keys.ring().current.kid.clone(),
            KeysAction::Rotate => match keys.rotate() {
                Ok(k) => k.kid.clone(),
                Err(e) => return fail(PROGRAM, e, EXIT_FAILURE),
            },
        };
        println!(
            "current signing key {kid} ({}) in {}",
            cfg.signing_algorithm.as_str(),
            dir.display()
        );
        return ExitCode::SUCCESS;
    }
    let rt = match shared::process::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            return fail(
                PROGRAM,
                format!("cannot start the runtime: {e}"),
                EXIT_FAILURE,
            );
        }
    };
    rt.block_on(run(cfg))
}

async fn run(cfg: Config) -> ExitCode {
    use shared::process::{EXIT_CONFIG, EXIT_FAILURE, fail};
    let listener = match shared::process::bind(&cfg.bind).await {
        Ok(l) => l,
        Err(e) => return fail(PROGRAM, e, EXIT_FAILURE),
    };
    let server = match auth_server::serve(listener, cfg).await {
        Ok(s) => s,
        Err(e @ auth_server::Error::Config(_)) => return fail(PROGRAM, e, EXIT_CONFIG),
        Err(e) => return fail(PROGRAM, e, EXIT_FAILURE),
    };
    let tls = server.issuer().starts_with("https://");
    shared::process::print_listening(tls, server.local_addr());
    tracing::info!(issuer = %server.issuer(), "authorization server ready");
    shared::process::shutdown_signal().await;
    tracing::info!("shutting down");
    server.shutdown().await;
    ExitCode::SUCCESS
}
