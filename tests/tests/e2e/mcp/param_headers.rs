//! Custom headers from tool parameters on the server (2026-07-28, TR-21, TR-19, TR-20): the
//! `regional_status` tool annotates parameters with `x-mcp-header`; the server checks every
//! `Mcp-Param-*` header against the arguments and answers a missing, extra or different one
//! with 400 and -32020.

use serde_json::{Value, json};
use tests::mcp::LEGACY;
use tests::mcp_fixture::{ALL, mcp_fixture};

#[tokio::test]
async fn tr21_tr19_param_headers_are_checked_against_the_arguments() {
    let s = mcp_fixture().await;
    let t = s.token(ALL);
    let list: Value = s.modern(&t, "tools/list", json!({})).json().await;
    let tool = list["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "regional_status")
        .unwrap()
        .clone();
    let props = &tool["inputSchema"]["properties"];
    assert_eq!(props["region"]["x-mcp-header"], "Region");
    assert_eq!(props["priority"]["x-mcp-header"], "Priority");
    assert_eq!(props["dry_run"]["x-mcp-header"], "Dry-Run");
    let args = json!({"region": "zürich", "priority": 2, "dry_run": false, "note": "n"});
    let params = json!({"name": "regional_status", "arguments": args});
    let send = |pairs: &[(&str, &str)]| {
        let mut r = s.modern(&t, "tools/call", params.clone());
        for (k, v) in pairs {
            r = r.header(k, v);
        }
        r.send()
    };
    // "zürich" is not ASCII: base64 sentinel (TR-19); header names are case-insensitive.
    let good = [
        ("Mcp-Param-Region", "=?base64?esO8cmljaA==?="),
        ("mcp-param-priority", "2"),
        ("MCP-PARAM-DRY-RUN", "false"),
    ];
    let r = send(&good).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["result"]["content"][0]["text"],
        "region zürich: operational (priority 2, dry run false)"
    );
    let refused = |pairs: Vec<(&'static str, &'static str)>| {
        let f = send(&pairs);
        async move {
            let r = f.await;
            assert_eq!(r.status(), 400, "{pairs:?}");
            let v: Value = r.json().await.unwrap();
            assert_eq!(v["error"]["code"], -32020, "{pairs:?}: {v}");
            assert_eq!(v["id"], 1);
        }
    };
    // Missing, different, not decoded, duplicated.
    refused(good[1..].to_vec()).await;
    refused(vec![good[0], ("mcp-param-priority", "3"), good[2]]).await;
    refused(vec![("mcp-param-region", "zürich"), good[1], good[2]]).await;
    refused(vec![good[0], good[1], good[2], ("mcp-param-priority", "2")]).await;
    // A header for an argument the body does not carry.
    let r = s
        .modern(
            &t,
            "tools/call",
            json!({"name": "regional_status", "arguments": {"region": "x"}}),
        )
        .header("mcp-param-region", "x")
        .header("mcp-param-priority", "1")
        .send()
        .await;
    assert_eq!(r.status(), 400);
    // Integers compare numerically (TR-20).
    let r = s
        .modern(
            &t,
            "tools/call",
            json!({"name": "regional_status", "arguments": {"region": "x", "priority": 7}}),
        )
        .header("mcp-param-region", "x")
        .header("mcp-param-priority", "7.0")
        .send()
        .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn tr21_tools_without_annotations_and_legacy_sessions_need_no_param_headers() {
    let s = mcp_fixture().await;
    let t = s.token(ALL);
    let r = s
        .modern(
            &t,
            "tools/call",
            json!({"name": "echo", "arguments": {"message": "hi"}}),
        )
        .header("mcp-param-region", "ignored")
        .send()
        .await;
    assert_eq!(r.status(), 200);
    let sid = s.session(&t, LEGACY).await;
    let r = s
        .call(
            &t,
            &sid,
            "tools/call",
            json!({"name": "regional_status", "arguments": {"region": "x"}}),
        )
        .await;
    assert_eq!(r["result"]["isError"], Value::Null, "{r}");
    assert_eq!(
        r["result"]["content"][0]["text"],
        "region x: operational (priority 0, dry run false)"
    );
}
