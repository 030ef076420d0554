//! The token manager: single-flight refresh (CL-33, P-12), rotation and storage (CL-32,
//! CL-33, CL-19), `invalid_grant` (CL-34), proactive refresh, and retries of a failing token
//! endpoint.

use std::sync::Arc;
use std::time::Duration;

use http_oauth2_client::{ClientError, InMemoryTokenStore, TokenManager, TokenStore};
use shared::clock::TestClock;
use shared::secret::RefreshToken;

use super::mock::{self, TokenMode};
use super::{expired_set, manager, manager_with, now, token_endpoint, token_set};

/// `n` tasks wait on a barrier, then all call `access_token()`.
async fn concurrent_access_tokens(
    mgr: &TokenManager,
    n: usize,
) -> Vec<Result<String, ClientError>> {
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let mut tasks = Vec::new();
    for _ in 0..n {
        let (mgr, barrier) = (mgr.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            mgr.access_token().await.map(|(t, _)| t.secret().to_owned())
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// CL-33 / P-12: 100 concurrent callers with an expired token cause exactly one
/// token-endpoint call, and all of them get the new token.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refresh_concurrent_callers_hit_token_endpoint_once_cl33() {
    let m = mock::spawn().await;
    let clock = TestClock::starting_now();
    let mgr = manager(&m, &clock);
    mgr.set_tokens(expired_set(&clock), None);
    for token in concurrent_access_tokens(&mgr, 100).await {
        assert_eq!(token.unwrap(), "at-1");
    }
    assert_eq!(m.token_hits(), 1);
}

/// A failing token endpoint is not hammered: callers queued behind the single-flight gate
/// reuse the failure for a moment instead of each trying again (P-12).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failing_token_endpoint_is_called_once_for_concurrent_callers() {
    let m = mock::spawn().await;
    m.fail_next_token_requests(1_000);
    let clock = TestClock::starting_now();
    let mgr = manager(&m, &clock);
    mgr.set_tokens(expired_set(&clock), None);
    // One caller sees the endpoint's 503; the 19 queued behind the gate reuse that failure.
    let results = concurrent_access_tokens(&mgr, 20).await;
    let failed_503 = results
        .iter()
        .filter(|r| matches!(r, Err(e @ ClientError::HttpStatus { .. }) if e.status() == Some(reqwest::StatusCode::SERVICE_UNAVAILABLE)))
        .count();
    let held = results
        .iter()
        .filter(|r| matches!(r, Err(ClientError::RetryLater { .. })))
        .count();
    assert_eq!((failed_503, held), (1, 19), "{results:?}");
    assert_eq!(m.token_hits(), 1);
    // After the hold time a new attempt is made.
    clock.advance(Duration::from_secs(3));
    m.fail_next_token_requests(0);
    assert_eq!(mgr.access_token().await.unwrap().0.secret(), "at-1");
}

/// CL-33: a late 401 for a token that was already replaced does not refresh again
/// (generation counter).
#[tokio::test]
async fn late_401_for_replaced_token_does_not_refresh_again_cl33() {
    let m = mock::spawn().await;
    let clock = TestClock::starting_now();
    let mgr = manager(&m, &clock);
    let g0 = mgr.set_tokens(expired_set(&clock), None);
    let (t1, g1) = mgr.refresh_if_current(g0).await.unwrap();
    assert_eq!(t1.secret(), "at-1");
    let (t2, g2) = mgr.refresh_if_current(g0).await.unwrap();
    assert_eq!((t2.secret(), g2), ("at-1", g1));
    assert_eq!(m.token_hits(), 1);
    // A 401 for the *current* generation does refresh.
    let (t3, _) = mgr.refresh_if_current(g1).await.unwrap();
    assert_eq!(t3.secret(), "at-2");
    assert_eq!(m.token_hits(), 2);
}

/// CL-33, CL-19: a rotated refresh token replaces the old one in memory and in the store;
/// `resource` is sent on refresh.
#[tokio::test]
async fn refresh_rotation_is_stored_and_resource_sent_cl33_cl19() {
    let m = mock::spawn().await;
    let clock = TestClock::starting_now();
    let store: Arc<dyn TokenStore> = Arc::new(InMemoryTokenStore::default());
    let mgr = manager_with(&m, store.clone(), &clock);
    mgr.set_tokens(expired_set(&clock), None);
    mgr.access_token().await.unwrap();
    let stored = store.load(mgr.key()).unwrap().unwrap();
    assert_eq!(stored.refresh_token.unwrap().secret(), "rt-1");
    assert_eq!(stored.expires_at, Some(now(&clock) + 3600));
    let form = m.form(0);
    assert_eq!(form["grant_type"], "refresh_token");
    assert_eq!(form["refresh_token"], "rt-0");
    assert_eq!(form["resource"], m.mcp_url());
    assert_eq!(form["client_id"], "cli");
    // Next refresh spends the rotated token.
    mgr.refresh_if_current(mgr.generation()).await.unwrap();
    assert_eq!(m.form(1)["refresh_token"], "rt-1");
}

/// CL-33: when the response carries no refresh token the old one is kept.
#[tokio::test]
async fn refresh_without_new_refresh_token_keeps_the_old_one_cl33() {
    let m = mock::spawn().await;
    m.set_token_mode(TokenMode::NoRefresh);
    let clock = TestClock::starting_now();
    let mgr = manager(&m, &clock);
    mgr.set_tokens(expired_set(&clock), None);
    mgr.access_token().await.unwrap();
    let t = mgr.tokens().unwrap();
    assert_eq!(t.access_token.secret(), "at-1");
    assert_eq!(t.refresh_token.as_ref().unwrap().secret(), "rt-0");
    assert_eq!(t.scope.as_deref(), Some("mcp:tools:read"));
}

/// CL-34 / P-12: `invalid_grant` (e.g. a reused rotated token) becomes
/// AuthorizationRequired, clears the tokens and never loops.
#[tokio::test]
async fn invalid_grant_becomes_authorization_required_without_loop_cl34() {
    let m = mock::spawn().await;
    m.set_token_mode(TokenMode::InvalidGrant);
    let clock = TestClock::starting_now();
    let store: Arc<dyn TokenStore> = Arc::new(InMemoryTokenStore::default());
    let mgr = manager_with(&m, store.clone(), &clock);
    mgr.set_tokens(expired_set(&clock), None);
    for _ in 0..2 {
        let e = mgr.access_token().await.unwrap_err();
        assert!(e.is_authorization_required(), "{e}");
    }
    assert_eq!(m.token_hits(), 1);
    assert!(store.load(mgr.key()).unwrap().is_none());
}

/// Proactive refresh: a stale (past 75% of its lifetime) token is refreshed before use.
#[tokio::test]
async fn stale_token_is_refreshed_proactively_cl33() {
    let m = mock::spawn().await;
    let clock = TestClock::starting_now();
    let mgr = manager(&m, &clock);
    mgr.set_tokens(token_set(now(&clock), 100), None);
    assert_eq!(mgr.access_token().await.unwrap().0.secret(), "at-0");
    clock.advance(Duration::from_secs(80));
    assert_eq!(mgr.access_token().await.unwrap().0.secret(), "at-1");
    assert_eq!(m.token_hits(), 1);
}

/// CL-32: tokens saved by one process are found (with their expiry) by the next, which
/// refreshes with the stored refresh token once the access token has expired.
#[tokio::test]
async fn file_store_restores_expiry_so_refresh_works_after_restart_cl32() {
    let m = mock::spawn().await;
    let clock = TestClock::starting_now();
    let dir = std::env::temp_dir().join(format!(
        "client-restart-{}-{}",
        std::process::id(),
        shared::random::token()
    ));
    let path = dir.join("tokens.jwe");
    let open = || Arc::new(http_oauth2_client::FileTokenStore::open(&path).unwrap());
    manager_with(&m, open(), &clock).set_tokens(token_set(now(&clock), 60), None);
    let mgr = manager_with(&m, open(), &clock);
    assert_eq!(mgr.tokens().unwrap().expires_at, Some(now(&clock) + 60));
    assert_eq!(mgr.access_token().await.unwrap().0.secret(), "at-0");
    clock.advance(Duration::from_secs(120));
    assert_eq!(mgr.access_token().await.unwrap().0.secret(), "at-1");
    assert_eq!(m.form(0)["refresh_token"], "rt-0");
    let _ = std::fs::remove_dir_all(dir);
}

/// CL-33 (issue 11 item 12): a refresh that meets a transient 503 is not retried (a rotated
/// refresh token must not be replayed); the client-credentials grant, which carries no
/// one-time credential, still is (reqwest-retry).
#[tokio::test]
async fn token_endpoint_503_is_not_retried_for_a_refresh_cl33() {
    let m = mock::spawn().await;
    m.fail_next_token_requests(1);
    let e = token_endpoint(&m, None, 2)
        .refresh(&RefreshToken::new("rt-0".into()), None)
        .await
        .unwrap_err();
    assert_eq!(
        e.status(),
        Some(reqwest::StatusCode::SERVICE_UNAVAILABLE),
        "{e:?}"
    );
    assert_eq!(m.token_hits(), 1);

    m.fail_next_token_requests(1);
    token_endpoint(&m, None, 2)
        .client_credentials(None)
        .await
        .unwrap();
    assert_eq!(m.token_hits(), 3, "one more 503, then a success");
}
