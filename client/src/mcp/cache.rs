//! Cache hints (PR-29): 2026-07-28 results of `server/discover` and the list methods carry
//! `ttlMs` and `cacheScope`; the client reuses such a result for `ttlMs`, keyed by method and
//! params. `cacheScope: "private"` results stay in the connection's own cache; `"public"` ones
//! also go to a [`ResponseCache`] shared between clients ([`McpClient::with_shared_cache`]).
//! Never cached: `tools/call`, anything carrying a `requestState` (multi round-trip retries),
//! results without hints, legacy-era results.
//!
//! Hand-written rather than moka: a handful of entries per connection, each with its own
//! TTL from the server, and the map must be cleared on `list_changed`; a `Mutex<HashMap>`
//! bounded by [`MAX_ENTRIES`] does that in a few lines.
//!
//! [`McpClient::with_shared_cache`]: super::McpClient::with_shared_cache

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Most entries one cache holds (a full cache evicts expired entries, then refuses).
pub(super) const MAX_ENTRIES: usize = 256;
/// Longest reuse, whatever `ttlMs` says.
const MAX_TTL: Duration = Duration::from_secs(3600);

/// Methods whose results may be reused.
pub(super) fn cacheable(method: &str, params: &Value) -> bool {
    matches!(
        method,
        "server/discover"
            | "tools/list"
            | "resources/list"
            | "resources/templates/list"
            | "prompts/list"
    ) && params.get("requestState").is_none()
}

/// The cache key: method and params (without `_meta`, which the transport adds).
pub(super) fn key(method: &str, params: &Value) -> String {
    format!("{method}\u{0}{params}")
}

/// What a result's hints allow: `(ttl, public)`, or `None` (do not cache).
pub(super) fn hints(result: &Value) -> Option<(Duration, bool)> {
    let ttl = result.get("ttlMs")?.as_u64().filter(|t| *t > 0)?;
    let public = match result.get("cacheScope")?.as_str()? {
        "public" => true,
        "private" => false,
        _ => return None,
    };
    Some((Duration::from_millis(ttl).min(MAX_TTL), public))
}

/// Results kept until their `ttlMs` runs out.
#[derive(Debug, Default)]
pub struct ResponseCache {
    entries: Mutex<HashMap<String, (Instant, Value)>>,
}

impl ResponseCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Value)>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn get(&self, key: &str) -> Option<Value> {
        let mut g = self.lock();
        match g.get(key) {
            Some((until, v)) if *until > Instant::now() => Some(v.clone()),
            Some(_) => {
                g.remove(key);
                None
            }
            None => None,
        }
    }

    pub(super) fn put(&self, key: String, ttl: Duration, v: &Value) {
        let mut g = self.lock();
        if g.len() >= MAX_ENTRIES {
            let now = Instant::now();
            g.retain(|_, (until, _)| *until > now);
            if g.len() >= MAX_ENTRIES {
                return;
            }
        }
        g.insert(key, (Instant::now() + ttl, v.clone()));
    }

    /// Forgets the results of `method` (all of them when `None`), e.g. on `list_changed`.
    pub fn invalidate(&self, method: Option<&str>) {
        let mut g = self.lock();
        match method {
            None => g.clear(),
            Some(m) => {
                let prefix = format!("{m}\u{0}");
                g.retain(|k, _| !k.starts_with(&prefix));
            }
        }
    }

    /// Number of live entries (expired ones may still count until looked up).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hints_need_a_positive_ttl_and_a_known_scope_pr29() {
        assert_eq!(
            hints(&json!({"ttlMs": 5000, "cacheScope": "public"})),
            Some((Duration::from_secs(5), true))
        );
        assert_eq!(
            hints(&json!({"ttlMs": 10, "cacheScope": "private"})),
            Some((Duration::from_millis(10), false))
        );
        assert_eq!(hints(&json!({"ttlMs": 0, "cacheScope": "public"})), None);
        assert_eq!(hints(&json!({"ttlMs": 5, "cacheScope": "shared"})), None);
        assert_eq!(hints(&json!({"ttlMs": 5})), None);
        assert_eq!(
            hints(&json!({"ttlMs": u64::MAX, "cacheScope": "public"})),
            Some((MAX_TTL, true))
        );
    }

    #[test]
    fn only_discover_and_lists_without_request_state_are_cacheable_pr29() {
        assert!(cacheable("tools/list", &json!({})));
        assert!(cacheable("server/discover", &json!({})));
        assert!(!cacheable("tools/call", &json!({"name": "echo"})));
        assert!(!cacheable("resources/read", &json!({"uri": "x"})));
        assert!(!cacheable("tools/list", &json!({"requestState": "s"})));
    }

    #[test]
    fn entries_expire_and_invalidate_by_method() {
        let c = ResponseCache::new();
        c.put(
            key("tools/list", &json!({})),
            Duration::from_secs(60),
            &json!(1),
        );
        c.put(key("prompts/list", &json!({})), Duration::ZERO, &json!(2));
        assert_eq!(c.get(&key("tools/list", &json!({}))), Some(json!(1)));
        assert_eq!(c.get(&key("prompts/list", &json!({}))), None);
        assert_eq!(c.get(&key("tools/list", &json!({"cursor": "a"}))), None);
        c.invalidate(Some("tools/list"));
        assert!(c.is_empty());
    }
}
