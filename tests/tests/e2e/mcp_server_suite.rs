//! End-to-end tests of the MCP server over real sockets against a mock authorization server
//! with real signatures. Test names cite checklist IDs.

use super::mcp_common as common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

fn www(r: &reqwest::Response) -> String {
    r.headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

fn prm_url(s: &Stack) -> String {
    format!(
        "http://{}/.well-known/oauth-protected-resource/mcp",
        s.server.local_addr()
    )
}

#[tokio::test]
async fn rs01_rs02_rs04_prm_served_at_path_inserted_and_root_urls() {
    let s = stack().await;
    for url in [
        prm_url(&s),
        format!(
            "http://{}/.well-known/oauth-protected-resource",
            s.server.local_addr()
        ),
    ] {
        let r = s.http.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200, "{url}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
        let d: Value = r.json().await.unwrap();
        assert_eq!(d["resource"], s.url);
        assert!(!s.url.ends_with('/'));
        assert_eq!(d["authorization_servers"], json!([s.as_.issuer]));
        assert_eq!(d["bearer_methods_supported"], json!(["header"]));
        let scopes = d["scopes_supported"].as_array().unwrap();
        assert!(scopes.contains(&json!("mcp:tools:call")));
        assert!(!scopes.contains(&json!("offline_access")));
    }
}

#[tokio::test]
async fn rs06_no_token_gets_401_with_resource_metadata_and_no_error_code() {
    let s = stack().await;
    let r = s
        .http
        .post(&s.url)
        .json(&json!({"jsonrpc":"2.0","id":1,"method":"ping"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let w = www(&r);
    assert_eq!(w, format!("Bearer resource_metadata=\"{}\"", prm_url(&s)));
    assert!(!w.contains("error="));
}

#[tokio::test]
async fn rs10_token_in_query_string_is_refused() {
    let s = stack().await;
    let t = s.token(ALL);
    let r = s
        .http
        .post(format!("{}?access_token={t}", s.url))
        .json(&json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(www(&r).contains("invalid_request"));
}

#[tokio::test]
async fn rs12_rs13_rs14_rs15_attack_tokens_get_401_invalid_token() {
    let s = stack().await;
    let iss = s.as_.issuer.clone();
    let aud = s.url.clone();
    let other = es256();
    let mut cases: Vec<(&str, String)> = Vec::new();
    cases.push((
        "wrong aud",
        sign(
            &s.key,
            &claims(&iss, "http://127.0.0.1:1/mcp", ALL),
            Some("at+jwt"),
        ),
    ));
    cases.push((
        "wrong iss",
        sign(
            &s.key,
            &claims("http://127.0.0.1:1", &aud, ALL),
            Some("at+jwt"),
        ),
    ));
    let mut c = claims(&iss, &aud, ALL);
    c["exp"] = json!(now() - 3600);
    cases.push(("expired", sign(&s.key, &c, Some("at+jwt"))));
    let mut c = claims(&iss, &aud, ALL);
    c["nbf"] = json!(now() + 3600);
    cases.push(("nbf in future", sign(&s.key, &c, Some("at+jwt"))));
    cases.push(("missing typ", sign(&s.key, &claims(&iss, &aud, ALL), None)));
    cases.push((
        "typ JWT",
        sign(&s.key, &claims(&iss, &aud, ALL), Some("JWT")),
    ));
    let mut c = claims(&iss, &aud, ALL);
    c.as_object_mut().unwrap().remove("iss");
    cases.push(("no iss", sign(&s.key, &c, Some("at+jwt"))));
    // alg: none
    let h = shared::random::b64url(
        json!({"alg":"none","typ":"at+jwt","kid": s.key.kid})
            .to_string()
            .as_bytes(),
    );
    let p = shared::random::b64url(claims(&iss, &aud, ALL).to_string().as_bytes());
    cases.push(("alg none", format!("{h}.{p}.")));
    // HS256 signed with the public key material (key confusion).
    let pubkey = serde_json::to_vec(&s.key.jwk).unwrap();
    let mut hh = Header::new(Algorithm::HS256);
    hh.typ = Some("at+jwt".into());
    hh.kid = Some(s.key.kid.clone());
    cases.push((
        "HS256 with public key",
        jsonwebtoken::encode(
            &hh,
            &claims(&iss, &aud, ALL),
            &EncodingKey::from_secret(&pubkey),
        )
        .unwrap(),
    ));
    // Unknown kid.
    cases.push((
        "unknown kid",
        sign(&other, &claims(&iss, &aud, ALL), Some("at+jwt")),
    ));
    // A key from another JWKS presenting our key's kid.
    let mut h2 = Header::new(Algorithm::ES256);
    h2.typ = Some("at+jwt".into());
    h2.kid = Some(s.key.kid.clone());
    cases.push((
        "key from another JWKS",
        jsonwebtoken::encode(&h2, &claims(&iss, &aud, ALL), &other.enc).unwrap(),
    ));
    // RS-15: a jku pointing at an attacker's JWKS is never fetched.
    let attacker = MockAs::start(&[&other], 300).await;
    let mut h3 = Header::new(Algorithm::ES256);
    h3.typ = Some("at+jwt".into());
    h3.kid = Some(other.kid.clone());
    h3.jku = Some(format!("{}/jwks", attacker.issuer));
    cases.push((
        "jku to attacker JWKS",
        jsonwebtoken::encode(&h3, &claims(&iss, &aud, ALL), &other.enc).unwrap(),
    ));
    cases.push(("garbage", "not.a.jwt".to_owned()));

    for (name, token) in cases {
        let r = s
            .post(&token)
            .json(&json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{name}");
        let w = www(&r);
        assert!(w.contains("error=\"invalid_token\""), "{name}: {w}");
        assert!(
            w.contains(&format!("resource_metadata=\"{}\"", prm_url(&s))),
            "{name}: {w}"
        );
    }
    assert_eq!(attacker.jwks_hits(), 0);
    // The control: a correct token works.
    let r = s
        .post(&s.token(ALL))
        .json(&json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn rs14_eddsa_tokens_verify_against_okp_jwk() {
    let key = ed25519();
    let as_ = MockAs::start(&[&key], 300).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = mcp_server::serve(listener, mcp_server::Config::new(&as_.issuer, ""))
        .await
        .unwrap();
    let t = sign(
        &key,
        &claims(&as_.issuer, server.resource_url(), ALL),
        Some("at+jwt"),
    );
    let r = reqwest::Client::new()
        .post(server.resource_url())
        .bearer_auth(t)
        .json(&json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    server.shutdown().await;
}

#[tokio::test]
async fn rs14_rs256_tokens_verify_and_alg_switch_is_refused() {
    let key = rs256();
    let ec = es256();
    let as_ = MockAs::start(&[&key, &ec], 300).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = mcp_server::serve(listener, mcp_server::Config::new(&as_.issuer, ""))
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}});
    let t = sign(
        &key,
        &claims(&as_.issuer, server.resource_url(), ALL),
        Some("at+jwt"),
    );
    let r = http
        .post(server.resource_url())
        .bearer_auth(t)
        .json(&init)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // PS256 with the RSA key's kid: the algorithm comes from the JWK, never from the token.
    let mut h = Header::new(Algorithm::PS256);
    h.typ = Some("at+jwt".into());
    h.kid = Some(key.kid.clone());
    let t = jsonwebtoken::encode(
        &h,
        &claims(&as_.issuer, server.resource_url(), ALL),
        &key.enc,
    )
    .unwrap();
    let r = http
        .post(server.resource_url())
        .bearer_auth(t)
        .json(&init)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // An RS256-allowed config that excludes ES256 refuses EC keys.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut cfg = mcp_server::Config::new(&as_.issuer, "");
    cfg.algorithms = vec!["RS256".into()];
    let rs_only = mcp_server::serve(listener, cfg).await.unwrap();
    let t = sign(
        &ec,
        &claims(&as_.issuer, rs_only.resource_url(), ALL),
        Some("at+jwt"),
    );
    let r = http
        .post(rs_only.resource_url())
        .bearer_auth(t)
        .json(&init)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn rs07_rs08_rs18_insufficient_scope_gets_403_with_required_scope() {
    let s = stack().await;
    let read_only = s.token("mcp:tools:read");
    let sid = s.session(&read_only, "2025-11-25").await;
    let list = s.call(&read_only, &sid, "tools/list", json!({})).await;
    assert!(list["result"]["tools"].is_array());
    let r = s
        .post(&read_only)
        .header("mcp-session-id", &sid)
        .json(&json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"x"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let w = www(&r);
    assert!(w.contains("error=\"insufficient_scope\""), "{w}");
    assert!(w.contains("scope=\"mcp:tools:call\""), "{w}");
    assert!(w.contains("resource_metadata="), "{w}");
    // The umbrella scope implies every mcp:* scope (RS-18).
    let all = s.token("mcp");
    let sid = s.session(&all, "2025-11-25").await;
    let r = s
        .call(
            &all,
            &sid,
            "tools/call",
            json!({"name":"echo","arguments":{"message":"x"}}),
        )
        .await;
    assert_eq!(r["result"]["content"][0]["text"], "x");
}

#[tokio::test]
async fn jwks_100_concurrent_first_requests_cause_exactly_one_fetch() {
    let s = Arc::new(stack().await);
    let barrier = Arc::new(tokio::sync::Barrier::new(100));
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let s = s.clone();
        let b = barrier.clone();
        tasks.push(tokio::spawn(async move {
            let t = s.token(ALL); // distinct tokens: no verified-token cache hits
            b.wait().await;
            s.post(&t)
                .json(&json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    assert_eq!(s.as_.jwks_hits(), 1);
    assert_eq!(s.server.jwks_fetch_count(), 1);
}

#[tokio::test]
async fn rs15_unknown_kid_refetch_is_rate_limited() {
    let s = stack().await;
    // Warm the cache.
    s.session(&s.token(ALL), "2025-11-25").await;
    assert_eq!(s.as_.jwks_hits(), 1);
    for _ in 0..20 {
        let other = ed25519();
        let t = sign(&other, &claims(&s.as_.issuer, &s.url, ALL), Some("at+jwt"));
        let r = s
            .post(&t)
            .json(&json!({"jsonrpc":"2.0","id":1,"method":"ping"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    // One forced refetch at most within the interval.
    assert!(s.as_.jwks_hits() <= 2, "{}", s.as_.jwks_hits());
}

#[tokio::test]
async fn jwks_rotated_key_is_picked_up_by_one_refetch() {
    let s = stack().await;
    s.session(&s.token(ALL), "2025-11-25").await;
    let new_key = ed25519();
    *s.as_.state.jwks.lock().unwrap() = json!({"keys": [&s.key.jwk, &new_key.jwk]});
    let t = sign(
        &new_key,
        &claims(&s.as_.issuer, &s.url, ALL),
        Some("at+jwt"),
    );
    let sid = s.session(&t, "2025-11-25").await;
    assert!(!sid.is_empty());
    assert_eq!(s.as_.jwks_hits(), 2);
}

#[tokio::test]
async fn jwks_as_down_cached_keys_still_work() {
    let s = stack_with(|c| {
        c.jwks.min_ttl_secs = 0;
        c.jwks.max_ttl_secs = 1;
        c.jwks.retry_after_failure_secs = 1;
    })
    .await;
    s.session(&s.token(ALL), "2025-11-25").await;
    s.as_.state.down.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // A token never seen before (no verified-token cache), after the JWKS TTL expired.
    let sid = s.session(&s.token(ALL), "2025-11-25").await;
    assert!(!sid.is_empty());
}

#[tokio::test]
async fn tr03_bad_origin_or_host_gets_403() {
    let s = stack().await;
    let t = s.token(ALL);
    let r = s
        .post(&t)
        .header("origin", "https://evil.example")
        .json(&json!({"jsonrpc":"2.0","id":1,"method":"ping"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = s
        .post(&t)
        .header("host", "evil.example")
        .json(&json!({"jsonrpc":"2.0","id":1,"method":"ping"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // A loopback origin is fine.
    let sid_resp = s
        .post(&t)
        .header("origin", "http://localhost:6274")
        .json(&json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(sid_resp.status(), 200);
    assert_eq!(
        sid_resp.headers()["access-control-allow-origin"],
        "http://localhost:6274"
    );
}

#[tokio::test]
async fn rs23_cors_preflight_allows_mcp_headers_and_exposes_challenge() {
    let s = stack().await;
    let r = s
        .http
        .request(reqwest::Method::OPTIONS, &s.url)
        .header("origin", "http://localhost:6274")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type, mcp-protocol-version, mcp-session-id",
        )
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let allow = r.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allow.contains("mcp-protocol-version"), "{allow}");
    let r = s
        .post(&s.token(ALL))
        .header("origin", "http://localhost:6274")
        .json(&json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}))
        .send()
        .await
        .unwrap();
    let expose = r.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        expose.contains("www-authenticate") && expose.contains("mcp-session-id"),
        "{expose}"
    );
}

#[tokio::test]
async fn body_over_limit_gets_413() {
    let s = stack_with(|c| c.limits.max_body_bytes = 4096).await;
    let big = "x".repeat(10_000);
    let r = s
        .post(&s.token(ALL))
        .json(&json!({"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad": big}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    // Chunked (no Content-Length): the limit applies while reading.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..10).map(|_| Ok(vec![b' '; 1000])).collect();
    let r = s
        .post(&s.token(ALL))
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
}

#[tokio::test]
async fn tr37_tr38_tr39_tr40_session_lifecycle() {
    let s = stack().await;
    let t = s.token(ALL);
    let sid = s.session(&t, "2025-11-25").await;
    assert!(sid.len() >= 32 && sid.bytes().all(|b| (0x21..=0x7e).contains(&b)));
    let r = s.call(&t, &sid, "ping", json!({})).await;
    assert_eq!(r["result"], json!({}));
    // Missing session id: 400.
    let r = s
        .post(&t)
        .json(&json!({"jsonrpc":"2.0","id":1,"method":"ping"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Unknown session: 404.
    let r = s
        .post(&t)
        .header("mcp-session-id", "nope")
        .json(&json!({"jsonrpc":"2.0","id":1,"method":"ping"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // RS-21: another user's token cannot use the session.
    let mut c = claims(&s.as_.issuer, &s.url, ALL);
    c["sub"] = json!("mallory");
    let mallory = sign(&s.key, &c, Some("at+jwt"));
    let r = s
        .post(&mallory)
        .header("mcp-session-id", &sid)
        .json(&json!({"jsonrpc":"2.0","id":1,"method":"ping"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // DELETE ends it.
    let r = s
        .http
        .delete(&s.url)
        .bearer_auth(&t)
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = s
        .post(&t)
        .header("mcp-session-id", &sid)
        .json(&json!({"jsonrpc":"2.0","id":1,"method":"ping"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn tr06_notification_and_response_get_202_with_empty_body() {
    let s = stack().await;
    let t = s.token(ALL);
    let sid = s.session(&t, "2025-06-18").await;
    for body in [
        json!({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId": 99}}),
        json!({"jsonrpc":"2.0","id":"srv-1","result":{}}),
    ] {
        let r = s
            .post(&t)
            .header("mcp-session-id", &sid)
            .header("mcp-protocol-version", "2025-06-18")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        assert!(r.bytes().await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn tr41_unsupported_protocol_version_header_gets_400() {
    let s = stack().await;
    let t = s.token(ALL);
    let sid = s.session(&t, "2025-11-25").await;
    let r = s
        .post(&t)
        .header("mcp-session-id", &sid)
        .header("mcp-protocol-version", "1999-01-01")
        .json(&json!({"jsonrpc":"2.0","id":1,"method":"ping"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Absent header means 2025-03-26 and is accepted.
    let r = s
        .post(&t)
        .header("mcp-session-id", &sid)
        .json(&json!({"jsonrpc":"2.0","id":1,"method":"ping"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn pr39_tr07_progress_token_with_sse_accept_streams_progress_then_result() {
    let s = stack().await;
    let t = s.token(ALL);
    let sid = s.session(&t, "2025-11-25").await;
    let r = s
        .post(&t)
        .header("mcp-session-id", &sid)
        .header("mcp-protocol-version", "2025-11-25")
        .json(&json!({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{
            "name":"slow_task","arguments":{"steps":3,"delay_ms":10},"_meta":{"progressToken":"p1"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    assert_eq!(r.headers()["x-accel-buffering"], "no");
    let text = tokio::time::timeout(Duration::from_secs(10), r.text())
        .await
        .unwrap()
        .unwrap();
    let events = sse_events(&text);
    assert_eq!(events.len(), 4, "{text}");
    for (i, (ev, data)) in events[..3].iter().enumerate() {
        assert_eq!(ev, "message");
        let v: Value = serde_json::from_str(data).unwrap();
        assert_eq!(v["method"], "notifications/progress");
        assert_eq!(v["params"]["progressToken"], "p1");
        assert_eq!(v["params"]["progress"], i + 1);
        assert_eq!(v["params"]["total"], 3);
    }
    let last: Value = serde_json::from_str(&events[3].1).unwrap();
    assert_eq!(last["id"], 5);
    assert_eq!(last["result"]["content"][0]["text"], "completed 3 steps");
    // Without SSE in Accept the same request is answered as JSON.
    let r = s
        .http
        .post(&s.url)
        .bearer_auth(&t)
        .header("accept", "application/json")
        .header("mcp-session-id", &sid)
        .json(&json!({"jsonrpc":"2.0","id":6,"method":"tools/call","params":{
            "name":"slow_task","arguments":{"steps":1,"delay_ms":1},"_meta":{"progressToken":"p2"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "application/json");
}

#[tokio::test]
async fn pr40_cancelled_notification_stops_slow_task() {
    let s = Arc::new(stack().await);
    let t = s.token(ALL);
    let sid = s.session(&t, "2025-11-25").await;
    let (s2, t2, sid2) = (s.clone(), t.clone(), sid.clone());
    let call = tokio::spawn(async move {
        s2.post(&t2)
            .header("mcp-session-id", &sid2)
            .json(
                &json!({"jsonrpc":"2.0","id":"long","method":"tools/call","params":{
                "name":"slow_task","arguments":{"steps":50,"delay_ms":100}}}),
            )
            .send()
            .await
            .unwrap()
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = s
        .post(&t)
        .header("mcp-session-id", &sid)
        .json(&json!({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"long"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let r = tokio::time::timeout(Duration::from_secs(2), call)
        .await
        .expect("cancelled request must end promptly")
        .unwrap();
    assert_eq!(r.status(), 202);
}

#[tokio::test]
async fn tools_echo_add_whoami_weather_fails_and_unknown() {
    let s = stack().await;
    let t = s.token(ALL);
    let sid = s.session(&t, "2025-11-25").await;
    let list = s.call(&t, &sid, "tools/list", json!({})).await;
    let names: Vec<&str> = list["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "echo",
            "add",
            "whoami",
            "slow_task",
            "get_weather",
            "always_fails"
        ]
    );
    let r = s
        .call(
            &t,
            &sid,
            "tools/call",
            json!({"name":"echo","arguments":{"message":"héllo"}}),
        )
        .await;
    assert_eq!(r["result"]["content"][0]["text"], "héllo");
    let r = s
        .call(
            &t,
            &sid,
            "tools/call",
            json!({"name":"add","arguments":{"a":2,"b":40}}),
        )
        .await;
    assert_eq!(r["result"]["content"][0]["text"], "42");
    let r = s
        .call(&t, &sid, "tools/call", json!({"name":"whoami"}))
        .await;
    assert_eq!(r["result"]["structuredContent"]["sub"], "alice");
    assert_eq!(r["result"]["structuredContent"]["client_id"], "test-client");
    assert_eq!(r["result"]["structuredContent"]["scopes"], json!(["mcp"]));
    let text: Value =
        serde_json::from_str(r["result"]["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(text, r["result"]["structuredContent"]);
    let r = s
        .call(
            &t,
            &sid,
            "tools/call",
            json!({"name":"get_weather","arguments":{"city":"Oslo"}}),
        )
        .await;
    let sc = &r["result"]["structuredContent"];
    assert_eq!(sc["city"], "Oslo");
    assert!(sc["temperature_c"].is_number() && sc["conditions"].is_string());
    let r = s
        .call(&t, &sid, "tools/call", json!({"name":"always_fails"}))
        .await;
    assert_eq!(r["result"]["isError"], true);
    // Bad argument values are tool execution errors; unknown tools are -32602 (PR-32).
    let r = s
        .call(
            &t,
            &sid,
            "tools/call",
            json!({"name":"add","arguments":{"a":"x"}}),
        )
        .await;
    assert_eq!(r["result"]["isError"], true);
    let r = s.call(&t, &sid, "tools/call", json!({"name":"nope"})).await;
    assert_eq!(r["error"]["code"], -32602);
    let r = s.call(&t, &sid, "no/such/method", json!({})).await;
    assert_eq!(r["error"]["code"], -32601);
}

#[tokio::test]
async fn pr34_resources_list_read_templates_and_traversal_refused() {
    let s = stack().await;
    let t = s.token(ALL);
    let sid = s.session(&t, "2025-11-25").await;
    let list = s.call(&t, &sid, "resources/list", json!({})).await;
    let uris: Vec<&str> = list["result"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["uri"].as_str().unwrap())
        .collect();
    assert!(uris.contains(&"config://server"));
    assert!(uris.contains(&"file:///README.md"), "{uris:?}");
    let r = s
        .call(
            &t,
            &sid,
            "resources/read",
            json!({"uri":"file:///README.md"}),
        )
        .await;
    assert!(r["result"]["contents"][0]["text"].as_str().unwrap().len() > 10);
    let r = s
        .call(&t, &sid, "resources/read", json!({"uri":"config://server"}))
        .await;
    assert!(
        r["result"]["contents"][0]["text"]
            .as_str()
            .unwrap()
            .contains("authorization_server")
    );
    for bad in [
        "file:///../Cargo.toml",
        "file:///../../../../etc/passwd",
        "file:////etc/passwd",
        "file:///%2e%2e/Cargo.toml",
    ] {
        let r = s
            .call(&t, &sid, "resources/read", json!({"uri": bad}))
            .await;
        assert_eq!(r["error"]["code"], -32002, "{bad}");
    }
    let r = s
        .call(&t, &sid, "resources/templates/list", json!({}))
        .await;
    assert_eq!(
        r["result"]["resourceTemplates"][0]["uriTemplate"],
        "file:///{path}"
    );
}

#[tokio::test]
async fn pr36_pr37_prompts_and_completion() {
    let s = stack().await;
    let t = s.token(ALL);
    let sid = s.session(&t, "2025-11-25").await;
    let r = s.call(&t, &sid, "prompts/list", json!({})).await;
    assert_eq!(r["result"]["prompts"].as_array().unwrap().len(), 2);
    let r = s
        .call(
            &t,
            &sid,
            "prompts/get",
            json!({"name":"code_review","arguments":{"code":"fn main(){}","language":"rust"}}),
        )
        .await;
    assert!(
        r["result"]["messages"][0]["content"]["text"]
            .as_str()
            .unwrap()
            .contains("fn main")
    );
    let r = s
        .call(
            &t,
            &sid,
            "prompts/get",
            json!({"name":"code_review","arguments":{}}),
        )
        .await;
    assert_eq!(r["error"]["code"], -32602);
    let r = s
        .call(&t, &sid, "completion/complete", json!({"ref":{"type":"ref/prompt","name":"code_review"},"argument":{"name":"language","value":"ru"}}))
        .await;
    assert_eq!(r["result"]["completion"]["values"], json!(["rust"]));
    let r = s
        .call(&t, &sid, "logging/setLevel", json!({"level":"loud"}))
        .await;
    assert_eq!(r["error"]["code"], -32602);
}

#[tokio::test]
async fn pr38_pagination_with_small_pages() {
    let s = stack_with(|c| c.limits.page_size = 4).await;
    let t = s.token(ALL);
    let sid = s.session(&t, "2025-11-25").await;
    let p1 = s.call(&t, &sid, "tools/list", json!({})).await;
    assert_eq!(p1["result"]["tools"].as_array().unwrap().len(), 4);
    let cursor = p1["result"]["nextCursor"].as_str().unwrap().to_owned();
    let p2 = s
        .call(&t, &sid, "tools/list", json!({"cursor": cursor}))
        .await;
    assert_eq!(p2["result"]["tools"].as_array().unwrap().len(), 2);
    assert!(p2["result"].get("nextCursor").is_none());
    let bad = s
        .call(&t, &sid, "tools/list", json!({"cursor": "!!"}))
        .await;
    assert_eq!(bad["error"]["code"], -32602);
}

#[tokio::test]
async fn tr08_batches_only_for_2025_03_26_sessions() {
    let s = stack().await;
    let t = s.token(ALL);
    let old = s.session(&t, "2025-03-26").await;
    let r = s
        .post(&t)
        .header("mcp-session-id", &old)
        .json(&json!([
            {"jsonrpc":"2.0","id":1,"method":"ping"},
            {"jsonrpc":"2.0","method":"notifications/initialized"},
            {"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"b"}}}
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    let new = s.session(&t, "2025-11-25").await;
    let r = s
        .post(&t)
        .header("mcp-session-id", &new)
        .json(&json!([{"jsonrpc":"2.0","id":1,"method":"ping"}]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn pr22_pr23_stateless_discover_and_calls() {
    let s = stack().await;
    let t = s.token(ALL);
    let r = s
        .modern(&t, "server/discover", json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("mcp-session-id").is_none());
    let v: Value = r.json().await.unwrap();
    let res = &v["result"];
    assert_eq!(res["resultType"], "complete");
    assert_eq!(res["supportedVersions"][0], "2026-07-28");
    assert!(res["capabilities"]["tools"].is_object());
    assert!(res["capabilities"].get("logging").is_none());
    assert_eq!(
        res["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "http-mcp-mock-server"
    );
    assert!(res["ttlMs"].is_number() && res["cacheScope"].is_string());
    let v: Value = s
        .modern(
            &t,
            "tools/call",
            json!({"name":"echo","arguments":{"message":"m"}}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["result"]["content"][0]["text"], "m");
    assert_eq!(v["result"]["resultType"], "complete");
    let v: Value = s
        .modern(&t, "tools/list", json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["result"]["cacheScope"], "public");
    // Methods removed in 2026-07-28 get 404 with -32601 (TR-16).
    let r = s.modern(&t, "ping", json!({})).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], -32601);
}

#[tokio::test]
async fn tr15_tr16_tr18_tr20_stateless_header_checks() {
    let s = stack().await;
    let t = s.token(ALL);
    async fn code(r: reqwest::Response) -> (u16, i64) {
        let st = r.status().as_u16();
        let v: Value = r.json().await.unwrap();
        (st, v["error"]["code"].as_i64().unwrap_or(0))
    }
    // Mcp-Method disagrees with the body.
    let r = s
        .modern(&t, "tools/list", json!({}))
        .headers(hmap(&[("mcp-method", "tools/call")]))
        .send()
        .await
        .unwrap();
    assert_eq!(code(r).await, (400, -32020));
    // Mcp-Name disagrees.
    let r = s
        .modern(
            &t,
            "tools/call",
            json!({"name":"echo","arguments":{"message":"m"}}),
        )
        .headers(hmap(&[("mcp-name", "add")]))
        .send()
        .await
        .unwrap();
    assert_eq!(code(r).await, (400, -32020));
    // Base64 sentinel form is decoded before comparing (TR-19).
    let r = s
        .modern(
            &t,
            "tools/call",
            json!({"name":"echo","arguments":{"message":"m"}}),
        )
        .headers(hmap(&[(
            "mcp-name",
            &format!("=?base64?{}?=", base64_std(b"echo")),
        )]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Header version disagrees with _meta.
    let r = s
        .modern(&t, "tools/list", json!({}))
        .headers(hmap(&[("mcp-protocol-version", "2025-11-25")]))
        .send()
        .await
        .unwrap();
    assert_eq!(code(r).await, (400, -32020));
    // A duplicated standard header is invalid too.
    let r = s
        .modern(&t, "tools/list", json!({}))
        .header("mcp-method", "tools/list")
        .send()
        .await
        .unwrap();
    assert_eq!(code(r).await, (400, -32020));
    // Unsupported modern version: -32022 with supported/requested.
    let r = s
        .post(&t)
        .header("mcp-protocol-version", "2099-01-01")
        .header("mcp-method", "tools/list")
        .json(
            &json!({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{
            "io.modelcontextprotocol/protocolVersion":"2099-01-01",
            "io.modelcontextprotocol/clientCapabilities":{}}}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], -32022);
    assert_eq!(v["error"]["data"]["requested"], "2099-01-01");
    assert!(
        v["error"]["data"]["supported"]
            .as_array()
            .unwrap()
            .contains(&json!("2026-07-28"))
    );
    // Missing clientCapabilities: -32602, HTTP 400 (PR-20).
    let r = s
        .post(&t)
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/list")
        .json(
            &json!({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{
            "io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(code(r).await, (400, -32602));
    // Scopes apply in the stateless era too.
    let ro = s.token("mcp:tools:read");
    let r = s
        .modern(
            &ro,
            "tools/call",
            json!({"name":"echo","arguments":{"message":"m"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn tr50_tr51_http_sse_endpoint_event_and_response_on_stream() {
    let s = stack().await;
    let t = s.token(ALL);
    let base = format!("http://{}", s.server.local_addr());
    // No token: 401 like the rest.
    let r = s.http.get(format!("{base}/sse")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let mut stream = s
        .http
        .get(format!("{base}/sse"))
        .bearer_auth(&t)
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let mut buf = String::new();
    let read_until = |needle: &'static str| needle;
    let _ = read_until;
    async fn read_more(stream: &mut reqwest::Response, buf: &mut String, needle: &str) {
        tokio::time::timeout(Duration::from_secs(5), async {
            while !buf.contains(needle) {
                let chunk = stream.chunk().await.unwrap().expect("stream ended");
                buf.push_str(&String::from_utf8_lossy(&chunk));
            }
        })
        .await
        .expect("timed out waiting for SSE data");
    }
    read_more(&mut stream, &mut buf, "\n\n").await;
    let events = sse_events(&buf);
    assert_eq!(events[0].0, "endpoint");
    let endpoint = events[0].1.clone();
    assert!(endpoint.starts_with("/messages?sessionId="));
    let post = |body: Value| {
        s.http
            .post(format!("{base}{endpoint}"))
            .bearer_auth(&t)
            .json(&body)
    };
    let r = post(json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    read_more(&mut stream, &mut buf, "\"id\":1").await;
    let r = post(json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"over sse"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    read_more(&mut stream, &mut buf, "over sse").await;
    let events = sse_events(&buf);
    let resp: Value = serde_json::from_str(&events.last().unwrap().1).unwrap();
    assert_eq!(resp["id"], 2);
    assert_eq!(resp["result"]["content"][0]["text"], "over sse");
    // Another user cannot post into this session.
    let mut c = claims(&s.as_.issuer, &s.url, ALL);
    c["sub"] = json!("mallory");
    let mallory = sign(&s.key, &c, Some("at+jwt"));
    let r = s
        .http
        .post(format!("{base}{endpoint}"))
        .bearer_auth(&mallory)
        .json(&json!({"jsonrpc":"2.0","id":3,"method":"ping"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn rs13_introspection_mode_rejects_revoked_tokens() {
    let s = stack_with(|c| {
        c.introspection = Some(mcp_server::config::IntrospectionSettings::new(
            "mcp-server",
            "dev-mcp-server-secret",
        ));
    })
    .await;
    let good = s.token(ALL);
    s.session(&good, "2025-11-25").await;
    let revoked = s.token(ALL);
    s.as_.state.revoked.lock().unwrap().insert(revoked.clone());
    let r = s
        .post(&revoked)
        .json(&json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(www(&r).contains("invalid_token"));
    assert_eq!(s.as_.state.introspect_hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn shutdown_ends_open_sse_streams() {
    let s = stack().await;
    let t = s.token(ALL);
    let sid = s.session(&t, "2025-11-25").await;
    let stream = s
        .http
        .get(&s.url)
        .bearer_auth(&t)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let Stack { server, .. } = s;
    tokio::time::timeout(Duration::from_secs(5), server.shutdown())
        .await
        .expect("graceful shutdown must not hang on open streams");
    drop(stream);
}

#[tokio::test]
async fn tr34_pr18_get_stream_carries_log_messages_after_set_level() {
    let s = stack().await;
    let t = s.token(ALL);
    let sid = s.session(&t, "2025-11-25").await;
    let mut stream = s
        .http
        .get(&s.url)
        .bearer_auth(&t)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert!(
        stream.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    // Nothing is logged before logging/setLevel.
    s.call(
        &t,
        &sid,
        "tools/call",
        json!({"name":"echo","arguments":{"message":"quiet"}}),
    )
    .await;
    let r = s
        .call(&t, &sid, "logging/setLevel", json!({"level":"info"}))
        .await;
    assert_eq!(r["result"], json!({}));
    s.call(&t, &sid, "tools/call", json!({"name":"always_fails"}))
        .await;
    let mut buf = String::new();
    tokio::time::timeout(Duration::from_secs(5), async {
        while !buf.contains("notifications/message") {
            let chunk = stream.chunk().await.unwrap().expect("stream ended");
            buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .expect("log message on the GET stream");
    let events = sse_events(&buf);
    let logs: Vec<Value> = events
        .iter()
        .filter_map(|(_, d)| serde_json::from_str::<Value>(d).ok())
        .filter(|v| v["method"] == "notifications/message")
        .collect();
    assert_eq!(logs.len(), 1, "{buf}");
    assert_eq!(logs[0]["params"]["level"], "info");
    assert_eq!(logs[0]["params"]["data"]["error"], true);
    // Without a session the GET stream does not exist (stateless era: 405).
    let r = s
        .http
        .get(&s.url)
        .bearer_auth(&t)
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
}

#[tokio::test]
async fn tr07_tr11_stateless_progress_streams_then_result_without_session() {
    let s = stack().await;
    let t = s.token(ALL);
    let r = s
        .modern(
            &t,
            "tools/call",
            json!({"name":"slow_task","arguments":{"steps":2,"delay_ms":5}}),
        )
        .send()
        .await
        .unwrap();
    // Without a progress token: plain JSON.
    assert_eq!(r.headers()["content-type"], "application/json");
    let mut params = json!({"name":"slow_task","arguments":{"steps":2,"delay_ms":5}});
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "progressToken": 42,
    });
    let r = s
        .post(&t)
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "slow_task")
        .json(&json!({"jsonrpc":"2.0","id":9,"method":"tools/call","params":params}))
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    assert!(r.headers().get("mcp-session-id").is_none());
    let events = sse_events(&r.text().await.unwrap());
    assert_eq!(events.len(), 3);
    let last: Value = serde_json::from_str(&events[2].1).unwrap();
    assert_eq!(last["id"], 9);
    assert_eq!(last["result"]["resultType"], "complete");
}

#[tokio::test]
async fn session_limit_gets_503() {
    let s = stack_with(|c| c.limits.max_sessions = 2).await;
    let t = s.token(ALL);
    s.session(&t, "2025-11-25").await;
    s.session(&t, "2025-11-25").await;
    let r = s
        .post(&t)
        .json(&json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
}

#[tokio::test]
async fn malformed_bodies_get_jsonrpc_errors_not_panics() {
    let s = stack().await;
    let t = s.token(ALL);
    for (body, status, code) in [
        ("{", 400, -32700),
        ("[]", 400, -32600),
        (
            "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}",
            400,
            -32600,
        ),
        (
            "{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}",
            400,
            -32600,
        ),
        (
            "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}",
            400,
            -32600,
        ),
        ("\"just a string\"", 400, -32700),
    ] {
        let r = s.post(&t).body(body).send().await.unwrap();
        let st = r.status().as_u16();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        // "[]" without a session is refused before parsing (400 as well).
        assert_eq!(st, status, "{body}");
        if body != "[]" {
            assert_eq!(v["error"]["code"], code, "{body}");
        }
    }
}

#[tokio::test]
async fn tr39_idle_session_expires_then_404() {
    let s = stack_with(|c| c.limits.session_idle_secs = 1).await;
    let t = s.token(ALL);
    let sid = s.session(&t, "2025-11-25").await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let r = s
        .post(&t)
        .header("mcp-session-id", &sid)
        .json(&json!({"jsonrpc":"2.0","id":1,"method":"ping"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

/// TR-13: closing a request's response stream cancels the request. A 20-second slow_task is
/// started on an SSE stream; after its first progress event the client drops the stream,
/// and the server's count of running streamed requests must fall back to zero long before
/// the task could have finished on its own (bounded wait: 5 s).
#[tokio::test]
async fn tr13_closing_the_response_stream_cancels_the_request() {
    let s = stack().await;
    let t = s.token(ALL);
    let mut params = json!({"name":"slow_task","arguments":{"steps":1000,"delay_ms":20}});
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "progressToken": "tr13",
    });
    let mut r = s
        .post(&t)
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "slow_task")
        .json(&json!({"jsonrpc":"2.0","id":13,"method":"tools/call","params":params}))
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let first = r.chunk().await.unwrap().expect("a first progress event");
    assert!(
        String::from_utf8_lossy(&first).contains("notifications/progress"),
        "{first:?}"
    );
    assert_eq!(s.server.streaming_requests(), 1, "the task is running");
    drop(r);
    let mut waited = 0;
    while s.server.streaming_requests() != 0 && waited < 100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
    }
    assert_eq!(
        s.server.streaming_requests(),
        0,
        "the request kept running after its stream was closed"
    );
}
