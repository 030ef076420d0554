//! The client's side of 2026-07-28 against a small fixture server that records what it gets:
//! version negotiation (TR-24, PR-20), cache hints (PR-29) and tool schemas as data (a network
//! `$ref` is never fetched; 2020-12 keywords pass unchanged). Cache hints are also checked
//! against our server, where `list_changed` drops the cached list.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use http_oauth2_client::{
    McpClient, ResponseCache, ServerEvent, SubscriptionFilter, TransportKind, TransportPreference,
};
use reqwest_middleware::ClientWithMiddleware;
use serde_json::{Value, json};
use tests::Stack;

const PV: &str = "io.modelcontextprotocol/protocolVersion";
const CAPS: &str = "io.modelcontextprotocol/clientCapabilities";
const INFO: &str = "io.modelcontextprotocol/clientInfo";

#[derive(Default)]
struct Fx {
    /// Answer every request carrying a 2026-07-28 `_meta` with UnsupportedProtocolVersion.
    reject_modern: bool,
    /// Cache hints on discover and the lists: (ttlMs, cacheScope).
    hints: Option<(u64, &'static str)>,
    /// The tool list's input schema.
    schema: Value,
    seen: Mutex<Vec<Value>>,
}

impl Fx {
    fn count(&self, method: &str) -> usize {
        let seen = self.seen.lock().unwrap();
        seen.iter().filter(|m| m["method"] == method).count()
    }
}

async fn handle(State(fx): State<Arc<Fx>>, Json(body): Json<Value>) -> Response {
    fx.seen.lock().unwrap().push(body.clone());
    let id = body["id"].clone();
    let Some(method) = body["method"].as_str() else {
        return axum::http::StatusCode::ACCEPTED.into_response();
    };
    if id.is_null() {
        return axum::http::StatusCode::ACCEPTED.into_response();
    }
    let version = body["params"]["_meta"][PV].as_str();
    if fx.reject_modern && version.is_some() {
        let e = json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32022,
            "message": "Unsupported protocol version",
            "data": {"supported": ["1999-01-01", "2025-06-18", "2024-11-05"], "requested": version}}});
        return (axum::http::StatusCode::BAD_REQUEST, Json(e)).into_response();
    }
    let hinted = |mut v: Value| {
        if let Some((ttl, scope)) = fx.hints {
            v["ttlMs"] = json!(ttl);
            v["cacheScope"] = json!(scope);
        }
        v["resultType"] = json!("complete");
        v
    };
    let result = match method {
        "initialize" => {
            let r = json!({"protocolVersion": body["params"]["protocolVersion"],
                "capabilities": {"tools": {}}, "serverInfo": {"name": "fx", "version": "1"}});
            let mut resp = Json(json!({"jsonrpc": "2.0", "id": id, "result": r})).into_response();
            resp.headers_mut().insert(
                "mcp-session-id",
                axum::http::HeaderValue::from_static("fx-1"),
            );
            return resp;
        }
        "server/discover" => hinted(json!({"supportedVersions": ["2026-07-28"],
            "capabilities": {"tools": {}}})),
        "tools/list" => hinted(json!({"tools": [{"name": "typed", "inputSchema": fx.schema}]})),
        // Hints on a call result are ignored: calls are never cached.
        "tools/call" => json!({"content": [{"type": "text", "text": "ok"}],
            "ttlMs": 60000, "cacheScope": "public", "resultType": "complete"}),
        _ => json!({}),
    };
    Json(json!({"jsonrpc": "2.0", "id": id, "result": result})).into_response()
}

/// Serves `fx` on loopback; returns its MCP URL.
async fn serve(fx: Arc<Fx>) -> url::Url {
    let listener = tests::loopback_listener().await;
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route("/mcp", axum::routing::post(handle))
        .with_state(fx);
    tokio::spawn(async move { axum::serve(listener, app).await });
    url::Url::parse(&format!("http://{addr}/mcp")).unwrap()
}

fn http() -> ClientWithMiddleware {
    reqwest::Client::new().into()
}

fn has_meta(m: &Value) -> bool {
    let meta = &m["params"]["_meta"];
    meta[PV] == "2026-07-28" && meta[CAPS].is_object() && meta[INFO]["name"].is_string()
}

#[tokio::test]
async fn unsupported_version_makes_the_client_retry_with_a_supported_version_tr24_pr20() {
    let fx = Arc::new(Fx {
        reject_modern: true,
        ..Fx::default()
    });
    let url = serve(fx.clone()).await;
    let mcp = McpClient::connect(http(), url).await.expect("connects");
    assert_eq!(mcp.transport_kind(), TransportKind::Session);
    assert_eq!(mcp.protocol_version(), "2025-06-18");
    let seen = fx.seen.lock().unwrap().clone();
    // The first request is a real one with the full `_meta`, not a bare ping.
    assert_eq!(seen[0]["method"], "server/discover", "{seen:?}");
    assert!(has_meta(&seen[0]), "{}", seen[0]);
    // Then initialize, offering the newest version of `supported` this client speaks.
    let init = seen.iter().find(|m| m["method"] == "initialize").unwrap();
    assert_eq!(init["params"]["protocolVersion"], "2025-06-18");
}

