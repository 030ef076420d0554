//! The cost ladder's server (issue 16 A, `scripts/ladder.sh`): the MCP server with its
//! endpoint cut off after the layer `MCP_LADDER_STEP` names (`stack`, `auth`, `envelope`,
//! `dispatch`; unset or `checks`: the whole service). Same runtime rule as the real binary
//! (one worker: a current-thread runtime) and the same tracing set-up.
//! Usage: `MCP_LADDER_STEP=auth ladder BIND ISSUER RESOURCE` (prints `listening on http://ADDR`).
//! Build: `cargo build --release -p mcp-server --features ladder --example ladder`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(bind), Some(issuer), Some(resource)) = (args.next(), args.next(), args.next()) else {
        return Err("usage: ladder BIND ISSUER RESOURCE".into());
    };
    let rt = shared::process::runtime()?;
    rt.block_on(async move {
        let _logs = shared::process::init_server_tracing("info");
        let listener = tokio::net::TcpListener::bind(&bind).await?;
        let server =
            mcp_server::serve(listener, mcp_server::Config::new(&issuer, &resource)).await?;
        println!("listening on http://{}", server.local_addr());
        shared::process::shutdown_signal().await;
        server.shutdown().await;
        Ok(())
    })
}
