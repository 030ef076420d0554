//! The three binaries load configuration and fail the same way (`shared::process`): a missing
//! `--config` file is exit 2 with the same message; a server whose address is taken exits 1
//! (a valid configuration that cannot be served), never 2.

use std::process::Command;

const SERVERS: [&str; 2] = ["http-oauth2-mock-server", "http-mcp-mock-server"];

fn run(bin: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(tests::workspace_binary(bin))
        .args(args)
        .env_remove("AUTH_SERVER__BIND")
        .env_remove("MCP_SERVER__BIND")
        .output()
        .expect("the binaries are built by `cargo build --workspace --bins`");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_missing_config_file_is_exit_2_with_the_same_message_in_every_binary() {
    let missing = "/nonexistent/config.toml";
    for bin in SERVERS {
        let (code, out, err) = run(bin, &["--config", missing, "--bind", "127.0.0.1:0"]);
        assert_eq!(code, Some(2), "{bin}: {err}");
        assert!(out.is_empty(), "{bin}: {out}");
        assert_eq!(
            err.trim_end(),
            format!("{bin}: config file {missing} does not exist"),
            "{bin}"
        );
    }
    let (code, _, err) = run(
        "http-oauth2-client",
        &["--config", missing, "tools", "list"],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.starts_with(&format!("error: config file {missing} does not exist")),
        "{err}"
    );
}

#[test]
fn an_address_in_use_is_exit_1_for_both_servers() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    for bin in SERVERS {
        let mut args = vec!["--bind", addr.as_str()];
        if bin == "http-oauth2-mock-server" {
            args.push("--ephemeral-keys");
        } else {
            args.extend(["--auth-server", "http://127.0.0.1:1"]);
        }
        let (code, out, err) = run(bin, &args);
        assert_eq!(code, Some(1), "{bin}: {err}");
        assert!(out.is_empty(), "{bin}: {out}");
        assert!(
            err.starts_with(&format!("{bin}: cannot bind {addr}: ")),
            "{bin}: {err}"
        );
    }
}

/// Log lines written to a file or a pipe carry no ANSI colour codes (they cost a few hundred
/// bytes of escapes per line on the token path and garble log files); a terminal still gets
/// colours.
#[test]
fn logs_to_a_pipe_carry_no_colour_codes() {
    for bin in SERVERS {
        let mut args = vec!["--bind", "127.0.0.1:0"];
        if bin == "http-oauth2-mock-server" {
            args.push("--ephemeral-keys");
        } else {
            args.extend(["--auth-server", "http://127.0.0.1:1"]);
        }
        let mut s = LoggingServer::start(bin, &args, &[("RUST_LOG", "debug")]);
        s.child.kill().unwrap();
        s.child.wait().unwrap();
        let err = s.rest();
        assert!(!err.is_empty(), "{bin} logged nothing at debug");
        assert!(
            !err.contains('\u{1b}'),
            "{bin}: colour codes in piped logs: {err:?}"
        );
    }
}

/// One `client_credentials` token request over a raw socket (`mcp-service`, the built-in
/// confidential client a loopback authorization server has); returns the status line.
fn token_request(addr: &str) -> String {
    use base64::Engine as _;
    use std::io::{Read as _, Write as _};
    let body = "grant_type=client_credentials&scope=mcp";
    let basic = base64::engine::general_purpose::STANDARD.encode("mcp-service:dev-service-secret");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        s,
        "POST /token HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic {basic}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.lines().next().unwrap_or_default().to_owned()
}

/// A running authorization server whose stderr lines arrive on a channel.
struct LoggingServer {
    child: std::process::Child,
    addr: String,
    lines: std::sync::mpsc::Receiver<String>,
}

impl LoggingServer {
    /// Starts `bin` with `args` and `env` ([`tests::server_command`]) and waits for its
    /// `listening on` line.
    fn start(bin: &str, args: &[&str], env: &[(&str, &str)]) -> Self {
        use std::io::{BufRead as _, BufReader};
        let mut cmd = tests::server_command(bin, args, env);
        let mut child = cmd
            .spawn()
            .expect("the binaries are built by `cargo build --workspace --bins`");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        // Bounded: the server prints `listening on` once, or exits (EOF).
        while stdout.read_line(&mut line).unwrap() > 0 && !line.contains("listening on") {
            line.clear();
        }
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("{bin} did not start"))
            .to_owned();
        let (tx, lines) = std::sync::mpsc::channel();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        std::thread::spawn(move || {
            for l in stderr.lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Self { child, addr, lines }
    }

    /// The authorization server with `LOG_FLUSH_MS=flush_ms`, logging at INFO.
    fn auth_server(flush_ms: &str) -> Self {
        Self::start(
            "http-oauth2-mock-server",
            &["--bind", "127.0.0.1:0", "--ephemeral-keys"],
            &[("RUST_LOG", "info"), ("LOG_FLUSH_MS", flush_ms)],
        )
    }

    /// Every line still to come, up to the end of stderr (call after the process ended).
    fn rest(&self) -> String {
        let mut all = String::new();
        // Bounded: stderr closes when the process has exited; 10 s per line at most.
        while let Ok(l) = self.lines.recv_timeout(std::time::Duration::from_secs(10)) {
            all.push_str(&l);
            all.push('\n');
        }
        all
    }

    /// The next line containing `needle` within `wait`.
    fn wait_for(&self, needle: &str, wait: std::time::Duration) -> Option<String> {
        let end = std::time::Instant::now() + wait;
        loop {
            let left = end.checked_duration_since(std::time::Instant::now())?;
            match self.lines.recv_timeout(left) {
                Ok(l) if l.contains(needle) => return Some(l),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }
}

impl Drop for LoggingServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The servers batch INFO lines (issue 16 C, ADR 0017): the audit line `token issued` reaches
/// the log within `LOG_FLUSH_MS` while the server runs, and when the interval is long, not
/// before a graceful shutdown, which writes every waiting line before the process exits. The
/// start-up lines are written before `listening on`.
#[test]
fn buffered_log_lines_are_written_within_the_interval_and_at_shutdown() {
    use std::time::Duration;
    let short = LoggingServer::auth_server("50");
    assert_eq!(token_request(&short.addr), "HTTP/1.1 200 OK");
    assert!(
        short
            .wait_for("token issued", Duration::from_secs(10))
            .is_some(),
        "the audit line did not reach the log while the server ran"
    );

    let mut long = LoggingServer::auth_server("600000");
    assert_eq!(token_request(&long.addr), "HTTP/1.1 200 OK");
    assert_eq!(
        long.wait_for("token issued", Duration::from_millis(300)),
        None,
        "with a ten-minute interval the INFO line must still wait"
    );
    let pid = long.child.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    assert!(long.child.wait().unwrap().success());
    let issued = long.wait_for("token issued", Duration::from_secs(10));
    assert!(
        issued.is_some_and(|l| l.contains("client.id=mcp-service")),
        "the waiting audit line was lost at shutdown"
    );
    assert!(
        long.wait_for("shutting down", Duration::from_secs(10))
            .is_some()
    );
}
