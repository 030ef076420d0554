//! The CLI binary and a server's elicitation (PR-26): with stdin not a terminal, or with
//! `--json`, the CLI declines cleanly instead of prompting, and the call completes with the
//! server's answer to a decline (exit code 0); on a terminal (util-linux `script` provides a
//! pseudo-terminal on Linux) it prompts. Needs `cargo build --workspace --bins`.

use std::process::Stdio;

use tests::{Stack, TempDir};

async fn cli(stack: &Stack, extra: &[&str]) -> std::process::Output {
    let dir = TempDir::new("elicit-cli");
    let mut args = vec!["--headless", "--token-store", "memory", stack.mcp_url()];
    args.extend_from_slice(extra);
    tokio::process::Command::new(tests::workspace_binary("http-oauth2-client"))
        .args(&args)
        .current_dir(&dir.0)
        .env("HOME", &dir.0)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run the CLI (built by `cargo build --workspace --bins`)")
}

#[tokio::test]
async fn pr26_cli_declines_an_elicitation_when_stdin_is_not_a_terminal() {
    let stack = Stack::start().await.unwrap();
    let call = [
        "tools",
        "call",
        "confirm_action",
        "--args",
        r#"{"action":"deploy"}"#,
    ];
    let out = cli(&stack, &call).await;
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert!(stdout.contains("not confirmed: deploy"), "{stdout}");
    assert!(
        !stderr.contains("The MCP server asks"),
        "no prompt: {stderr}"
    );

    let mut json_call = call.to_vec();
    json_call.push("--json");
    let out = cli(&stack, &json_call).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["content"][0]["text"], "not confirmed: deploy", "{v}");
    assert_eq!(v["resultType"], "complete");
}

/// On a terminal (a pseudo-terminal from util-linux `script`), the CLI shows the server's
/// message, a prompt per field, and sends what was typed; `d` declines.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn pr26_cli_prompts_for_an_elicitation_on_a_terminal() {
    use tokio::io::AsyncWriteExt as _;
    let stack = Stack::start().await.unwrap();
    let dir = TempDir::new("elicit-tty");
    let bin = tests::workspace_binary("http-oauth2-client");
    let command = format!(
        "{} --headless --token-store memory {} tools call confirm_action --args '{{\"action\":\"deploy\"}}'",
        bin.display(),
        stack.mcp_url()
    );
    for (typed, expected) in [
        ("a\nyes\n", "confirmed: deploy"),
        ("d\n", "not confirmed: deploy"),
    ] {
        let mut child = tokio::process::Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .current_dir(&dir.0)
            .env("HOME", &dir.0)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("util-linux `script` runs the CLI on a pseudo-terminal");
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(typed.as_bytes()).await.unwrap();
        drop(stdin);
        let out =
            tokio::time::timeout(std::time::Duration::from_secs(30), child.wait_with_output())
                .await
                .expect("the CLI finishes")
                .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{text}");
        assert!(
            text.contains("The MCP server asks: Confirm: deploy?"),
            "{text}"
        );
        let last = text.lines().last().unwrap_or_default();
        assert!(last.ends_with(expected), "{text}");
        if expected.starts_with("confirmed") {
            assert!(!last.contains("not confirmed"), "{text}");
            assert!(text.contains("Confirm (boolean): "), "{text}");
        }
    }
}
