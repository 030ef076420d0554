//! Multi round-trip requests and `Mcp-Param-*` headers through the client library
//! (`McpClient` + an `InputHandler`), against the real servers with auth on (OAuth session)
//! and off (`unprotected_mcp`), and against a scripted server that checks the wire: the
//! state echoed byte for byte, a new JSON-RPC id per round (PR-26, PR-23, TR-21).

use std::sync::{Arc, Mutex};

use http_oauth2_client::mcp::{ElicitResponse, InputCapabilities, InputHandler, Root, async_trait};
use http_oauth2_client::{ClientError, McpClient, TransportKind};
use serde_json::{Map, Value, json};
use tests::{Stack, oauth_session};

/// Answers everything: confirms, answers a survey question with its own message, samples a
/// fixed text, lists one root.
struct Everything;

#[async_trait]
impl InputHandler for Everything {
    fn capabilities(&self) -> InputCapabilities {
        InputCapabilities::default()
            .with_elicitation()
            .with_sampling()
            .with_roots()
    }
    async fn elicit(&self, params: &Value) -> ElicitResponse {
        let mut content = Map::new();
        let props = &params["requestedSchema"]["properties"];
        if props.get("confirm").is_some() {
            content.insert("confirm".into(), json!(true));
        } else {
            content.insert("answer".into(), params["message"].clone());
        }
        ElicitResponse::Accept(content)
    }
    async fn sample(&self, _params: &Value) -> Option<Value> {
        Some(
            json!({"role": "assistant", "model": "test", "content": {"type": "text", "text": "short"}}),
        )
    }
    async fn roots(&self) -> Option<Vec<Root>> {
        Some(vec![Root {
            uri: "file:///work".into(),
            name: Some("work".into()),
        }])
    }
}

fn text(v: &Value) -> &str {
    v["content"][0]["text"].as_str().unwrap_or_default()
}

async fn open_client(
    stack: &Stack,
    protected: bool,
) -> (McpClient, Option<http_oauth2_client::OAuthSession>) {
    let url = url::Url::parse(stack.mcp_url()).unwrap();
    let (http, session) = if protected {
        let s = oauth_session(stack).await;
        (s.client(), Some(s))
    } else {
        (
            reqwest_middleware::ClientBuilder::new(reqwest::Client::new()).build(),
            None,
        )
    };
    let mcp = McpClient::connect(http, url).await.unwrap();
    assert_eq!(mcp.transport_kind(), TransportKind::Stateless);
    (mcp, session)
}

async fn every_kind_of_input(mcp: McpClient) {
    let mcp = Arc::new(mcp.with_input_handler(Arc::new(Everything)));
    let r = mcp
        .call_tool("confirm_action", json!({"action": "deploy"}), None)
        .await
        .unwrap();
    assert_eq!(text(&r), "confirmed: deploy");
    let r = mcp
        .call_tool("summarize", json!({"text": "long"}), None)
        .await
        .unwrap();
    assert_eq!(text(&r), "summary: short");
    let r = mcp
        .call_tool("client_roots", json!({}), None)
        .await
        .unwrap();
    assert_eq!(r["structuredContent"]["roots"], json!(["file:///work"]));
    // Parallel calls keep their own rounds: a mixed-up state would be refused (the state is
    // bound to its arguments) or carry the other call's answers.
    let (a, b, c, d) = tokio::join!(
        mcp.call_tool("survey", json!({"questions": 2}), None),
        mcp.call_tool("survey", json!({"questions": 3}), None),
        mcp.call_tool("confirm_action", json!({"action": "a"}), None),
        mcp.call_tool("confirm_action", json!({"action": "b"}), None),
    );
    assert_eq!(
        a.unwrap()["structuredContent"]["answers"],
        json!(["Question 1 of 2", "Question 2 of 2"])
    );
    assert_eq!(
        b.unwrap()["structuredContent"]["answers"],
        json!(["Question 1 of 3", "Question 2 of 3", "Question 3 of 3"])
    );
    assert_eq!(text(&c.unwrap()), "confirmed: a");
    assert_eq!(text(&d.unwrap()), "confirmed: b");
}

#[tokio::test]
async fn pr26_the_client_answers_every_input_kind_with_auth_on() {
    let stack = Stack::start().await.unwrap();
    let (mcp, _session) = open_client(&stack, true).await;
    every_kind_of_input(mcp).await;
}

#[tokio::test]
async fn pr26_the_client_answers_every_input_kind_with_auth_off() {
    let stack = Stack::builder().unprotected_mcp().start().await.unwrap();
    let (mcp, _) = open_client(&stack, false).await;
    every_kind_of_input(mcp).await;
}

