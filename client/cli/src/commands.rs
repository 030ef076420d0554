//! The subcommands and the default report.

use http_oauth2_client::{AuthOnDemand, ClientError, McpClient, OAuthConfig, OAuthSession};
use serde_json::{Value, json};

use crate::args::{Cli, Command, PromptsCmd, ResourcesCmd, ToolsCmd, Transport};
use crate::failure::Failure;
use crate::render::{
    auth_summary, contents_text, list_text, print_out, progress_printer, sample_args,
    session_summary, token_text, tool_result_text,
};
use crate::{config, demo, settings};

const DEFAULT_SERVER: &str = "http://127.0.0.1:3003/mcp";

pub(crate) async fn run(cli: Cli) -> Result<(), Failure> {
    let Cli {
        opts,
        command,
        server_url,
    } = cli;
    let sub_url = match &command {
        Some(Command::Login(u) | Command::Logout(u) | Command::Token { url: u, .. }) => {
            u.server_url.clone()
        }
        Some(Command::Tools(ToolsCmd::List(u) | ToolsCmd::Call { url: u, .. })) => {
            u.server_url.clone()
        }
        Some(Command::Resources(ResourcesCmd::List(u) | ResourcesCmd::Read { url: u, .. })) => {
            u.server_url.clone()
        }
        Some(Command::Prompts(PromptsCmd::List(u) | PromptsCmd::Get { url: u, .. })) => {
            u.server_url.clone()
        }
        _ => None,
    };
    if matches!(command, Some(Command::Demo)) {
        return demo::command(opts.json).await;
    }
    let file = config::load(opts.config.as_deref()).map_err(|e| {
        Failure::usage(e, "fix the file (see config/client_config.toml for every key) or the OAUTH2_CLIENT__* variables")
    })?;
    let url = sub_url
        .or(server_url)
        .or(file.server_url.clone())
        .unwrap_or_else(|| DEFAULT_SERVER.to_owned());
    let config = settings::build_config(&opts, &file, &url)?;
    let json_out = opts.json;

    match command {
        None => report(config, json_out, opts.transport).await,
        Some(Command::Login(_)) => {
            let s = OAuthSession::prepare(config).await?;
            s.login().await?;
            let summary = session_summary(&s);
            print_out(json_out, &summary, || {
                format!(
                    "Logged in to {} as client `{}` (issuer {}).\n{}",
                    s.resource(),
                    s.client_id(),
                    s.issuer(),
                    token_text(&summary["token"])
                )
            });
            Ok(())
        }
        Some(Command::Logout(_)) => {
            let s = OAuthSession::prepare(config).await?;
            let revoked = s.logout().await?;
            print_out(json_out, &json!({"ok": true, "revoked": revoked}), || {
                format!(
                    "Logged out{}; stored tokens for {} removed.",
                    if revoked {
                        " (refresh token revoked)"
                    } else {
                        ""
                    },
                    s.resource()
                )
            });
            Ok(())
        }
        Some(Command::Token { show_secret, .. }) => {
            let s = OAuthSession::prepare(config).await?;
            let Some(t) = s.token_manager().tokens() else {
                return Err(ClientError::AuthorizationRequired(
                    "no stored token for this server".into(),
                )
                .into());
            };
            let mut summary = session_summary(&s);
            if show_secret {
                summary["token"]["access_token"] = json!(t.access_token.secret());
            }
            print_out(json_out, &summary, || {
                let mut out = format!(
                    "Token for {} (client `{}`, issuer {}):\n{}",
                    s.resource(),
                    s.client_id(),
                    s.issuer(),
                    token_text(&summary["token"])
                );
                if show_secret {
                    out.push_str(&format!("\naccess token: {}", t.access_token.secret()));
                }
                out
            });
            Ok(())
        }
        Some(cmd @ (Command::Tools(_) | Command::Resources(_) | Command::Prompts(_))) => {
            let (auth, mcp) = connect(config, opts.transport).await?;
            let mcp = mcp.with_input_handler(crate::elicit::handler(json_out));
            operation(&mcp, &auth, cmd, json_out).await?;
            if auth.session().is_none() && !json_out {
                eprintln!("(no authorization was needed: the server did not ask for any)");
            }
            Ok(())
        }
        Some(Command::Demo) => Ok(()),
    }
}

/// Connects to the MCP server with no authorization until the server asks for it (a 401
/// challenge starts discovery, registration and login; ADR 0006).
pub(crate) async fn connect(
    config: OAuthConfig,
    transport: Transport,
) -> Result<(AuthOnDemand, McpClient), Failure> {
    let auth = AuthOnDemand::new(config);
    let mcp = auth.mcp_client(transport.into()).await?;
    Ok((auth, mcp))
}

pub(crate) fn parse_args(s: &str) -> Result<Value, Failure> {
    let v: Value = serde_json::from_str(s).map_err(|e| {
        Failure::usage(
            format!("--args is not valid JSON: {e}"),
            "pass a JSON object, e.g. --args '{\"message\":\"hi\"}'",
        )
    })?;
    if !v.is_object() {
        return Err(Failure::usage(
            "--args must be a JSON object",
            "e.g. --args '{\"a\":1}'",
        ));
    }
    Ok(v)
}

