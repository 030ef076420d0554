//! The client's overhead under load (issue 16 C: "requests through `BearerAuth` with a fresh
//! token at 0.95 or more of the same reqwest client without the middleware, against the same
//! server"). `scripts/bench.sh` (`ONLY=client`) runs it on one core against bare hyper on the
//! other.
//!
//! Usage: `client_load URL [CONNS] [DURATION] [ROUNDS]` (defaults 64, `5s`, 3). One
//! current-thread tokio runtime (the client uses one core), `CONNS` requests in flight
//! (`CONNS` tasks, each sending its next request when the last answer's body is read) for
//! `DURATION` per round. Each round runs, one after the other:
//!
//! * `plain`: a `reqwest::Client`, no middleware, no `Authorization` header;
//! * `bearer`: the same client (a clone: the same connection pool) inside
//!   `reqwest_middleware` with [`BearerAuth`], whose [`TokenManager`] holds a fresh token (an
//!   hour left, so it is never refreshed; the token endpoint is never called);
//! * with `PLAIN_HEADER=1` also `plain+header`: the plain client sending the same
//!   `Authorization: Bearer` header, pre-built once (what the bytes on the wire cost, apart
//!   from the middleware);
//! * with `MW_NOOP=1` also `mw-noop` and `mw-noop+header`: the same client inside
//!   `reqwest_middleware` with one pass-through middleware (no `Authorization` header; with
//!   the same pre-built header set by the caller): the floor of any `reqwest_middleware`
//!   middleware, so `bearer` minus `mw-noop+header` is what [`BearerAuth`] itself adds.
//!
//! The token is the first line of `TOKEN_FILE` (e.g. a real access token from
//! `auth-server/examples/mint_tokens.rs`), else a 488-character stand-in of the same size.
//! Every request is a `tools/call` POST; every answer must be 2xx and is read to the end.
//! After one unreported warm-up round, prints a TSV on stdout, one row per client and round:
//! `round client requests seconds req_s cpu_us_per_req cpu_util`, where CPU is this process's
//! time on CPU (all its threads, from `/proc/self/task/*/schedstat`) over the round; and a
//! summary (ratio `bearer / plain` per round, median) on stderr. Exits 1 if any request
//! failed.
//!
//! `FIXED=CLIENT:N` (for instruction counts under callgrind, which are repeatable where
//! time is not): no warm-up and no rounds; sends exactly `N` requests with that client
//! (`plain`, `plain+header`, `bearer`, `mw-noop` or `mw-noop+header`, whatever the
//! environment), `CONNS` in flight, and exits. The difference of
//! two runs with different `N` divided by the difference of `N` is the client's cost per
//! request, start-up excluded.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use http_oauth2_client::oauth::oauth_http_client;
use http_oauth2_client::oauth::token_endpoint::{ClientCredentials, TokenEndpoint};
use http_oauth2_client::{BearerAuth, InMemoryTokenStore, StoreKey, TokenManager, TokenSet};
use reqwest_middleware::{ClientWithMiddleware, Middleware, Next};
use shared::secret::AccessToken;

const BODY: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"}}}"#;

/// A middleware that only passes the request on: what `reqwest_middleware` itself costs
/// (the middleware stack copied into every request builder, `Extensions`, the boxed futures of
/// `Middleware::handle` and `Next::run`).
struct Noop;

#[async_trait::async_trait]
impl Middleware for Noop {
    async fn handle(
        &self,
        req: reqwest::Request,
        extensions: &mut http::Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        next.run(req, extensions).await
    }
}

/// The clients under comparison.
#[derive(Clone)]
enum Variant {
    Plain(reqwest::Client),
    PlainHeader(reqwest::Client, HeaderValue),
    Bearer(ClientWithMiddleware),
    MwNoop(ClientWithMiddleware),
    MwNoopHeader(ClientWithMiddleware, HeaderValue),
}

impl Variant {
    fn name(&self) -> &'static str {
        match self {
            Variant::Plain(_) => "plain",
            Variant::PlainHeader(..) => "plain+header",
            Variant::Bearer(_) => "bearer",
            Variant::MwNoop(_) => "mw-noop",
            Variant::MwNoopHeader(..) => "mw-noop+header",
        }
    }

    /// Sends one request and reads the whole answer; `false` on an error or a non-2xx.
    async fn call(&self, url: &url::Url) -> bool {
        let body = reqwest::Body::from(BODY);
        let resp = match self {
            Variant::Plain(c) => {
                c.post(url.clone())
                    .header(CONTENT_TYPE, "application/json")
                    .body(body)
                    .send()
                    .await
            }
            Variant::PlainHeader(c, h) => {
                c.post(url.clone())
                    .header(CONTENT_TYPE, "application/json")
                    .header(AUTHORIZATION, h.clone())
                    .body(body)
                    .send()
                    .await
            }
            Variant::Bearer(c) | Variant::MwNoop(c) => c
                .post(url.clone())
                .header(CONTENT_TYPE, "application/json")
                .body(body)
                .send()
                .await
                .map_err(reqwest_error),
            Variant::MwNoopHeader(c, h) => c
                .post(url.clone())
                .header(CONTENT_TYPE, "application/json")
                .header(AUTHORIZATION, h.clone())
                .body(body)
                .send()
                .await
                .map_err(reqwest_error),
        };
        match resp {
            Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
            _ => false,
        }
    }
}

