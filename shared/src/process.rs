//! What the three binaries do the same way (feature `bin`): configuration from an optional
//! TOML file plus `PREFIX__*` environment variables, logging to stderr, graceful shutdown on
//! SIGTERM or Ctrl-C, the `listening on` line and the exit codes.
//!
//! Exit codes of the two servers:
//! * [`EXIT_FAILURE`] (1): a valid configuration could not be served (the address is in use,
//!   a TLS file or key cannot be read).
//! * [`EXIT_CONFIG`] (2): the configuration is invalid (a file that does not exist or does not
//!   parse, an unknown key, a value that fails validation, a bad flag).
//!
//! ```
//! #[derive(serde::Deserialize)]
//! struct Settings { bind: String }
//! let file = std::env::temp_dir().join(format!("process-doc-{}.toml", std::process::id()));
//! std::fs::write(&file, "bind = \"127.0.0.1:0\"\n").unwrap();
//! let s: Settings = shared::process::load_config(Some(&file), None, "DOC_EXAMPLE", &[]).unwrap();
//! assert_eq!(s.bind, "127.0.0.1:0");
//! std::fs::remove_file(file).unwrap();
//! ```

use std::path::Path;

/// Exit code: start-up failed with a valid configuration.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code: the configuration (file, environment or flags) is invalid.
pub const EXIT_CONFIG: u8 = 2;

/// The flags both servers take: `--config PATH` and `--bind ADDR` (flatten into a clap parser).
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// TOML configuration file (every key optional; `PREFIX__KEY` environment variables
    /// override it).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<std::path::PathBuf>,
    /// Address to bind; port 0 picks a free port.
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<String>,
}

impl ServerArgs {
    /// [`load_config`] from `--config` and `PREFIX__*`, then `--bind` written through `bind`.
    pub fn load<T: serde::de::DeserializeOwned>(
        &self,
        env_prefix: &str,
        list_keys: &[&str],
        bind: impl FnOnce(&mut T) -> &mut String,
    ) -> Result<T, String> {
        let mut cfg = load_config(self.config.as_deref(), None, env_prefix, list_keys)?;
        if let Some(b) = &self.bind {
            *bind(&mut cfg) = b.clone();
        }
        Ok(cfg)
    }
}

/// Loads `T` from `explicit` (which must exist) or else from `default_file` (used only if it
/// exists), then from `PREFIX__*` environment variables (`__` separates nested keys; lists are
/// comma-separated for the keys named in `list_keys`). The error says which source failed.
pub fn load_config<T: serde::de::DeserializeOwned>(
    explicit: Option<&Path>,
    default_file: Option<&Path>,
    env_prefix: &str,
    list_keys: &[&str],
) -> Result<T, String> {
    let mut b = config::Config::builder();
    let file = match (explicit, default_file) {
        (Some(p), _) if !p.exists() => {
            return Err(format!("config file {} does not exist", p.display()));
        }
        (Some(p), _) => Some(p),
        (None, Some(p)) if p.exists() => Some(p),
        (None, _) => None,
    };
    if let Some(p) = file {
        b = b.add_source(config::File::from(p).format(config::FileFormat::Toml));
    }
    let mut env = config::Environment::with_prefix(env_prefix)
        .prefix_separator("__")
        .separator("__")
        .try_parsing(true);
    if !list_keys.is_empty() {
        env = env.list_separator(",");
        for k in list_keys {
            env = env.with_list_parse_key(k);
        }
    }
    b.add_source(env)
        .build()
        .and_then(config::Config::try_deserialize)
        .map_err(|e| format!("invalid configuration: {e}"))
}

/// Binds the server's listener; the error names the address.
pub async fn bind(addr: &str) -> Result<tokio::net::TcpListener, String> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot bind {addr}: {e}"))
}

/// Logs to stderr; `RUST_LOG` overrides `default_filter` (e.g. `"info"`). Safe to call twice.
/// Colours only when stderr is a terminal (and `NO_COLOR` is unset): log files and pipes get
/// plain lines.
pub fn init_tracing(default_filter: &str) {
    use std::io::IsTerminal as _;
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt()
        .with_ansi(colour)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .with_writer(std::io::stderr)
        .try_init();
}

