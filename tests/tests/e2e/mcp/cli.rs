//! The MCP server binary's command-line contract (issue 3 §F): one `listening on http://ADDR`
//! line on stdout, exit code 2 on bad configuration, graceful exit on SIGTERM, and the shipped
//! config file with environment overrides.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tests::mock_as::{MockAs, claims, es256, sign};

fn bin() -> std::path::PathBuf {
    tests::workspace_binary("http-mcp-mock-server")
}

#[test]
fn cli_prints_listening_line_serves_prm_and_exits_on_sigterm() {
    let mut child = Command::new(bin())
        .args([
            "--bind",
            "127.0.0.1:0",
            "--auth-server",
            "http://127.0.0.1:1",
        ])
        .env_remove("MCP_SERVER__BIND")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let addr = line
        .trim_end()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    assert!(!addr.ends_with(":0"), "{addr}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let prm: serde_json::Value = rt.block_on(async {
        reqwest::get(format!(
            "http://{addr}/.well-known/oauth-protected-resource/mcp"
        ))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
    });
    assert_eq!(prm["resource"], format!("http://{addr}/mcp"));
    assert_eq!(prm["authorization_servers"][0], "http://127.0.0.1:1");
    #[cfg(unix)]
    {
        let ok = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                assert!(st.success(), "{st:?}");
                break;
            }
            assert!(Instant::now() < deadline, "no graceful exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut rest = String::new();
        out.read_to_string(&mut rest).unwrap();
        assert!(
            rest.is_empty(),
            "exactly one stdout line, got more: {rest:?}"
        );
    }
    #[cfg(not(unix))]
    child.kill().unwrap();
}

#[test]
fn cli_bad_config_exits_2_with_message() {
    let dir = tests::TempDir::new("mcp-cli");
    let bad_key = dir.join("bad-key.toml");
    std::fs::write(&bad_key, "no_such_key = 1\n").unwrap();
    for (args, says) in [
        (vec!["--auth-server", "not a url"], "invalid configuration"),
        (
            vec!["--resource", "http://127.0.0.1:3003/mcp/"],
            "invalid configuration",
        ),
        (
            vec!["--config", bad_key.to_str().unwrap()],
            "invalid configuration",
        ),
        (
            vec!["--config", "/nonexistent/mcp.toml"],
            "config file /nonexistent/mcp.toml does not exist",
        ),
    ] {
        let out = Command::new(bin())
            .args(["--bind", "127.0.0.1:0"])
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with("http-mcp-mock-server: ") && err.contains(says),
            "{args:?}: {err}"
        );
    }
}

/// The shipped config file is read (its `resources_dir`, unset by default, serves
/// `file:///README.md`), and environment variables override it: the bind address (not the
/// file's port 3003), the issuer (tokens from a mock AS at another address are accepted), and
/// `limits.max_body_bytes` (a 4 KiB body gets 413 instead of the file's 1 MiB limit).
#[tokio::test]
async fn shipped_config_file_loads_and_env_overrides_it() {
    let key = es256();
    let as_ = MockAs::start(&[&key], 300).await;
    let cfg = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../config/mcp_server_config.toml"
    );
    let mut child = tokio::process::Command::new(bin())
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .args(["--config", cfg])
        .env("MCP_SERVER__BIND", "127.0.0.1:0")
        .env("MCP_SERVER__AUTH_SERVER_ISSUER", &as_.issuer)
        .env("MCP_SERVER__LIMITS__MAX_BODY_BYTES", "2048")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    use tokio::io::AsyncBufReadExt as _;
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("a listening line")
        .unwrap()
        .unwrap_or_default();
    let addr = line
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    assert_ne!(
        addr, "127.0.0.1:3003",
        "MCP_SERVER__BIND overrides the file"
    );
    let url = format!("http://{addr}/mcp");
    let token = sign(&key, &claims(&as_.issuer, &url, "mcp"), Some("at+jwt"));
    let sid = tests::mcp_initialize(&url, &token).await;
    let list = tests::mcp::McpRequest::post(&tests::http(), &url)
        .token(&token)
        .session(&sid)
        .rpc("resources/list", serde_json::json!({}))
        .await;
    assert_eq!(
        list.status(),
        200,
        "a token from the env-configured issuer works"
    );
    let list: serde_json::Value = list.json().await.unwrap();
    assert!(
        list.to_string().contains("file:///README.md"),
        "the file's resources_dir is used: {list}"
    );
    let big = tests::mcp::jsonrpc::request(1, "ping", serde_json::json!({"pad": "x".repeat(4096)}));
    let res = tests::mcp::McpRequest::post(&tests::http(), &url)
        .token(&token)
        .session(&sid)
        .json(&big)
        .await;
    assert_eq!(
        res.status(),
        413,
        "MCP_SERVER__LIMITS__MAX_BODY_BYTES applies"
    );
    child.kill().await.unwrap();
}
