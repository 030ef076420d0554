//! Every bad input to [`super::verify`] refused with the rule that failed (EX-02, EX-03).

use super::*;
use serde_json::json;

const NOW: u64 = 1_700_000_000;
const URI: &str = "https://rs.example/mcp";

fn es256() -> SigningKey {
    SigningKey::generate(Algorithm::ES256).unwrap()
}

fn ctx(method: &'static str, uri: &'static str) -> RequestContext<'static> {
    RequestContext::new(method, uri, NOW)
}

fn check(p: &str, c: &RequestContext<'_>) -> Result<VerifiedProof, ProofError> {
    verify(p, c, &ProofPolicy::default())
}

/// A proof with a hand-made header and claims, signed by `key`.
fn custom(key: &SigningKey, header: serde_json::Value, claims: serde_json::Value) -> String {
    let h = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap());
    let c = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    // Sign `h.c` through jsonwebtoken with a header that serialises identically is not
    // possible for arbitrary headers: sign the message with aws-lc-rs directly.
    let msg = format!("{h}.{c}");
    let sig = raw_sign(key, msg.as_bytes());
    format!("{msg}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn raw_sign(key: &SigningKey, msg: &[u8]) -> Vec<u8> {
    // Re-sign through jsonwebtoken's crypto: encode() would rebuild the header, so use the
    // signer on the PKCS#8 key via aws-lc-rs.
    let pem = key.private_pem();
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = STANDARD.decode(b64).unwrap();
    let rng = aws_lc_rs::rand::SystemRandom::new();
    match key.algorithm() {
        Algorithm::ES256 => {
            let kp = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
                &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &der,
            )
            .unwrap();
            kp.sign(&rng, msg).unwrap().as_ref().to_vec()
        }
        Algorithm::EdDSA => aws_lc_rs::signature::Ed25519KeyPair::from_pkcs8(&der)
            .unwrap()
            .sign(msg)
            .as_ref()
            .to_vec(),
        _ => unreachable!("tests sign custom proofs with ES256 or EdDSA only"),
    }
}

fn jwk_json(key: &SigningKey) -> serde_json::Value {
    serde_json::to_value(key.public_jwk()).unwrap()
}

fn good_claims() -> serde_json::Value {
    json!({"jti": "j1", "htm": "POST", "htu": URI, "iat": NOW})
}

fn good_header(key: &SigningKey) -> serde_json::Value {
    json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk_json(key)})
}

