//! Policies and encrypted payloads from the scripted fake ID.me: weaker than required, good
//! ES256 and nested JWE, JWE failures, key rotation.

use serde_json::json;

use super::*;

#[tokio::test]
async fn payloads_weaker_than_required_are_refused() {
    let logs = capture_logs();
    let s = setup_with(Options::default().var("PERKGATE_IDME_PAYLOAD", "signed")).await;
    s.idme.on_attributes(Reply::Json(200, VETERAN.into()));
    let id = s.expect_failure().await;
    let line = failure_line(&logs, &id);
    assert!(line.contains("kind=\"weaker_than_required\""), "{line}");
    assert!(line.contains("PERKGATE_IDME_PAYLOAD=signed"), "{line}");
    // The same app takes a signed payload.
    s.idme.on_attributes(jwt(&signed(JwsAlg::Rs256)));
    assert_eq!(s.callback().await.status(), 303);

    let dir = tempfile::tempdir().unwrap();
    let (path, public) = merchant_key_file(dir.path());
    let s = setup_with(
        Options::default()
            .var("PERKGATE_IDME_PAYLOAD", "encrypted")
            .var("PERKGATE_IDME_DECRYPTION_KEY", &path),
    )
    .await;
    let token = signed(JwsAlg::Es256);
    s.idme.on_attributes(jwt(&token));
    let id = s.expect_failure().await;
    assert!(failure_line(&logs, &id).contains("kind=\"weaker_than_required\""));
    // Encrypted, it passes.
    let jwe = keys::encrypt(token.as_bytes(), &public, Some("JWT")).unwrap();
    s.idme.on_attributes(jwt(&jwe));
    assert_eq!(s.callback().await.status(), 303);
    assert_log_quotes_nothing(&logs, &[token, jwe]);
}

#[tokio::test]
async fn good_es256_and_nested_jwe_payloads_unlock() {
    let dir = tempfile::tempdir().unwrap();
    let (path, public) = merchant_key_file(dir.path());
    let s = setup_with(
        Options::default()
            .var("PERKGATE_IDME_DECRYPTION_KEY", &path)
            .var("PERKGATE_IDME_ISSUER", "https://api.idmelabs.com/oidc")
            .var("PERKGATE_IDME_AUDIENCE", "test-client"),
    )
    .await;
    let claims =
        veteran_claims(json!({"iss": "https://api.idmelabs.com/oidc", "aud": "test-client"}));
    let es256 = fake_keys().sign(JwsAlg::Es256, &claims).unwrap();
    s.idme.on_attributes(jwt(&es256));
    assert_eq!(s.callback().await.status(), 303);

    let rs256 = fake_keys().sign(JwsAlg::Rs256, &claims).unwrap();
    let nested = keys::encrypt(rs256.as_bytes(), &public, Some("JWT")).unwrap();
    // Served as JSON, quoted: ID.me's content type is not to be relied on.
    s.idme
        .on_attributes(Reply::Json(200, format!("\"{nested}\"")));
    assert_eq!(s.callback().await.status(), 303);
    // A JWE of plain JSON passes the default policy too.
    let bare = keys::encrypt(VETERAN.as_bytes(), &public, None).unwrap();
    s.idme.on_attributes(jwt(&bare));
    assert_eq!(s.callback().await.status(), 303);
    assert_eq!(s.idme.jwks_calls(), 1, "one JWKS fetch for all of them");
    assert_eq!((s.idme.token_calls(), s.idme.attributes_calls()), (3, 3));

    // The issuer and audience are checked once configured.
    let wrong = fake_keys()
        .sign(
            JwsAlg::Rs256,
            &veteran_claims(json!({"iss": "https://elsewhere.example", "aud": "test-client"})),
        )
        .unwrap();
    s.idme.on_attributes(jwt(&wrong));
    s.expect_failure().await;
    let wrong = fake_keys()
        .sign(
            JwsAlg::Rs256,
            &veteran_claims(json!({"iss": "https://api.idmelabs.com/oidc", "aud": "someone-else"})),
        )
        .unwrap();
    s.idme.on_attributes(jwt(&wrong));
    s.expect_failure().await;
}

