//! # devstack
//!
//! Both servers of this workspace in one process, on ephemeral loopback ports: the OAuth 2.1
//! authorization server (`auth-server`) and the OAuth-protected MCP server (`mcp-server`),
//! wired to each other. The MCP server's listener is bound first, so the authorization server
//! knows the resource URL (RFC 8707) before it starts; the MCP server then trusts that issuer.
//!
//! This is the one place that does it: the CLI's `demo`, the end-to-end test harness and
//! `docs/INTEGRATION.md` all start their servers here. It is a development and test tool: the
//! authorization server runs with its zero-config loopback defaults (auto-approved consent,
//! built-in development clients), which must never face a network.
//!
//! ```no_run
//! # async fn run() -> Result<(), devstack::StartError> {
//! let stack = devstack::DevStack::builder()
//!     .auth_config(|c| c.access_token_ttl_secs = 60)
//!     .mcp_config(|c| c.leeway_secs = 5)
//!     .start()
//!     .await?;
//! println!("issuer {} ; MCP endpoint {}", stack.issuer(), stack.mcp_url());
//! // Dropping `stack` stops both servers.
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

use std::path::PathBuf;

/// Why the stack could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// Binding a loopback listener failed.
    #[error("cannot bind a loopback listener: {0}")]
    Bind(#[source] std::io::Error),
    /// The authorization server refused to start.
    #[error("the authorization server did not start: {0}")]
    AuthServer(#[source] auth_server::Error),
    /// The MCP server refused to start.
    #[error("the MCP server did not start: {0}")]
    McpServer(#[source] mcp_server::Error),
}

type AuthTweak = Box<dyn FnOnce(&mut auth_server::Config) + Send>;
type McpTweak = Box<dyn FnOnce(&mut mcp_server::Config) + Send>;

/// Settings of a [`DevStack`]: configuration adjustments applied on top of the defaults.
#[must_use]
pub struct DevStackBuilder {
    auth: Vec<AuthTweak>,
    mcp: Vec<McpTweak>,
    resources_dir: Option<PathBuf>,
    unprotected: bool,
}

impl std::fmt::Debug for DevStackBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevStackBuilder")
            .field("auth_tweaks", &self.auth.len())
            .field("mcp_tweaks", &self.mcp.len())
            .field("resources_dir", &self.resources_dir)
            .field("unprotected", &self.unprotected)
            .finish()
    }
}

impl DevStackBuilder {
    /// Adjusts the authorization server's configuration. Its `resources` list is set to the
    /// MCP endpoint before this runs.
    pub fn auth_config(
        mut self,
        f: impl FnOnce(&mut auth_server::Config) + Send + 'static,
    ) -> Self {
        self.auth.push(Box::new(f));
        self
    }

    /// Adjusts the MCP server's configuration. Its issuer and resource URL are set to the
    /// running authorization server and the bound endpoint before this runs.
    pub fn mcp_config(mut self, f: impl FnOnce(&mut mcp_server::Config) + Send + 'static) -> Self {
        self.mcp.push(Box::new(f));
        self
    }

    /// A folder the MCP server serves as `file:///` resources (none by default).
    pub fn resources_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.resources_dir = Some(dir.into());
        self
    }

    /// **Test fixture:** the MCP server runs without its auth layer
    /// ([`mcp_server::serve_unprotected`]), as a server that needs no authorization does.
    /// The authorization server still runs (tests that switch servers use it).
    pub fn unprotected_mcp(mut self) -> Self {
        self.unprotected = true;
        self
    }

    /// Binds both listeners on `127.0.0.1:0` and starts the servers.
    pub async fn start(self) -> Result<DevStack, StartError> {
        let Self {
            auth,
            mcp,
            resources_dir,
            unprotected,
        } = self;
        DevStack::start_inner(
            |c| auth.into_iter().for_each(|f| f(c)),
            |c| {
                c.resources_dir = resources_dir;
                mcp.into_iter().for_each(|f| f(c));
            },
            unprotected,
        )
        .await
    }
}

async fn loopback() -> Result<tokio::net::TcpListener, StartError> {
    tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(StartError::Bind)
}

/// The two servers, running. Dropping it stops both.
#[derive(Debug)]
pub struct DevStack {
    /// The authorization server.
    pub auth: auth_server::RunningServer,
    /// The MCP server.
    pub mcp: mcp_server::RunningServer,
}

impl DevStack {
    /// Settings with the defaults (no adjustments, no resources folder).
    pub fn builder() -> DevStackBuilder {
        DevStackBuilder {
            auth: Vec::new(),
            mcp: Vec::new(),
            resources_dir: None,
            unprotected: false,
        }
    }

    /// Starts both servers with their defaults.
    pub async fn start() -> Result<Self, StartError> {
        Self::builder().start().await
    }

    /// Starts both servers, adjusting the configurations with closures that may borrow
    /// (the builder's must be `'static`). `tweak_auth` runs after `resources` is set to the MCP
    /// endpoint; `tweak_mcp` after the issuer and resource URL are set.
    pub async fn start_with(
        tweak_auth: impl FnOnce(&mut auth_server::Config),
        tweak_mcp: impl FnOnce(&mut mcp_server::Config),
    ) -> Result<Self, StartError> {
        Self::start_inner(tweak_auth, tweak_mcp, false).await
    }

    async fn start_inner(
        tweak_auth: impl FnOnce(&mut auth_server::Config),
        tweak_mcp: impl FnOnce(&mut mcp_server::Config),
        unprotected: bool,
    ) -> Result<Self, StartError> {
        let mcp_listener = loopback().await?;
        let resource = format!(
            "http://{}/mcp",
            mcp_listener.local_addr().map_err(StartError::Bind)?
        );
        let mut as_config = auth_server::Config {
            resources: vec![resource.clone()],
            ..auth_server::Config::default()
        };
        tweak_auth(&mut as_config);
        let auth = auth_server::serve(loopback().await?, as_config)
            .await
            .map_err(StartError::AuthServer)?;
        let mut mcp_config = mcp_server::Config::new(auth.issuer(), &resource);
        tweak_mcp(&mut mcp_config);
        let mcp = if unprotected {
            mcp_server::serve_unprotected(mcp_listener, mcp_config).await
        } else {
            mcp_server::serve(mcp_listener, mcp_config).await
        };
        let mcp = mcp.map_err(StartError::McpServer)?;
        Ok(Self { auth, mcp })
    }

    /// The authorization server's issuer, e.g. `http://127.0.0.1:39677`.
    pub fn issuer(&self) -> &str {
        self.auth.issuer()
    }

    /// The MCP endpoint (also the RFC 8707 resource), e.g. `http://127.0.0.1:44145/mcp`.
    pub fn mcp_url(&self) -> &str {
        self.mcp.resource_url()
    }

    /// Stops both servers and waits until they have closed their listeners.
    pub async fn shutdown(self) {
        self.mcp.shutdown().await;
        self.auth.shutdown().await;
    }
}
