//! Issue 14 on the authorization-server side: two instances on one real Redis (same issuer,
//! same keys folder) behave as one server; a restarted instance finds its clients and refresh
//! tokens; a Redis outage gives clear 503s with `Retry-After` and service resumes with nothing
//! acknowledged lost. Every test skips loudly without `redis-server` (fails under `CI=true`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use auth_server::{Config, RunningServer};
use serde_json::{Value, json};
use shared::clock::TestClock;
use tests::oauth::token_request;
use tests::redis::RedisServer;

const REDIRECT: &str = "http://127.0.0.1:5555/callback";

/// One Redis, one keys folder, one clock: what the instances of one deployment share.
struct Deployment {
    redis: RedisServer,
    keys: PathBuf,
    clock: TestClock,
    grace_secs: u64,
    /// `rate_limits.token_per_minute` (0: off).
    token_per_minute: u32,
    /// `auto_approve` (default true; false shows the consent page).
    auto_approve: bool,
    /// Configured clients removed from the default list.
    removed_clients: Vec<&'static str>,
}

impl Drop for Deployment {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.keys);
    }
}

/// An instance and its base URL.
struct Instance {
    server: RunningServer,
    url: String,
}

impl Deployment {
    fn new(grace_secs: u64) -> Option<Self> {
        tests::init_tracing();
        let redis = RedisServer::start()?;
        let keys = std::env::temp_dir().join(format!("e2e-as-keys-{}", shared::random::token()));
        Some(Self {
            redis,
            keys,
            clock: TestClock::starting_now(),
            grace_secs,
            token_per_minute: 0,
            auto_approve: true,
            removed_clients: vec![],
        })
    }

    /// Starts an instance on `addr` (or a free port) with issuer `issuer` (or its own URL).
    async fn instance_at(&self, addr: Option<SocketAddr>, issuer: Option<&str>) -> Instance {
        let mut cfg = Config {
            keys_dir: Some(self.keys.clone()),
            store: self.redis.url(),
            store_key_prefix: "e2e-as:".into(),
            refresh_grace_secs: self.grace_secs,
            auto_approve: self.auto_approve,
            ..Config::default()
        };
        cfg.rate_limits.token_per_minute = self.token_per_minute;
        cfg.clients
            .retain(|c| !self.removed_clients.contains(&c.client_id.as_str()));
        cfg.rate_limits.register_per_minute = 0;
        cfg.rate_limits.authorize_per_minute = 0;
        if let Some(i) = issuer {
            cfg.issuer = i.to_owned();
        }
        let listener = match addr {
            Some(a) => tokio::net::TcpListener::bind(a).await.expect("rebind"),
            None => tests::loopback_listener().await,
        };
        let server = auth_server::serve_with_clock(listener, cfg, Arc::new(self.clock.clone()))
            .await
            .expect("an instance starts on Redis");
        let url = format!("http://{}", server.local_addr());
        Instance { server, url }
    }

    /// Two instances sharing the first one's issuer.
    async fn pair(&self) -> (Instance, Instance) {
        let one = self.instance_at(None, None).await;
        let two = self.instance_at(None, Some(&one.url)).await;
        (one, two)
    }
}

/// Registers a public loopback client at `url`; returns its id.
async fn register(url: &str) -> String {
    let res = tests::http()
        .post(format!("{url}/register"))
        .json(&json!({
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "client_name": "redis e2e"
        }))
        .send()
        .await
        .expect("register");
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.expect("JSON");
    body["client_id"].as_str().expect("client_id").to_owned()
}

/// Authorizes at `authorize_url` (whose issuer is `authorize_url`) and exchanges the code at
/// `token_url`; returns the token response.
async fn login(authorize_url: &str, token_url: &str, client_id: &str) -> Value {
    let (verifier, challenge) = tests::pkce();
    let code = tests::authorize_code(authorize_url, client_id, REDIRECT, &challenge, &[]).await;
    let res = token_request(token_url)
        .authorization_code(&code, verifier.secret())
        .client_id(client_id)
        .redirect_uri(REDIRECT)
        .send()
        .await;
    assert_eq!(res.status(), 200, "code exchange");
    res.json().await.expect("token JSON")
}