#[tokio::test]
async fn pr26_without_a_handler_elicitation_is_declined_and_other_kinds_end_the_call() {
    let stack = Stack::builder().unprotected_mcp().start().await.unwrap();
    let (mcp, _) = open_client(&stack, false).await;
    // Nothing declared: a conforming server refuses with -32021 instead of asking.
    let e = mcp
        .call_tool("confirm_action", json!({"action": "x"}), None)
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::Mcp { code: -32021, .. }), "{e:?}");
    // A handler that only declares elicitation and implements nothing: declined.
    struct FormsOnly;
    #[async_trait]
    impl InputHandler for FormsOnly {
        fn capabilities(&self) -> InputCapabilities {
            InputCapabilities::default().with_elicitation()
        }
    }
    let mcp = mcp.with_input_handler(Arc::new(FormsOnly));
    let r = mcp
        .call_tool("confirm_action", json!({"action": "x"}), None)
        .await
        .unwrap();
    assert_eq!(text(&r), "not confirmed: x");
    let r = mcp.call_tool("survey", json!({}), None).await.unwrap();
    assert_eq!(text(&r), "survey ended by the user after 0 answer(s)");
}

#[tokio::test]
async fn pr26_rounds_are_capped_with_a_typed_error() {
    let stack = Stack::builder().unprotected_mcp().start().await.unwrap();
    let (mcp, _) = open_client(&stack, false).await;
    let mcp = mcp
        .with_input_handler(Arc::new(Everything))
        .with_max_input_rounds(2);
    let e = mcp
        .call_tool("survey", json!({"questions": 3}), None)
        .await
        .unwrap_err();
    assert!(
        matches!(e, ClientError::InputRoundsExceeded { max_rounds: 2 }),
        "{e:?}"
    );
    let r = mcp
        .call_tool("survey", json!({"questions": 2}), None)
        .await
        .unwrap();
    assert_eq!(
        r["structuredContent"]["answers"].as_array().unwrap().len(),
        2
    );
}

#[tokio::test]
async fn tr21_the_client_mirrors_annotated_arguments_and_relists_after_32020() {
    for protected in [true, false] {
        let stack = if protected {
            Stack::start().await.unwrap()
        } else {
            Stack::builder().unprotected_mcp().start().await.unwrap()
        };
        let (mcp, _session) = open_client(&stack, protected).await;
        // No tools/list yet: the first call carries no Mcp-Param headers, the server answers
        // -32020, the client lists the tools and retries once with the headers.
        let args = json!({"region": "zürich ", "priority": 5, "dry_run": null});
        let r = mcp
            .call_tool("regional_status", args.clone(), None)
            .await
            .unwrap();
        assert_eq!(
            text(&r),
            "region zürich : operational (priority 5, dry run false)"
        );
        // Listed now: direct.
        let r = mcp
            .call_tool(
                "regional_status",
                json!({"region": "=?base64?x?=", "dry_run": true}),
                None,
            )
            .await
            .unwrap();
        assert_eq!(
            text(&r),
            "region =?base64?x?=: operational (priority 0, dry run true)"
        );
    }
}