/// The default command: log in if needed, then discover, list, call and read, with a
/// readable (or `--json`) report.
pub(crate) async fn report(
    config: OAuthConfig,
    json_out: bool,
    transport: Transport,
) -> Result<(), Failure> {
    let t0 = std::time::Instant::now();
    let (auth, mcp) = connect(config, transport).await?;
    let mut rep = auth_summary(&auth);
    rep["transport"] = json!(format!("{:?}", mcp.transport_kind()));
    rep["protocol_version"] = json!(mcp.protocol_version());
    let info = mcp.server_info();
    rep["server_info"] = info
        .get("serverInfo")
        .or_else(|| {
            info.get("_meta")
                .and_then(|m| m.get("io.modelcontextprotocol/serverInfo"))
        })
        .cloned()
        .unwrap_or(Value::Null);
    mcp.ping().await?;
    let tools = mcp.list_tools().await?;
    let mut calls = Vec::new();
    for name in ["echo", "add", "whoami", "slow_task"] {
        if let Some(tool) = tools.iter().find(|t| t["name"] == name) {
            let args = sample_args(tool);
            let progress = progress_printer(json_out);
            let r = mcp.call_tool(name, args.clone(), Some(progress)).await?;
            calls.push(json!({"tool": name, "arguments": args, "result": r}));
        }
    }
    let resources = mcp.list_resources().await.unwrap_or_default();
    let first_read = match resources.first().and_then(|r| r["uri"].as_str()) {
        Some(uri) => Some(mcp.read_resource(uri).await?),
        None => None,
    };
    let prompts = mcp.list_prompts().await.unwrap_or_default();
    let _ = mcp.close().await;
    rep["tools"] = json!(tools);
    rep["calls"] = json!(calls);
    rep["resources"] = json!(resources);
    rep["resource_read"] = json!(first_read);
    rep["prompts"] = json!(prompts);
    // The session may have started during any of the requests above.
    let auth_rep = auth_summary(&auth);
    for k in ["authorization", "resource", "issuer", "client_id", "token"] {
        rep[k] = auth_rep[k].clone();
    }
    rep["elapsed_ms"] = json!(t0.elapsed().as_millis() as u64);
    print_out(json_out, &rep, || {
        let authorization = match auth.session() {
            Some(s) => format!(
                "  issuer: {}\n  client: {}\n{}",
                s.issuer(),
                s.client_id(),
                token_text(&rep["token"])
            ),
            None => "  authorization: none needed (the server did not ask for any)".to_owned(),
        };
        let mut out = format!(
            "Connected to {} ({:?}, protocol {})\n  server: {}\n{}\n\n{}",
            auth.server_url(),
            mcp.transport_kind(),
            mcp.protocol_version(),
            rep["server_info"],
            authorization,
            list_text("Tools", &tools)
        );
        for c in &calls {
            out.push_str(&format!(
                "\n\ncall {} {}\n  -> {}",
                c["tool"].as_str().unwrap_or("?"),
                c["arguments"],
                tool_result_text(&c["result"]).replace('\n', "\n     ")
            ));
        }
        out.push_str(&format!("\n\n{}", list_text("Resources", &resources)));
        if let Some(r) = &first_read {
            out.push_str(&format!("\n\nread:\n{}", contents_text(r)));
        }
        out.push_str(&format!("\n\n{}", list_text("Prompts", &prompts)));
        out.push_str(&format!("\n\nDone in {} ms.", t0.elapsed().as_millis()));
        out
    });
    Ok(())
}

/// One MCP operation on a connected client.
async fn operation(
    mcp: &McpClient,
    auth: &AuthOnDemand,
    cmd: Command,
    json_out: bool,
) -> Result<(), Failure> {
    let list = |key: &str, title: &str, items: Vec<Value>| {
        let authorization = auth_summary(auth)["authorization"].clone();
        print_out(
            json_out,
            &json!({ key: items, "authorization": authorization }),
            || list_text(title, &items),
        );
    };
    match cmd {
        Command::Tools(ToolsCmd::List(_)) => list("tools", "Tools", mcp.list_tools().await?),
        Command::Resources(ResourcesCmd::List(_)) => {
            list("resources", "Resources", mcp.list_resources().await?);
        }
        Command::Prompts(PromptsCmd::List(_)) => {
            list("prompts", "Prompts", mcp.list_prompts().await?);
        }
        Command::Tools(ToolsCmd::Call { name, args, .. }) => {
            let args = parse_args(&args)?;
            let progress = progress_printer(json_out);
            let r = mcp.call_tool(&name, args, Some(progress)).await?;
            print_out(json_out, &r, || tool_result_text(&r));
            if r.get("isError").and_then(Value::as_bool) == Some(true) {
                return Err(Failure::operation(
                    format!("tool `{name}` reported an error"),
                    "check the arguments against `tools list`",
                ));
            }
        }
        Command::Resources(ResourcesCmd::Read { uri, .. }) => {
            let r = mcp.read_resource(&uri).await?;
            print_out(json_out, &r, || contents_text(&r));
        }
        Command::Prompts(PromptsCmd::Get { name, args, .. }) => {
            let args = args.as_deref().map(parse_args).transpose()?;
            let r = mcp.get_prompt(&name, args).await?;
            print_out(json_out, &r, || {
                serde_json::to_string_pretty(&r).unwrap_or_default()
            });
        }
        other => {
            // `run` only passes the three MCP subcommands here.
            return Err(Failure::operation(
                format!("internal error: {other:?} is not an MCP operation"),
                "please report this",
            ));
        }
    }
    Ok(())
}