async fn refresh(url: &str, client_id: &str, rt: &str) -> reqwest::Response {
    token_request(url)
        .refresh(rt)
        .client_id(client_id)
        .send()
        .await
}

fn rt(v: &Value) -> String {
    v["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_owned()
}

#[track_caller]
fn assert_invalid_grant(status: reqwest::StatusCode, body: &Value, description: &str) {
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body,
        &json!({"error": "invalid_grant", "error_description": description})
    );
}

async fn status_json(res: reqwest::Response) -> (reqwest::StatusCode, Value) {
    let status = res.status();
    (status, res.json().await.expect("JSON body"))
}

#[tokio::test]
async fn register_and_authorize_on_one_exchange_on_the_other_refresh_on_the_first_as23_as41() {
    let Some(d) = Deployment::new(2) else { return };
    let (one, two) = d.pair().await;
    let client = register(&one.url).await;
    let tokens = login(&one.url, &two.url, &client).await;
    // Both instances serve the same keys: instance 2 signed with a key instance 1 publishes.
    let jwks_one: Value = tests::get_json(&tests::http(), &format!("{}/jwks", one.url)).await;
    let jwks_two: Value = tests::get_json(&tests::http(), &format!("{}/jwks", two.url)).await;
    assert_eq!(jwks_one, jwks_two, "one JWKS");
    let at = tokens["access_token"].as_str().expect("access_token");
    let header = jsonwebtoken::decode_header(at).expect("JWT header");
    assert!(
        jwks_one["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .any(|k| k["kid"].as_str() == header.kid.as_deref())
    );
    // The access token introspects as active on instance 1, with the shared issuer.
    let intro = tests::oauth::introspect(&one.url, at).await;
    assert_eq!(intro["active"], true);
    assert_eq!(intro["iss"], one.url.as_str());
    let (status, body) = status_json(refresh(&one.url, &client, &rt(&tokens)).await).await;
    assert_eq!(status, 200, "{body}");
    assert_ne!(rt(&body), rt(&tokens), "rotated");
    // And the rotated one on instance 2.
    let (status, _) = status_json(refresh(&two.url, &client, &rt(&body)).await).await;
    assert_eq!(status, 200);
    drop((one.server, two.server));
}

#[tokio::test]
async fn a_code_replayed_on_the_other_instance_is_refused_and_revokes_the_grant_as34() {
    let Some(d) = Deployment::new(2) else { return };
    let (one, two) = d.pair().await;
    let client = register(&one.url).await;
    let (verifier, challenge) = tests::pkce();
    let code = tests::authorize_code(&one.url, &client, REDIRECT, &challenge, &[]).await;
    let exchange = |url: String| {
        token_request(&url)
            .authorization_code(&code, verifier.secret())
            .client_id(&client)
            .redirect_uri(REDIRECT)
            .send()
    };
    let (status, tokens) = status_json(exchange(one.url.clone()).await).await;
    assert_eq!(status, 200, "{tokens}");
    let (status, body) = status_json(exchange(two.url.clone()).await).await;
    assert_invalid_grant(status, &body, "authorization code was already used");
    // The grant the code produced is revoked: its refresh token is dead on both instances,
    // its access token inactive.
    let (status, body) = status_json(refresh(&one.url, &client, &rt(&tokens)).await).await;
    assert_invalid_grant(
        status,
        &body,
        "refresh token is invalid, expired or revoked",
    );
    let intro =
        tests::oauth::introspect(&two.url, tokens["access_token"].as_str().expect("at")).await;
    assert_eq!(intro["active"], false, "{intro}");
}

/// 50 concurrent refreshes of one token, alternating between the instances.
async fn fifty_concurrent_refreshes(
    one: &Instance,
    two: &Instance,
    client: &str,
    token: &str,
) -> Vec<(reqwest::StatusCode, Value)> {
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let url = if i % 2 == 0 {
                one.url.clone()
            } else {
                two.url.clone()
            };
            let client = client.to_owned();
            let token = token.to_owned();
            tokio::spawn(async move { status_json(refresh(&url, &client, &token).await).await })
        })
        .collect();
    let mut out = vec![];
    for t in tasks {
        out.push(t.await.expect("task"));
    }
    out
}

