//! Issue 11 item 2: the built-in development client secrets (`mcp-service` /
//! `dev-service-secret`, `mcp-server` / `dev-mcp-server-secret`, in force when the config
//! omits `clients`) are for the zero-config loopback demo only. The real binary refuses them on
//! a non-loopback `bind` (exit 2, `shared::process::EXIT_CONFIG`) unless the `insecure_*` key
//! allows it, and warns at start-up whenever they are in use.

use std::io::{BufRead as _, BufReader, Read as _};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = "http-oauth2-mock-server";
const ALLOW: &str = "AUTH_SERVER__INSECURE_ALLOW_BUILTIN_SECRETS_OFF_LOOPBACK";

/// How a server process ended up: it exited by itself, or it printed `listening on` (then it
/// was stopped). Both carry everything it wrote to stderr.
#[derive(Debug)]
enum Outcome {
    Exited(Option<i32>, String),
    Listening(String),
}

/// Starts the authorization server binary with `args` and `env`, bounded to 30 s.
fn start(args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let mut cmd = tests::server_command(BIN, args, &[("RUST_LOG", "info")]);
    cmd.env_remove(ALLOW);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .expect("the binaries are built by `cargo build --workspace --bins`");
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let listening = loop {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) if line.starts_with("listening on ") => break true,
            Ok(_) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break false,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{BIN} neither exited nor listened within 30 s");
            }
        }
    };
    if listening {
        let _ = child.kill();
    }
    let status = child.wait().unwrap();
    let stderr = err_reader.join().unwrap();
    if listening {
        Outcome::Listening(stderr)
    } else {
        Outcome::Exited(status.code(), stderr)
    }
}

#[test]
fn builtin_secrets_on_a_non_loopback_bind_exit_2_unless_allowed_as30() {
    let args = ["--bind", "0.0.0.0:0", "--ephemeral-keys"];
    match start(&args, &[]) {
        Outcome::Exited(code, err) => {
            assert_eq!(code, Some(2), "{err}");
            assert!(
                err.contains(
                    "the built-in development client secrets (mcp-service, mcp-server) are refused on the non-loopback bind address 0.0.0.0:0"
                ),
                "{err}"
            );
            assert!(
                err.contains("insecure_allow_builtin_secrets_off_loopback"),
                "{err}"
            );
        }
        other => panic!("started with the built-in secrets on 0.0.0.0: {other:?}"),
    }
    match start(&args, &[(ALLOW, "true")]) {
        Outcome::Listening(err) => assert!(
            err.contains("the built-in development client secrets are in use"),
            "{err}"
        ),
        other => panic!("the insecure setting did not allow it: {other:?}"),
    }
}

#[test]
fn builtin_secrets_on_loopback_start_with_a_warning_as30() {
    match start(&["--bind", "127.0.0.1:0", "--ephemeral-keys"], &[]) {
        Outcome::Listening(err) => {
            assert!(
                err.contains("WARN")
                    && err.contains("the built-in development client secrets are in use"),
                "{err}"
            );
            assert!(!err.contains("dev-service-secret"), "{err}");
            assert!(!err.contains("dev-mcp-server-secret"), "{err}");
        }
        other => panic!("the zero-config loopback demo must start: {other:?}"),
    }
}
