//! Errors of starting the server. (Protocol errors are JSON-RPC error objects built in
//! [`crate::rpc`]; authentication failures are HTTP responses built in [`crate::auth`].)

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(#[from] crate::config::ConfigError),
    /// I/O (listener address, resources folder).
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The auth layer could not be built.
    #[error("auth layer: {0}")]
    Auth(#[from] crate::auth::BuildError),
    /// The TLS certificate or key could not be loaded.
    #[error("TLS: {0}")]
    Tls(String),
    /// The shared session store (`store = "redis://..."`) cannot be reached at start.
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    /// A JSON-RPC method could not be registered (a bug).
    #[error("rpc module: {0}")]
    Rpc(#[from] jsonrpsee::core::RegisterMethodError),
}
