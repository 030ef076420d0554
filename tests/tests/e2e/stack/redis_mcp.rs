//! Issue 14 on the MCP-server side: two MCP server instances on one real Redis share legacy
//! (2025) sessions. A session initialised on one is used on the other (same subject and client
//! only), ended on either, expires when idle wherever it is used; a Redis outage gives 503
//! with `Retry-After` (never 404) and service resumes. GET streams stay on the instance that
//! opened them. Every test skips loudly without `redis-server` (fails under `CI=true`).

use std::time::Duration;

use serde_json::{Value, json};
use tests::mcp::{LEGACY, McpRequest, jsonrpc};
use tests::mock_as::{Key, MockAs, claims, es256, sign};
use tests::redis::RedisServer;

/// The resource URL both instances serve (as behind one load balancer): tokens name it.
const RESOURCE: &str = "http://mcp.example.test/mcp";

/// One Redis, one mock AS, two MCP server instances on them.
struct Pair {
    redis: RedisServer,
    as_: MockAs,
    key: Key,
    a: mcp_server::RunningServer,
    b: mcp_server::RunningServer,
    http: reqwest::Client,
}

impl Pair {
    async fn start(idle_secs: u64) -> Option<Self> {
        tests::init_tracing();
        let redis = RedisServer::start()?;
        let key = es256();
        let as_ = MockAs::start(&[&key], 300).await;
        let prefix = format!("e2e-mcp-{}:", shared::random::token());
        let instance = || {
            tests::mcp_fixture::mcp_server_for(&as_.issuer, |c| {
                c.resource_url = Some(RESOURCE.to_owned());
                c.store = redis.url();
                c.store_key_prefix = prefix.clone();
                c.limits.session_idle_secs = idle_secs;
            })
        };
        let a = instance().await;
        let b = instance().await;
        Some(Self {
            redis,
            as_,
            key,
            a,
            b,
            http: reqwest::Client::new(),
        })
    }

    /// A token for `sub` / `client_id` with every scope.
    fn token(&self, sub: &str, client_id: &str) -> String {
        let mut c = claims(&self.as_.issuer, RESOURCE, "mcp");
        c["sub"] = json!(sub);
        c["client_id"] = json!(client_id);
        sign(&self.key, &c, Some("at+jwt"))
    }

    fn url(s: &mcp_server::RunningServer) -> String {
        format!("http://{}/mcp", s.local_addr())
    }

    /// `initialize` on `s`; the session id.
    async fn initialize(&self, s: &mcp_server::RunningServer, token: &str) -> String {
        let r = McpRequest::post(&self.http, &Self::url(s))
            .token(token)
            .json(&jsonrpc::initialize(LEGACY))
            .await;
        assert_eq!(r.status(), 200);
        r.headers()["mcp-session-id"].to_str().unwrap().to_owned()
    }

    fn in_session(&self, s: &mcp_server::RunningServer, token: &str, sid: &str) -> McpRequest {
        McpRequest::post(&self.http, &Self::url(s))
            .token(token)
            .session(sid)
            .version(LEGACY)
    }

    /// DELETE of session `sid` on `s`.
    async fn delete(
        &self,
        s: &mcp_server::RunningServer,
        token: &str,
        sid: &str,
    ) -> reqwest::Response {
        self.http
            .delete(Self::url(s))
            .bearer_auth(token)
            .header("mcp-session-id", sid)
            .header("mcp-protocol-version", LEGACY)
            .send()
            .await
            .expect("DELETE")
    }

    /// `tools/call echo` in session `sid` on `s`.
    async fn echo(
        &self,
        s: &mcp_server::RunningServer,
        token: &str,
        sid: &str,
    ) -> reqwest::Response {
        self.in_session(s, token, sid)
            .rpc(
                "tools/call",
                json!({"name": "echo", "arguments": {"message": "hi"}}),
            )
            .await
    }
}

