//! Issue 11 item 13: a file token store shared by several processes (CL-32, CL-33, P-12).
//! Each `FileTokenStore` below is opened separately, as a second CLI process would: its OS
//! locks are its own, so two managers over two handles of one file behave like two
//! processes. Neither may replay a refresh token that the other already rotated.

use std::path::PathBuf;
use std::sync::Arc;

use http_oauth2_client::{FileTokenStore, TokenManager};
use shared::clock::TestClock;

use super::mock::{self, Mock};
use super::{expired_set, manager_with};

fn store_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "client-store-lock-{}-{}",
        std::process::id(),
        shared::random::token()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Two "processes" that both loaded the expired `at-0`/`rt-0` from one store file.
fn two_processes(m: &Mock, path: &std::path::Path, clock: &TestClock) -> [TokenManager; 2] {
    let open = || Arc::new(FileTokenStore::open(path).unwrap());
    manager_with(m, open(), clock).set_tokens(expired_set(clock), None);
    [
        manager_with(m, open(), clock),
        manager_with(m, open(), clock),
    ]
}

/// The refresh tokens sent to the token endpoint, in order.
fn refresh_tokens_sent(m: &Mock) -> Vec<String> {
    (0..m.token_hits())
        .map(|i| m.form(i)["refresh_token"].clone())
        .collect()
}

/// A process re-reads the store before refreshing: the tokens another process already
/// refreshed are used, and the rotated `rt-0` is never sent again.
#[tokio::test]
async fn a_second_process_uses_the_refreshed_tokens_instead_of_replaying_cl33() {
    let m = mock::spawn().await;
    let clock = TestClock::starting_now();
    let dir = store_dir();
    let [a, b] = two_processes(&m, &dir.join("tokens.jwe"), &clock);
    assert_eq!(a.access_token().await.unwrap().0.secret(), "at-1");
    assert_eq!(b.access_token().await.unwrap().0.secret(), "at-1");
    assert_eq!(refresh_tokens_sent(&m), ["rt-0"]);
    let _ = std::fs::remove_dir_all(dir);
}

/// Two processes refreshing at the same moment: the OS lock lets one refresh while the
/// other waits, then finds the new tokens (one token-endpoint call).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refreshes_in_two_processes_hit_the_token_endpoint_once_cl33() {
    let m = mock::spawn().await;
    let clock = TestClock::starting_now();
    let dir = store_dir();
    let [a, b] = two_processes(&m, &dir.join("tokens.jwe"), &clock);
    let (ra, rb) = tokio::join!(
        tokio::spawn(async move { a.access_token().await }),
        tokio::spawn(async move { b.access_token().await }),
    );
    let (ra, rb) = (ra.unwrap().unwrap(), rb.unwrap().unwrap());
    assert_eq!(ra.0.secret(), "at-1");
    assert_eq!(rb.0.secret(), "at-1");
    assert_eq!(refresh_tokens_sent(&m), ["rt-0"]);
    let _ = std::fs::remove_dir_all(dir);
}
