//! OAuth 2.1 authorization server for local MCP development and tests.
//!
//! "Mock" only means it runs locally and can auto-approve: wherever the standards say MUST it
//! is strict. Endpoints: RFC 8414 metadata, `/authorize` (code + PKCE S256, RFC 9207 `iss`),
//! `/token` (authorization_code, refresh_token with rotation, client_credentials), `/jwks`,
//! `/register` (RFC 7591), `/revoke` (RFC 7009), `/introspect` (RFC 7662), Client ID Metadata
//! Documents, and fault injection for tests.
//!
//! ```no_run
//! # async fn run() -> Result<(), auth_server::Error> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let server = auth_server::serve(listener, auth_server::Config::default()).await?;
//! println!("issuer {}", server.issuer());
//! server.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! The same [`router`] also answers in process, without a socket (the crate's own tests call
//! it with `tower::ServiceExt::oneshot`):
//!
//! ```
//! # fn run() -> Result<(), auth_server::Error> {
//! use std::sync::Arc;
//! use auth_server::{AppState, Config, config::SigningAlgorithm, keys::Keys};
//!
//! let keys = Arc::new(Keys::ephemeral(SigningAlgorithm::ES256)?);
//! let issuer = "http://127.0.0.1:3002".to_owned();
//! let state = AppState::new(Config::default(), issuer, keys, shared::clock::system())?;
//! let app: axum::Router = auth_server::router(state);
//! # drop(app); Ok(()) }
//! # run().unwrap();
//! ```
//!
//! Public surface: [`serve`], [`serve_with_clock`], [`serve_with_store`] over a
//! [`SharedStore`], [`RunningServer`], [`router`] over an
//! opaque [`AppState`], [`Config`] and the rest of [`config`], [`keys`], [`Fault`] and
//! [`FaultController`], and the start-up [`Error`]. Everything else is private.

#![warn(missing_docs)]

mod cimd;
pub mod config;
mod endpoints;
mod error;
mod faults;
pub mod keys;
mod middleware;
mod ratelimit;
mod store;
#[cfg(test)]
mod tests;
mod tokens;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use shared::clock::SharedClock;
use shared::oauth::TokenEndpointAuthMethod;
use shared::scope::ScopeSet;

pub use config::Config;
pub use faults::{Fault, FaultController};

use crate::store::memory::MemoryStore;
use crate::store::{ClientRecord, Store};

/// Start-up failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Invalid configuration.
    #[error("invalid configuration: {0}")]
    Config(#[from] config::ConfigError),
    /// Key loading or generation.
    #[error(transparent)]
    Keys(#[from] keys::KeyError),
    /// Socket or file I/O.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// TLS set-up.
    #[error("TLS: {0}")]
    Tls(String),
    /// The configured store cannot be reached at start-up.
    #[error("{0}")]
    Store(String),
}

/// The grant-state store a server runs on (issue 14): the in-memory default or Redis. Clones
/// share the store, so several in-process servers given clones of one handle behave like
/// instances sharing one Redis. The injection point for tests: [`serve_with_store`].
#[derive(Debug, Clone)]
pub struct SharedStore(Arc<dyn Store>);

impl SharedStore {
    /// A fresh in-memory store.
    pub fn memory() -> Self {
        Self(Arc::new(MemoryStore::default()))
    }

    /// The store `spec` names (`memory`, or `redis://HOST:PORT/DB` with keys under `prefix`);
    /// fails when Redis cannot be reached now. `clock` turns record expiries into TTLs.
    pub async fn open(spec: &str, prefix: &str, clock: SharedClock) -> Result<Self, Error> {
        if spec == "memory" {
            return Ok(Self::memory());
        }
        let store = store::redis::RedisStore::connect(spec, prefix, clock)
            .await
            .map_err(|e| Error::Store(e.to_string()))?;
        Ok(Self(Arc::new(store)))
    }

    /// `memory` or `redis`.
    pub fn kind(&self) -> &'static str {
        self.0.kind()
    }
}

/// Everything the handlers share: config, keys, grant state, clock, faults and limits.
/// Built by [`AppState::new`] and handed to [`router`]; opaque outside the crate.
#[derive(Debug)]
pub struct AppState {
    /// Validated configuration.
    pub(crate) config: Config,
    /// The exact issuer string.
    pub(crate) issuer: String,
    /// Signing keys.
    pub(crate) keys: Arc<keys::Keys>,
    /// Grant state.
    pub(crate) store: Arc<dyn Store>,
    /// Time source.
    pub(crate) clock: SharedClock,
    /// Fault injection.
    pub(crate) faults: FaultController,
    /// Per-address limits.
    pub(crate) limiter: ratelimit::RateLimiter,
    /// Client ID Metadata Document fetcher.
    pub(crate) cimd: cimd::MetadataDocuments,
    /// Offered scopes.
    pub(crate) offered_scopes: ScopeSet,
    /// Requests per endpoint (tests assert how often an endpoint was hit).
    pub(crate) hits: faults::HitCounter,
    /// The configured clients by id.
    pub(crate) configured_clients: std::collections::HashMap<String, ClientRecord>,
    /// Key of the refresh-token successor HMAC (`Keys::successor_secret`, ADR 0010).
    pub(crate) successor_key: aws_lc_rs::hmac::Key,
    /// DPoP server nonces (derived from the successor secret: shared by instances).
    pub(crate) dpop_nonces: endpoints::dpop::Nonces,
    /// The token endpoint's public URL in DPoP `htu` form, normalised once (`None` only for
    /// an issuer that is not an http(s) URL: every proof is then refused as before).
    pub(crate) dpop_token_htu: Option<shared::dpop::Htu>,
    /// Fetched key sets (trusted IdPs, `private_key_jwt` clients with `jwks_uri`).
    pub(crate) remote_jwks: endpoints::idjag::RemoteJwks,
    metadata_json: bytes::Bytes,
    oidc_json: bytes::Bytes,
}

