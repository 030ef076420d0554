//! Client assertions (EX-30) and ID-JAG checks (EX-21).

use super::*;
use crate::dpop::{Jwk, ProofError};

const NOW: u64 = 1_700_000_000;
const AS: &str = "https://as.example";
const TOKEN: &str = "https://as.example/token";

fn key(alg: Algorithm) -> SigningKey {
    SigningKey::generate(alg).unwrap()
}

fn set(keys: &[&SigningKey]) -> JwkSet {
    JwkSet {
        keys: keys
            .iter()
            .map(|k| {
                let mut j: Jwk = k.public_jwk().clone();
                j.common.key_id = Some(k.thumbprint().to_owned());
                j
            })
            .collect(),
    }
}

fn policy() -> AssertionPolicy {
    AssertionPolicy::new([AS, TOKEN])
}

/// Signs arbitrary claims with `k` and a `kid` header.
fn signed(k: &SigningKey, typ: Option<&str>, claims: serde_json::Value) -> String {
    let mut h = jsonwebtoken::Header::new(k.algorithm());
    h.typ = typ.map(str::to_owned);
    h.kid = Some(k.thumbprint().to_owned());
    k.sign_header(h, &claims).unwrap()
}

fn ca_claims() -> serde_json::Value {
    serde_json::json!({"iss":"svc","sub":"svc","aud":TOKEN,"exp":NOW+60,"iat":NOW,"jti":"j1"})
}

#[test]
fn client_assertions_round_trip_with_every_key_type_ex30() {
    for alg in SUPPORTED_ALGS {
        let k = key(alg);
        let other = key(Algorithm::ES256);
        for aud in [AS, TOKEN] {
            let jwt = client_assertion(&k, "svc", aud, NOW, 60).unwrap();
            let ok = verify_client_assertion(&jwt, "svc", &set(&[&other, &k]), &policy(), NOW + 5)
                .unwrap();
            assert_eq!(ok.exp, NOW + 60);
            assert_eq!(ok.claims.iss, "svc");
            assert_eq!(ok.jti.len(), 43);
        }
    }
}

#[test]
fn client_assertion_claims_are_checked_ex30() {
    let k = key(Algorithm::ES256);
    let keys = set(&[&k]);
    let with = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut c = ca_claims();
        f(&mut c);
        verify_client_assertion(&signed(&k, None, c), "svc", &keys, &policy(), NOW)
    };
    assert!(with(&|_| {}).is_ok());
    assert_eq!(
        with(&|c| c["iss"] = "other".into()),
        Err(AssertionError::WrongIssuer)
    );
    assert_eq!(
        with(&|c| c["sub"] = "other".into()),
        Err(AssertionError::WrongSubject)
    );
    assert_eq!(
        with(&|c| c["aud"] = "https://elsewhere.example".into()),
        Err(AssertionError::WrongAudience)
    );
    assert!(with(&|c| c["aud"] = serde_json::json!(["x", AS])).is_ok());
    assert_eq!(
        with(&|c| c["exp"] = (NOW - 31).into()),
        Err(AssertionError::Expired)
    );
    assert_eq!(
        with(&|c| c["exp"] = (NOW + 301).into()),
        Err(AssertionError::TooLong)
    );
    assert_eq!(
        with(&|c| c["iat"] = (NOW + 31).into()),
        Err(AssertionError::NotYetValid)
    );
    assert_eq!(
        with(&|c| c["nbf"] = (NOW + 31).into()),
        Err(AssertionError::NotYetValid)
    );
    for name in ["iss", "sub", "aud", "exp", "jti"] {
        assert_eq!(
            with(&|c| {
                c.as_object_mut().unwrap().remove(name);
            }),
            Err(AssertionError::MissingClaim(name)),
            "{name}"
        );
    }
    // Another client's key, or a forged claim set, fails the signature.
    let stranger = key(Algorithm::ES256);
    let jwt = client_assertion(&stranger, "svc", AS, NOW, 60).unwrap();
    assert!(matches!(
        verify_client_assertion(&jwt, "svc", &keys, &policy(), NOW),
        Err(AssertionError::Jws(
            ProofError::BadJwk | ProofError::BadSignature
        ))
    ));
    // Shorter lifetime policy.
    let p = policy().with_max_lifetime(30).with_leeway(0);
    let jwt = client_assertion(&k, "svc", AS, NOW, 60).unwrap();
    assert_eq!(
        verify_client_assertion(&jwt, "svc", &keys, &p, NOW),
        Err(AssertionError::TooLong)
    );
    // Disallowed algorithm.
    let p = policy().with_algs([Algorithm::EdDSA]);
    let jwt = client_assertion(&k, "svc", AS, NOW, 60).unwrap();
    assert_eq!(
        verify_client_assertion(&jwt, "svc", &keys, &p, NOW),
        Err(AssertionError::Jws(ProofError::AlgNotAllowed))
    );
}

