//! RFC 9449 §10: `dpop_jkt` at `/authorize` binds the authorization code to the client's
//! DPoP key; `/token` redeems it only with a proof by that key (EX-04).

use axum::http::StatusCode;
use shared::dpop::{Algorithm, SigningKey};

use super::{PUBLIC_CLIENT, REDIRECT, Reply, Server};

fn key() -> SigningKey {
    SigningKey::generate(Algorithm::ES256).unwrap()
}

impl Server {
    /// A code for the public client, authorized with `extra` parameters, and its verifier.
    async fn code_with(&self, extra: &[(&str, &str)]) -> (String, String) {
        let (reply, verifier) = self.authorize(extra).await;
        let (_, query) = reply.redirect();
        let code = query
            .into_iter()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v)
            .expect("code");
        (code, verifier.secret().to_owned())
    }

    /// Redeems `code` with `proof_key`'s proof, if any.
    async fn redeem_bound(
        &self,
        code: &str,
        verifier: &str,
        proof_key: Option<&SigningKey>,
    ) -> Reply {
        let proof = proof_key.map(|k| {
            shared::dpop::proof(
                k,
                "POST",
                "http://127.0.0.1:9/token",
                None,
                None,
                self.state.clock.now_unix(),
            )
            .unwrap()
        });
        let headers: Vec<(&str, &str)> = proof.iter().map(|p| ("DPoP", p.as_str())).collect();
        self.post_form_with(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("client_id", PUBLIC_CLIENT),
                ("code", code),
                ("code_verifier", verifier),
                ("redirect_uri", REDIRECT),
            ],
            None,
            &headers,
        )
        .await
    }
}

#[tokio::test]
async fn a_code_with_dpop_jkt_is_redeemed_only_with_a_proof_by_that_key_ex04() {
    let s = Server::new();
    let k = key();
    let (code, verifier) = s.code_with(&[("dpop_jkt", k.thumbprint())]).await;
    // No proof, then another key: refused, and the code is not consumed (AS-45).
    s.redeem_bound(&code, &verifier, None)
        .await
        .assert_oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "authorization code is bound to a DPoP key (dpop_jkt): send a proof by that key",
        );
    s.redeem_bound(&code, &verifier, Some(&key()))
        .await
        .assert_oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "DPoP proof key does not match the dpop_jkt of the authorization request",
        );
    let t = s
        .redeem_bound(&code, &verifier, Some(&k))
        .await
        .assert_no_store_json(StatusCode::OK);
    assert_eq!(t["token_type"], "DPoP");
    let part = t["access_token"]
        .as_str()
        .unwrap()
        .split('.')
        .nth(1)
        .unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, part).unwrap(),
    )
    .unwrap();
    assert_eq!(claims["cnf"]["jkt"], k.thumbprint());
}

#[tokio::test]
async fn a_code_without_dpop_jkt_keeps_todays_behaviour_ex04() {
    let s = Server::new();
    let (code, verifier) = s.code_with(&[]).await;
    let t = s
        .redeem_bound(&code, &verifier, None)
        .await
        .assert_no_store_json(StatusCode::OK);
    assert_eq!(t["token_type"], "Bearer");
    let (code, verifier) = s.code_with(&[]).await;
    let t = s
        .redeem_bound(&code, &verifier, Some(&key()))
        .await
        .assert_no_store_json(StatusCode::OK);
    assert_eq!(t["token_type"], "DPoP", "any key binds an unbound code");
}

#[tokio::test]
async fn a_malformed_dpop_jkt_is_an_invalid_request_redirect_ex04() {
    let s = Server::new();
    for bad in [
        "short",
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs=",
        &"A".repeat(44),
    ] {
        let (reply, _) = s.authorize(&[("dpop_jkt", bad), ("state", "st")]).await;
        let (_, query) = reply.redirect();
        assert_eq!(
            query[0],
            ("error".into(), "invalid_request".into()),
            "{bad}"
        );
        assert_eq!(
            query[1].1,
            "dpop_jkt must be the base64url SHA-256 JWK thumbprint of the DPoP key (43 characters)"
        );
        assert!(!query.iter().any(|(k, _)| k == "code"));
    }
    // Repeated: refused like any repeated parameter.
    let k = key();
    let (reply, _) = s
        .authorize(&[("dpop_jkt", k.thumbprint()), ("dpop_jkt", k.thumbprint())])
        .await;
    let (_, query) = reply.redirect();
    assert_eq!(query[0], ("error".into(), "invalid_request".into()));
}

#[tokio::test]
async fn with_dpop_off_dpop_jkt_is_ignored_ex04() {
    let s = Server::with(|c| c.dpop.enabled = false);
    let (code, verifier) = s.code_with(&[("dpop_jkt", key().thumbprint())]).await;
    let t = s
        .redeem_bound(&code, &verifier, None)
        .await
        .assert_no_store_json(StatusCode::OK);
    assert_eq!(t["token_type"], "Bearer");
}

#[tokio::test]
async fn dpop_jkt_survives_the_consent_step_ex04() {
    let s = Server::with(|c| c.auto_approve = false);
    let k = key();
    let (page, verifier) = s
        .authorize(&[("dpop_jkt", k.thumbprint()), ("state", "st")])
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let cookie = page
        .header(axum::http::header::SET_COOKIE)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let body = page.text();
    let field = |name: &str| {
        let at = body.find(&format!("name=\"{name}\" value=\"")).unwrap();
        let rest = &body[at + name.len() + 15..];
        rest[..rest.find('"').unwrap()].to_owned()
    };
    let (id, csrf) = (field("request_id"), field("csrf_token"));
    let approved = s
        .post_form_with(
            "/authorize/decision",
            &[
                ("request_id", &id),
                ("csrf_token", &csrf),
                ("decision", "approve"),
            ],
            None,
            &[("cookie", &cookie)],
        )
        .await;
    let (_, query) = approved.redirect();
    let code = query.iter().find(|(k, _)| k == "code").unwrap().1.clone();
    s.redeem_bound(&code, verifier.secret(), Some(&key()))
        .await
        .assert_oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "DPoP proof key does not match the dpop_jkt of the authorization request",
        );
    let t = s
        .redeem_bound(&code, verifier.secret(), Some(&k))
        .await
        .assert_no_store_json(StatusCode::OK);
    assert_eq!(t["token_type"], "DPoP");
}
