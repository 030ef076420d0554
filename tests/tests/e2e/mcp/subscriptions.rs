//! Subscriptions (PR-27, PR-35, TR-25): `subscriptions/listen` under 2026-07-28 and
//! `resources/subscribe` + the session GET stream in 2025 sessions, through the client's
//! `Subscription` stream, with auth on and off; plus the wire shape of the listen stream.

use std::time::Duration;

use futures_util::StreamExt as _;
use http_oauth2_client::{
    McpClient, ServerEvent, Subscription, SubscriptionFilter, TransportKind, TransportPreference,
};
use reqwest_middleware::ClientWithMiddleware;
use serde_json::{Value, json};
use tests::Stack;
use tests::mcp::{MODERN, read_stream_until, sse_events};
use tests::mcp_fixture::{ALL, mcp_fixture_with};

const COUNTER: &str = "counter://value";

/// The next event, within 10 s.
async fn next(sub: &mut Subscription) -> ServerEvent {
    tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("an event within 10 s")
        .expect("the stream is open")
        .expect("an event, not an error")
}

async fn client(stack: &Stack, auth: bool, pref: TransportPreference) -> McpClient {
    let http: ClientWithMiddleware = if auth {
        tests::oauth_session(stack).await.client()
    } else {
        reqwest::Client::new().into()
    };
    let url = url::Url::parse(stack.mcp_url()).unwrap();
    McpClient::connect_with(http, url, Duration::from_secs(30), pref)
        .await
        .expect("connects")
}

async fn stack(auth: bool) -> Stack {
    tests::init_tracing();
    let b = Stack::builder().resources_dir(tests::mcp_resources_dir());
    let b = if auth { b } else { b.unprotected_mcp() };
    b.start().await.expect("stack starts")
}

