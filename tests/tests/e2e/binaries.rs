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