#[test]
fn a_symmetric_assertion_is_refused_ex30() {
    let k = key(Algorithm::ES256);
    let hs = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(Algorithm::HS256),
        &ca_claims(),
        &jsonwebtoken::EncodingKey::from_secret(b"client-secret"),
    )
    .unwrap();
    assert_eq!(
        verify_client_assertion(&hs, "svc", &set(&[&k]), &policy(), NOW),
        Err(AssertionError::Jws(ProofError::SymmetricAlg))
    );
}

fn jag_claims() -> serde_json::Value {
    serde_json::json!({
        "iss": "https://idp.example", "sub": "alice", "aud": AS, "client_id": "mcp-client",
        "jti": "jag1", "exp": NOW + 300, "iat": NOW,
        "resource": "https://mcp.example/mcp", "scope": "mcp:tools:read"
    })
}

fn expectations(resources: &[String]) -> IdJagExpectations<'_> {
    IdJagExpectations {
        idp_issuer: "https://idp.example",
        client_id: "mcp-client",
        resources,
    }
}

#[test]
fn id_jags_round_trip_and_every_claim_is_checked_ex21() {
    let idp = key(Algorithm::ES256);
    let keys = set(&[&idp]);
    let resources = vec!["https://mcp.example/mcp".to_owned()];
    let claims: IdJagClaims = serde_json::from_value(jag_claims()).unwrap();
    let jwt = create_id_jag(&idp, None, &claims).unwrap();
    assert_eq!(peek_issuer(&jwt).as_deref(), Some("https://idp.example"));
    let ok = verify_id_jag(&jwt, &keys, &expectations(&resources), &policy(), NOW).unwrap();
    assert_eq!(ok.claims, claims);
    assert_eq!(ok.jti, "jag1");

    let with = |typ: Option<&str>, f: &dyn Fn(&mut serde_json::Value)| {
        let mut c = jag_claims();
        f(&mut c);
        verify_id_jag(
            &signed(&idp, typ, c),
            &keys,
            &expectations(&resources),
            &policy(),
            NOW,
        )
    };
    let t = Some(ID_JAG_TYP);
    assert!(with(t, &|_| {}).is_ok());
    assert_eq!(
        with(Some("JWT"), &|_| {}),
        Err(AssertionError::Jws(ProofError::WrongTyp))
    );
    assert_eq!(
        with(None, &|_| {}),
        Err(AssertionError::Jws(ProofError::WrongTyp))
    );
    assert_eq!(
        with(t, &|c| c["iss"] = "https://evil.example".into()),
        Err(AssertionError::WrongIssuer)
    );
    assert_eq!(
        with(t, &|c| c["aud"] = "https://other-as.example".into()),
        Err(AssertionError::WrongAudience)
    );
    assert_eq!(
        with(t, &|c| c["client_id"] = "someone-else".into()),
        Err(AssertionError::WrongClient)
    );
    assert_eq!(
        with(t, &|c| c["resource"] = "https://other.example/mcp".into()),
        Err(AssertionError::WrongResource)
    );
    assert_eq!(
        with(t, &|c| c["exp"] = (NOW - 60).into()),
        Err(AssertionError::Expired)
    );
    assert_eq!(
        with(t, &|c| c["exp"] = (NOW + 3600).into()),
        Err(AssertionError::TooLong)
    );
    for name in ["sub", "client_id", "jti", "exp", "aud"] {
        assert_eq!(
            with(t, &|c| {
                c.as_object_mut().unwrap().remove(name);
            }),
            Err(AssertionError::MissingClaim(name)),
            "{name}"
        );
    }
    // Without resource (optional) it passes; the scope is returned for intersection.
    let ok = with(t, &|c| {
        c.as_object_mut().unwrap().remove("resource");
    })
    .unwrap();
    assert_eq!(ok.claims.scope.as_deref(), Some("mcp:tools:read"));
    // Signed by a key the IdP does not publish.
    let rogue = key(Algorithm::ES256);
    let jwt = create_id_jag(&rogue, Some(idp.thumbprint()), &claims).unwrap();
    assert_eq!(
        verify_id_jag(&jwt, &keys, &expectations(&resources), &policy(), NOW),
        Err(AssertionError::Jws(ProofError::BadSignature))
    );
}