/// Subscribes to tool list changes and the counter, toggles the optional tool and increments
/// the counter, and sees both events, in order, and the new tool list.
async fn tool_and_counter_events(auth: bool, pref: TransportPreference, kind: TransportKind) {
    let s = stack(auth).await;
    let mcp = client(&s, auth, pref).await;
    assert_eq!(mcp.transport_kind(), kind);
    let mut sub = mcp
        .subscribe(
            SubscriptionFilter::new()
                .tools_list_changed()
                .resource(COUNTER),
        )
        .await
        .expect("subscribes");
    assert_eq!(
        sub.granted(),
        &SubscriptionFilter::new()
            .tools_list_changed()
            .resource(COUNTER)
    );
    let before = mcp.list_tools().await.unwrap();
    assert!(!before.iter().any(|t| t["name"] == "optional_tool"));
    mcp.call_tool("toggle_tool", json!({}), None).await.unwrap();
    assert_eq!(next(&mut sub).await, ServerEvent::ToolsListChanged);
    let after = mcp.list_tools().await.unwrap();
    assert!(after.iter().any(|t| t["name"] == "optional_tool"));
    let r = mcp.call_tool("increment", json!({}), None).await.unwrap();
    assert_eq!(r["structuredContent"]["value"], 1);
    assert_eq!(
        next(&mut sub).await,
        ServerEvent::ResourceUpdated {
            uri: COUNTER.into()
        }
    );
    let read = mcp.read_resource(COUNTER).await.unwrap();
    assert_eq!(read["contents"][0]["text"], r#"{"value":1}"#);
}

#[tokio::test]
async fn listen_stream_delivers_list_changed_and_resource_updates_auth_on_pr27() {
    tool_and_counter_events(true, TransportPreference::Auto, TransportKind::Stateless).await;
}

#[tokio::test]
async fn listen_stream_delivers_list_changed_and_resource_updates_auth_off_pr27() {
    tool_and_counter_events(false, TransportPreference::Auto, TransportKind::Stateless).await;
}

#[tokio::test]
async fn session_stream_delivers_list_changed_and_subscribed_updates_auth_on_pr35() {
    tool_and_counter_events(true, TransportPreference::Session, TransportKind::Session).await;
}

#[tokio::test]
async fn session_stream_delivers_list_changed_and_subscribed_updates_auth_off_pr35() {
    tool_and_counter_events(false, TransportPreference::Session, TransportKind::Session).await;
}

#[tokio::test]
async fn only_requested_kinds_are_sent_on_a_listen_stream_pr27() {
    let s = stack(false).await;
    let mcp = client(&s, false, TransportPreference::Auto).await;
    let mut sub = mcp
        .subscribe(SubscriptionFilter::new().resource(COUNTER))
        .await
        .unwrap();
    assert!(!sub.granted().tools_list_changed);
    // A tool list change first (not requested), then the counter: only the counter arrives.
    mcp.call_tool("toggle_tool", json!({}), None).await.unwrap();
    mcp.call_tool("increment", json!({}), None).await.unwrap();
    assert_eq!(
        next(&mut sub).await,
        ServerEvent::ResourceUpdated {
            uri: COUNTER.into()
        }
    );
}

/// The listen stream on the wire: the acknowledgement first, every message stamped with the
/// listen request's id, and a `complete` result when the server shuts down.
#[tokio::test]
async fn listen_wire_shape_ack_stamped_notifications_and_graceful_complete_pr27_tr25() {
    let f = mcp_fixture_with(|_| {}).await;
    let t = f.token(ALL);
    let mut stream = f
        .modern(
            &t,
            "subscriptions/listen",
            json!({"notifications": {"toolsListChanged": true, "promptsListChanged": true}}),
        )
        .id("sub-1")
        .send()
        .await;
    assert_eq!(stream.status(), 200);
    assert!(tests::mcp::content_type(&stream).starts_with("text/event-stream"));
    let mut buf = String::new();
    read_stream_until(&mut stream, &mut buf, "acknowledged").await;
    read_stream_until(&mut stream, &mut buf, "\n\n").await;
    let ack: Value = serde_json::from_str(&sse_events(&buf)[0].1).unwrap();
    assert_eq!(ack["method"], "notifications/subscriptions/acknowledged");
    // Granted: what was asked and this server sends (it never changes its prompts).
    assert_eq!(
        ack["params"]["notifications"],
        json!({"toolsListChanged": true})
    );
    assert_eq!(
        ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        "sub-1"
    );
    let r = f
        .modern(
            &t,
            "tools/call",
            json!({"name": "toggle_tool", "arguments": {}}),
        )
        .json()
        .await;
    assert_eq!(r["result"]["isError"], Value::Null, "{r}");
    read_stream_until(&mut stream, &mut buf, "list_changed").await;
    read_stream_until(&mut stream, &mut buf, "list_changed\"").await;
    let changed: Value = serde_json::from_str(&sse_events(&buf)[1].1).unwrap();
    assert_eq!(changed["method"], "notifications/tools/list_changed");
    assert_eq!(
        changed["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        "sub-1"
    );
    // Graceful end on shutdown: the `complete` result with the subscription id.
    let server = f.server;
    let stop = tokio::spawn(server.shutdown());
    read_stream_until(&mut stream, &mut buf, "\"result\"").await;
    read_stream_until(&mut stream, &mut buf, "}}\n\n").await;
    let done: Value = serde_json::from_str(&sse_events(&buf)[2].1).unwrap();
    assert_eq!(done["id"], "sub-1");
    assert_eq!(done["result"]["resultType"], "complete");
    assert_eq!(
        done["result"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        "sub-1"
    );
    stop.await.unwrap();
}

#[tokio::test]
async fn listen_streams_are_capped_per_subject_need_sse_and_the_readers_scope_pr27() {
    let f = mcp_fixture_with(|c| c.limits.max_listeners_per_subject = 1).await;
    let t = f.token(ALL);
    let p = json!({"notifications": {"toolsListChanged": true}});
    let first = f.modern(&t, "subscriptions/listen", p.clone()).send().await;
    assert_eq!(first.status(), 200);
    let second = f.modern(&t, "subscriptions/listen", p.clone()).send().await;
    assert_eq!(second.status(), 429);
    assert_eq!(second.headers()["retry-after"], "1");
    // Another subject has its own places.
    let bob = f.token_with(ALL, |c| c["sub"] = json!("bob"));
    let other = f
        .modern(&bob, "subscriptions/listen", p.clone())
        .send()
        .await;
    assert_eq!(other.status(), 200);
    // The place comes back when the stream is dropped (the server notices at the latest
    // when it next writes to it: an event is published each round).
    drop(first);
    let mut again = None;
    for _ in 0..100 {
        let r = f.modern(&t, "subscriptions/listen", p.clone()).send().await;
        if r.status() == 200 {
            again = Some(r);
            break;
        }
        f.modern(
            &t,
            "tools/call",
            json!({"name": "toggle_tool", "arguments": {}}),
        )
        .send()
        .await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(again.is_some(), "the place came back");
    // Bad params, and a client that does not accept SSE.
    let bad = f
        .modern(&t, "subscriptions/listen", json!({"notifications": 5}))
        .send()
        .await;
    assert_eq!(tests::mcp::status_and_code(bad).await, (400, -32602));
    let json_only = f
        .modern(&bob, "subscriptions/listen", p)
        .replace_headers(&[("accept", "application/json")])
        .send()
        .await;
    assert_eq!(json_only.status(), 400);
    // Events are guarded like what reads them: resource updates need the resources scope.
    let tools_only = f.token(shared::scope::TOOLS_READ);
    let r = f
        .modern(
            &tools_only,
            "subscriptions/listen",
            json!({"notifications": {"resourceSubscriptions": [COUNTER]}}),
        )
        .send()
        .await;
    assert_eq!(r.status(), 403);
    assert!(tests::mcp::challenge(&r).contains("insufficient_scope"));
    // Legacy subscribe does not exist under 2026-07-28.
    let legacy = f
        .modern(&t, "resources/subscribe", json!({"uri": COUNTER}))
        .send()
        .await;
    assert_eq!(legacy.status(), 404);
    let _ = MODERN;
}

/// Legacy `resources/unsubscribe` stops the updates of that URI on the session stream; tool
/// list changes keep coming (PR-35).
#[tokio::test]
async fn legacy_unsubscribe_stops_resource_updates_on_the_session_stream_pr35() {
    let (f, t, sid) = tests::mcp_fixture::mcp_session().await;
    let mut stream = tests::mcp::McpRequest::get_stream(&f.http, &f.url)
        .token(&t)
        .session(&sid)
        .version(tests::mcp::LEGACY)
        .send()
        .await;
    assert_eq!(stream.status(), 200);
    let sub = f
        .call(&t, &sid, "resources/subscribe", json!({"uri": COUNTER}))
        .await;
    assert_eq!(sub["result"], json!({}));
    let unsub = f
        .call(&t, &sid, "resources/unsubscribe", json!({"uri": COUNTER}))
        .await;
    assert_eq!(unsub["result"], json!({}));
    let no_uri = f.call(&t, &sid, "resources/subscribe", json!({})).await;
    assert_eq!(no_uri["error"]["code"], -32602);
    for name in ["increment", "toggle_tool"] {
        f.call(
            &t,
            &sid,
            "tools/call",
            json!({"name": name, "arguments": {}}),
        )
        .await;
    }
    let mut buf = String::new();
    read_stream_until(&mut stream, &mut buf, "list_changed").await;
    assert!(!buf.contains("resources/updated"), "{buf}");
    // listen does not exist in a session.
    let listen = f
        .call(
            &t,
            &sid,
            "subscriptions/listen",
            json!({"notifications": {"toolsListChanged": true}}),
        )
        .await;
    assert_eq!(listen["error"]["code"], -32601);
}

/// HTTP+SSE (2024-11-05) sessions hear of changes on their stream too (PR-35).
#[tokio::test]
async fn http_sse_session_gets_subscribed_updates_and_list_changed_on_its_stream_pr35() {
    let f = mcp_fixture_with(|_| {}).await;
    let t = f.token(ALL);
    let (mut stream, mut buf, messages) = f.open_http_sse(&t).await;
    let post = |id: u64, method: &str, params: Value| {
        let req = tests::mcp::McpRequest::post(&f.http, &messages).token(&t);
        let body = tests::mcp::jsonrpc::request(id, method, params);
        async move { req.json(&body).await.status() }
    };
    let init = json!({"protocolVersion": "2024-11-05", "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"}});
    assert_eq!(post(1, "initialize", init).await, 202);
    read_stream_until(&mut stream, &mut buf, "\"id\":1").await;
    assert_eq!(
        post(2, "resources/subscribe", json!({"uri": COUNTER})).await,
        202
    );
    read_stream_until(&mut stream, &mut buf, "\"id\":2").await;
    let call = json!({"name": "increment", "arguments": {}});
    assert_eq!(post(3, "tools/call", call).await, 202);
    read_stream_until(&mut stream, &mut buf, "notifications/resources/updated").await;
    let call = json!({"name": "toggle_tool", "arguments": {}});
    assert_eq!(post(4, "tools/call", call).await, 202);
    read_stream_until(&mut stream, &mut buf, "notifications/tools/list_changed").await;
}
