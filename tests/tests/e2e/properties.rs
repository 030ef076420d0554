//! Issue 11 item 16: property tests (proptest) of every parser that takes network input, with
//! a bounded number of cases (`PROPTEST_CASES` overrides the defaults below):
//!
//! - `WWW-Authenticate` challenges (the shared parser both the client and the MCP server use):
//!   no panic on any input; the server's builder round-trips through the parser;
//! - header-encoded values (`=?base64?…?=`, TR-19): whatever the client encodes, the MCP
//!   server decodes to the same name (no `HeaderMismatch`);
//! - JSON-RPC envelopes and ids: any body to the MCP endpoint gets a well-formed answer, never
//!   a 5xx or a hang, and the server keeps answering;
//! - JWT headers and segments: any bearer token that is not a valid one is a 401 with an
//!   RFC 6750 `invalid_token` challenge;
//! - form bodies with duplicate and odd encodings at the token endpoint: an RFC 6749 error,
//!   never a 5xx, always `no-store`;
//! - PRM / AS metadata documents: any JSON object deserialises or fails cleanly; valid
//!   documents round-trip.
//!
//! Each property runs real code over real loopback sockets where the parser sits behind one.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};
use shared::challenge::{BearerChallenge, parse_www_authenticate};
use shared::oauth::{AuthorizationServerMetadata, ErrorCode, ProtectedResourceMetadata};
use tests::mcp::{MODERN, jsonrpc};
use tests::mcp_fixture::{ALL, McpFixture, mcp_fixture};