#[test]
fn round_trip_for_ec_okp_and_rsa_keys_ex02() {
    for alg in SUPPORTED_ALGS {
        let key = SigningKey::generate(alg).unwrap();
        let p = proof(&key, "GET", URI, Some("tok"), Some("n1"), NOW).unwrap();
        let ok = verify(
            &p,
            &ctx("GET", URI)
                .with_access_token("tok")
                .with_nonce(&|n| n == "n1"),
            &ProofPolicy::default(),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", alg_name(alg)));
        assert_eq!(ok.jkt, key.thumbprint());
        assert_eq!(ok.alg, alg);
        assert_eq!(ok.iat, NOW);
        assert_eq!(ok.jti.len(), 43);
        // The key survives a PEM round trip with the same thumbprint.
        let again = SigningKey::from_pkcs8_pem(key.private_pem()).unwrap();
        assert_eq!(again.thumbprint(), key.thumbprint());
        assert_eq!(again.algorithm(), alg);
    }
}

#[test]
fn each_proof_has_a_fresh_jti_and_a_public_only_jwk_ex02() {
    let key = es256();
    let a = proof(&key, "POST", URI, None, None, NOW).unwrap();
    let b = proof(&key, "POST", URI, None, None, NOW).unwrap();
    let ja = check(&a, &ctx("POST", URI)).unwrap().jti;
    let jb = check(&b, &ctx("POST", URI)).unwrap().jti;
    assert_ne!(ja, jb);
    let h = split_header(&a).unwrap();
    assert_eq!(h["typ"], "dpop+jwt");
    assert!(h["jwk"].get("d").is_none());
    assert_eq!(h["jwk"]["kty"], "EC");
}

#[test]
fn thumbprint_known_answer_rfc7638_section_3_1() {
    let jwk: Jwk = serde_json::from_value(json!({
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29"
    }))
    .unwrap();
    assert_eq!(
        thumbprint(&jwk).unwrap(),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
}

#[test]
fn malformed_proofs_are_refused_ex03() {
    let c = ctx("POST", URI);
    for bad in ["", "abc", "a.b", "a.b.c.d", "!!.e30.e30", "e30.e30.e30"] {
        assert!(
            matches!(
                check(bad, &c),
                Err(ProofError::Malformed(_) | ProofError::WrongTyp)
            ),
            "{bad}"
        );
    }
    let long = "a".repeat(MAX_PROOF_LEN + 1);
    assert_eq!(check(&long, &c), Err(ProofError::Malformed("too long")));
    // A header that is JSON but not an object.
    let arr = format!("{}.e30.e30", URL_SAFE_NO_PAD.encode("[1]"));
    assert_eq!(
        check(&arr, &c),
        Err(ProofError::Malformed("header is not an object"))
    );
}

#[test]
fn wrong_typ_is_refused_ex03() {
    let key = es256();
    for typ in [json!("JWT"), json!("at+jwt"), json!(null)] {
        let mut h = good_header(&key);
        h["typ"] = typ;
        let p = custom(&key, h, good_claims());
        assert_eq!(check(&p, &ctx("POST", URI)), Err(ProofError::WrongTyp));
    }
    // typ is a media type: case does not matter.
    let mut h = good_header(&key);
    h["typ"] = json!("DPoP+JWT");
    assert!(check(&custom(&key, h, good_claims()), &ctx("POST", URI)).is_ok());
}

#[test]
fn symmetric_none_and_disallowed_algs_are_refused_ex03() {
    let key = es256();
    for alg in ["HS256", "HS512", "none", "NONE"] {
        let mut h = good_header(&key);
        h["alg"] = json!(alg);
        let p = custom(&key, h, good_claims());
        assert_eq!(
            check(&p, &ctx("POST", URI)),
            Err(ProofError::SymmetricAlg),
            "{alg}"
        );
    }
    for alg in ["ES384", "PS256", "XYZ"] {
        let mut h = good_header(&key);
        h["alg"] = json!(alg);
        let p = custom(&key, h, good_claims());
        assert_eq!(
            check(&p, &ctx("POST", URI)),
            Err(ProofError::AlgNotAllowed),
            "{alg}"
        );
    }
    // Allowed in general, not by this server's policy.
    let p = proof(&key, "POST", URI, None, None, NOW).unwrap();
    let only_eddsa = ProofPolicy::default().with_algs([Algorithm::EdDSA]);
    assert_eq!(
        verify(&p, &ctx("POST", URI), &only_eddsa),
        Err(ProofError::AlgNotAllowed)
    );
    assert_eq!(only_eddsa.algs_value(), "EdDSA");
    assert_eq!(ProofPolicy::default().algs_value(), "ES256 EdDSA RS256");
}

#[test]
fn a_symmetric_key_in_the_jwk_is_refused_ex03() {
    let key = es256();
    let mut h = good_header(&key);
    h["jwk"] = json!({"kty": "oct", "k": "c2VjcmV0"});
    let p = custom(&key, h, good_claims());
    assert_eq!(
        check(&p, &ctx("POST", URI)),
        Err(ProofError::PrivateKeyInJwk)
    );
}

#[test]
fn private_members_in_the_jwk_are_refused_ex02() {
    let key = es256();
    for member in ["d", "p", "q", "dp", "dq", "qi", "oth"] {
        let mut h = good_header(&key);
        h["jwk"][member] = json!("AAAA");
        let p = custom(&key, h, good_claims());
        assert_eq!(
            check(&p, &ctx("POST", URI)),
            Err(ProofError::PrivateKeyInJwk),
            "{member}"
        );
    }
}

#[test]
fn missing_jwk_or_mismatched_key_type_is_refused_ex03() {
    let key = es256();
    let mut h = good_header(&key);
    h.as_object_mut().unwrap().remove("jwk");
    assert_eq!(
        check(&custom(&key, h, good_claims()), &ctx("POST", URI)),
        Err(ProofError::BadJwk)
    );
    // ES256 header with an Ed25519 key.
    let ed = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let mut h = good_header(&key);
    h["jwk"] = jwk_json(&ed);
    assert_eq!(
        check(&custom(&key, h, good_claims()), &ctx("POST", URI)),
        Err(ProofError::KeyAlgMismatch)
    );
    // EdDSA header with an EC key.
    let mut h = good_header(&key);
    h["alg"] = json!("EdDSA");
    assert_eq!(
        check(&custom(&ed, h, good_claims()), &ctx("POST", URI)),
        Err(ProofError::KeyAlgMismatch)
    );
}

#[test]
fn bad_signatures_are_refused_ex03() {
    let key = es256();
    let other = es256();
    // Signed by another key than the embedded one.
    let p = custom(&other, good_header(&key), good_claims());
    assert_eq!(check(&p, &ctx("POST", URI)), Err(ProofError::BadSignature));
    // Claims changed after signing.
    let p = proof(&key, "POST", URI, None, None, NOW).unwrap();
    let mut parts: Vec<&str> = p.split('.').collect();
    let forged = URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&json!({"jti":"x","htm":"POST","htu":URI,"iat":NOW})).unwrap());
    parts[1] = &forged;
    assert_eq!(
        check(&parts.join("."), &ctx("POST", URI)),
        Err(ProofError::BadSignature)
    );
}

