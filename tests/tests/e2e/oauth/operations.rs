//! Operations around the endpoints: fault injection for the client suites (off unless
//! enabled), and the binary's command-line contract.

use serde_json::Value;
use tests::oauth::token_request;
use tests::{auth_server, http, workspace_binary};

async fn json(res: reqwest::Response) -> Value {
    res.json().await.expect("json body")
}

#[tokio::test]
async fn fault_injection_drives_token_endpoint_failures() {
    let s = auth_server(|_| {}).await;
    let issuer = s.issuer();
    let ok = || token_request(issuer).service_credentials().send();
    assert!(
        s.faults()
            .set("token", auth_server::Fault::Status { status: 503 }, Some(1))
    );
    let res = ok().await;
    assert_eq!(res.status(), 503);
    assert_eq!(json(res).await["error"], "temporarily_unavailable");
    assert_eq!(ok().await.status(), 200);
    // Over HTTP: malformed JSON once.
    let res = http().post(format!("{issuer}/_faults")).json(&serde_json::json!({"endpoint": "token", "fault": {"kind": "malformed_json"}, "times": 1})).send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert!(ok().await.json::<Value>().await.is_err());
    // Key switch: the JWKS now has a new current key and keeps the old one.
    let before: Value = json(http().get(format!("{issuer}/jwks")).send().await.unwrap()).await;
    let kid = s.faults().rotate_keys().unwrap();
    let after: Value = json(http().get(format!("{issuer}/jwks")).send().await.unwrap()).await;
    assert_eq!(after["keys"][0]["kid"], kid.as_str());
    assert_eq!(after["keys"][1]["kid"], before["keys"][0]["kid"]);
}

/// The request timeout (`request_timeout_ms`) still answers a request that hangs: 503
/// `temporarily_unavailable`, and the next request is served (the timer is created lazily,
/// at the first `Pending`: issue 16 C, ADR 0017).
#[tokio::test]
async fn a_hanging_token_request_times_out_with_503_temporarily_unavailable() {
    let s = auth_server(|c| c.request_timeout_ms = 200).await;
    let issuer = s.issuer();
    let ok = || token_request(issuer).service_credentials().send();
    assert!(
        s.faults()
            .set("token", auth_server::Fault::Delay { ms: 60_000 }, Some(1))
    );
    let started = std::time::Instant::now();
    let res = ok().await;
    assert_eq!(res.status(), 503);
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    let body = json(res).await;
    assert_eq!(body["error"], "temporarily_unavailable");
    assert_eq!(body["error_description"], "the request timed out");
    assert_eq!(ok().await.status(), 200);
}

#[tokio::test]
async fn fault_endpoints_do_not_exist_unless_enabled() {
    let s = auth_server(|c| c.faults.enabled = false).await;
    let res = http()
        .post(format!("{}/_faults", s.issuer()))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert!(
        !s.faults()
            .set("token", auth_server::Fault::MalformedJson, None)
    );
}

#[tokio::test]
async fn binary_prints_listening_line_and_exits_2_on_bad_config() {
    let bin = workspace_binary("http-oauth2-mock-server");
    if !bin.exists() {
        panic!(
            "{} not built; run the tests through `cargo nextest run --workspace`",
            bin.display()
        );
    }
    let dir = std::env::temp_dir().join(format!("as-bin-{}", shared::random::token()));
    let mut child = tokio::process::Command::new(&bin)
        .args(["--bind", "127.0.0.1:0", "--keys-dir"])
        .arg(&dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    use tokio::io::AsyncBufReadExt as _;
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(std::time::Duration::from_secs(20), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let addr = line
        .strip_prefix("listening on http://")
        .expect(&line)
        .to_owned();
    assert!(!addr.ends_with(":0"));
    let m = json(
        http()
            .get(format!(
                "http://{addr}/.well-known/oauth-authorization-server"
            ))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(m["issuer"], format!("http://{addr}"));
    assert!(dir.join("signing_key.pem").exists());
    child.kill().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    // Bad config: clear message, exit code 2.
    let bad = std::env::temp_dir().join(format!("bad-{}.toml", shared::random::token()));
    std::fs::write(&bad, "issuer = 42\nnot_a_key = true\n").unwrap();
    let out = tokio::process::Command::new(&bin)
        .arg("--config")
        .arg(&bad)
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("http-oauth2-mock-server: invalid configuration")
            && err.contains("not_a_key"),
        "{err}"
    );
    let _ = std::fs::remove_file(&bad);
}