/// `cases` unless `PROPTEST_CASES` says otherwise; no failure files in the source tree.
fn runner(cases: u32) -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(".{0,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[test]
fn www_authenticate_parser_never_panics_and_round_trips_the_builder() {
    let mut r = runner(512);
    r.run(&".{0,200}", |s| {
        let _ = parse_www_authenticate(&s);
        let _ = shared::challenge::first_bearer([s.as_str()]);
        Ok(())
    })
    .unwrap();
    // Quotes, backslashes, commas and `=` inside values survive building and parsing.
    let printable = "[ -~]{0,40}";
    r.run(
        &("[a-z_]{1,20}", printable, printable),
        |(code, desc, rm)| {
            let header = BearerChallenge::new(&rm).error(&code, &desc).build();
            let parsed = parse_www_authenticate(&header);
            prop_assert_eq!(parsed.len(), 1, "{}", header);
            prop_assert!(parsed[0].is_bearer());
            prop_assert_eq!(parsed[0].error(), Some(code.as_str()));
            prop_assert_eq!(parsed[0].param("error_description"), Some(desc.as_str()));
            prop_assert_eq!(parsed[0].resource_metadata(), Some(rm.as_str()));
            Ok(())
        },
    )
    .unwrap();
}

#[test]
fn metadata_documents_deserialise_or_fail_cleanly_and_round_trip() {
    let mut r = runner(256);
    r.run(&any_json(), |v| {
        let _ = serde_json::from_value::<ProtectedResourceMetadata>(v.clone());
        let _ = serde_json::from_value::<AuthorizationServerMetadata>(v);
        Ok(())
    })
    .unwrap();
    let url = "https://[a-z]{1,10}\\.example(/[a-z0-9._~-]{0,10}){0,2}";
    r.run(
        &(
            url,
            prop::collection::vec(url, 1..3),
            prop::collection::vec("[a-z:]{1,12}", 0..4),
        ),
        |(resource, servers, scopes)| {
            let doc = json!({
                "resource": resource,
                "authorization_servers": servers,
                "scopes_supported": scopes,
                "bearer_methods_supported": ["header"],
            });
            let prm: ProtectedResourceMetadata =
                serde_json::from_value(doc).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let again: ProtectedResourceMetadata =
                serde_json::from_value(serde_json::to_value(&prm).unwrap()).unwrap();
            prop_assert_eq!(prm, again);
            Ok(())
        },
    )
    .unwrap();
}

/// The status and the JSON body (if any) of a response.
async fn status_and_json(res: reqwest::Response) -> (u16, Option<Value>) {
    let status = res.status().as_u16();
    let bytes = res.bytes().await.expect("a complete body");
    (status, serde_json::from_slice(&bytes).ok())
}

/// An error body, if any, is a JSON-RPC error object with an integer code and a message.
fn well_formed_error(body: &Option<Value>) -> Result<(), TestCaseError> {
    if let Some(e) = body.as_ref().and_then(|b| b.get("error")) {
        prop_assert!(
            e["code"].is_i64(),
            "error without an integer code: {:?}",
            body
        );
        prop_assert!(
            e["message"].is_string(),
            "error without a message: {:?}",
            body
        );
    }
    Ok(())
}

#[test]
fn header_encoded_names_round_trip_through_the_server_decoder_tr19() {
    let rt = rt();
    let fx: McpFixture = rt.block_on(mcp_fixture());
    let token = fx.token(ALL);
    let mut r = runner(64);
    r.run(&".{1,24}", |name| {
        let (status, body) = rt.block_on(async {
            let params = json!({"name": name, "arguments": {}, "_meta": jsonrpc::modern_meta()});
            let res = fx
                .post(&token)
                .version(MODERN)
                .header("mcp-method", "tools/call")
                .header("mcp-name", &http_oauth2_client::mcp::header_value(&name))
                .json(&jsonrpc::request(1, "tools/call", params))
                .await;
            status_and_json(res).await
        });
        let code = body.as_ref().and_then(|b| b["error"]["code"].as_i64());
        prop_assert_ne!(
            code,
            Some(-32020),
            "HeaderMismatch for {:?}: {:?}",
            name,
            body
        );
        // An unknown tool is -32602, which is HTTP 400 in the 2026-07-28 era (PR-24); a name
        // that happens to be one of ours is answered.
        let known = body.as_ref().is_some_and(|b| b["result"].is_object());
        let expected = if known {
            (None, 200)
        } else {
            (Some(-32602), 400)
        };
        prop_assert_eq!((code, status), expected, "{:?}: {:?}", name, body);
        well_formed_error(&body)
    })
    .unwrap();
}

/// A body for the MCP endpoint: raw text, any JSON, or a JSON-RPC-shaped object with odd ids,
/// methods and params.
fn envelope() -> impl Strategy<Value = String> {
    let id = prop_oneof![
        Just(None),
        any_json().prop_map(Some),
        any::<u64>().prop_map(|n| Some(Value::from(n))),
    ];
    let method = prop_oneof![
        Just("tools/call".to_owned()),
        Just("tools/list".to_owned()),
        Just("initialize".to_owned()),
        Just("notifications/cancelled".to_owned()),
        ".{0,16}",
    ];
    let shaped = (id, method, any_json(), any::<bool>()).prop_map(|(id, m, params, v2)| {
        let mut o = json!({"method": m, "params": params});
        if v2 {
            o["jsonrpc"] = json!("2.0");
        }
        if let Some(id) = id {
            o["id"] = id;
        }
        o.to_string()
    });
    prop_oneof![
        ".{0,64}",
        any_json().prop_map(|v| v.to_string()),
        prop::collection::vec(any_json(), 0..3).prop_map(|v| Value::from(v).to_string()),
        shaped,
    ]
}

/// Sends with a deadline: a hang is a failure, not a stuck test.
async fn within_5s(
    req: impl std::future::Future<Output = reqwest::Response>,
) -> Result<(u16, Option<Value>), TestCaseError> {
    match tokio::time::timeout(std::time::Duration::from_secs(5), async {
        status_and_json(req.await).await
    })
    .await
    {
        Ok(r) => Ok(r),
        Err(_) => Err(TestCaseError::fail("no answer within 5 s")),
    }
}

#[test]
fn jsonrpc_envelopes_and_ids_never_crash_or_hang_the_server_pr01() {
    let rt = rt();
    let (fx, token, sid) = rt.block_on(tests::mcp_fixture::mcp_session());
    let mut r = runner(128);
    r.run(&envelope(), |body| {
        // The stateless path (its header rules run after the envelope parse) and the
        // session path (no header rules: the envelope reaches dispatch).
        for (era, answer) in rt.block_on(async {
            let stateless = within_5s(
                fx.post(&token)
                    .version(MODERN)
                    .header("mcp-method", "tools/call")
                    .body(body.clone()),
            )
            .await;
            let session = within_5s(fx.in_session(&token, &sid).body(body.clone())).await;
            [("stateless", stateless), ("session", session)]
        }) {
            let (status, json) = answer?;
            prop_assert!(
                matches!(status, 200 | 202 | 400 | 404 | 405 | 406 | 413 | 415),
                "{} status {} for {:?}: {:?}",
                era,
                status,
                body,
                json
            );
            well_formed_error(&json)?;
        }
        Ok(())
    })
    .unwrap();
    // Still answering afterwards.
    let ok = rt.block_on(async {
        fx.modern(&token, "tools/list", json!({}))
            .send()
            .await
            .status()
    });
    assert_eq!(ok, 200);
}

/// A bearer token: three base64url segments of random bytes, or a JSON header with odd
/// `alg`/`kid`/`typ` over a random payload and signature, or an arbitrary token68 string.
fn bad_token() -> impl Strategy<Value = String> {
    use base64::Engine as _;
    let b64 = |b: Vec<u8>| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let seg = prop::collection::vec(any::<u8>(), 0..48).prop_map(b64);
    let header = (
        prop_oneof![
            Just("none"),
            Just("HS256"),
            Just("ES256"),
            Just("RS256"),
            Just("EdDSA")
        ],
        ".{0,12}",
        prop_oneof![Just("at+jwt"), Just("JWT"), Just("")],
    )
        .prop_map(move |(alg, kid, typ)| {
            b64(json!({"alg": alg, "kid": kid, "typ": typ})
                .to_string()
                .into_bytes())
        });
    prop_oneof![
        (seg.clone(), seg.clone(), seg.clone()).prop_map(|(a, b, c)| format!("{a}.{b}.{c}")),
        (header, seg.clone(), seg).prop_map(|(h, b, c)| format!("{h}.{b}.{c}")),
        "[A-Za-z0-9._~+/-]{1,80}=*",
    ]
}

#[test]
fn jwt_headers_and_segments_that_do_not_verify_get_an_invalid_token_challenge_rs06() {
    let rt = rt();
    let fx: McpFixture = rt.block_on(mcp_fixture());
    let mut r = runner(128);
    r.run(&bad_token(), |token| {
        let (status, challenge) = rt.block_on(async {
            let res = fx.modern(&token, "tools/list", json!({})).send().await;
            let status = res.status().as_u16();
            let challenge = res
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            (status, challenge)
        });
        prop_assert_eq!(status, 401, "{}", token);
        let challenge = challenge.unwrap_or_default();
        let parsed = shared::challenge::first_bearer([challenge.as_str()]);
        prop_assert_eq!(
            parsed.as_ref().and_then(|c| c.error()),
            Some("invalid_token"),
            "{}",
            challenge
        );
        Ok(())
    })
    .unwrap();
}

/// A form body for `/token`: pairs from the token-endpoint vocabulary (repeated, empty,
/// percent- and plus-encoded), or any text.
fn form_body() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("grant_type"),
        Just("code"),
        Just("code_verifier"),
        Just("client_id"),
        Just("client_secret"),
        Just("redirect_uri"),
        Just("refresh_token"),
        Just("scope"),
        Just("resource"),
    ];
    let value = prop_oneof![
        Just("authorization_code".to_owned()),
        Just("refresh_token".to_owned()),
        Just("client_credentials".to_owned()),
        Just("mcp-cli".to_owned()),
        "[ -~]{0,20}",
        "(%[0-9A-Fa-f]{0,2}|\\+|[a-z]){0,12}",
    ];
    prop_oneof![
        prop::collection::vec((key, value), 0..8).prop_map(|pairs| {
            pairs
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&")
        }),
        ".{0,80}",
    ]
}