#[tokio::test]
async fn fifty_concurrent_refreshes_over_two_instances_rotate_once_and_share_one_successor_as41_as45()
 {
    let Some(d) = Deployment::new(30) else { return };
    let (one, two) = d.pair().await;
    let client = register(&one.url).await;
    let tokens = login(&one.url, &two.url, &client).await;
    let answers = fifty_concurrent_refreshes(&one, &two, &client, &rt(&tokens)).await;
    // One rotation; the 49 others are inside the grace window and get the very successor it
    // issued (one chain, whichever instance answered).
    assert!(answers.iter().all(|(s, _)| *s == 200), "{answers:?}");
    let successors: std::collections::BTreeSet<String> =
        answers.iter().map(|(_, b)| rt(b)).collect();
    assert_eq!(successors.len(), 1, "{successors:?}");
    let successor = successors.into_iter().next().expect("one");
    assert_ne!(successor, rt(&tokens));
    // Past the window, reuse of the rotated token revokes the grant, successor included.
    d.clock.advance(Duration::from_secs(31));
    let (status, body) = status_json(refresh(&two.url, &client, &rt(&tokens)).await).await;
    assert_invalid_grant(
        status,
        &body,
        "refresh token was already used; the grant is revoked",
    );
    let (status, body) = status_json(refresh(&one.url, &client, &successor).await).await;
    assert_invalid_grant(
        status,
        &body,
        "refresh token is invalid, expired or revoked",
    );
}

#[tokio::test]
async fn fifty_concurrent_refreshes_without_a_grace_window_give_exactly_one_token_as41() {
    let Some(d) = Deployment::new(0) else { return };
    let (one, two) = d.pair().await;
    let client = register(&one.url).await;
    let tokens = login(&one.url, &two.url, &client).await;
    let answers = fifty_concurrent_refreshes(&one, &two, &client, &rt(&tokens)).await;
    let ok = answers.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(ok, 1, "exactly one rotation: {answers:?}");
    assert!(
        answers
            .iter()
            .all(|(s, b)| *s == 200 || (*s == 400 && b["error"] == "invalid_grant")),
        "{answers:?}"
    );
}

#[tokio::test]
async fn a_restarted_instance_finds_its_clients_and_refresh_tokens_as23() {
    let Some(d) = Deployment::new(2) else { return };
    let one = d.instance_at(None, None).await;
    let client = register(&one.url).await;
    let tokens = login(&one.url, &one.url, &client).await;
    let addr = one.server.local_addr();
    one.server.shutdown().await;
    let again = d.instance_at(Some(addr), None).await;
    assert_eq!(again.url, one.url);
    // The registered client still authorizes, the refresh token still rotates, and the access
    // token issued before the restart is still served by the JWKS (same keys folder).
    let fresh = login(&again.url, &again.url, &client).await;
    assert_ne!(rt(&fresh), rt(&tokens));
    let (status, body) = status_json(refresh(&again.url, &client, &rt(&tokens)).await).await;
    assert_eq!(status, 200, "{body}");
    let intro =
        tests::oauth::introspect(&again.url, tokens["access_token"].as_str().expect("at")).await;
    assert_eq!(intro["active"], true);
}

