//! Fixed-window per-address rate limits for `/token`, `/register` and `/authorize`.
//!
//! The windows live in the store ([`RateLimitStore`]): in memory for one process, in Redis
//! (one Lua script per request) when several instances share the budget. The memory windows
//! are hand-written (a mutex-protected map of counters) rather than pulling `governor`: a
//! fixed one-minute window per address and route is all the issue asks for, and it stays
//! bounded by purging stale windows.
//!
//! IPv6 clients are counted per /64: one subscriber usually holds a whole /64 and can pick a new
//! address from it for every request. IPv4-mapped IPv6 addresses count as the IPv4 address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::RateLimits;
use crate::store::RateLimitStore;

/// Which budget a request spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Bucket {
    /// `/token`, `/revoke`, `/introspect`.
    Token,
    /// `/register`.
    Register,
    /// `/authorize`.
    Authorize,
}

impl Bucket {
    /// A short name for store keys.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::Register => "register",
            Self::Authorize => "authorize",
        }
    }
}

/// One budget: a bucket for one address (IPv4) or /64 (IPv6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct RateKey {
    /// The budget.
    pub(crate) bucket: Bucket,
    /// The address, IPv6 cut to its /64.
    pub(crate) addr: IpAddr,
}

impl RateKey {
    /// The key of `bucket` for a client at `ip`.
    pub(crate) fn new(bucket: Bucket, ip: IpAddr) -> Self {
        Self {
            bucket,
            addr: budget_key(ip),
        }
    }
}

/// The window length.
pub(crate) const WINDOW: Duration = Duration::from_secs(60);

/// The address a budget belongs to: IPv4 as is, IPv6 by its /64 prefix.
fn budget_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from_bits(
                v6.to_bits() & !u128::from(u64::MAX),
            )),
        },
    }
}

/// The limiter: the configured limits, applied to the store's windows.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    limits: RateLimits,
}

impl RateLimiter {
    /// A limiter with these limits.
    pub(crate) fn new(limits: RateLimits) -> Self {
        Self { limits }
    }

    fn limit(&self, bucket: Bucket) -> u32 {
        match bucket {
            Bucket::Token => self.limits.token_per_minute,
            Bucket::Register => self.limits.register_per_minute,
            Bucket::Authorize => self.limits.authorize_per_minute,
        }
    }

    /// Spends one request; `Err(retry_after)` when over the limit. A store that cannot answer
    /// lets the request through (logged): the endpoint itself then answers 503 if it needs
    /// the store, and a limiter outage must not lock every client out.
    pub(crate) async fn check(
        &self,
        store: &dyn RateLimitStore,
        bucket: Bucket,
        ip: IpAddr,
    ) -> Result<(), Duration> {
        let limit = self.limit(bucket);
        if limit == 0 {
            return Ok(());
        }
        match store.spend(RateKey::new(bucket, ip), limit, WINDOW).await {
            Ok(None) => Ok(()),
            Ok(Some(retry)) => Err(retry),
            Err(e) => {
                tracing::warn!(error = %e, "rate-limit store unavailable; request let through");
                Ok(())
            }
        }
    }
}

/// In-memory fixed windows (the memory store's [`RateLimitStore`]).
#[derive(Debug, Default)]
pub(crate) struct MemoryWindows {
    windows: Mutex<HashMap<RateKey, (Instant, u32)>>,
}

impl MemoryWindows {
    /// Spends one request of `key`; `Some(retry_after)` when `limit` is spent.
    pub(crate) fn spend(&self, key: RateKey, limit: u32, window: Duration) -> Option<Duration> {
        let now = Instant::now();
        let mut w = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let entry = w.entry(key).or_insert((now, 0));
        if now.duration_since(entry.0) >= window {
            *entry = (now, 0);
        }
        if entry.1 >= limit {
            return Some(window.saturating_sub(now.duration_since(entry.0)));
        }
        entry.1 += 1;
        None
    }

    /// Drops finished windows.
    pub(crate) fn purge(&self) {
        let now = Instant::now();
        self.windows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(w: &MemoryWindows, l: &RateLimits, bucket: Bucket, ip: IpAddr) -> Result<(), ()> {
        let limit = match bucket {
            Bucket::Token => l.token_per_minute,
            Bucket::Register => l.register_per_minute,
            Bucket::Authorize => l.authorize_per_minute,
        };
        if limit == 0 {
            return Ok(());
        }
        w.spend(RateKey::new(bucket, ip), limit, WINDOW)
            .map_or(Ok(()), |_| Err(()))
    }

    #[test]
    fn limit_applies_per_address_and_bucket() {
        let l = RateLimits {
            token_per_minute: 2,
            register_per_minute: 1,
            authorize_per_minute: 0,
        };
        let w = MemoryWindows::default();
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        assert!(check(&w, &l, Bucket::Token, a).is_ok());
        assert!(check(&w, &l, Bucket::Token, a).is_ok());
        assert!(check(&w, &l, Bucket::Token, a).is_err());
        assert!(check(&w, &l, Bucket::Token, b).is_ok());
        assert!(check(&w, &l, Bucket::Register, a).is_ok());
        assert!(check(&w, &l, Bucket::Register, a).is_err());
        for _ in 0..100 {
            assert!(check(&w, &l, Bucket::Authorize, a).is_ok());
        }
    }

    #[test]
    fn ipv6_addresses_in_one_64_share_one_budget_as30() {
        let l = RateLimits {
            token_per_minute: 2,
            register_per_minute: 1,
            authorize_per_minute: 1,
        };
        let w = MemoryWindows::default();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(check(&w, &l, Bucket::Token, ip("2001:db8:1:2::1")).is_ok());
        assert!(check(&w, &l, Bucket::Token, ip("2001:db8:1:2::2")).is_ok());
        assert!(
            check(
                &w,
                &l,
                Bucket::Token,
                ip("2001:db8:1:2:ffff:ffff:ffff:ffff")
            )
            .is_err(),
            "one /64 is one budget"
        );
        assert!(
            check(&w, &l, Bucket::Token, ip("2001:db8:1:3::1")).is_ok(),
            "another /64"
        );
        // IPv4-mapped addresses count as the IPv4 address.
        assert!(check(&w, &l, Bucket::Register, ip("192.0.2.7")).is_ok());
        assert!(check(&w, &l, Bucket::Register, ip("::ffff:192.0.2.7")).is_err());
    }
}
