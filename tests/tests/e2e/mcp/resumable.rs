//! Resumable session streams (2025-11-25, TR-32, TR-36): event ids, the priming event with
//! `retry`, `Last-Event-ID` replay from the bounded per-session buffer (410 beyond it), and
//! the client resuming a stream cut by a TCP proxy with every event arriving exactly once.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt as _;
use http_oauth2_client::{
    McpClient, ServerEvent, Subscription, SubscriptionFilter, TransportPreference,
};
use serde_json::json;
use tests::Stack;
use tests::mcp::{LEGACY, McpRequest, read_stream_until};
use tests::mcp_fixture::mcp_session_with;
use tokio::task::AbortHandle;

const COUNTER: &str = "counter://value";

/// `(id, data)` of every complete SSE event in `text` (comments skipped).
fn events_with_ids(text: &str) -> Vec<(Option<String>, String)> {
    let complete = match text.rfind("\n\n") {
        Some(i) => &text[..i],
        None => "",
    };
    complete
        .split("\n\n")
        .filter_map(|block| {
            let mut id = None;
            let mut data = None;
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    id = Some(v.trim().to_owned());
                } else if let Some(v) = line.strip_prefix("data:") {
                    data = Some(v.trim().to_owned());
                }
            }
            data.map(|d| (id, d))
        })
        .collect()
}

#[tokio::test]
async fn session_get_stream_has_ids_priming_retry_and_resumes_from_its_buffer_tr32_tr36() {
    let (f, t, sid) = mcp_session_with(|c| {
        c.limits.event_buffer = 2;
        c.limits.sse_retry_ms = 50;
    })
    .await;
    let get = |last: Option<&str>| {
        let mut r = McpRequest::get_stream(&f.http, &f.url)
            .token(&t)
            .session(&sid)
            .version(LEGACY);
        if let Some(l) = last {
            r = r.header("last-event-id", l);
        }
        r.send()
    };
    let mut s1 = get(None).await;
    assert_eq!(s1.status(), 200);
    let mut buf = String::new();
    read_stream_until(&mut s1, &mut buf, "\n\n").await;
    // The priming event: an id, `retry`, empty data (TR-32).
    assert!(buf.contains("id: 0\n") || buf.contains("id:0\n"), "{buf:?}");
    assert!(
        buf.contains("retry: 50") || buf.contains("retry:50"),
        "{buf:?}"
    );
    let r = f
        .call(&t, &sid, "resources/subscribe", json!({"uri": COUNTER}))
        .await;
    assert_eq!(r["result"], json!({}), "{r}");
    for _ in 0..3 {
        let r = f
            .call(
                &t,
                &sid,
                "tools/call",
                json!({"name": "increment", "arguments": {}}),
            )
            .await;
        assert!(r["result"]["structuredContent"]["value"].is_u64(), "{r}");
    }
    read_stream_until(&mut s1, &mut buf, "id: 3").await;
    read_stream_until(&mut s1, &mut buf, "\n\n").await;
    let got = events_with_ids(&buf);
    let ids: Vec<_> = got
        .iter()
        .map(|e| e.0.clone().unwrap_or_default())
        .collect();
    assert_eq!(ids, ["0", "1", "2", "3"], "{buf:?}");
    assert!(got[1].1.contains("notifications/resources/updated"));
    // Resume after 1: 2 and 3 again, on the new stream; the old stream ends (one reader).
    let mut s2 = get(Some("1")).await;
    assert_eq!(s2.status(), 200);
    let mut buf2 = String::new();
    read_stream_until(&mut s2, &mut buf2, "id: 3").await;
    read_stream_until(&mut s2, &mut buf2, "\n\n").await;
    let ids: Vec<_> = events_with_ids(&buf2)
        .into_iter()
        .map(|e| e.0.unwrap_or_default())
        .collect();
    assert_eq!(ids, ["1", "2", "3"], "priming (1), then 2 and 3: {buf2}");
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(Some(_)) = s1.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the older stream ends");
    // Event 1 fell out of the 2-event buffer: resuming after 0 is refused with 410.
    assert_eq!(get(Some("0")).await.status(), 410);
    // An id this session never sent, or not a number: 400.
    assert_eq!(get(Some("99")).await.status(), 400);
    assert_eq!(get(Some("abc")).await.status(), 400);
}

/// A TCP proxy whose connections can be cut, and which can refuse new ones for a while.
struct Proxy {
    addr: SocketAddr,
    paused: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<AbortHandle>>>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = tests::loopback_listener().await;
        let addr = listener.local_addr().unwrap();
        let paused = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (p, c) = (paused.clone(), conns.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if p.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut out) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
                c.lock().unwrap().push(task.abort_handle());
            }
        });
        Self {
            addr,
            paused,
            conns,
        }
    }

    /// Cuts every open connection and refuses new ones until [`Self::resume`].
    fn cut_and_pause(&self) {
        self.paused.store(true, Ordering::SeqCst);
        for h in self.conns.lock().unwrap().drain(..) {
            h.abort();
        }
    }

    fn resume(&self) {
        self.paused.store(false, Ordering::SeqCst);
    }
}

