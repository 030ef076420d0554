//! `http-oauth2-mock-server`: loads the config, binds, serves. Exit code 2 on bad config.

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
    /// TOML config file (every key optional; `AUTH_SERVER__<KEY>` environment variables override).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Address to bind; `127.0.0.1:0` picks a free port.
    #[arg(long)]
    bind: Option<String>,
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

fn load_config(cli: &Cli) -> Result<Config, String> {
    let mut builder = config::Config::builder();
    if let Some(path) = &cli.config {
        if !path.exists() {
            return Err(format!("config file {} does not exist", path.display()));
        }
        builder =
            builder.add_source(config::File::from(path.as_path()).format(config::FileFormat::Toml));
    }
    builder = builder.add_source(
        config::Environment::with_prefix("AUTH_SERVER")
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true)
            .list_separator(",")
            .with_list_parse_key("resources")
            .with_list_parse_key("scopes"),
    );
    let mut cfg: Config = builder
        .build()
        .and_then(|c| c.try_deserialize())
        .map_err(|e| format!("cannot read configuration: {e}"))?;
    if let Some(b) = &cli.bind {
        cfg.bind = b.clone();
    }
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
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cfg = match load_config(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
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
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        let kid = match action {
            KeysAction::Generate => keys.ring().current.kid.clone(),
            KeysAction::Rotate => match keys.rotate() {
                Ok(k) => k.kid.clone(),
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(1);
                }
            },
        };
        println!(
            "current signing key {kid} ({}) in {}",
            cfg.signing_algorithm.as_str(),
            dir.display()
        );
        return ExitCode::SUCCESS;
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    rt.block_on(run(cfg))
}

async fn run(cfg: Config) -> ExitCode {
    let listener = match tokio::net::TcpListener::bind(&cfg.bind).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot bind {}: {e}", cfg.bind);
            return ExitCode::from(2);
        }
    };
    let server = match auth_server::serve(listener, cfg).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let scheme = if server.issuer().starts_with("https://") {
        "https"
    } else {
        "http"
    };
    println!("listening on {scheme}://{}", server.local_addr());
    tracing::info!(issuer = %server.issuer(), "authorization server ready");
    shutdown_signal().await;
    tracing::info!("shutting down");
    server.shutdown().await;
    ExitCode::SUCCESS
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
        () = ctrl_c => {}
        () = term => {}
    }
}