#[tokio::test]
async fn a_redis_outage_gives_503_with_retry_after_and_service_resumes_with_nothing_lost() {
    let Some(mut d) = Deployment::new(2) else {
        return;
    };
    let (one, two) = d.pair().await;
    let client = register(&one.url).await;
    let tokens = login(&one.url, &two.url, &client).await;
    // Acknowledged before the outage: a registration, a grant and its refresh token.
    d.redis.stop();
    for url in [&one.url, &two.url] {
        let res = refresh(url, &client, &rt(&tokens)).await;
        assert_eq!(res.status(), 503);
        assert_eq!(res.headers()["retry-after"], "2");
        assert_eq!(res.headers()["cache-control"], "no-store");
        let body: Value = res.json().await.expect("JSON");
        assert_eq!(
            body,
            json!({"error": "server_error", "error_description": "storage temporarily unavailable"})
        );
        let res = tests::http()
            .post(format!("{url}/register"))
            .json(&json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}))
            .send()
            .await
            .expect("register");
        assert_eq!(res.status(), 503);
        assert_eq!(res.headers()["retry-after"], "2");
        let (_, challenge) = tests::pkce();
        let res = tests::oauth::authorize_request(url, &client, REDIRECT)
            .challenge(&challenge)
            .state("st")
            .send()
            .await;
        assert_eq!(res.status(), 503, "the authorization endpoint too");
        assert_eq!(res.headers()["retry-after"], "2");
    }
    d.redis.restart();
    // Bounded: each instance's connection manager reconnects on its next request after Redis
    // is back (one more 503 at most), within about a second.
    let mut resumed = None;
    for _ in 0..50 {
        let res = refresh(&two.url, &client, &rt(&tokens)).await;
        if res.status() != 503 {
            resumed = Some(status_json(res).await);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, body) = resumed.expect("service resumes within 5 s of Redis coming back");
    assert_eq!(
        status, 200,
        "the refresh token acknowledged before the outage: {body}"
    );
    let mut registered = 503;
    for _ in 0..50 {
        let res = tests::http()
            .post(format!("{}/register", one.url))
            .json(&json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}))
            .send()
            .await
            .expect("register");
        registered = res.status().as_u16();
        if registered != 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(registered, 201, "instance 1 resumes too");
    // The registration survived the Redis restart too (append-only file).
    let again = login(&one.url, &one.url, &client).await;
    assert!(again["refresh_token"].is_string());
}

#[tokio::test]
async fn the_token_rate_limit_is_one_budget_across_instances_as30() {
    let Some(mut d) = Deployment::new(2) else {
        return;
    };
    d.token_per_minute = 3;
    let (one, two) = d.pair().await;
    let service = |url: &str| token_request(url).service_credentials().send();
    assert_eq!(service(&one.url).await.status(), 200);
    assert_eq!(service(&two.url).await.status(), 200);
    assert_eq!(service(&one.url).await.status(), 200);
    let res = service(&two.url).await;
    assert_eq!(
        res.status(),
        429,
        "the fourth request in the window, on either instance"
    );
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .expect("ASCII")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry), "{retry}");
}

/// The value of the consent page's hidden form field `name`.
fn field(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker).expect("the field") + marker.len();
    page[start..].split('"').next().expect("a value").to_owned()
}

#[tokio::test]
async fn a_consent_shown_by_one_instance_is_decided_on_the_other_once_as26_as27() {
    let Some(mut d) = Deployment::new(2) else {
        return;
    };
    d.auto_approve = false;
    let (one, two) = d.pair().await;
    let client = register(&one.url).await;
    let (verifier, challenge) = tests::pkce();
    let res = tests::oauth::authorize_request(&one.url, &client, REDIRECT)
        .challenge(&challenge)
        .state("st-1")
        .send()
        .await;
    assert_eq!(res.status(), 200, "the consent page");
    let cookie = res.headers()["set-cookie"]
        .to_str()
        .expect("ASCII")
        .split(';')
        .next()
        .expect("a cookie")
        .to_owned();
    let page = res.text().await.expect("page");
    let (request_id, csrf) = (field(&page, "request_id"), field(&page, "csrf_token"));
    let decide = |url: String| {
        tests::http()
            .post(format!("{url}/authorize/decision"))
            .header("cookie", cookie.clone())
            .form(&[
                ("request_id", request_id.as_str()),
                ("csrf_token", csrf.as_str()),
                ("decision", "approve"),
            ])
            .send()
    };
    let res = decide(two.url.clone()).await.expect("decision");
    assert_eq!(res.status(), 303, "decided on the other instance");
    let p = tests::location_params(&res);
    assert_eq!(tests::param(&p, "state"), Some("st-1"));
    assert_eq!(tests::param(&p, "iss"), Some(one.url.as_str()));
    let code = tests::param(&p, "code").expect("code").to_owned();
    let res = decide(one.url.clone()).await.expect("decision");
    assert_eq!(res.status(), 400, "a pending consent is taken once");
    let res = token_request(&one.url)
        .authorization_code(&code, verifier.secret())
        .client_id(&client)
        .redirect_uri(REDIRECT)
        .send()
        .await;
    assert_eq!(res.status(), 200);
}