#[tokio::test]
async fn a_session_initialised_on_one_instance_is_used_and_deleted_on_the_other_tr37_tr39_tr40_rs21()
 {
    let Some(p) = Pair::start(1_800).await else {
        return;
    };
    let alice = p.token("alice", "test-client");
    let sid = p.initialize(&p.a, &alice).await;
    let r = p
        .in_session(&p.b, &alice, &sid)
        .notify("notifications/initialized", json!({}))
        .await;
    assert_eq!(r.status(), 202);
    let r = p.echo(&p.b, &alice, &sid).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["result"]["content"][0]["text"], "hi", "{body}");
    // The binding holds on the other instance: another subject, or the same subject through
    // another client, gets 404 as on one instance (RS-21).
    for other in [
        p.token("mallory", "test-client"),
        p.token("alice", "other-client"),
    ] {
        assert_eq!(p.echo(&p.b, &other, &sid).await.status(), 404);
        assert_eq!(p.echo(&p.a, &other, &sid).await.status(), 404);
    }
    // The GET stream is opened on instance a and stays there.
    let mut stream = McpRequest::get_stream(&p.http, &Pair::url(&p.a))
        .token(&alice)
        .session(&sid)
        .version(LEGACY)
        .send()
        .await;
    assert_eq!(stream.status(), 200);
    let mut buf = String::new();
    tests::mcp::read_stream_until(&mut stream, &mut buf, "\n\n").await;
    // The stream's resume buffer is a's: b does not know a's event ids (the client opens
    // the stream without Last-Event-ID, docs/DEPLOYMENT.md).
    let r = McpRequest::get_stream(&p.http, &Pair::url(&p.b))
        .token(&alice)
        .session(&sid)
        .version(LEGACY)
        .header("last-event-id", "5")
        .send()
        .await;
    assert_eq!(r.status(), 400);
    // DELETE on b ends it on a: a's GET stream ends by itself (its periodic check finds the
    // session gone; bounded wait), and requests get 404 on both.
    let r = p.delete(&p.b, &alice, &sid).await;
    assert_eq!(r.status(), 200);
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await;
    assert_eq!(p.echo(&p.a, &alice, &sid).await.status(), 404);
    assert_eq!(p.echo(&p.b, &alice, &sid).await.status(), 404);
    assert!(
        ended.is_ok(),
        "the GET stream on instance a ended after DELETE on b"
    );
}

#[tokio::test]
async fn session_idle_expiry_slides_with_use_on_either_instance_and_is_honoured_on_both_tr39() {
    let Some(p) = Pair::start(3).await else {
        return;
    };
    let alice = p.token("alice", "test-client");
    let sid = p.initialize(&p.a, &alice).await;
    // Used every 1.5 s, alternating instances: alive past its first 3 s.
    for s in [&p.b, &p.a, &p.b] {
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        assert_eq!(p.echo(s, &alice, &sid).await.status(), 200);
    }
    // Then idle for longer than 3 s: gone everywhere.
    tokio::time::sleep(Duration::from_millis(3_600)).await;
    assert_eq!(p.echo(&p.a, &alice, &sid).await.status(), 404);
    assert_eq!(p.echo(&p.b, &alice, &sid).await.status(), 404);
}

#[tokio::test]
async fn redis_down_gives_503_with_retry_after_never_404_and_sessions_resume_when_back() {
    let Some(mut p) = Pair::start(1_800).await else {
        return;
    };
    let alice = p.token("alice", "test-client");
    let sid = p.initialize(&p.a, &alice).await;
    p.redis.stop();
    for s in [&p.a, &p.b] {
        let r = p.echo(s, &alice, &sid).await;
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()["retry-after"], "2");
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            body["error"]["message"], "Session store unavailable",
            "{body}"
        );
        let r = McpRequest::post(&p.http, &Pair::url(s))
            .token(&alice)
            .json(&jsonrpc::initialize(LEGACY))
            .await;
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()["retry-after"], "2");
        let r = p.delete(s, &alice, &sid).await;
        assert_eq!(r.status(), 503);
    }
    // Redis back (its append-only file kept the session): the session works on both again
    // once each instance has reconnected (bounded).
    p.redis.restart();
    for s in [&p.b, &p.a] {
        let mut status = 0;
        for _ in 0..50 {
            status = p.echo(s, &alice, &sid).await.status().as_u16();
            if status == 200 {
                break;
            }
            assert_eq!(status, 503, "only 503 while reconnecting");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(status, 200);
    }
}

