//! Signed payloads from the scripted fake ID.me: forged, confused, expired, truncated, unknown
//! keys, the JWKS down.

use serde_json::json;

use super::*;

#[tokio::test]
async fn bad_signed_payloads_end_on_the_friendly_page_with_their_reason_logged() {
    let logs = capture_logs();
    let s = setup_with(Options::default()).await;
    let claims = veteran_claims(json!({}));
    let kid = fake_keys().kid(JwsAlg::Rs256);
    let good = signed(JwsAlg::Rs256);
    let parts: Vec<&str> = good.split('.').collect();

    let forger = SigningKeys::generate("fake-1").unwrap();
    let hs256 = {
        use hmac::Mac;
        let header = json!({"alg": "HS256", "typ": "JWT", "kid": kid});
        let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(&claims));
        let mut mac =
            hmac::Hmac::<sha2::Sha256>::new_from_slice(&fake_keys().rsa_public_der()).unwrap();
        mac.update(input.as_bytes());
        format!("{input}.{}", b64(&mac.finalize().into_bytes()))
    };
    let other_person = b64(&veteran_claims(
        json!({"attributes": [{"handle": "uuid", "value": "x"}]}),
    ));
    let cases: Vec<(&str, String)> = vec![
        // The signature of one payload on another.
        (
            "bad_signature",
            format!("{}.{other_person}.{}", parts[0], parts[2]),
        ),
        // Signed by someone else under ID.me's key id.
        (
            "bad_signature",
            forger.sign(JwsAlg::Rs256, &claims).unwrap(),
        ),
        (
            "bad_signature",
            forger.sign(JwsAlg::Es256, &claims).unwrap(),
        ),
        (
            "disallowed_alg",
            compact(&json!({"alg": "none", "kid": kid}), &claims, b""),
        ),
        ("disallowed_alg", hs256),
        (
            "expired",
            fake_keys()
                .sign(
                    JwsAlg::Rs256,
                    &veteran_claims(json!({"exp": 1_000_000_000})),
                )
                .unwrap(),
        ),
        (
            "not_yet_valid",
            fake_keys()
                .sign(
                    JwsAlg::Es256,
                    &veteran_claims(json!({"nbf": 4_000_000_000_u64})),
                )
                .unwrap(),
        ),
        ("malformed_token", format!("{}.{}", parts[0], parts[1])),
        ("malformed_token", good[..40].to_owned()),
        (
            "alg_key_mismatch",
            fake_keys()
                .sign_with_header(JwsAlg::Es256, &json!({"alg": "ES256", "kid": kid}), &claims)
                .unwrap(),
        ),
    ];
    let mut tokens = Vec::new();
    for (i, (kind, token)) in cases.into_iter().enumerate() {
        // Quoted, as ID.me's answers sometimes are: the same checks apply.
        let body = if i % 2 == 0 {
            token.clone()
        } else {
            format!("\"{token}\"")
        };
        s.idme.on_attributes(jwt(&body));
        let id = s.expect_failure().await;
        let line = failure_line(&logs, &id);
        assert!(line.contains(&format!("kind=\"{kind}\"")), "{kind}: {line}");
        assert!(line.contains("attributes"), "{line}");
        tokens.push(token);
    }
    assert_eq!(
        s.idme.jwks_calls(),
        1,
        "the JWKS is fetched once and cached"
    );
    assert_eq!(s.idme.attributes_calls(), s.idme.token_calls());
    assert_log_quotes_nothing(&logs, &tokens);
}

#[tokio::test]
async fn an_unknown_kid_and_a_missing_jwks_are_refused() {
    let logs = capture_logs();
    let s = setup_with(Options::default()).await;
    let stranger = SigningKeys::generate("stranger").unwrap();
    let token = stranger
        .sign(JwsAlg::Rs256, &veteran_claims(json!({})))
        .unwrap();
    s.idme.on_attributes(jwt(&token));
    let id = s.expect_failure().await;
    assert!(failure_line(&logs, &id).contains("kind=\"unknown_key\""));
    assert_eq!(s.idme.jwks_calls(), 1);
    // Within the minute, a second unknown kid does not refetch.
    let id = s.expect_failure().await;
    assert!(failure_line(&logs, &id).contains("kind=\"unknown_key\""));
    assert_eq!(s.idme.jwks_calls(), 1, "throttled");

    // A JWKS answering 500, then one that hangs past the timeout: each is one fetch per
    // callback (failures are not cached), each ends on the friendly page.
    let s = setup_with(Options::default()).await;
    s.idme.on_attributes(jwt(&signed(JwsAlg::Rs256)));
    s.idme.on_jwks(Reply::Json(500, "{}".into()));
    let id = s.expect_failure().await;
    let line = failure_line(&logs, &id);
    assert!(line.contains("kind=\"jwks_unavailable\""), "{line}");
    assert!(line.contains("HTTP 500"), "{line}");
    s.idme.on_jwks(Reply::After(
        Duration::from_secs(5),
        Box::new(Reply::Json(200, fake_keys().jwks_json())),
    ));
    let id = s.expect_failure().await;
    assert!(failure_line(&logs, &id).contains("kind=\"jwks_unavailable\""));
    assert_eq!(s.idme.jwks_calls(), 2);
    // Back up: the next shopper is verified.
    s.idme.on_jwks(Reply::Json(200, fake_keys().jwks_json()));
    assert_eq!(s.callback().await.status(), 303);

    // A JWKS nobody answers at.
    let s = setup_with(Options::default().var("PERKGATE_IDME_JWKS_URL", "http://127.0.0.1:9/jwks"))
        .await;
    s.idme.on_attributes(jwt(&signed(JwsAlg::Rs256)));
    let id = s.expect_failure().await;
    assert!(failure_line(&logs, &id).contains("kind=\"jwks_unavailable\""));
    assert_eq!(s.idme.jwks_calls(), 0);
    assert_log_quotes_nothing(&logs, &[token]);
}
