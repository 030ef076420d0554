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
    use std::io::{BufRead as _, BufReader, Read as _};
    use std::process::Stdio;
    for bin in SERVERS {
        let mut args = vec!["--bind", "127.0.0.1:0"];
        if bin == "http-oauth2-mock-server" {
            args.push("--ephemeral-keys");
        } else {
            args.extend(["--auth-server", "http://127.0.0.1:1"]);
        }
        let mut child = Command::new(tests::workspace_binary(bin))
            .args(&args)
            .env("RUST_LOG", "debug")
            .env_remove("NO_COLOR")
            .env_remove("AUTH_SERVER__BIND")
            .env_remove("MCP_SERVER__BIND")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binaries are built by `cargo build --workspace --bins`");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        // Bounded: the server prints `listening on` once, or exits (EOF).
        while stdout.read_line(&mut line).unwrap() > 0 && !line.contains("listening on") {
            line.clear();
        }
        assert!(line.contains("listening on"), "{bin} did not start");
        child.kill().unwrap();
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        child.wait().unwrap();
        assert!(!err.is_empty(), "{bin} logged nothing at debug");
        assert!(
            !err.contains('\u{1b}'),
            "{bin}: colour codes in piped logs: {err:?}"
        );
    }
}