/// Completes on SIGTERM (Unix) or Ctrl-C.
pub async fn shutdown_signal() {
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

/// Prints the one stdout line a server writes once it accepts connections:
/// `listening on http://ADDR` (or `https://` when it serves TLS).
pub fn print_listening(tls: bool, addr: std::net::SocketAddr) {
    use std::io::Write as _;
    let scheme = if tls { "https" } else { "http" };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on {scheme}://{addr}").and_then(|()| out.flush());
}

/// Prints `PROGRAM: MESSAGE` to stderr and returns `code` as the process exit code.
pub fn fail(program: &str, message: impl std::fmt::Display, code: u8) -> std::process::ExitCode {
    eprintln!("{program}: {message}");
    std::process::ExitCode::from(code)
}

/// Why a `--store` value is refused: both servers take `memory` or `redis://HOST:PORT/DB`
/// (issue 14; `rediss://` is not compiled in).
pub const STORE_URL_RULE: &str = "must be `memory` or `redis://HOST:PORT/DB`";
/// Why a `--store-prefix` value is refused.
pub const STORE_PREFIX_RULE: &str = "at most 64 characters, no whitespace";

/// Whether `store` is `memory` or a `redis://HOST[:PORT][/DB]` URL (no query, no fragment).
pub fn store_url_ok(store: &str) -> bool {
    store == "memory"
        || url::Url::parse(store).is_ok_and(|u| {
            u.scheme() == "redis"
                && u.host_str().is_some_and(|h| !h.is_empty())
                && u.query().is_none()
                && u.fragment().is_none()
                && (matches!(u.path(), "" | "/") || u.path()[1..].parse::<u8>().is_ok())
        })
}

/// Whether `prefix` is a usable Redis key prefix (at most 64 characters, no whitespace or
/// control characters).
pub fn store_prefix_ok(prefix: &str) -> bool {
    prefix.len() <= 64 && !prefix.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The store URL without its password (`redis://user:***@host`), for `Debug` and logs.
pub fn redacted_store(store: &str) -> String {
    match url::Url::parse(store) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => store.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_urls_and_prefixes() {
        for ok in [
            "memory",
            "redis://127.0.0.1:6379/0",
            "redis://h",
            "redis://u:p@h:1/15",
        ] {
            assert!(store_url_ok(ok), "{ok}");
        }
        for bad in [
            "",
            "redis",
            "rediss://h/0",
            "redis://h/x",
            "redis://h/0?a=1",
            "http://h",
        ] {
            assert!(!store_url_ok(bad), "{bad}");
        }
        assert!(store_prefix_ok("mcp-auth:") && !store_prefix_ok("a b"));
        assert!(!store_prefix_ok(&"x".repeat(65)));
        assert_eq!(redacted_store("redis://u:pw@h:1/0"), "redis://u:***@h:1/0");
    }

    #[derive(Debug, serde::Deserialize)]
    struct S {
        a: u32,
        #[serde(default)]
        list: Vec<String>,
    }

    #[test]
    fn a_missing_explicit_file_is_an_error_and_a_missing_default_is_not() {
        let missing = Path::new("/nonexistent/config.toml");
        let e = load_config::<S>(Some(missing), None, "SHARED_T1", &[]).unwrap_err();
        assert_eq!(e, "config file /nonexistent/config.toml does not exist");
        // The default file is missing (skipped, not an error) and no SHARED_T2__* variable is
        // set, so the only failure is the required field.
        let e = load_config::<S>(None, Some(missing), "SHARED_T2", &[]).unwrap_err();
        assert_eq!(
            e,
            "invalid configuration: missing configuration field \"a\""
        );
    }

    #[test]
    fn the_file_is_read_and_lists_parse() {
        let dir = std::env::temp_dir().join(format!("shared-process-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("c.toml");
        std::fs::write(&f, "a = 7\nlist = [\"x\", \"y\"]\n").unwrap();
        let s: S = load_config(Some(&f), None, "SHARED_T3", &["list"]).unwrap();
        assert_eq!((s.a, s.list), (7, vec!["x".to_owned(), "y".to_owned()]));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