#[tokio::test]
async fn every_modern_request_carries_version_capabilities_and_client_info_pr20() {
    let fx = Arc::new(Fx::default());
    let url = serve(fx.clone()).await;
    let mcp = McpClient::connect(http(), url).await.unwrap();
    assert_eq!(mcp.transport_kind(), TransportKind::Stateless);
    mcp.list_tools().await.unwrap();
    mcp.call_tool("typed", json!({}), None).await.unwrap();
    mcp.ping().await.unwrap();
    let seen = fx.seen.lock().unwrap().clone();
    assert!(seen.len() >= 4, "{seen:?}");
    for m in &seen {
        assert!(has_meta(m), "{m}");
        assert_ne!(m["method"], "ping");
    }
}

#[tokio::test]
async fn tool_schemas_are_data_a_network_ref_is_never_fetched_and_keywords_pass_unchanged() {
    // A listener that counts every connection: the `$ref` target.
    let refs = tests::loopback_listener().await;
    let ref_addr = refs.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = refs.accept().await {
            h.fetch_add(1, Ordering::SeqCst);
            drop(s);
        }
    });
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": format!("http://{ref_addr}/root.json"),
        "type": "object",
        "properties": {
            "remote": {"$ref": format!("http://{ref_addr}/schema.json")},
            "local": {"$ref": "#/$defs/pos"},
            "pair": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": false},
            "dyn": {"$dynamicRef": "#node"},
        },
        "$defs": {"pos": {"type": "integer", "exclusiveMinimum": 0}},
        "dependentSchemas": {"pair": {"required": ["local"]}},
        "unevaluatedProperties": false,
    });
    let fx = Arc::new(Fx {
        schema: schema.clone(),
        ..Fx::default()
    });
    let url = serve(fx).await;
    let mcp = McpClient::connect(http(), url).await.unwrap();
    let tools = mcp.list_tools().await.unwrap();
    assert_eq!(tools.len(), 1);
    assert_eq!(
        tools[0]["inputSchema"], schema,
        "the schema round-trips unchanged"
    );
    let r = mcp
        .call_tool("typed", json!({"remote": 1, "local": 2}), None)
        .await
        .unwrap();
    assert_eq!(r["content"][0]["text"], "ok");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "no network $ref was fetched"
    );
}

async fn list_counts(hints: Option<(u64, &'static str)>) -> (usize, usize, usize, usize) {
    let fx = Arc::new(Fx {
        hints,
        ..Fx::default()
    });
    let url = serve(fx.clone()).await;
    let shared = Arc::new(ResponseCache::new());
    let a = McpClient::connect(http(), url.clone())
        .await
        .unwrap()
        .with_shared_cache(shared.clone());
    a.list_tools().await.unwrap();
    a.list_tools().await.unwrap();
    let after_a = fx.count("tools/list");
    a.call_tool("typed", json!({}), None).await.unwrap();
    a.call_tool("typed", json!({}), None).await.unwrap();
    let b = McpClient::connect(http(), url)
        .await
        .unwrap()
        .with_shared_cache(shared);
    b.list_tools().await.unwrap();
    (
        after_a,
        fx.count("tools/list"),
        fx.count("tools/call"),
        fx.count("server/discover"),
    )
}

#[tokio::test]
async fn cache_hints_are_honoured_for_lists_per_scope_and_never_for_calls_pr29() {
    // Public: reused by this client and, through the shared cache, by another one.
    assert_eq!(list_counts(Some((60_000, "public"))).await, (1, 1, 2, 2));
    // Private: reused by this client only.
    assert_eq!(list_counts(Some((60_000, "private"))).await, (1, 2, 2, 2));
    // No hints, or ttlMs 0: never reused.
    assert_eq!(list_counts(None).await, (2, 3, 2, 2));
    assert_eq!(list_counts(Some((0, "public"))).await, (2, 3, 2, 2));
}

#[tokio::test]
async fn our_servers_list_ttl_is_honoured_until_list_changed_invalidates_it_pr29() {
    tests::init_tracing();
    let stack = Stack::builder()
        .unprotected_mcp()
        .mcp_config(|c| c.limits.cache_ttl_ms = 60_000)
        .start()
        .await
        .unwrap();
    let url = url::Url::parse(stack.mcp_url()).unwrap();
    let mcp = McpClient::connect_with(
        http(),
        url,
        Duration::from_secs(30),
        TransportPreference::Auto,
    )
    .await
    .unwrap();
    let mut sub = mcp
        .subscribe(SubscriptionFilter::new().tools_list_changed())
        .await
        .unwrap();
    let names = |tools: Vec<Value>| -> Vec<String> {
        tools
            .iter()
            .filter_map(|t| t["name"].as_str().map(str::to_owned))
            .collect()
    };
    let first = names(mcp.list_tools().await.unwrap());
    assert!(!first.contains(&"optional_tool".to_owned()));
    mcp.call_tool("toggle_tool", json!({}), None).await.unwrap();
    // Still within ttlMs and the event not yet seen: the cached list.
    assert_eq!(names(mcp.list_tools().await.unwrap()), first);
    let e = tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(e, ServerEvent::ToolsListChanged);
    // The event dropped the cached list: the new one has the optional tool.
    let now = names(mcp.list_tools().await.unwrap());
    assert!(now.contains(&"optional_tool".to_owned()), "{now:?}");
}