/// A scripted 2026-07-28 server: any request without `requestState` asks for a confirmation
/// with an odd-looking state; with it, answers with what it saw. Records (id, params).
async fn scripted() -> (String, Arc<Mutex<Vec<(Value, Value)>>>) {
    use axum::routing::post;
    let seen: Arc<Mutex<Vec<(Value, Value)>>> = Arc::default();
    let s2 = seen.clone();
    let app = axum::Router::new().route(
        "/mcp",
        post(move |body: axum::Json<Value>| {
            let seen = s2.clone();
            async move {
                let (id, method, params) = (body["id"].clone(), body["method"].clone(), body["params"].clone());
                let result = match method.as_str() {
                    Some("server/discover") => json!({"supportedVersions": ["2026-07-28"], "capabilities": {}, "resultType": "complete"}),
                    _ => {
                        seen.lock().unwrap().push((id.clone(), params.clone()));
                        match params.get("requestState") {
                            None => json!({"resultType": "input_required",
                                "inputRequests": {"ok": {"method": "elicitation/create", "params": {"message": "ok?", "requestedSchema": {"type": "object", "properties": {"confirm": {"type": "boolean"}}}}}},
                                "requestState": " opaque ✓ {\"a\":1} "}),
                            Some(s) => json!({"resultType": "complete", "content": [{"type": "text", "text": s}], "echo": params["inputResponses"]}),
                        }
                    }
                };
                axum::Json(json!({"jsonrpc": "2.0", "id": id, "result": result}))
            }
        }),
    );
    let listener = tests::loopback_listener().await;
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

#[tokio::test]
async fn pr26_the_state_is_echoed_unchanged_under_a_new_id_per_round() {
    let (url, seen) = scripted().await;
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new()).build();
    let mcp = McpClient::connect(http, url::Url::parse(&url).unwrap())
        .await
        .unwrap()
        .with_input_handler(Arc::new(Everything));
    let r = mcp.call_tool("t", json!({"k": 1}), None).await.unwrap();
    assert_eq!(text(&r), " opaque ✓ {\"a\":1} ");
    assert_eq!(
        r["echo"],
        json!({"ok": {"action": "accept", "content": {"confirm": true}}})
    );
    // prompts/get and resources/read run the same rounds.
    let r = mcp.get_prompt("p", None).await.unwrap();
    assert_eq!(text(&r), " opaque ✓ {\"a\":1} ");
    let r = mcp.read_resource("file:///x").await.unwrap();
    assert_eq!(text(&r), " opaque ✓ {\"a\":1} ");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 6);
    assert_eq!(seen[3].1["name"], "p");
    assert_eq!(seen[5].1["uri"], "file:///x");
    assert_ne!(seen[0].0, seen[1].0, "a new JSON-RPC id per round");
    assert_eq!(seen[1].1["arguments"], json!({"k": 1}));
    assert_eq!(seen[1].1["name"], "t");
    assert_eq!(
        seen[1].1["_meta"]["io.modelcontextprotocol/clientCapabilities"],
        json!({"elicitation": {}, "sampling": {}, "roots": {}})
    );
}

/// A scripted 2026-07-28 server whose tool `t` renames its `x-mcp-header` from `Old` to `New`
/// after the first `tools/list`, with a cacheable list (`ttlMs`): a call must carry
/// `Mcp-Param-New`, else 400 / -32020. Counts the `tools/list` requests.
async fn renaming() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use axum::routing::post;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let lists = Arc::new(AtomicUsize::new(0));
    let l2 = lists.clone();
    let app = axum::Router::new().route(
        "/mcp",
        post(move |headers: axum::http::HeaderMap, body: axum::Json<Value>| {
            let lists = l2.clone();
            async move {
                let id = body["id"].clone();
                let ok = |result: Value| {
                    (
                        axum::http::StatusCode::OK,
                        axum::Json(json!({"jsonrpc": "2.0", "id": id, "result": result})),
                    )
                };
                match body["method"].as_str() {
                    Some("server/discover") => ok(json!({"supportedVersions": ["2026-07-28"], "capabilities": {}, "resultType": "complete"})),
                    Some("tools/list") => {
                        let n = lists.fetch_add(1, Ordering::SeqCst);
                        let token = if n == 0 { "Old" } else { "New" };
                        ok(json!({"tools": [{"name": "t", "inputSchema": {"type": "object",
                            "properties": {"x": {"type": "string", "x-mcp-header": token}}}}],
                            "resultType": "complete", "ttlMs": 60000, "cacheScope": "private"}))
                    }
                    _ if headers.get("mcp-param-new").is_some_and(|v| v == "v") => {
                        ok(json!({"content": [{"type": "text", "text": "ok"}], "resultType": "complete"}))
                    }
                    _ => (
                        axum::http::StatusCode::BAD_REQUEST,
                        axum::Json(json!({"jsonrpc": "2.0", "id": id,
                            "error": {"code": -32020, "message": "Mcp-Param-New header is missing"}})),
                    ),
                }
            }
        }),
    );
    let listener = tests::loopback_listener().await;
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, lists)
}

#[tokio::test]
async fn tr21_after_32020_the_tools_are_listed_again_past_the_cache_and_the_call_retried_once() {
    let (url, lists) = renaming().await;
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new()).build();
    let mcp = McpClient::connect(http, url::Url::parse(&url).unwrap())
        .await
        .unwrap();
    mcp.list_tools().await.unwrap();
    // Cached (ttlMs): a second list does not reach the server.
    mcp.list_tools().await.unwrap();
    assert_eq!(lists.load(std::sync::atomic::Ordering::SeqCst), 1);
    let r = mcp.call_tool("t", json!({"x": "v"}), None).await.unwrap();
    assert_eq!(text(&r), "ok");
    assert_eq!(lists.load(std::sync::atomic::Ordering::SeqCst), 2);
}