#[test]
fn missing_claims_are_named_ex02() {
    let key = es256();
    for (name, _) in good_claims().as_object().unwrap() {
        let mut c = good_claims();
        c.as_object_mut().unwrap().remove(name);
        let p = custom(&key, good_header(&key), c);
        let e = check(&p, &ctx("POST", URI)).unwrap_err();
        assert!(
            matches!(e, ProofError::MissingClaim(n) if n == name),
            "{name}: {e}"
        );
    }
    let mut c = good_claims();
    c["iat"] = json!("1700000000");
    let p = custom(&key, good_header(&key), c);
    assert_eq!(
        check(&p, &ctx("POST", URI)),
        Err(ProofError::MissingClaim("iat"))
    );
}

#[test]
fn wrong_method_is_refused_ex03() {
    let p = proof(&es256(), "POST", URI, None, None, NOW).unwrap();
    assert_eq!(check(&p, &ctx("GET", URI)), Err(ProofError::WrongMethod));
    // htm is case-sensitive (RFC 9110 methods are).
    let p = proof(&es256(), "post", URI, None, None, NOW).unwrap();
    assert_eq!(check(&p, &ctx("POST", URI)), Err(ProofError::WrongMethod));
}

#[test]
fn wrong_uri_is_refused_ex03() {
    let p = proof(&es256(), "POST", URI, None, None, NOW).unwrap();
    for other in [
        "https://rs.example/mcp/",
        "https://rs.example/other",
        "http://rs.example/mcp",
        "https://evil.example/mcp",
        "https://rs.example:8443/mcp",
        "not a url",
    ] {
        assert_eq!(
            check(&p, &RequestContext::new("POST", other, NOW)),
            Err(ProofError::WrongUri),
            "{other}"
        );
    }
}

#[test]
fn query_and_fragment_are_ignored_and_uris_normalised_ex02() {
    let key = es256();
    // The client drops query and fragment from htu.
    let p = proof(&key, "GET", "https://rs.example/mcp?a=1#f", None, None, NOW).unwrap();
    let claims: serde_json::Value = b64_json(p.split('.').nth(1).unwrap()).unwrap();
    assert_eq!(claims["htu"], URI);
    // The server ignores the request's query.
    assert!(
        check(
            &p,
            &RequestContext::new("GET", "https://rs.example/mcp?b=2", NOW)
        )
        .is_ok()
    );
    // A proof whose htu carries a query still matches (§4.3: ignoring query and fragment),
    // and scheme/host case and default ports are normalised.
    let mut c = good_claims();
    c["htu"] = json!("HTTPS://RS.Example:443/mcp?x=y#z");
    let p = custom(&key, good_header(&key), c);
    assert!(check(&p, &ctx("POST", URI)).is_ok());
    assert_eq!(
        normalize_htu("https://a.example:443/p/../q?x#y").unwrap(),
        "https://a.example/q"
    );
    assert!(normalize_htu("urn:x:y").is_none());
}

