//! Long-lived streams end when the access token that opened them expires (RS-11, RS-12: a token is
//! honoured until `exp` only): the 2026-07-28 `subscriptions/listen` stream, a 2025-11-25
//! session's GET stream and the 2024-11-05 HTTP+SSE stream. The client reconnects with a fresh
//! token (the session GET stream resumes with `Last-Event-ID`, TR-36).

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;
use tests::mcp::{LEGACY, McpRequest};
use tests::mcp_fixture::{ALL, McpFixture, mcp_fixture_with};
use tests::mock_as::now;

/// A token valid for two more seconds.
fn short_token(f: &McpFixture) -> String {
    f.token_with(ALL, |c| c["exp"] = json!(now() + 2))
}

/// Reads `stream` to its end; panics when it is still open after 15 s.
async fn ends(stream: reqwest::Response, what: &str) {
    let mut body = stream.bytes_stream();
    let drained = tokio::time::timeout(Duration::from_secs(15), async {
        while let Some(chunk) = body.next().await {
            if chunk.is_err() {
                break;
            }
        }
    })
    .await;
    assert!(drained.is_ok(), "{what} outlived its token");
}

#[tokio::test]
async fn rs11_rs12_streams_end_when_their_token_expires() {
    let f = mcp_fixture_with(|_| {}).await;
    let t = short_token(&f);
    let listen = f
        .modern(
            &t,
            "subscriptions/listen",
            json!({"notifications": {"toolsListChanged": true}}),
        )
        .send()
        .await;
    assert_eq!(listen.status(), 200);
    let sid = f.session(&t, LEGACY).await;
    let get = McpRequest::get_stream(&f.http, &f.url)
        .token(&t)
        .session(&sid)
        .version(LEGACY)
        .send()
        .await;
    assert_eq!(get.status(), 200);
    let (sse, _, _) = f.open_http_sse(&t).await;
    let started = std::time::Instant::now();
    tokio::join!(
        ends(listen, "the listen stream"),
        ends(get, "the session GET stream"),
        ends(sse, "the HTTP+SSE stream"),
    );
    assert!(started.elapsed() < Duration::from_secs(15));
}
