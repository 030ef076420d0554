//! Fixed-window per-address rate limits for `/token`, `/register` and `/authorize`.
//!
//! Hand-written (a mutex-protected map of counters) rather than pulling `governor`: a fixed
//! one-minute window per address and route is all the issue asks for, and it stays bounded by
//! purging stale windows.
//!
//! IPv6 clients are counted per /64: one subscriber usually holds a whole /64 and can pick a new
//! address from it for every request. IPv4-mapped IPv6 addresses count as the IPv4 address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::RateLimits;

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

const WINDOW: Duration = Duration::from_secs(60);

/// The limiter.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    limits: RateLimits,
    windows: Mutex<HashMap<(Bucket, IpAddr), (Instant, u32)>>,
}

impl RateLimiter {
    /// A limiter with these limits.
    pub(crate) fn new(limits: RateLimits) -> Self {
        Self {
            limits,
            windows: Mutex::default(),
        }
    }

    fn limit(&self, bucket: Bucket) -> u32 {
        match bucket {
            Bucket::Token => self.limits.token_per_minute,
            Bucket::Register => self.limits.register_per_minute,
            Bucket::Authorize => self.limits.authorize_per_minute,
        }
    }

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

    /// Spends one request; `Err(retry_after)` when over the limit.
    pub(crate) fn check(&self, bucket: Bucket, ip: IpAddr) -> Result<(), Duration> {
        let limit = self.limit(bucket);
        if limit == 0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut w = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let entry = w.entry((bucket, Self::budget_key(ip))).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        if entry.1 >= limit {
            return Err(WINDOW.saturating_sub(now.duration_since(entry.0)));
        }
        entry.1 += 1;
        Ok(())
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

    #[test]
    fn limit_applies_per_address_and_bucket() {
        let l = RateLimiter::new(RateLimits {
            token_per_minute: 2,
            register_per_minute: 1,
            authorize_per_minute: 0,
        });
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        assert!(l.check(Bucket::Token, a).is_ok());
        assert!(l.check(Bucket::Token, a).is_ok());
        assert!(l.check(Bucket::Token, a).is_err());
        assert!(l.check(Bucket::Token, b).is_ok());
        assert!(l.check(Bucket::Register, a).is_ok());
        assert!(l.check(Bucket::Register, a).is_err());
        for _ in 0..100 {
            assert!(l.check(Bucket::Authorize, a).is_ok());
        }
    }

    #[test]
    fn ipv6_addresses_in_one_64_share_one_budget_as30() {
        let l = RateLimiter::new(RateLimits {
            token_per_minute: 2,
            register_per_minute: 1,
            authorize_per_minute: 1,
        });
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(l.check(Bucket::Token, ip("2001:db8:1:2::1")).is_ok());
        assert!(l.check(Bucket::Token, ip("2001:db8:1:2::2")).is_ok());
        assert!(
            l.check(Bucket::Token, ip("2001:db8:1:2:ffff:ffff:ffff:ffff"))
                .is_err(),
            "one /64 is one budget"
        );
        assert!(
            l.check(Bucket::Token, ip("2001:db8:1:3::1")).is_ok(),
            "another /64"
        );
        // IPv4-mapped addresses count as the IPv4 address.
        assert!(l.check(Bucket::Register, ip("192.0.2.7")).is_ok());
        assert!(l.check(Bucket::Register, ip("::ffff:192.0.2.7")).is_err());
    }
}