#[test]
fn stale_and_future_iat_are_refused_with_a_configurable_window_ex03() {
    let key = es256();
    let at = |iat| proof(&key, "POST", URI, None, None, iat).unwrap();
    assert!(check(&at(NOW - 300), &ctx("POST", URI)).is_ok());
    assert!(check(&at(NOW + 300), &ctx("POST", URI)).is_ok());
    assert_eq!(
        check(&at(NOW - 301), &ctx("POST", URI)),
        Err(ProofError::Stale)
    );
    assert_eq!(
        check(&at(NOW + 301), &ctx("POST", URI)),
        Err(ProofError::FromTheFuture)
    );
    let tight = ProofPolicy::default().with_iat_window(10);
    assert_eq!(tight.iat_window(), 10);
    assert_eq!(
        verify(&at(NOW - 11), &ctx("POST", URI), &tight),
        Err(ProofError::Stale)
    );
    assert!(verify(&at(NOW - 10), &ctx("POST", URI), &tight).is_ok());
}

#[test]
fn missing_or_wrong_ath_is_refused_when_a_token_is_presented_ex03() {
    let key = es256();
    let without = proof(&key, "GET", URI, None, None, NOW).unwrap();
    let c = ctx("GET", URI).with_access_token("the-token");
    assert_eq!(check(&without, &c), Err(ProofError::MissingAth));
    let other = proof(&key, "GET", URI, Some("another-token"), None, NOW).unwrap();
    assert_eq!(check(&other, &c), Err(ProofError::WrongAth));
    let right = proof(&key, "GET", URI, Some("the-token"), None, NOW).unwrap();
    assert!(check(&right, &c).is_ok());
    // RFC 9449 Appendix: ath of a known token.
    assert_eq!(
        ath("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
        "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    );
}

#[test]
fn missing_or_stale_nonce_is_refused_with_use_dpop_nonce_ex08() {
    let key = es256();
    let current = |n: &str| n == "fresh";
    let c = ctx("POST", URI).with_nonce(&current);
    let none = proof(&key, "POST", URI, None, None, NOW).unwrap();
    let e = check(&none, &c).unwrap_err();
    assert_eq!(e, ProofError::MissingNonce);
    assert_eq!(e.error_code(), "use_dpop_nonce");
    let old = proof(&key, "POST", URI, None, Some("old"), NOW).unwrap();
    assert_eq!(check(&old, &c), Err(ProofError::WrongNonce));
    let fresh = proof(&key, "POST", URI, None, Some("fresh"), NOW).unwrap();
    assert!(check(&fresh, &c).is_ok());
    // Without a nonce requirement a nonce in the proof is ignored.
    assert!(check(&old, &ctx("POST", URI)).is_ok());
    assert_eq!(ProofError::BadSignature.error_code(), "invalid_dpop_proof");
}

#[test]
fn errors_never_echo_the_proof() {
    let key = es256();
    let p = proof(&key, "POST", URI, Some("secret-token"), None, NOW).unwrap();
    let e = check(&p, &ctx("GET", URI)).unwrap_err();
    let text = format!("{e} {e:?}");
    assert!(!text.contains(&p[..20]));
    assert!(!text.contains("secret-token"));
    assert!(!format!("{key:?}").contains("PRIVATE"));
}

#[test]
fn keys_are_read_from_pem_and_bad_pem_is_refused() {
    assert!(matches!(
        SigningKey::from_pkcs8_pem("not a pem"),
        Err(KeyError::Unreadable)
    ));
    assert!(matches!(
        SigningKey::generate(Algorithm::HS256),
        Err(KeyError::Unsupported("HS256"))
    ));
    assert_eq!(parse_alg("EdDSA"), Some(Algorithm::EdDSA));
    assert_eq!(parse_alg("HS256"), None);
}

#[test]
fn the_resource_server_challenge_names_algs_and_the_error_ex07() {
    let p = ProofPolicy::default();
    assert_eq!(p.challenge(None), r#"DPoP algs="ES256 EdDSA RS256""#);
    let e = ProofError::WrongAth;
    assert_eq!(
        p.challenge(Some((e.error_code(), &e.to_string()))),
        r#"DPoP algs="ES256 EdDSA RS256", error="invalid_dpop_proof", error_description="DPoP proof ath does not match the access token""#
    );
    // A hostile description cannot break out of the quoted string.
    let c = p.challenge(Some(("invalid_token", "a\"b\nc")));
    assert!(c.ends_with(r#"error_description="a'b?c""#), "{c}");
}

/// A proof whose header and claims are given as raw JSON text (duplicates, arrays, ...),
/// signed by `key` (ES256 or EdDSA).
fn custom_raw(key: &SigningKey, header: &str, claims: &str) -> String {
    let msg = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let sig = raw_sign(key, msg.as_bytes());
    format!("{msg}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// Issue 15 D: the proofs our own client makes take the fast path (else the optimisation
/// would silently never apply), with every algorithm, and agree with the general path.
#[test]
fn our_proofs_take_the_fast_path_and_agree_with_the_general_one_ex02() {
    for alg in SUPPORTED_ALGS {
        let key = SigningKey::generate(alg).unwrap();
        let p = proof(&key, "POST", URI, Some("tok"), Some("n1"), NOW).unwrap();
        let is_n1 = |n: &str| n == "n1";
        let htu = Htu::new(URI).unwrap();
        for c in [
            ctx("POST", URI).with_access_token("tok").with_nonce(&is_n1),
            RequestContext::for_htu("POST", &htu, NOW)
                .with_access_token("tok")
                .with_nonce(&is_n1),
        ] {
            let fast = fast::verify(&p, &c, &ProofPolicy::default())
                .unwrap_or_else(|| panic!("{} left the fast path", alg_name(alg)));
            assert_eq!(fast, verify_general(&p, &c, &ProofPolicy::default()));
            let ok = fast.unwrap();
            assert_eq!(
                ok.jkt,
                key.thumbprint(),
                "RFC 7638, as jsonwebtoken computes it"
            );
        }
    }
}

/// Issue 15 D: on every input, inside the fast path's domain or not, `verify` answers what
/// the general (reference) path answers; inputs outside the domain are not touched by it.
#[test]
fn the_fast_path_answers_exactly_what_the_general_path_answers_ex02_ex03() {
    let key = es256();
    let ed = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let jwk = serde_json::to_string(key.public_jwk()).unwrap();
    let ed_jwk = serde_json::to_string(ed.public_jwk()).unwrap();
    let rsa = SigningKey::generate(Algorithm::RS256).unwrap();
    let rsa_jwk = serde_json::to_string(rsa.public_jwk()).unwrap();
    let small_rsa = r#"{"kty":"RSA","n":"AQAB","e":"AQAB"}"#;
    let with = |member: &str| {
        let mut j: serde_json::Value = serde_json::from_str(&jwk).unwrap();
        let (k, v) = member.split_once('=').unwrap();
        j[k] = serde_json::from_str(v).unwrap();
        j.to_string()
    };
    let headers: Vec<String> =
        vec![
        format!(r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{jwk}}}"#),
        format!(r#"{{"typ":"DPoP+JWT","alg":"ES256","jwk":{jwk}}}"#),
        format!(r#"{{"alg":"ES256","jwk":{jwk}}}"#),
        format!(r#"{{"typ":null,"alg":"ES256","jwk":{jwk}}}"#),
        format!(r#"{{"typ":5,"alg":"ES256","jwk":{jwk}}}"#),
        format!(r#"{{"typ":"JWT","alg":"ES256","jwk":{jwk}}}"#),
        format!(r#"{{"typ":"dpop+jwt","jwk":{jwk}}}"#),
        format!(r#"{{"typ":"dpop+jwt","alg":"none","jwk":{jwk}}}"#),
        format!(r#"{{"typ":"dpop+jwt","alg":"HS256","jwk":{jwk}}}"#),
        format!(r#"{{"typ":"dpop+jwt","alg":"ES384","jwk":{jwk}}}"#),
        format!(r#"{{"typ":"dpop+jwt","alg":"EdDSA","jwk":{jwk}}}"#),
        format!(r#"{{"typ":"dpop+jwt","alg":"EdDSA","jwk":{ed_jwk}}}"#),
        format!(r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{ed_jwk}}}"#),
        format!(r#"{{"typ":"dpop+jwt","alg":"RS256","jwk":{rsa_jwk}}}"#),
        format!(r#"{{"typ":"dpop+jwt","alg":"RS256","jwk":{small_rsa}}}"#),
        format!(r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{rsa_jwk}}}"#),
        r#"{"typ":"dpop+jwt","alg":"ES256"}"#.to_owned(),
        r#"{"typ":"dpop+jwt","alg":"ES256","jwk":null}"#.to_owned(),
        r#"{"typ":"dpop+jwt","alg":"ES256","jwk":["EC","P-256","x","y"]}"#.to_owned(),
        r#"{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"oct","k":"c2VjcmV0"}}"#.to_owned(),
        format!(r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{}}}"#, with(r#"d="AAAA""#)),
        format!(r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{}}}"#, with("d=null")),
        format!(r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{}}}"#, with(r#"kid="k1""#)),
        format!(r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{}}}"#, with(r#"alg="ES256""#)),
        format!(r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{}}}"#, with("use=5")),
        format!(r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{}}}"#, with(r#"crv="P-384""#)),
        format!(r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{}}}"#, with(r#"crv="X-1""#)),
        format!(r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{}}}"#, with(r#"x="!!""#)),
        format!(r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{}}}"#, with(r#"n="AQAB""#)),
        format!(r#"{{"typ":"dpop+jwt","alg":"ES256","kid":"k","jwk":{jwk}}}"#),
        format!(r#"{{"typ":"dpop+jwt","alg":"ES256","alg":"ES256","jwk":{jwk}}}"#),
        format!(r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{jwk},"typ":"JWT"}}"#),
        format!(r#"["dpop+jwt","ES256",{jwk}]"#),
        r#"{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"EC","crv":"P-256","x":"\u0041","y":"B"}}"#
            .to_owned(),
    ];
    let good = format!(r#""jti":"j1","htm":"POST","htu":"{URI}","iat":{NOW}"#);
    let ath = super::ath("tok");
    let claims: Vec<String> = vec![
        format!(r#"{{{good},"ath":"{ath}","nonce":"n1"}}"#),
        format!(r#"{{{good},"ath":"{ath}"}}"#),
        format!(r#"{{{good},"nonce":"n1"}}"#),
        format!(r#"{{{good},"ath":"{ath}","nonce":"n0"}}"#),
        format!(r#"{{{good},"ath":"x","nonce":"n1"}}"#),
        format!(r#"{{{good},"ath":null,"nonce":"n1"}}"#),
        format!(r#"{{{good},"ath":"{ath}","nonce":"n1","exp":5}}"#),
        format!(r#"{{{good},"ath":"{ath}","nonce":"n1","jti":"j2"}}"#),
        format!(r#"{{"htm":"POST","htu":"{URI}","iat":{NOW},"ath":"{ath}","nonce":"n1"}}"#),
        format!(r#"{{"jti":"","htm":"POST","htu":"{URI}","iat":{NOW},"ath":"{ath}"}}"#),
        format!(
            r#"{{"jti":"{}","htm":"POST","htu":"{URI}","iat":{NOW}}}"#,
            "j".repeat(257)
        ),
        format!(r#"{{"jti":"j","htu":"{URI}","iat":{NOW},"ath":"{ath}","nonce":"n1"}}"#),
        format!(r#"{{"jti":"j","htm":"POST","iat":{NOW},"ath":"{ath}","nonce":"n1"}}"#),
        format!(r#"{{"jti":"j","htm":"POST","htu":"{URI}","ath":"{ath}","nonce":"n1"}}"#),
        format!(r#"{{"jti":"j","htm":"POST","htu":"{URI}","iat":"{NOW}","ath":"{ath}"}}"#),
        format!(r#"{{"jti":"j","htm":"POST","htu":"{URI}","iat":{NOW}.5,"ath":"{ath}"}}"#),
        format!(r#"{{"jti":"j","htm":"POST","htu":"{URI}","iat":-1,"ath":"{ath}"}}"#),
        format!(
            r#"{{"jti":"j","htm":"post","htu":"{URI}","iat":{NOW},"ath":"{ath}","nonce":"n1"}}"#
        ),
        format!(
            r#"{{"jti":"j","htm":"POST","htu":"HTTPS://RS.Example:443/mcp?q#f","iat":{NOW},"ath":"{ath}","nonce":"n1"}}"#
        ),
        format!(
            r#"{{"jti":"j","htm":"POST","htu":"https://rs.example/other","iat":{NOW},"ath":"{ath}","nonce":"n1"}}"#
        ),
        format!(
            r#"{{"jti":"j","htm":"POST","htu":"not a url","iat":{NOW},"ath":"{ath}","nonce":"n1"}}"#
        ),
        format!(
            r#"{{"jti":"j","htm":"POST","htu":"{URI}","iat":{},"ath":"{ath}","nonce":"n1"}}"#,
            NOW - 301
        ),
        format!(
            r#"{{"jti":"j","htm":"POST","htu":"{URI}","iat":{},"ath":"{ath}","nonce":"n1"}}"#,
            NOW + 301
        ),
        format!(
            r#"{{"jti":"j\u0031","htm":"POST","htu":"{URI}","iat":{NOW},"ath":"{ath}","nonce":"n1"}}"#
        ),
        format!(r#"["j","POST","{URI}",{NOW}]"#),
        r#"{"jti":5}"#.to_owned(),
    ];
    let is_n1 = |n: &str| n == "n1";
    let htu = Htu::new(URI).unwrap();
    let contexts = [
        ctx("POST", URI),
        ctx("POST", URI).with_access_token("tok").with_nonce(&is_n1),
        RequestContext::for_htu("POST", &htu, NOW),
        RequestContext::for_htu("POST", &htu, NOW)
            .with_access_token("tok")
            .with_nonce(&is_n1),
        RequestContext::new("POST", "not a url", NOW),
    ];
    let policies = [
        ProofPolicy::default(),
        ProofPolicy::default().with_algs([Algorithm::EdDSA]),
    ];
    let (mut in_domain, mut outside) = (0, 0);
    for h in &headers {
        let signer = if h.contains(r#""alg":"EdDSA""#) && h.contains("OKP") {
            &ed
        } else {
            &key
        };
        for c in &claims {
            let mut proofs = vec![custom_raw(signer, h, c)];
            // The same with a broken signature.
            let mut bad = proofs[0].clone();
            bad.truncate(bad.len() - 4);
            bad.push_str("AAAA");
            proofs.push(bad);
            for p in &proofs {
                for cx in &contexts {
                    for policy in &policies {
                        let general = verify_general(p, cx, policy);
                        match fast::verify(p, cx, policy) {
                            Some(r) => {
                                in_domain += 1;
                                assert_eq!(r, general, "header {h}\nclaims {c}\n{cx:?}");
                            }
                            None => outside += 1,
                        }
                        assert_eq!(verify(p, cx, policy), general, "header {h}\nclaims {c}");
                    }
                }
            }
        }
    }
    // Both halves were exercised.
    assert!(
        in_domain > 1_000 && outside > 1_000,
        "{in_domain} / {outside}"
    );
    // Malformed compact forms never reach the fast path's checks.
    for bad in ["", "a.b", "a.b.c.d", "!!.e30.e30", "e30.!!.e30"] {
        assert!(
            fast::verify(bad, &contexts[0], &policies[0]).is_none(),
            "{bad}"
        );
    }
    // Empty objects are inside the domain, refused for the first rule, as before.
    assert_eq!(
        fast::verify("e30.e30.e30", &contexts[0], &policies[0]),
        Some(Err(ProofError::WrongTyp))
    );
}

#[test]
fn a_precomputed_htu_matches_like_a_normalised_uri_ex02() {
    let key = es256();
    let htu = Htu::new("HTTPS://RS.Example:443/mcp?q=1#f").unwrap();
    assert_eq!(htu.as_str(), URI);
    assert!(Htu::new("urn:x:y").is_none());
    let p = proof(&key, "POST", URI, None, None, NOW).unwrap();
    assert!(check(&p, &RequestContext::for_htu("POST", &htu, NOW)).is_ok());
    // A proof whose htu is not in normal form still matches (parsed, then compared).
    let mut c = good_claims();
    c["htu"] = json!("https://RS.example:443/./mcp");
    let p = custom(&key, good_header(&key), c);
    assert!(check(&p, &RequestContext::for_htu("POST", &htu, NOW)).is_ok());
    let other = Htu::new("https://rs.example/other").unwrap();
    assert_eq!(
        check(&p, &RequestContext::for_htu("POST", &other, NOW)),
        Err(ProofError::WrongUri)
    );
}