async fn next(sub: &mut Subscription) -> ServerEvent {
    tokio::time::timeout(Duration::from_secs(20), sub.next())
        .await
        .expect("an event within 20 s")
        .expect("the stream is open")
        .expect("an event, not an error")
}

#[tokio::test]
async fn client_resumes_a_cut_session_stream_and_gets_every_event_exactly_once_tr36() {
    tests::init_tracing();
    let stack = Stack::builder()
        .unprotected_mcp()
        .mcp_config(|c| c.limits.sse_retry_ms = 100)
        .start()
        .await
        .unwrap();
    let direct_url = url::Url::parse(stack.mcp_url()).unwrap();
    let upstream: SocketAddr = format!(
        "{}:{}",
        direct_url.host_str().unwrap(),
        direct_url.port().unwrap()
    )
    .parse()
    .unwrap();
    let proxy = Proxy::start(upstream).await;
    let mut via_url = direct_url.clone();
    via_url.set_port(Some(proxy.addr.port())).unwrap();
    let http = reqwest_middleware::ClientWithMiddleware::from(reqwest::Client::new());
    let via = McpClient::connect_with(
        http.clone(),
        via_url,
        Duration::from_secs(30),
        TransportPreference::Session,
    )
    .await
    .unwrap();
    // Changes are made by another client, straight to the server.
    let direct = McpClient::connect(http, direct_url).await.unwrap();
    let mut sub = via
        .subscribe(
            SubscriptionFilter::new()
                .tools_list_changed()
                .resource(COUNTER),
        )
        .await
        .unwrap();
    let updated = ServerEvent::ResourceUpdated {
        uri: COUNTER.into(),
    };
    for _ in 0..3 {
        direct
            .call_tool("increment", json!({}), None)
            .await
            .unwrap();
        assert_eq!(next(&mut sub).await, updated);
    }
    // The stream is cut and cannot reconnect while three more changes and a tool list change
    // happen; then the proxy lets it back in.
    proxy.cut_and_pause();
    for _ in 0..3 {
        direct
            .call_tool("increment", json!({}), None)
            .await
            .unwrap();
    }
    direct
        .call_tool("toggle_tool", json!({}), None)
        .await
        .unwrap();
    proxy.resume();
    let mut after = Vec::new();
    for _ in 0..4 {
        after.push(next(&mut sub).await);
    }
    assert_eq!(
        after,
        [
            updated.clone(),
            updated.clone(),
            updated,
            ServerEvent::ToolsListChanged
        ],
        "each missed event once, in order, none twice"
    );
    let r = direct.read_resource(COUNTER).await.unwrap();
    assert_eq!(r["contents"][0]["text"], r#"{"value":6}"#);
}

#[tokio::test]
async fn client_stream_ends_with_a_clear_error_when_the_missed_events_are_gone_tr36() {
    tests::init_tracing();
    let stack = Stack::builder()
        .unprotected_mcp()
        .mcp_config(|c| {
            c.limits.sse_retry_ms = 50;
            c.limits.event_buffer = 2;
        })
        .start()
        .await
        .unwrap();
    let direct_url = url::Url::parse(stack.mcp_url()).unwrap();
    let upstream: SocketAddr = format!(
        "{}:{}",
        direct_url.host_str().unwrap(),
        direct_url.port().unwrap()
    )
    .parse()
    .unwrap();
    let proxy = Proxy::start(upstream).await;
    let mut via_url = direct_url.clone();
    via_url.set_port(Some(proxy.addr.port())).unwrap();
    let http = reqwest_middleware::ClientWithMiddleware::from(reqwest::Client::new());
    let via = McpClient::connect_with(
        http.clone(),
        via_url,
        Duration::from_secs(30),
        TransportPreference::Session,
    )
    .await
    .unwrap();
    let direct = McpClient::connect(http, direct_url).await.unwrap();
    let mut sub = via
        .subscribe(SubscriptionFilter::new().resource(COUNTER))
        .await
        .unwrap();
    direct
        .call_tool("increment", json!({}), None)
        .await
        .unwrap();
    assert!(matches!(
        next(&mut sub).await,
        ServerEvent::ResourceUpdated { .. }
    ));
    // Four changes while cut off: more than the 2-event buffer keeps.
    proxy.cut_and_pause();
    for _ in 0..4 {
        direct
            .call_tool("increment", json!({}), None)
            .await
            .unwrap();
    }
    proxy.resume();
    let end = tokio::time::timeout(Duration::from_secs(20), sub.next())
        .await
        .expect("an outcome within 20 s")
        .expect("an item before the end");
    let err = end.expect_err("the missed events are gone: an error, not a silent gap");
    assert!(err.to_string().contains("410"), "{err}");
    assert!(sub.next().await.is_none(), "then the stream ends");
}