#[test]
fn token_endpoint_form_bodies_get_rfc6749_errors_never_5xx_as11() {
    let rt = rt();
    // The rate limit (429) is a different answer to the same input; it is tested elsewhere.
    let server = rt.block_on(tests::auth_server(|c| c.rate_limits.token_per_minute = 0));
    let url = format!("{}/token", server.issuer());
    let http = tests::http();
    let mut r = runner(128);
    r.run(&form_body(), |body| {
        let (status, no_store, json) = rt.block_on(async {
            let res = http
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body.clone())
                .send()
                .await
                .expect("token endpoint answers");
            let no_store = res
                .headers()
                .get("cache-control")
                .is_some_and(|v| v.as_bytes() == b"no-store");
            let (status, json) = status_and_json(res).await;
            (status, no_store, json)
        });
        prop_assert!(
            matches!(status, 400 | 401),
            "status {} for {:?}",
            status,
            body
        );
        prop_assert!(no_store, "no Cache-Control: no-store for {:?}", body);
        // An RFC 6749 code this project knows (not an extension, not a missing member).
        let code = json
            .as_ref()
            .and_then(|j| j["error"].as_str())
            .unwrap_or("");
        prop_assert!(
            !matches!(ErrorCode::parse(code), ErrorCode::Extension(_)),
            "error {:?} for {:?}",
            json,
            body
        );
        Ok(())
    })
    .unwrap();
}
