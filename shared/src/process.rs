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

/// Logs to stderr, every line written at once (the CLI: its lines and its output stay in
/// order); `RUST_LOG` overrides `default_filter` (e.g. `"info"`). Safe to call twice. Colours
/// only when stderr is a terminal (and `NO_COLOR` is unset): log files and pipes get plain
/// lines.
pub fn init_tracing(default_filter: &str) {
    init(default_filter, 0);
}

/// The servers' logging: as [`init_tracing`], through [`log_sink`]: WARN and ERROR lines are
/// written at once (with every line before them), INFO and below are batched and written
/// within `LOG_FLUSH_MS` milliseconds (default [`DEFAULT_LOG_FLUSH_MS`]; `0` writes every line
/// at once) or when 32 KiB are waiting, so a busy server makes one `write(2)` per batch
/// instead of one per line (issue 16 C: the token endpoint's audit line cost a system call per
/// token). [`print_listening`], [`fail`], a panic and dropping the returned [`LogGuard`] write
/// what is waiting; a process killed with SIGKILL can lose the last `LOG_FLUSH_MS` of INFO
/// lines (ADR 0017).
#[must_use = "dropping the guard writes the waiting log lines: keep it until the end of main"]
pub fn init_server_tracing(default_filter: &str) -> LogGuard {
    let interval = std::env::var("LOG_FLUSH_MS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(DEFAULT_LOG_FLUSH_MS);
    init(default_filter, interval);
    LogGuard(())
}

fn init(default_filter: &str, interval_ms: u64) {
    use std::io::IsTerminal as _;
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let sink = log_sink::install(std::time::Duration::from_millis(interval_ms));
    let builder = tracing_subscriber::fmt()
        .with_ansi(colour)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .with_writer(log_sink::MakeSinkWriter(sink));
    let _ = if colour {
        builder.try_init()
    } else {
        // Files and pipes: the same text, cheaper to write (log_line).
        builder
            .fmt_fields(log_line::PlainFields)
            .event_format(log_line::PlainLine)
            .try_init()
    };
}

mod log_line;

/// How long an INFO log line may wait before it is written, unless `LOG_FLUSH_MS` says
/// otherwise.
pub const DEFAULT_LOG_FLUSH_MS: u64 = 100;

/// Returned by [`init_server_tracing`]: writes the waiting log lines when dropped.
#[derive(Debug)]
pub struct LogGuard(());

impl Drop for LogGuard {
    fn drop(&mut self) {
        flush_logs();
    }
}

/// Writes the log lines waiting in the buffer now (nothing when logging was not initialised
/// by [`init_tracing`] or [`init_server_tracing`]).
pub fn flush_logs() {
    if let Some(sink) = log_sink::installed() {
        sink.flush();
    }
}

pub mod log_sink {
    //! The log buffer (see [`init_server_tracing`](super::init_server_tracing)). Hand-written:
    //! `tracing-appender`'s non-blocking writer wakes its worker thread for each line when
    //! it is idle (a futex wake and two context switches per line for a server given one
    //! core) and flushes whenever its channel is empty, so under load it costs more than one
    //! `write(2)` per line; this sink batches by time and size on the logging thread and its
    //! flusher thread sleeps on a condition variable while nothing waits.

    use std::io::{self, Write};
    use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
    use std::time::Duration;

    /// Lines waiting beyond this many bytes are written at once.
    pub const HIGH_WATER: usize = 32 * 1024;

    type Out = Box<dyn Fn(&[u8]) -> io::Result<()> + Send + Sync>;

    /// A buffer of log lines in front of an output (stderr for the servers).
    pub struct Sink {
        buf: Mutex<Vec<u8>>,
        wake: Condvar,
        interval: Duration,
        out: Out,
    }

    impl std::fmt::Debug for Sink {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Sink")
                .field("interval", &self.interval)
                .finish()
        }
    }

    impl Sink {
        /// A sink writing to `out`; lines wait at most `interval` (zero: none wait). Call
        /// [`Sink::run_flusher`] on a thread of its own for the time limit to hold.
        pub fn new(interval: Duration, out: Out) -> Self {
            Self {
                buf: Mutex::new(Vec::with_capacity(HIGH_WATER + 1024)),
                wake: Condvar::new(),
                interval,
                out,
            }
        }

        fn lock(&self) -> MutexGuard<'_, Vec<u8>> {
            self.buf.lock().unwrap_or_else(PoisonError::into_inner)
        }

        /// Adds one line; `urgent` (WARN, ERROR) writes it and everything before it now.
        pub fn push(&self, line: &[u8], urgent: bool) -> io::Result<()> {
            let mut buf = self.lock();
            let was_empty = buf.is_empty();
            buf.extend_from_slice(line);
            if urgent || self.interval.is_zero() || buf.len() >= HIGH_WATER {
                return self.write_out(&mut buf);
            }
            if was_empty {
                self.wake.notify_one();
            }
            Ok(())
        }

        /// Writes what waits, in order (under the lock, so lines never interleave).
        pub fn flush(&self) {
            let mut buf = self.lock();
            let _ = self.write_out(&mut buf);
        }

        fn write_out(&self, buf: &mut Vec<u8>) -> io::Result<()> {
            if buf.is_empty() {
                return Ok(());
            }
            let r = (self.out)(buf);
            buf.clear();
            if buf.capacity() > 4 * HIGH_WATER {
                buf.shrink_to(HIGH_WATER + 1024); // after one very long line
            }
            r
        }

        /// The flusher: sleeps until a line waits, lets lines gather for `interval`, writes
        /// them, and again. Never returns; run it on a thread of its own.
        pub fn run_flusher(&self) {
            loop {
                let mut buf = self.lock();
                while buf.is_empty() {
                    buf = self.wake.wait(buf).unwrap_or_else(PoisonError::into_inner);
                }
                drop(buf);
                std::thread::sleep(self.interval);
                self.flush();
            }
        }
    }

    static SINK: OnceLock<Sink> = OnceLock::new();

    /// The process's sink, once [`install`]ed.
    pub fn installed() -> Option<&'static Sink> {
        SINK.get()
    }

    /// Installs the process's stderr sink (once: later calls return the first) with its
    /// flusher thread and a panic hook that writes what waits before the panic message. If
    /// the thread cannot be started, nothing would enforce the time limit: the sink then
    /// writes every line at once.
    pub fn install(interval: Duration) -> &'static Sink {
        if let Some(sink) = SINK.get() {
            return sink;
        }
        // The flusher is started first and handed the sink once it exists, so a failed
        // spawn can still choose an unbuffered sink.
        let (tx, rx) = std::sync::mpsc::channel::<&'static Sink>();
        let flusher = !interval.is_zero()
            && std::thread::Builder::new()
                .name("log-flush".into())
                .spawn(move || {
                    if let Ok(sink) = rx.recv() {
                        sink.run_flusher();
                    }
                })
                .is_ok();
        if !interval.is_zero() && !flusher {
            eprintln!("cannot start the log flusher thread; logging unbuffered");
        }
        let mut first = false;
        let sink = SINK.get_or_init(|| {
            first = true;
            Sink::new(
                if flusher { interval } else { Duration::ZERO },
                Box::new(|b: &[u8]| io::stderr().lock().write_all(b)),
            )
        });
        if first {
            let _ = tx.send(sink);
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                super::flush_logs();
                previous(info);
            }));
        }
        sink
    }

    /// `MakeWriter` for `tracing_subscriber::fmt`: one [`SinkWriter`] per event, urgent for
    /// WARN and ERROR.
    #[derive(Debug, Clone, Copy)]
    pub struct MakeSinkWriter(pub &'static Sink);

    /// Writes one formatted event into the sink.
    #[derive(Debug)]
    pub struct SinkWriter {
        sink: &'static Sink,
        urgent: bool,
    }

    impl Write for SinkWriter {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.sink.push(b, self.urgent)?;
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for MakeSinkWriter {
        type Writer = SinkWriter;
        fn make_writer(&'a self) -> SinkWriter {
            SinkWriter {
                sink: self.0,
                urgent: true,
            }
        }
        fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> SinkWriter {
            SinkWriter {
                sink: self.0,
                // tracing orders levels by verbosity: ERROR < WARN < INFO.
                urgent: *meta.level() <= tracing::Level::WARN,
            }
        }
    }
}

/// The servers' tokio runtime: with `TOKIO_WORKER_THREADS=1` (a server given one core) a
/// current-thread runtime, whose timers and I/O need no cross-thread wake-up (the multi-thread
/// runtime with one worker wakes its driver through an eventfd when a request's timeout timer
/// is registered: a `write(2)` per request, issue 16 C); otherwise the multi-thread runtime,
/// which reads `TOKIO_WORKER_THREADS` itself. Both with I/O and time enabled.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let single = std::env::var("TOKIO_WORKER_THREADS").is_ok_and(|v| v.trim() == "1");
    if single {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    }
    .enable_all()
    .build()
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
    flush_logs(); // everything logged while starting is out before the ready line
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on {scheme}://{addr}").and_then(|()| out.flush());
}