/// Runs the authorization-server binary to completion.
async fn run_binary(args: &[&str]) -> (Option<i32>, String) {
    let out = tokio::process::Command::new(tests::workspace_binary("http-oauth2-mock-server"))
        .args(args)
        .env_remove("AUTH_SERVER__BIND")
        .env_remove("AUTH_SERVER__STORE")
        .output()
        .await
        .expect("the binaries are built by `cargo build --workspace --bins`");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_binary_serves_on_store_redis_and_refuses_a_bad_or_unreachable_store() {
    let bad = [
        "--bind",
        "127.0.0.1:0",
        "--ephemeral-keys",
        "--store",
        "rediss://h:1/0",
    ];
    let (code, err) = run_binary(&bad).await;
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(
        err.trim_end(),
        "http-oauth2-mock-server: invalid configuration: store: must be `memory` or `redis://HOST:PORT/DB`"
    );
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("redis://{}/0", l.local_addr().expect("addr"))
    };
    let unreachable = [
        "--bind",
        "127.0.0.1:0",
        "--ephemeral-keys",
        "--store",
        &closed,
    ];
    let (code, err) = run_binary(&unreachable).await;
    assert_eq!(
        code,
        Some(1),
        "a valid configuration that cannot be served: {err}"
    );
    assert!(
        err.starts_with("http-oauth2-mock-server: store unavailable: redis: "),
        "{err}"
    );
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let keys = tests::TempDir::new("as-bin-redis");
    let mut child =
        tokio::process::Command::new(tests::workspace_binary("http-oauth2-mock-server"))
            .args([
                "--bind",
                "127.0.0.1:0",
                "--store",
                &redis.url(),
                "--keys-dir",
            ])
            .arg(&keys.0)
            .env_remove("AUTH_SERVER__STORE")
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
    let client = register(&format!("http://{addr}")).await;
    // The registration is in Redis, under the default prefix.
    let mut probe = std::net::TcpStream::connect(
        redis
            .url()
            .trim_start_matches("redis://")
            .trim_end_matches("/0"),
    )
    .expect("redis");
    use std::io::{Read as _, Write as _};
    probe
        .write_all(format!("EXISTS mcp-auth:client:{client}\r\n").as_bytes())
        .expect("write");
    let mut buf = [0u8; 4];
    probe.read_exact(&mut buf).expect("read");
    assert_eq!(&buf, b":1\r\n");
    child.kill().await.expect("kill");
}

#[tokio::test]
async fn a_client_removed_from_the_configuration_is_gone_after_a_restart_on_redis_as30() {
    let Some(mut d) = Deployment::new(2) else {
        return;
    };
    let one = d.instance_at(None, None).await;
    let service = |url: &str| token_request(url).service_credentials().send();
    assert_eq!(service(&one.url).await.status(), 200);
    let addr = one.server.local_addr();
    one.server.shutdown().await;
    // The operator removes the (compromised) confidential client from the configuration.
    d.removed_clients.push("mcp-service");
    let again = d.instance_at(Some(addr), None).await;
    let res = service(&again.url).await;
    assert_eq!(
        res.status(),
        401,
        "the configuration is authoritative, not Redis"
    );
}

#[tokio::test]
async fn two_servers_injected_with_one_memory_store_behave_as_one_as23() {
    // The injection point (`serve_with_store`): no Redis needed, clones share the store.
    tests::init_tracing();
    let store = auth_server::SharedStore::memory();
    assert_eq!(store.kind(), "memory");
    let keys = tests::TempDir::new("as-injected-keys");
    let clock: shared::clock::SharedClock = Arc::new(TestClock::starting_now());
    let start = |issuer: Option<String>| {
        let store = store.clone();
        let clock = clock.clone();
        let keys = keys.0.clone();
        async move {
            let cfg = Config {
                keys_dir: Some(keys),
                issuer: issuer.unwrap_or_default(),
                ..Config::default()
            };
            let server =
                auth_server::serve_with_store(tests::loopback_listener().await, cfg, clock, store)
                    .await
                    .expect("starts");
            let url = format!("http://{}", server.local_addr());
            Instance { server, url }
        }
    };
    let one = start(None).await;
    let two = start(Some(one.url.clone())).await;
    let client = register(&one.url).await;
    let tokens = login(&one.url, &two.url, &client).await;
    let (status, body) = status_json(refresh(&one.url, &client, &rt(&tokens)).await).await;
    assert_eq!(status, 200, "{body}");
    drop((one.server, two.server));
}
