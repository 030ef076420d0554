//! `http-mcp-mock-server [--config PATH] [--bind ADDR] [--auth-server ISSUER_URL] [--resource URL]`
//!
//! Prints exactly one stdout line, `listening on http://ADDR` (`https://` when `tls_cert` and
//! `tls_key` are set), once ready. Graceful shutdown on SIGTERM and Ctrl-C. A bad
//! configuration prints a message to stderr and exits with 2.

use std::path::PathBuf;
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
    /// TOML configuration file (environment variables `MCP_SERVER__*` override it).
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Address to bind (default 127.0.0.1:3003; port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    bind: Option<String>,
    /// Authorization server issuer URL.
    #[arg(long = "auth-server", value_name = "ISSUER_URL")]
    auth_server: Option<String>,
    /// Canonical MCP resource URL (default `http://<bound addr>/mcp`).
    #[arg(long, value_name = "URL")]
    resource: Option<String>,
}

fn load(cli: &Cli) -> Result<Config, String> {
    let mut b = config::Config::builder();
    if let Some(p) = &cli.config {
        b = b.add_source(config::File::from(p.as_path()).format(config::FileFormat::Toml));
    }
    b = b.add_source(
        config::Environment::with_prefix("MCP_SERVER")
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true)
            .list_separator(",")
            .with_list_parse_key("algorithms")
            .with_list_parse_key("allowed_origins")
            .with_list_parse_key("allowed_hosts"),
    );
    let mut cfg: Config = b
        .build()
        .and_then(|c| c.try_deserialize())
        .map_err(|e| e.to_string())?;
    if let Some(v) = &cli.bind {
        cfg.bind = v.clone();
    }
    if let Some(v) = &cli.auth_server {
        cfg.auth_server_issuer = v.clone();
    }
    if let Some(v) = &cli.resource {
        cfg.resource_url = Some(v.clone());
    }
    cfg.validate().map_err(|e| e.to_string())?;
    Ok(cfg)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

fn main() -> ExitCode {
    // One worker requested (e.g. a server pinned to one core): a current-thread runtime avoids
    // the multi-thread scheduler's cross-thread wake-ups. Otherwise the multi-thread runtime,
    // which honours TOKIO_WORKER_THREADS itself.
    let single = std::env::var("TOKIO_WORKER_THREADS").is_ok_and(|v| v.trim() == "1");
    let rt = if single {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    }
    .enable_all()
    .build();
    match rt {
        Ok(rt) => rt.block_on(run()),
        Err(e) => {
            eprintln!("http-mcp-mock-server: cannot start the runtime: {e}");
            ExitCode::from(1)
        }
    }
}

async fn run() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cfg = match load(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("http-mcp-mock-server: bad configuration: {e}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(&cfg.bind).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("http-mcp-mock-server: cannot bind {}: {e}", cfg.bind);
            return ExitCode::from(1);
        }
    };
    // The same rule as `serve`: TLS when both the certificate and the key are configured.
    let scheme = if cfg.tls_cert.is_some() && cfg.tls_key.is_some() {
        "https"
    } else {
        "http"
    };
    let server = match mcp_server::serve(listener, cfg).await {
        Ok(s) => s,
        Err(mcp_server::Error::Config(e)) => {
            eprintln!("http-mcp-mock-server: bad configuration: {e}");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("http-mcp-mock-server: {e}");
            return ExitCode::from(1);
        }
    };
    println!("listening on {scheme}://{}", server.local_addr());
    shutdown_signal().await;
    tracing::info!("shutting down");
    server.shutdown().await;
    ExitCode::SUCCESS
}