/// Prints `PROGRAM: MESSAGE` to stderr and returns `code` as the process exit code.
pub fn fail(program: &str, message: impl std::fmt::Display, code: u8) -> std::process::ExitCode {
    flush_logs();
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
    use log_sink::{HIGH_WATER, Sink};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    /// What a recording sink wrote, and in how many writes.
    type Written = Arc<Mutex<(Vec<u8>, usize)>>;

    /// A sink whose output is a shared Vec, with the number of writes made.
    fn recording(interval: Duration) -> (Sink, Written) {
        let out = Arc::new(Mutex::new((Vec::new(), 0)));
        let o = out.clone();
        let sink = Sink::new(
            interval,
            Box::new(move |b: &[u8]| {
                let mut g = o.lock().unwrap();
                g.0.extend_from_slice(b);
                g.1 += 1;
                Ok(())
            }),
        );
        (sink, out)
    }

    #[test]
    fn info_lines_wait_and_leave_in_one_write_on_flush() {
        let (sink, out) = recording(Duration::from_secs(3600));
        sink.push(b"a\n", false).unwrap();
        sink.push(b"b\n", false).unwrap();
        assert_eq!(out.lock().unwrap().1, 0, "nothing written before the flush");
        sink.flush();
        assert_eq!(*out.lock().unwrap(), (b"a\nb\n".to_vec(), 1));
        sink.flush(); // nothing waits: no empty write
        assert_eq!(out.lock().unwrap().1, 1);
    }

    #[test]
    fn an_urgent_line_goes_at_once_after_the_lines_before_it() {
        let (sink, out) = recording(Duration::from_secs(3600));
        sink.push(b"info\n", false).unwrap();
        sink.push(b"warn\n", true).unwrap();
        assert_eq!(*out.lock().unwrap(), (b"info\nwarn\n".to_vec(), 1));
    }

    #[test]
    fn zero_interval_writes_every_line_and_high_water_writes_the_batch() {
        let (sink, out) = recording(Duration::ZERO);
        sink.push(b"x\n", false).unwrap();
        sink.push(b"y\n", false).unwrap();
        assert_eq!(out.lock().unwrap().1, 2);

        let (sink, out) = recording(Duration::from_secs(3600));
        let line = vec![b'z'; 1024]; // HIGH_WATER is a multiple of it
        let n = HIGH_WATER / line.len();
        for _ in 0..n - 1 {
            sink.push(&line, false).unwrap();
        }
        assert_eq!(out.lock().unwrap().1, 0);
        sink.push(&line, false).unwrap(); // reaches HIGH_WATER
        sink.push(&line, false).unwrap();
        let g = out.lock().unwrap();
        assert_eq!((g.0.len(), g.1), (n * line.len(), 1));
    }

    #[test]
    fn the_flusher_writes_waiting_lines_within_the_interval() {
        let (sink, out) = recording(Duration::from_millis(20));
        let sink: &'static Sink = Box::leak(Box::new(sink));
        std::thread::spawn(|| sink.run_flusher());
        sink.push(b"late\n", false).unwrap();
        let start = Instant::now();
        // Bounded: the flusher writes within 20 ms; give up after 5 s.
        while out.lock().unwrap().1 == 0 && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(*out.lock().unwrap(), (b"late\n".to_vec(), 1));
    }

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