#[tokio::test]
async fn an_http_sse_session_answers_only_on_the_instance_holding_its_stream_tr50() {
    let Some(p) = Pair::start(1_800).await else {
        return;
    };
    let alice = p.token("alice", "test-client");
    let mut stream = McpRequest::get_stream(&p.http, &format!("http://{}/sse", p.a.local_addr()))
        .token(&alice)
        .send()
        .await;
    assert_eq!(stream.status(), 200);
    let mut buf = String::new();
    tests::mcp::read_stream_until(&mut stream, &mut buf, "\n\n").await;
    let endpoint = tests::mcp::sse_events(&buf)[0].1.clone();
    let post = |s: &mcp_server::RunningServer| {
        McpRequest::post(&p.http, &format!("http://{}{endpoint}", s.local_addr())).token(&alice)
    };
    // The stream is on a: a POST to b is 404 (route /messages?sessionId= to the same
    // instance, docs/DEPLOYMENT.md); on a it is accepted.
    assert_eq!(post(&p.b).rpc("ping", json!({})).await.status(), 404);
    assert_eq!(post(&p.a).rpc("ping", json!({})).await.status(), 202);
}

#[tokio::test]
async fn delete_ends_the_sessions_get_stream_on_the_memory_store_too_tr40() {
    let (f, token, sid) = tests::mcp_fixture::mcp_session().await;
    let mut stream = McpRequest::get_stream(&f.http, &f.url)
        .token(&token)
        .session(&sid)
        .version(LEGACY)
        .send()
        .await;
    assert_eq!(stream.status(), 200);
    let mut buf = String::new();
    tests::mcp::read_stream_until(&mut stream, &mut buf, "\n\n").await;
    let r = f
        .http
        .delete(&f.url)
        .bearer_auth(&token)
        .header("mcp-session-id", &sid)
        .header("mcp-protocol-version", LEGACY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "DELETE ended the session's GET stream");
}

async fn run_binary(args: &[&str]) -> (Option<i32>, String) {
    let out = tokio::process::Command::new(tests::workspace_binary("http-mcp-mock-server"))
        .args(args)
        .env_remove("MCP_SERVER__STORE")
        .output()
        .await
        .expect("the binaries are built by `cargo build --workspace --bins`");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_binary_keeps_sessions_on_store_redis_and_refuses_a_bad_or_unreachable_store() {
    let (code, err) = run_binary(&["--bind", "127.0.0.1:0", "--store", "rediss://h:1/0"]).await;
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(
        err.trim_end(),
        "http-mcp-mock-server: invalid configuration: store: must be `memory` or `redis://HOST:PORT/DB`"
    );
    let (code, err) = run_binary(&["--bind", "127.0.0.1:0", "--store-prefix", "a b"]).await;
    assert_eq!(code, Some(2), "{err}");
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("redis://{}/0", l.local_addr().expect("addr"))
    };
    let (code, err) = run_binary(&["--bind", "127.0.0.1:0", "--store", &closed]).await;
    assert_eq!(
        code,
        Some(1),
        "a valid configuration that cannot be served: {err}"
    );
    assert!(
        err.starts_with("http-mcp-mock-server: session store unavailable: "),
        "{err}"
    );
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let key = es256();
    let as_ = MockAs::start(&[&key], 300).await;
    let mut child = tokio::process::Command::new(tests::workspace_binary("http-mcp-mock-server"))
        .args(["--bind", "127.0.0.1:0", "--auth-server", &as_.issuer])
        .args(["--store", &redis.url(), "--store-prefix", "bin-mcp:"])
        .env_remove("MCP_SERVER__STORE")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    use tokio::io::AsyncBufReadExt as _;
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("ready in time")
        .expect("read")
        .expect("a line");
    let addr = line
        .strip_prefix("listening on http://")
        .expect(&line)
        .to_owned();
    let url = format!("http://{addr}/mcp");
    let token = sign(&key, &claims(&as_.issuer, &url, "mcp"), Some("at+jwt"));
    let sid = tests::mcp_initialize(&url, &token).await;
    // The session is in Redis, under the given prefix, with the idle timeout as its TTL.
    let mut probe = std::net::TcpStream::connect(
        redis
            .url()
            .trim_start_matches("redis://")
            .trim_end_matches("/0"),
    )
    .expect("redis");
    use std::io::{Read as _, Write as _};
    probe
        .write_all(format!("EXISTS bin-mcp:session:{sid}\r\n").as_bytes())
        .expect("write");
    let mut buf = [0u8; 4];
    probe.read_exact(&mut buf).expect("read");
    assert_eq!(&buf, b":1\r\n");
    child.kill().await.expect("kill");
}