impl AppState {
    /// Builds the state from a validated config and the final issuer, on a fresh in-memory
    /// store.
    pub fn new(
        config: Config,
        issuer: String,
        keys: Arc<keys::Keys>,
        clock: SharedClock,
    ) -> Result<Arc<Self>, Error> {
        Self::with_store(config, issuer, keys, clock, SharedStore::memory())
    }

    /// Builds the state on `store` (shared with other instances, possibly). Configured
    /// clients stay in the state, never in the store: the configuration is authoritative.
    pub fn with_store(
        config: Config,
        issuer: String,
        keys: Arc<keys::Keys>,
        clock: SharedClock,
        store: SharedStore,
    ) -> Result<Arc<Self>, Error> {
        Self::build(config, issuer, keys, clock, store.0)
    }

    /// A client: configured (from the configuration), else registered (from the store).
    pub(crate) async fn client(&self, id: &str) -> Result<Option<ClientRecord>, store::StoreError> {
        if let Some(c) = self.configured_clients.get(id) {
            return Ok(Some(c.clone()));
        }
        self.store.client(id).await
    }

    fn build(
        mut config: Config,
        issuer: String,
        keys: Arc<keys::Keys>,
        clock: SharedClock,
        store: Arc<dyn Store>,
    ) -> Result<Arc<Self>, Error> {
        config.validate()?;
        config.issuer = issuer.clone();
        let successor_key =
            aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &keys.successor_secret()?);
        let dpop_nonces =
            endpoints::dpop::Nonces::new(&successor_key, config.dpop.nonce_window_secs);
        let offered_scopes = ScopeSet::from_iter(config.scopes.iter().cloned());
        let configured_clients = configured_clients(&config, clock.now_unix())
            .into_iter()
            .map(|c| (c.client_id.clone(), c))
            .collect();
        let (metadata_json, oidc_json) = endpoints::metadata::documents(&config, &issuer);
        Ok(Arc::new(Self {
            faults: FaultController::new(config.faults.enabled, keys.clone()),
            limiter: ratelimit::RateLimiter::new(config.rate_limits.clone()),
            cimd: cimd::MetadataDocuments::with_cache(
                config.insecure_allow_loopback_metadata_documents,
                store.clone(),
            ),
            hits: faults::HitCounter::default(),
            offered_scopes,
            metadata_json,
            oidc_json,
            successor_key,
            dpop_nonces,
            dpop_token_htu: shared::dpop::Htu::new(&format!("{issuer}/token")),
            remote_jwks: Default::default(),
            configured_clients,
            config,
            issuer,
            keys,
            store,
            clock,
        }))
    }
}

/// The configured clients as store records (secrets as digests).
fn configured_clients(config: &Config, now: u64) -> Vec<ClientRecord> {
    config
        .clients
        .iter()
        .map(|c| ClientRecord {
            client_id: c.client_id.clone(),
            secret_digest: c.client_secret.as_ref().map(|s| store::digest(s.secret())),
            auth_method: if c.client_secret.is_some() {
                TokenEndpointAuthMethod::ClientSecretBasic
            } else if c.jwks.is_some() || c.jwks_uri.is_some() {
                TokenEndpointAuthMethod::PrivateKeyJwt
            } else {
                TokenEndpointAuthMethod::None
            },
            redirect_uris: c.redirect_uris.clone(),
            grant_types: c.grant_types.clone(),
            scopes: (!c.scopes.is_empty()).then(|| ScopeSet::from_iter(c.scopes.iter().cloned())),
            client_name: c.client_name.clone(),
            application_type: "native".into(),
            dynamic: false,
            issued_at: now,
            keys: store::ClientKeys {
                dpop_bound: c.dpop_bound_access_tokens,
                jwks: c.jwks.clone(),
                jwks_uri: c.jwks_uri.clone(),
            },
        })
        .collect()
}

/// The full router with every layer (limits, tracing, faults, rate limits).
///
/// The layers wrap the routes once, as the fallback service of the returned router (issue 16
/// C): a route added to the returned router would bypass them. To serve more routes, nest
/// this router under yours (or put yours beside it), and give yours its own layers.
pub fn router(state: Arc<AppState>) -> Router {
    middleware::apply(endpoints::routes(state.clone()), state)
}

