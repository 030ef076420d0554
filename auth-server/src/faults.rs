//! Fault injection ("error simulation" in the design document), off by default.
//!
//! When `faults.enabled` is set, tests drive it in process through [`FaultController`] or over
//! HTTP: `POST /_faults` with `{"endpoint": "token", "fault": {"kind": "status", "status": 503},
//! "times": 1}`, `POST /_faults/rotate-keys`, `DELETE /_faults`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::keys::Keys;

/// What an endpoint does instead of answering normally.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Answer with this status and an RFC-shaped `server_error`/`temporarily_unavailable` body.
    Status {
        /// HTTP status (e.g. 500, 503).
        status: u16,
    },
    /// Answer 429 with `Retry-After`, as the rate limiter does.
    RateLimited {
        /// The `Retry-After` value, seconds.
        retry_after_secs: u64,
    },
    /// Wait before answering normally.
    Delay {
        /// Milliseconds.
        ms: u64,
    },
    /// Answer 200 with a body that is not JSON.
    MalformedJson,
    /// Drop the connection without a response.
    CloseConnection,
}

/// A fault request over HTTP.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FaultRequest {
    /// `token`, `authorize`, `jwks`, `metadata`, `register`, `revoke`, `introspect`.
    pub(crate) endpoint: String,
    /// The fault.
    pub(crate) fault: Fault,
    /// How many requests it affects; absent = until cleared.
    #[serde(default)]
    pub(crate) times: Option<u32>,
}

/// Active faults: endpoint -> (fault, remaining uses).
type Rules = HashMap<String, (Fault, Option<u32>)>;

/// Endpoint names faults can target ([`endpoint_of`]'s answers), in the order of [`HitCounter`]'s
/// counters.
pub(crate) const ENDPOINTS: [&str; 7] = [
    "token",
    "authorize",
    "jwks",
    "metadata",
    "register",
    "revoke",
    "introspect",
];

/// Holds the active faults.
#[derive(Debug, Clone)]
pub struct FaultController {
    enabled: bool,
    rules: Arc<Mutex<Rules>>,
    keys: Arc<Keys>,
}

impl FaultController {
    pub(crate) fn new(enabled: bool, keys: Arc<Keys>) -> Self {
        Self {
            enabled,
            rules: Arc::default(),
            keys,
        }
    }

    /// Whether fault injection is enabled by config.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Makes `endpoint` misbehave, for `times` requests or until cleared. Returns false when
    /// fault injection is disabled or the endpoint name is unknown.
    pub fn set(&self, endpoint: &str, fault: Fault, times: Option<u32>) -> bool {
        if !self.enabled || !ENDPOINTS.contains(&endpoint) {
            return false;
        }
        self.lock().insert(endpoint.to_owned(), (fault, times));
        true
    }

    /// Removes every fault.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Switches the JWKS to a new signing key (the old one stays published as retired).
    pub fn rotate_keys(&self) -> Option<String> {
        if !self.enabled {
            return None;
        }
        self.keys.rotate().ok().map(|k| k.kid.clone())
    }

    /// Takes the fault for one request to `endpoint`, if any.
    pub(crate) fn take(&self, endpoint: &str) -> Option<Fault> {
        if !self.enabled {
            return None;
        }
        let mut rules = self.lock();
        let (fault, remaining) = rules.get_mut(endpoint)?;
        let fault = fault.clone();
        match remaining {
            Some(0) => {
                rules.remove(endpoint);
                return None;
            }
            Some(n) => {
                *n -= 1;
                if *n == 0 {
                    rules.remove(endpoint);
                }
            }
            None => {}
        }
        Some(fault)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Rules> {
        self.rules.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Maps a request path to a fault endpoint name.
pub(crate) fn endpoint_of(path: &str) -> Option<&'static str> {
    Some(match path {
        "/token" => "token",
        "/authorize" | "/authorize/decision" => "authorize",
        "/jwks" | "/.well-known/jwks.json" => "jwks",
        "/register" => "register",
        "/revoke" => "revoke",
        "/introspect" => "introspect",
        p if p.starts_with("/.well-known/oauth-authorization-server")
            || p.starts_with("/.well-known/openid-configuration") =>
        {
            "metadata"
        }
        _ => return None,
    })
}

/// Request counts per endpoint name: one atomic counter each, not a map behind a mutex
/// (every request counted took a process-wide lock and a SipHash of the name; issue 16 C).
#[derive(Debug, Default)]
pub(crate) struct HitCounter([AtomicU64; ENDPOINTS.len()]);

impl HitCounter {
    fn counter(&self, endpoint: &str) -> Option<&AtomicU64> {
        ENDPOINTS
            .iter()
            .position(|e| *e == endpoint)
            .map(|i| &self.0[i])
    }
    pub(crate) fn hit(&self, endpoint: &'static str) {
        if let Some(c) = self.counter(endpoint) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }
    /// The count for an endpoint (0 for a name that is not an endpoint).
    pub(crate) fn get(&self, endpoint: &str) -> u64 {
        self.counter(endpoint)
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod hit_tests {
    use super::*;

    #[test]
    fn every_endpoint_has_its_own_counter() {
        let hits = HitCounter::default();
        let paths = [
            "/token",
            "/authorize",
            "/authorize/decision",
            "/jwks",
            "/.well-known/jwks.json",
            "/register",
            "/revoke",
            "/introspect",
            "/.well-known/oauth-authorization-server",
            "/.well-known/openid-configuration/tenant",
        ];
        for p in paths {
            hits.hit(endpoint_of(p).unwrap());
        }
        let want = [1, 2, 2, 2, 1, 1, 1]; // in ENDPOINTS' order
        for (name, n) in ENDPOINTS.iter().zip(want) {
            assert_eq!(hits.get(name), n, "{name}");
        }
        assert_eq!(hits.get("nope"), 0);
        assert_eq!(endpoint_of("/nope"), None);
    }
}
