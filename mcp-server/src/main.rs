//! `http-mcp-mock-server [--config PATH] [--bind ADDR] [--auth-server ISSUER_URL] [--resource URL]
//! [--store memory|redis://HOST:PORT/DB] [--store-prefix PREFIX]`
//!
//! Prints exactly one stdout line, `listening on http://ADDR` (`https://` when `tls_cert` and
//! `tls_key` are set), once ready. Graceful shutdown on SIGTERM and Ctrl-C. A bad
//! configuration prints a message to stderr and exits with 2.

use std::process::ExitCode;

use clap::Parser;
use mcp_server::Config;

// mimalloc: the request path makes many small, short-lived allocations (hyper, axum, serde,
// jsonrpsee); glibc malloc/free were ~10% of CPU in a one-core profile.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "http-mcp-mock-server",
    version,
    about = "OAuth2-protected MCP server"
)]
struct Cli {
    /// `--config PATH` (`MCP_SERVER__*` variables override it) and `--bind ADDR` (default
    /// 127.0.0.1:3003).
    #[command(flatten)]
    server: shared::process::ServerArgs,
    /// Authorization server issuer URL.
    #[arg(long = "auth-server", value_name = "ISSUER_URL")]
    auth_server: Option<String>,
    /// Canonical MCP resource URL (default `http://<bound addr>/mcp`).
    #[arg(long, value_name = "URL")]
    resource: Option<String>,
    /// Legacy-session store: `memory` (default) or `redis://HOST:PORT/DB`, shared by several
    /// instances behind one load balancer.
    #[arg(long, value_name = "memory|redis://HOST:PORT/DB")]
    store: Option<String>,
    /// Prefix of every Redis key (default `mcp-server:`).
    #[arg(long, value_name = "PREFIX")]
    store_prefix: Option<String>,
}

const PROGRAM: &str = "http-mcp-mock-server";

fn load(cli: &Cli) -> Result<Config, String> {
    let mut cfg: Config = cli.server.load(
        "MCP_SERVER",
        &["algorithms", "allowed_origins", "allowed_hosts"],
        |c: &mut Config| &mut c.bind,
    )?;
    if let Some(v) = &cli.auth_server {
        cfg.auth_server_issuer = v.clone();
    }
    if let Some(v) = &cli.resource {
        cfg.resource_url = Some(v.clone());
    }
    if let Some(v) = &cli.store {
        cfg.store = v.clone();
    }
    if let Some(v) = &cli.store_prefix {
        cfg.store_key_prefix = v.clone();
    }
    cfg.validate()
        .map_err(|e| format!("invalid configuration: {e}"))?;
    Ok(cfg)
}

fn main() -> ExitCode {
    let rt = shared::process::runtime();
    match rt {
        Ok(rt) => rt.block_on(run()),
        Err(e) => shared::process::fail(
            PROGRAM,
            format!("cannot start the runtime: {e}"),
            shared::process::EXIT_FAILURE,
        ),
    }
}

async fn run() -> ExitCode {
    use shared::process::{EXIT_CONFIG, EXIT_FAILURE, fail};
    let cli = Cli::parse();
    let _logs = shared::process::init_server_tracing("info");
    let cfg = match load(&cli) {
        Ok(c) => c,
        Err(e) => return fail(PROGRAM, e, EXIT_CONFIG),
    };
    let listener = match shared::process::bind(&cfg.bind).await {
        Ok(l) => l,
        Err(e) => return fail(PROGRAM, e, EXIT_FAILURE),
    };
    // The same rule as `serve`: TLS when both the certificate and the key are configured.
    let tls = cfg.tls_cert.is_some() && cfg.tls_key.is_some();
    let server = match mcp_server::serve(listener, cfg).await {
        Ok(s) => s,
        Err(mcp_server::Error::Config(e)) => {
            return fail(PROGRAM, format!("invalid configuration: {e}"), EXIT_CONFIG);
        }
        Err(e) => return fail(PROGRAM, e, EXIT_FAILURE),
    };
    shared::process::print_listening(tls, server.local_addr());
    shared::process::shutdown_signal().await;
    tracing::info!("shutting down");
    server.shutdown().await;
    ExitCode::SUCCESS
}