/// A running server; dropping it stops the server.
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    issuer: String,
    state: Arc<AppState>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RunningServer {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
    /// The issuer identifier.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }
    /// Fault injection controller (effective only when `faults.enabled`).
    pub fn faults(&self) -> &FaultController {
        &self.state.faults
    }
    /// How many requests reached `endpoint` (`token`, `authorize`, `jwks`, `metadata`,
    /// `register`, `revoke`, `introspect`), faulted ones included.
    pub fn hits(&self, endpoint: &str) -> u64 {
        self.state.hits.get(endpoint)
    }
    /// Stops accepting, lets in-flight requests finish, and waits.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Serves on `listener` with the system clock. The issuer defaults to `http(s)://<bound addr>`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: Config,
) -> Result<RunningServer, Error> {
    serve_with_clock(listener, config, shared::clock::system()).await
}

/// Serves on `listener` with an injected clock (tests move time instead of sleeping), on the
/// store the config names (`store`, `store_key_prefix`).
pub async fn serve_with_clock(
    listener: tokio::net::TcpListener,
    config: Config,
    clock: SharedClock,
) -> Result<RunningServer, Error> {
    config.validate()?;
    let store = SharedStore::open(&config.store, &config.store_key_prefix, clock.clone()).await?;
    serve_with_store(listener, config, clock, store).await
}

/// Serves on `listener` with an injected clock and store (the config's `store` is ignored):
/// the injection point tests use to run several instances on one store.
pub async fn serve_with_store(
    listener: tokio::net::TcpListener,
    config: Config,
    clock: SharedClock,
    store: SharedStore,
) -> Result<RunningServer, Error> {
    config.validate()?;
    let addr = listener.local_addr()?;
    config.check_builtin_secrets(&addr.to_string())?;
    if config.uses_builtin_secrets() {
        tracing::warn!(
            "the built-in development client secrets are in use (mcp-service, mcp-server): for loopback development only; configure your own `clients` for anything else"
        );
    }
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => Some(tls::acceptor(cert, key).await?),
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let issuer = if config.issuer.is_empty() {
        format!("{scheme}://{addr}")
    } else {
        config.issuer.clone()
    };
    let keys = Arc::new(match &config.keys_dir {
        Some(dir) if !dir.as_os_str().is_empty() => keys::Keys::load_or_generate(
            dir,
            config.signing_algorithm,
            Duration::from_secs(config.retired_key_ttl_secs),
        )?,
        _ => keys::Keys::ephemeral(config.signing_algorithm)?,
    });
    tracing::info!(store = store.kind(), "grant state store");
    let state = AppState::with_store(config, issuer.clone(), keys, clock, store)?;
    let app = router(state.clone());

    let purge_state = state.clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let purge = async {
            let mut tick = tokio::time::interval(Duration::from_secs(30));
            loop {
                tick.tick().await;
                if let Err(e) = purge_state
                    .store
                    .purge_expired(
                        purge_state.clock.now_unix(),
                        purge_state.config.refresh_grace_secs,
                    )
                    .await
                {
                    tracing::warn!(error = %e, "store housekeeping failed");
                }
            }
        };
        let server = async {
            match tls {
                Some(acceptor) => tls::serve(listener, acceptor, app, rx).await,
                None => {
                    let _ = axum::serve(
                        listener,
                        app.into_make_service_with_connect_info::<SocketAddr>(),
                    )
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await;
                }
            }
        };
        tokio::select! {
            () = server => {}
            () = purge => {}
        }
    });
    Ok(RunningServer {
        addr,
        issuer,
        state,
        shutdown: Some(tx),
        task: Some(task),
    })
}

mod tls {
    //! HTTPS through axum-server's rustls acceptor (aws-lc-rs provider, the one already in the
    //! tree): the certificate chain and key are PEM files named in the config.
    use std::net::SocketAddr;

    use super::Error;

    pub(crate) type Acceptor = axum_server::tls_rustls::RustlsConfig;

    pub(crate) async fn acceptor(
        cert: &std::path::Path,
        key: &std::path::Path,
    ) -> Result<Acceptor, Error> {
        axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
            .await
            .map_err(|e| {
                Error::Tls(format!(
                    "cannot load {} / {}: {e}",
                    cert.display(),
                    key.display()
                ))
            })
    }

    pub(crate) async fn serve(
        listener: tokio::net::TcpListener,
        acceptor: Acceptor,
        app: axum::Router,
        rx: tokio::sync::oneshot::Receiver<()>,
    ) {
        let Ok(std_listener) = listener.into_std() else {
            return;
        };
        let handle = axum_server::Handle::new();
        let stopper = handle.clone();
        tokio::spawn(async move {
            let _ = rx.await;
            stopper.graceful_shutdown(Some(std::time::Duration::from_secs(5)));
        });
        match axum_server::from_tcp_rustls(std_listener, acceptor) {
            Ok(server) => {
                if let Err(e) = server
                    .handle(handle)
                    .serve(app.into_make_service_with_connect_info::<SocketAddr>())
                    .await
                {
                    tracing::error!(error = %e, "TLS server stopped");
                }
            }
            Err(e) => tracing::error!(error = %e, "TLS listener"),
        }
    }
}
