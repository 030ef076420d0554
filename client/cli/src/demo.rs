//! The `demo` subcommand: starts the authorization server and the MCP server in-process on
//! ephemeral loopback ports, then runs the whole flow step by step with timings: discovery,
//! dynamic registration, PKCE login (auto-approved), MCP calls in the negotiated protocol
//! era, a forced refresh with rotation, and a call with the refreshed token.
//!
//! The servers come from the `devstack` crate; the client library itself never depends on
//! either server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::failure::Failure;
use serde_json::{Value, json};

use devstack::DevStack;
use http_oauth2_client::{ClientError, InMemoryTokenStore, McpClient, OAuthConfig, OAuthSession};

/// One step of the demo.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Step {
    /// Step number.
    pub(crate) n: usize,
    /// What was done.
    pub(crate) title: String,
    /// What came back.
    pub(crate) detail: String,
    /// Wall-clock milliseconds.
    pub(crate) millis: f64,
}

fn ms(since: Instant) -> f64 {
    (since.elapsed().as_secs_f64() * 1000.0 * 10.0).round() / 10.0
}

fn text_of(result: &Value) -> String {
    result["content"]
        .as_array()
        .and_then(|c| c.first())
        .and_then(|c| c["text"].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// The sample files the MCP server serves as `file:///` resources, when the demo runs from
/// the repository root (as `cargo run` does); the shipped `config/mcp_server_config.toml`
/// uses the same relative folder.
const SAMPLE_RESOURCES: &str = "mcp-server/resources";

/// Why the demo stopped.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DemoError {
    /// The servers did not start.
    #[error(transparent)]
    Start(#[from] devstack::StartError),
    /// A client step failed.
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// Starts both servers on `127.0.0.1:0`.
async fn start_servers() -> Result<DevStack, devstack::StartError> {
    let mut builder = DevStack::builder();
    if std::path::Path::new(SAMPLE_RESOURCES).is_dir() {
        builder = builder.resources_dir(SAMPLE_RESOURCES);
    }
    builder.start().await
}

/// Runs the demo, calling `on_step` after each step. Returns the steps and the servers.
pub(crate) async fn run(
    mut on_step: impl FnMut(&Step),
) -> Result<(Vec<Step>, DevStack), DemoError> {
    let mut steps: Vec<Step> = Vec::new();
    let mut push = |title: &str, detail: String, t: Instant| {
        let step = Step {
            n: steps.len() + 1,
            title: title.to_owned(),
            detail,
            millis: ms(t),
        };
        on_step(&step);
        steps.push(step);
    };

    let t = Instant::now();
    let servers = start_servers().await?;
    push(
        "start the authorization server and the MCP server (in-process, loopback, ephemeral ports)",
        format!(
            "issuer {} ; MCP endpoint {}",
            servers.issuer(),
            servers.mcp_url()
        ),
        t,
    );

    let t = Instant::now();
    let config = OAuthConfig::builder(servers.mcp_url())
        .headless()
        .allow_insecure_http()
        .client_name("http-oauth2-client demo")
        .scopes("mcp")
        .with_token_store(Arc::new(InMemoryTokenStore::default()))
        .build()
        .map_err(ClientError::from)?;
    let session = OAuthSession::prepare(config).await?;
    push(
        "discover: 401 challenge -> Protected Resource Metadata (RFC 9728) -> AS metadata (RFC 8414); register (RFC 7591)",
        format!(
            "resource {} ; authorization server {} ; S256 advertised: {} ; registered client_id {}",
            session.resource(),
            session.issuer(),
            session.authorization_server_metadata().supports_s256(),
            session.client_id()
        ),
        t,
    );

    let t = Instant::now();
    session.ensure_authorized().await?;
    let tokens = session.token_manager().tokens();
    let (scope, has_refresh) = tokens
        .as_ref()
        .map(|t| {
            (
                t.scope.clone().unwrap_or_default(),
                t.refresh_token.is_some(),
            )
        })
        .unwrap_or_default();
    push(
        "log in: PKCE S256 + state + resource, auto-approved /authorize, code exchange at /token",
        format!(
            "access token (JWT, aud = resource) with scope \"{scope}\"; refresh token: {has_refresh}"
        ),
        t,
    );

    let t = Instant::now();
    let mcp = McpClient::connect(session.client(), session.server_url().clone()).await?;
    push(
        "connect to the MCP server (stateless server/discover first, then initialize)",
        format!(
            "transport {:?}, protocol {}",
            mcp.transport_kind(),
            mcp.protocol_version()
        ),
        t,
    );

    let t = Instant::now();
    let tools = mcp.list_tools().await?;
    let names: Vec<&str> = tools.iter().filter_map(|t| t["name"].as_str()).collect();
    push("tools/list", names.join(", "), t);

    let t = Instant::now();
    let echo = mcp
        .call_tool("echo", json!({"message": "hello through OAuth"}), None)
        .await?;
    push("tools/call echo", text_of(&echo), t);

    let t = Instant::now();
    let who = mcp.call_tool("whoami", json!({}), None).await?;
    push(
        "tools/call whoami (identity from the validated token)",
        text_of(&who),
        t,
    );

    let t = Instant::now();
    let progress_seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = progress_seen.clone();
    let slow = mcp
        .call_tool(
            "slow_task",
            json!({"steps": 3, "delay_ms": 50}),
            Some(Arc::new(move |_p| {
                seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            })),
        )
        .await?;
    push(
        "tools/call slow_task with progress",
        format!(
            "{} ({} progress notifications)",
            text_of(&slow),
            progress_seen.load(std::sync::atomic::Ordering::Relaxed)
        ),
        t,
    );

    let t = Instant::now();
    let resources = mcp.list_resources().await?;
    let first = resources
        .iter()
        .filter_map(|r| r["uri"].as_str())
        .find(|u| u.starts_with("file:///"))
        .unwrap_or("config://server")
        .to_owned();
    let read = mcp.read_resource(&first).await?;
    let len = read["contents"][0]["text"]
        .as_str()
        .map(str::len)
        .unwrap_or(0);
    push(
        "resources/list + resources/read",
        format!("{} resources; read {first} ({len} bytes)", resources.len()),
        t,
    );

    let t = Instant::now();
    let prompts = mcp.list_prompts().await?;
    let prompt = mcp
        .get_prompt(
            "explain_concept",
            Some(json!({"concept": "PKCE", "audience": "beginner"})),
        )
        .await?;
    push(
        "prompts/list + prompts/get explain_concept",
        format!(
            "{} prompts; {} message(s)",
            prompts.len(),
            prompt["messages"].as_array().map(Vec::len).unwrap_or(0)
        ),
        t,
    );

    let t = Instant::now();
    let before = session.token_manager().tokens();
    let generation = session.token_manager().generation();
    session
        .token_manager()
        .refresh_if_current(generation)
        .await?;
    let after = session.token_manager().tokens();
    let rotated = match (&before, &after) {
        (Some(b), Some(a)) => b.refresh_token != a.refresh_token,
        _ => false,
    };
    push(
        "refresh: refresh_token grant (single-flight), rotated refresh token stored",
        format!(
            "new access token: {}; refresh token rotated: {rotated}",
            before.as_ref().map(|b| b.access_token.secret())
                != after.as_ref().map(|a| a.access_token.secret())
        ),
        t,
    );

    let t = Instant::now();
    let add = mcp.call_tool("add", json!({"a": 2, "b": 40}), None).await?;
    mcp.ping().await?;
    push(
        "tools/call add with the refreshed token, then ping",
        text_of(&add),
        t,
    );

    let _ = mcp.close().await;
    tokio::time::sleep(Duration::from_millis(1)).await;
    Ok((steps, servers))
}

/// `demo`: both servers in-process on ephemeral ports, then the whole flow step by step.
pub(crate) async fn command(json_out: bool) -> Result<(), Failure> {
    let started = std::time::Instant::now();
    if !json_out {
        crate::render::out(
            "http-oauth2-client demo: OAuth 2.1 + MCP, every component real, all on loopback\n",
        );
    }
    let (steps, servers) = run(|step| {
        if !json_out {
            crate::render::out(&format!(
                "[{:>2}] {} ({:.1} ms)\n     {}",
                step.n, step.title, step.millis, step.detail
            ));
        }
    })
    .await?;
    if json_out {
        crate::render::out(
            &json!({"ok": true, "steps": steps, "total_ms": started.elapsed().as_secs_f64() * 1000.0})
                .to_string(),
        );
    } else {
        crate::render::out(&format!(
            "\ndone: {} steps in {:.0} ms; servers stopped.",
            steps.len(),
            started.elapsed().as_secs_f64() * 1000.0
        ));
    }
    drop(servers);
    Ok(())
}
