//! The Redis connection both servers' shared stores use (feature `redis`): one set-up, so the
//! authorization server and the MCP server fail and reconnect the same way.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// A request fails within about a second when Redis is gone (the endpoint answers 503 with
/// `Retry-After`) instead of hanging.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_millis(1_000);
/// How long one connection attempt may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// Connects to `url` (`redis://HOST:PORT/DB`); fails when Redis cannot be reached now. Later
/// outages are survived: the manager reconnects on a later request once Redis is back, and
/// operations fail meanwhile (within [`RESPONSE_TIMEOUT`]).
pub async fn connect(url: &str) -> redis::RedisResult<ConnectionManager> {
    let client = redis::Client::open(url)?;
    let config = ConnectionManagerConfig::new()
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(200));
    ConnectionManager::new_with_config(client, config).await
}
