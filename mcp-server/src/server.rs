//! [`serve`]: starts the server on a listener the caller bound, and [`RunningServer`], whose
//! drop or [`RunningServer::shutdown`] stops it gracefully.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::auth::{IntrospectionConfig, JwtAuthLayer, ScopeRules, parse_algorithm};
use crate::config::Config;
use crate::error::Error;
use crate::rpc::{self, FileStore};
use crate::transport::{self, App, SessionLimits, SessionStore};

/// A server started by [`serve`].
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    resource_url: String,
    auth: Arc<crate::auth::Authenticator>,
    streaming: Arc<std::sync::atomic::AtomicUsize>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl RunningServer {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
    /// The canonical MCP endpoint URL (PRM `resource`, token `aud`).
    pub fn resource_url(&self) -> &str {
        &self.resource_url
    }
    /// How many times the JWKS was fetched (tests, metrics).
    pub fn jwks_fetch_count(&self) -> u64 {
        self.auth.jwks().fetch_count()
    }
    /// Requests answered as an SSE stream whose work is still running (tests: TR-13).
    pub fn streaming_requests(&self) -> usize {
        self.streaming.load(std::sync::atomic::Ordering::Relaxed)
    }
    /// Stops accepting, ends open SSE streams, and waits (at most 10 s) for in-flight
    /// requests.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.task.take() {
            let abort = t.abort_handle();
            if tokio::time::timeout(Duration::from_secs(10), t)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Starts serving on `listener` in a tokio task and returns once it accepts connections.
/// An empty or absent `resource_url` becomes `http://<bound addr>/mcp`.
pub async fn serve(listener: TcpListener, config: Config) -> Result<RunningServer, Error> {
    start(listener, config, Protection::Jwt).await
}

/// **A test fixture, never a deployment:** serves the same MCP endpoints with no auth layer
/// and no protected-resource metadata, every request running as the subject `anonymous`
/// with every scope the scope rules name. It exists so clients can be tested against an MCP
/// server that needs no authorization (CL-01..CL-05); the binary has no switch that reaches
/// it, and the configuration's issuer is still validated but never contacted.
pub async fn serve_unprotected(
    listener: TcpListener,
    config: Config,
) -> Result<RunningServer, Error> {
    start(listener, config, Protection::None).await
}

/// Whether [`transport::service`] puts the JWT layer in front of the MCP routes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Protection {
    Jwt,
    None,
}