/// A middleware error ends the run (none of the middlewares here should produce one).
fn reqwest_error(e: reqwest_middleware::Error) -> reqwest::Error {
    match e {
        reqwest_middleware::Error::Reqwest(e) => e,
        reqwest_middleware::Error::Middleware(e) => {
            eprintln!("middleware error: {e}");
            std::process::exit(1)
        }
    }
}

/// CPU time of this process so far, in nanoseconds: the sum over its threads of the first
/// field of `/proc/self/task/*/schedstat` (nanosecond resolution; `/proc/self/stat` counts
/// in 10 ms ticks).
fn cpu_ns() -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    dir.filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

struct Round {
    requests: u64,
    failed: u64,
    seconds: f64,
    cpu_ns: u64,
}

/// `conns` tasks sending requests back to back until `d` has passed (each loop is bounded by
/// the deadline; a request in flight at the deadline is finished and counted).
async fn round(v: &Variant, url: &url::Url, conns: usize, d: Duration) -> Round {
    let cpu0 = cpu_ns();
    let t0 = Instant::now();
    let deadline = t0 + d;
    let mut tasks = Vec::with_capacity(conns);
    for _ in 0..conns {
        let v = v.clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut failed) = (0u64, 0u64);
            while Instant::now() < deadline {
                if v.call(&url).await {
                    ok += 1;
                } else {
                    failed += 1;
                }
            }
            (ok, failed)
        }));
    }
    let (mut requests, mut failed) = (0, 0);
    for t in tasks {
        let (ok, f) = t.await.unwrap_or((0, 1));
        requests += ok;
        failed += f;
    }
    Round {
        requests,
        failed,
        seconds: t0.elapsed().as_secs_f64(),
        cpu_ns: cpu_ns().saturating_sub(cpu0),
    }
}

/// Exactly `n` requests with `v`, `conns` tasks taking turns from one counter (each loop is
/// bounded by it); returns the number of failed requests.
async fn fixed(v: &Variant, url: &url::Url, conns: usize, n: u64) -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    let left = Arc::new(AtomicU64::new(n));
    let mut tasks = Vec::with_capacity(conns);
    for _ in 0..conns {
        let (v, url, left) = (v.clone(), url.clone(), Arc::clone(&left));
        tasks.push(tokio::spawn(async move {
            let mut failed = 0u64;
            while left
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |l| l.checked_sub(1))
                .is_ok()
            {
                if !v.call(&url).await {
                    failed += 1;
                }
            }
            failed
        }));
    }
    let mut failed = 0;
    for t in tasks {
        failed += t.await.unwrap_or(1);
    }
    failed
}

/// `5s`, `500ms`, `1m` or a plain number of seconds.
fn parse_duration(s: &str) -> Option<Duration> {
    let (num, mul) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else {
        (s, 1.0)
    };
    let secs = num.parse::<f64>().ok()? * mul;
    (secs.is_finite() && secs > 0.0).then(|| Duration::from_secs_f64(secs))
}

fn usage() -> ! {
    eprintln!(
        "usage: client_load URL [CONNS] [DURATION] [ROUNDS]  (env TOKEN_FILE, PLAIN_HEADER=1, MW_NOOP=1, FIXED=CLIENT:N)"
    );
    std::process::exit(2)
}

fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    match xs.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => xs[n / 2],
        n => (xs[n / 2 - 1] + xs[n / 2]) / 2.0,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(url) = args.first().and_then(|u| url::Url::parse(u).ok()) else {
        usage()
    };
    let conns: usize = match args.get(1).map(|c| c.parse()) {
        None => 64,
        Some(Ok(c)) if c > 0 => c,
        Some(_) => usage(),
    };
    let d = match args.get(2) {
        None => Duration::from_secs(5),
        Some(s) => parse_duration(s).unwrap_or_else(|| usage()),
    };
    let rounds: usize = match args.get(3).map(|c| c.parse()) {
        None => 3,
        Some(Ok(r)) if r > 0 => r,
        Some(_) => usage(),
    };
    let token = match std::env::var("TOKEN_FILE") {
        Ok(path) => match std::fs::read_to_string(&path) {
            Ok(s) => s.lines().next().unwrap_or_default().trim().to_owned(),
            Err(e) => {
                eprintln!("TOKEN_FILE {path}: {e}");
                std::process::exit(2)
            }
        },
        // A stand-in of the size of the AS's ES256 access tokens.
        Err(_) => "x".repeat(488),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| {
            eprintln!("runtime: {e}");
            std::process::exit(1)
        });
    rt.block_on(async move {
        let plain = reqwest::Client::builder()
            .pool_max_idle_per_host(conns)
            .build()
            .unwrap_or_else(|e| {
                eprintln!("client: {e}");
                std::process::exit(1)
            });
        // The token endpoint is never reached: the token stays fresh for the whole run.
        let endpoint = TokenEndpoint::new(
            url::Url::parse("http://127.0.0.1:9/token").unwrap_or_else(|_| usage()),
            ClientCredentials::public("bench"),
            Some(url.to_string()),
            oauth_http_client(Duration::from_secs(5), Duration::from_secs(5), 0),
        );
        let manager = TokenManager::new(
            endpoint,
            Arc::new(InMemoryTokenStore::default()),
            StoreKey::new("http://127.0.0.1:9", url.as_str(), "bench"),
            shared::clock::system(),
        );
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        manager.set_tokens(
            TokenSet::new(
                AccessToken::new(token.clone()),
                None,
                Some(3600),
                now,
                Some("mcp".into()),
            ),
            None,
        );
        let bearer = reqwest_middleware::ClientBuilder::new(plain.clone())
            .with(BearerAuth::new(manager, &url))
            .build();
        let mut h = HeaderValue::from_str(&format!("Bearer {token}")).unwrap_or_else(|_| {
            eprintln!("the token is not a valid header value");
            std::process::exit(2)
        });
        h.set_sensitive(true);
        let noop = reqwest_middleware::ClientBuilder::new(plain.clone())
            .with(Noop)
            .build();
        let all = [
            Variant::Plain(plain.clone()),
            Variant::Bearer(bearer),
            Variant::PlainHeader(plain, h.clone()),
            Variant::MwNoop(noop.clone()),
            Variant::MwNoopHeader(noop, h),
        ];
        let on = |var: &str| std::env::var(var).is_ok_and(|v| v == "1");
        let variants: Vec<Variant> = all
            .iter()
            .filter(|v| match v {
                Variant::Plain(_) | Variant::Bearer(_) => true,
                Variant::PlainHeader(..) => on("PLAIN_HEADER"),
                Variant::MwNoop(_) | Variant::MwNoopHeader(..) => on("MW_NOOP"),
            })
            .cloned()
            .collect();
        if let Ok(spec) = std::env::var("FIXED") {
            let (name, n) = spec.split_once(':').unwrap_or_else(|| usage());
            let n: u64 = n.parse().unwrap_or_else(|_| usage());
            let Some(v) = all.iter().find(|v| v.name() == name) else {
                usage()
            };
            let failed = fixed(v, &url, conns, n).await;
            if failed > 0 {
                eprintln!("{failed} requests failed");
                std::process::exit(1);
            }
            return;
        }
        let warm = d.min(Duration::from_secs(1));
        for v in &variants {
            let r = round(v, &url, conns, warm).await;
            if r.failed > 0 || r.requests == 0 {
                eprintln!(
                    "warm-up {}: {} failed, {} ok",
                    v.name(),
                    r.failed,
                    r.requests
                );
                std::process::exit(1);
            }
        }
        println!("round\tclient\trequests\tseconds\treq_s\tcpu_us_per_req\tcpu_util");
        let mut failed = 0;
        let mut ratios = Vec::new();
        let mut cost_ratios = Vec::new();
        for n in 1..=rounds {
            let mut rates = Vec::new();
            for v in &variants {
                let r = round(v, &url, conns, d).await;
                failed += r.failed;
                let rps = r.requests as f64 / r.seconds;
                let cpu_us = r.cpu_ns as f64 / 1e3 / (r.requests.max(1) as f64);
                let util = r.cpu_ns as f64 / 1e9 / r.seconds;
                println!(
                    "{n}\t{}\t{}\t{:.3}\t{rps:.0}\t{cpu_us:.2}\t{util:.2}",
                    v.name(),
                    r.requests,
                    r.seconds
                );
                rates.push((rps, cpu_us));
            }
            let (p, b) = (rates[0], rates[1]);
            ratios.push(b.0 / p.0);
            cost_ratios.push(p.1 / b.1);
            eprintln!(
                "round {n}: bearer/plain req/s {:.3}, plain/bearer CPU per request {:.3}",
                b.0 / p.0,
                p.1 / b.1
            );
            for (v, r) in variants.iter().zip(&rates).skip(2) {
                eprintln!(
                    "round {n}: {0}/plain req/s {1:.3}, plain/{0} CPU per request {2:.3}",
                    v.name(),
                    r.0 / p.0,
                    p.1 / r.1
                );
            }
        }
        eprintln!(
            "median: bearer/plain req/s {:.3}, CPU cost ratio {:.3} (target >= 0.95)",
            median(&mut ratios),
            median(&mut cost_ratios)
        );
        if failed > 0 {
            eprintln!("{failed} requests failed");
            std::process::exit(1);
        }
    });
}
