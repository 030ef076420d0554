//! `grant_type=refresh_token` with an injected clock: the grace window hands out the successor
//! that was already issued (one chain per grant, never two), and `grace = 0` means none.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use shared::clock::TestClock;

use super::{PUBLIC_CLIENT, Server};
use crate::config::SigningAlgorithm;
use crate::keys::Keys;
use crate::{AppState, Config, router};

/// The router over fresh state driven by `clock`, with `grace` seconds of refresh grace.
fn server(clock: &TestClock, grace: u64) -> Server {
    let config = Config {
        refresh_grace_secs: grace,
        ..Config::default()
    };
    let keys = Arc::new(Keys::ephemeral(SigningAlgorithm::ES256).unwrap());
    let state = AppState::new(
        config,
        super::ISSUER.to_owned(),
        keys,
        Arc::new(clock.clone()),
    )
    .unwrap();
    Server {
        router: router(state.clone()),
        state,
    }
}

impl Server {
    async fn refresh(&self, rt: &str) -> super::Reply {
        self.token(
            &[
                ("grant_type", "refresh_token"),
                ("client_id", PUBLIC_CLIENT),
                ("refresh_token", rt),
            ],
            None,
        )
        .await
    }
}

fn rt_of(v: &serde_json::Value) -> String {
    v["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_owned()
}

/// Presenting the rotated `reused` token is refused and revokes the grant: `newest`, the
/// family's live token, stops working too.
async fn assert_reuse_revokes_the_family(s: &Server, reused: &str, newest: &str) {
    s.refresh(reused).await.assert_oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "refresh token was already used; the grant is revoked",
    );
    s.refresh(newest).await.assert_oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "refresh token is invalid, expired or revoked",
    );
}

#[tokio::test]
async fn replay_inside_the_grace_window_gets_the_issued_successor_never_a_second_chain_as41_as45() {
    let clock = TestClock::new(1_000_000);
    let s = server(&clock, 2);
    let rt1 = rt_of(&s.tokens().await);
    let first = s.refresh(&rt1).await.assert_no_store_json(StatusCode::OK);
    let rt2 = rt_of(&first);
    clock.advance(Duration::from_secs(1));
    let replay = s.refresh(&rt1).await.assert_no_store_json(StatusCode::OK);
    assert_eq!(
        rt_of(&replay),
        rt2,
        "the replay gets the successor already issued"
    );
    assert!(replay["access_token"].is_string());
    // One chain: the successor rotates normally, and the replay made nothing else live.
    let third = s.refresh(&rt2).await.assert_no_store_json(StatusCode::OK);
    let rt3 = rt_of(&third);
    // Strict `<`: exactly `grace` seconds after the rotation the window is closed and the
    // replay revokes the whole family.
    clock.advance(Duration::from_secs(1));
    assert_reuse_revokes_the_family(&s, &rt1, &rt3).await;
}

#[tokio::test]
async fn grace_zero_refuses_a_same_second_replay_and_revokes_the_grant_as41() {
    let clock = TestClock::new(1_000_000);
    let s = server(&clock, 0);
    let rt1 = rt_of(&s.tokens().await);
    let rt2 = rt_of(&s.refresh(&rt1).await.assert_no_store_json(StatusCode::OK));
    assert_reuse_revokes_the_family(&s, &rt1, &rt2).await;
}

#[tokio::test]
async fn a_rotated_token_pruned_after_the_window_still_revokes_the_grant_on_reuse_as41() {
    let clock = TestClock::new(1_000_000);
    let s = server(&clock, 2);
    let rt1 = rt_of(&s.tokens().await);
    let rt2 = rt_of(&s.refresh(&rt1).await.assert_no_store_json(StatusCode::OK));
    clock.advance(Duration::from_secs(5));
    s.state.store.purge_expired(1_000_005, 2).await.unwrap();
    assert_reuse_revokes_the_family(&s, &rt1, &rt2).await;
}