#[tokio::test]
async fn jwe_failures_end_on_the_friendly_page() {
    let logs = capture_logs();
    let dir = tempfile::tempdir().unwrap();
    let (path, public) = merchant_key_file(dir.path());
    let s = setup_with(Options::default().var("PERKGATE_IDME_DECRYPTION_KEY", &path)).await;
    let inner = signed(JwsAlg::Rs256);
    let good = keys::encrypt(inner.as_bytes(), &public, Some("JWT")).unwrap();
    let mut tampered: Vec<String> = good.split('.').map(str::to_owned).collect();
    tampered[3] = b64(&[7u8; 48]);
    let (_, someone_else) = merchant_key_file(tempfile::tempdir().unwrap().path());
    let zip = keys::encrypt_with_header(
        inner.as_bytes(),
        &public,
        &json!({"alg": "RSA-OAEP", "enc": "A256CBC-HS512", "zip": "DEF"}),
    )
    .unwrap();
    let cases = [
        ("undecryptable", tampered.join(".")),
        (
            "undecryptable",
            keys::encrypt(inner.as_bytes(), &someone_else, Some("JWT")).unwrap(),
        ),
        ("compressed", zip),
    ];
    for (kind, token) in &cases {
        s.idme.on_attributes(jwt(token));
        let id = s.expect_failure().await;
        assert!(
            failure_line(&logs, &id).contains(&format!("kind=\"{kind}\"")),
            "{kind}"
        );
    }

    // Without a key configured, a JWE cannot be read.
    let s = setup_with(Options::default()).await;
    s.idme.on_attributes(jwt(&good));
    let id = s.expect_failure().await;
    assert!(failure_line(&logs, &id).contains("kind=\"no_decryption_key\""));
    let tokens: Vec<String> = cases
        .into_iter()
        .map(|(_, t)| t)
        .chain([good, inner])
        .collect();
    assert_log_quotes_nothing(&logs, &tokens);
}

#[tokio::test]
async fn a_key_rotation_costs_exactly_one_refetch() {
    let s = setup_with(Options::default()).await;
    s.idme.on_attributes(jwt(&signed(JwsAlg::Rs256)));
    assert_eq!(s.callback().await.status(), 303);
    assert_eq!(s.callback().await.status(), 303);
    assert_eq!(s.idme.jwks_calls(), 1);

    // ID.me rotates: the JWKS now has the new keys (and still the old ones).
    let rotated = SigningKeys::generate("fake-2").unwrap();
    let mut both = fake_keys().jwks_keys();
    both.extend(rotated.jwks_keys());
    s.idme
        .on_jwks(Reply::Json(200, json!({ "keys": both }).to_string()));
    s.idme.on_attributes(jwt(&rotated
        .sign(JwsAlg::Rs256, &veteran_claims(json!({})))
        .unwrap()));
    assert_eq!(s.callback().await.status(), 303);
    assert_eq!(s.idme.jwks_calls(), 2, "one refetch for the new kid");
    assert_eq!(s.callback().await.status(), 303);
    s.idme.on_attributes(jwt(&signed(JwsAlg::Es256)));
    assert_eq!(s.callback().await.status(), 303);
    assert_eq!(s.idme.jwks_calls(), 2, "then the cache again");

    // A kid nobody published: refused, and no third fetch within the minute.
    let stranger = SigningKeys::generate("fake-3").unwrap();
    s.idme.on_attributes(jwt(&stranger
        .sign(JwsAlg::Rs256, &veteran_claims(json!({})))
        .unwrap()));
    s.expect_failure().await;
    assert_eq!(s.idme.jwks_calls(), 2);
}