async fn start(
    listener: TcpListener,
    config: Config,
    protection: Protection,
) -> Result<RunningServer, Error> {
    config.validate()?;
    let addr = listener.local_addr()?;
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(c), Some(k)) => Some(
            axum_server::tls_rustls::RustlsConfig::from_pem_file(c, k)
                .await
                .map_err(|e| {
                    Error::Tls(format!(
                        "cannot load {} / {}: {e}",
                        c.display(),
                        k.display()
                    ))
                })?,
        ),
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let resource_url = match config.resource_url.as_deref() {
        Some(r) if !r.is_empty() => r.to_owned(),
        _ => format!("{scheme}://{addr}/mcp"),
    };
    let mcp_path = url::Url::parse(&resource_url)
        .map(|u| u.path().to_owned())
        .unwrap_or_else(|_| "/mcp".to_owned());
    let mcp_path = if mcp_path.is_empty() {
        "/".to_owned()
    } else {
        mcp_path
    };

    let mut b = JwtAuthLayer::builder()
        .issuer(&config.auth_server_issuer)
        .resource(&resource_url)
        .audiences(config.audiences.iter().cloned())
        .profile(config.token_profile.resolve().unwrap_or_default())
        .algorithms(config.algorithms.iter().filter_map(|a| parse_algorithm(a)))
        .jwks_settings((&config.jwks).into())
        .leeway(Duration::from_secs(config.leeway_secs))
        .scope_rules(ScopeRules::from_map(&config.scopes))
        .token_cache(
            config.token_cache.max_capacity,
            Duration::from_secs(config.token_cache.max_ttl_secs),
        )
        .fetch_timeout(Duration::from_millis(config.jwks.fetch_timeout_ms));
    if let Some(j) = &config.jwks_url {
        b = b.jwks_url(j);
    }
    if config.dpop.enabled {
        b = b.dpop(config.dpop.to_layer());
    }
    if let Some(ca) = &config.auth_server_ca {
        let pem = std::fs::read(ca)?;
        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.jwks.fetch_timeout_ms))
            .redirect(reqwest::redirect::Policy::none());
        for cert in reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| Error::Tls(format!("auth_server_ca {}: {e}", ca.display())))?
        {
            builder = builder.add_root_certificate(cert);
        }
        b = b.http_client(builder.build().map_err(|e| Error::Tls(e.to_string()))?);
    }
    if let Some(i) = &config.introspection {
        b = b.introspection(IntrospectionConfig {
            endpoint: i.endpoint.clone(),
            client_id: i.client_id.clone(),
            client_secret: i.client_secret.clone(),
            cache_ttl: Duration::from_secs(i.cache_ttl_secs),
        });
    }
    let layer = b.build()?;
    let auth = layer.authenticator().clone();
    if auth.profile() != crate::auth::TokenProfile::rfc9068() {
        tracing::warn!(profile = ?auth.profile(), "relaxed access-token profile (not RFC 9068)");
    }

    let files = match &config.resources_dir {
        Some(d) => Some(FileStore::new(d)?),
        None => None,
    };
    let events = rpc::Events::new(
        config.limits.event_buffer,
        config.limits.max_listeners_per_subject,
    );
    let state = Arc::new(rpc::State {
        config: config.clone(),
        resource_url: resource_url.clone(),
        files,
        request_state: rpc::RequestStateKeys::new(&config.request_state, &resource_url),
        events: events.clone(),
    });
    let sync_tools: jsonrpsee::Methods = rpc::sync_tool_module(state.clone())?.into();
    let methods: jsonrpsee::Methods = rpc::rpc_module(state)?.into();
    for m in methods.method_names() {
        if auth.scope_rules().required(m).is_none() {
            tracing::warn!(mcp.method = m, "no scope rule: the method is refused");
        }
    }
    let session_limits = SessionLimits {
        max: config.limits.max_sessions,
        max_per_subject: config.limits.max_sessions_per_subject,
        max_stream_work: config.limits.max_inflight_per_stream,
        idle: Duration::from_secs(config.limits.session_idle_secs),
        event_buffer: config.limits.event_buffer,
    };
    // Issue 14: legacy sessions in this process, or on Redis shared by every instance.
    let sessions = if config.store == "memory" {
        SessionStore::new(session_limits)
    } else {
        let redis = crate::store::redis::RedisSessions::connect(
            &config.store,
            &config.store_key_prefix,
            session_limits.idle,
        )
        .await?;
        SessionStore::on_redis(session_limits, redis)
    };
    tracing::info!(store = sessions.kind(), "legacy session store");
    let (stop, stop_rx) = watch::channel(false);
    let streaming = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let app = Arc::new(App {
        methods,
        sync_tools,
        auth: auth.clone(),
        sessions,
        events,
        sse_retry: Duration::from_millis(config.limits.sse_retry_ms),
        shutdown: stop_rx.clone(),
        max_body: config.limits.max_body_bytes,
        streaming: streaming.clone(),
    });
    let layer = match protection {
        Protection::Jwt => Some(layer),
        Protection::None => {
            tracing::warn!("serving WITHOUT authorization (test fixture)");
            None
        }
    };
    let svc = transport::service(app, layer, &config, &resource_url, &mcp_path);
    let mut rx = stop_rx;
    let task = match tls {
        None => tokio::spawn(
            axum::serve(
                listener,
                axum::ServiceExt::<axum::extract::Request>::into_make_service(svc),
            )
            .with_graceful_shutdown(async move {
                let _ = rx.wait_for(|v| *v).await;
            })
            .into_future(),
        ),
        // HTTPS through axum-server's rustls acceptor (aws-lc-rs, already in the tree).
        Some(tls) => {
            let server = axum_server::from_tcp_rustls(listener.into_std()?, tls)?;
            let svc = tower::ServiceBuilder::new()
                .map_request(|req: axum::http::Request<hyper::body::Incoming>| {
                    req.map(axum::body::Body::new)
                })
                .service(svc);
            let handle = axum_server::Handle::new();
            let stopper = handle.clone();
            tokio::spawn(async move {
                let _ = rx.wait_for(|v| *v).await;
                stopper.graceful_shutdown(Some(Duration::from_secs(5)));
            });
            tokio::spawn(async move {
                server
                    .handle(handle)
                    .serve(tower::make::Shared::new(svc))
                    .await
            })
        }
    };
    tracing::info!(%addr, resource = %resource_url, "MCP server listening");
    Ok(RunningServer {
        addr,
        resource_url,
        auth,
        streaming,
        stop,
        task: Some(task),
    })
}
