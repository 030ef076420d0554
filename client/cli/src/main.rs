//! `http-oauth2-client`: log in to an OAuth-protected MCP server and use it.
//!
//! Exit codes:
//! * 0: success
//! * 1: the MCP operation failed (JSON-RPC error, tool returned `isError`, protocol error)
//! * 2: usage or configuration error (bad flag, bad config file, token store unusable)
//! * 3: authorization required or denied (log in again, check client id, scopes, consent)
//! * 4: network or discovery failure (server unreachable, timeout, metadata refused)

mod args;
mod commands;
mod config;
mod demo;
mod elicit;
mod failure;
mod login_ui;
mod render;
mod settings;

use std::process::ExitCode;

use clap::Parser as _;
use serde_json::json;

use crate::args::Cli;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match cli.opts.verbose {
        // reqwest-retry reports every transient retry at WARN; only the outcome matters here.
        0 => "warn,reqwest_retry=error",
        1 => "info",
        _ => "debug",
    };
    shared::process::init_tracing(level);
    let json_out = cli.opts.json;
    match commands::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if json_out {
                render::out(
                    &json!({"ok": false, "exit_code": f.code, "error": f.message, "hint": f.hint})
                        .to_string(),
                );
            } else {
                eprintln!("error: {}\nhint: {}", f.message, f.hint);
            }
            ExitCode::from(f.code)
        }
    }
}
