//! Signed and encrypted attribute payloads over HTTP: the embedded sandbox in each of its
//! formats, and the scripted fake ID.me answering with JWS and JWE built by
//! `perkgate::sandbox::keys` — good ones that unlock, bad ones that end on the friendly page
//! with a log line naming the reason and quoting nothing.

use std::time::Duration;

use crate::harness::fake_idme::{FakeIdme, NEVER_LOGGED, Reply, VETERAN, fake_keys};
use crate::harness::logs::{Capture, capture_logs};
use crate::harness::*;
use perkgate::sandbox::keys::{self, JwsAlg, RecipientKey, SigningKeys, b64, compact};
use serde_json::{Value, json};

/// VETERAN's attributes as JWT claims, valid for five minutes.
fn veteran_claims(extra: Value) -> Vec<u8> {
    let mut claims: Value = serde_json::from_str(VETERAN).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    claims["exp"] = (now + 300).into();
    claims["iat"] = now.into();
    if let (Some(c), Value::Object(extra)) = (claims.as_object_mut(), extra) {
        c.extend(extra);
    }
    claims.to_string().into_bytes()
}

fn signed(alg: JwsAlg) -> String {
    fake_keys().sign(alg, &veteran_claims(json!({}))).unwrap()
}

fn jwt(token: &str) -> Reply {
    Reply::Raw(200, "application/jwt", token.to_owned())
}

/// A fresh merchant key as a PKCS#8 PEM file in `dir`; returns its path and its public half.
fn merchant_key_file(dir: &std::path::Path) -> (String, RecipientKey) {
    use aws_lc_rs::encoding::AsDer;
    use base64::Engine;
    let key =
        aws_lc_rs::rsa::PrivateDecryptingKey::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let body = base64::engine::general_purpose::STANDARD.encode(key.as_der().unwrap().as_ref());
    let pem = format!("-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n");
    let path = dir.join("merchant-key.pem");
    std::fs::write(&path, pem).unwrap();
    let public = key.public_key().as_der().unwrap();
    (
        path.display().to_string(),
        RecipientKey::from_spki_der(public.as_ref()).unwrap(),
    )
}

// ---------------------------------------------------------------------------------------------
// The embedded sandbox, in each format, through the whole HTTP flow.

#[tokio::test]
async fn the_sandbox_unlocks_in_every_payload_format() {
    for (mode, policy, jwks_calls) in [
        ("json", "any", 0),
        ("signed", "signed", 1),
        ("signed-es256", "signed", 1),
        ("encrypted", "encrypted", 1),
    ] {
        let app = spawn_with(
            Options::default()
                .var("PERKGATE_SANDBOX_PAYLOAD", mode)
                // The strictest policy the mode meets: proof it arrived in that form.
                .var("PERKGATE_IDME_PAYLOAD", policy),
        )
        .await;
        let shopper = app.shopper();
        let res = shopper.verify_as("military", "service_member").await;
        assert_eq!(res.status(), 303, "{mode}");
        assert_verified(&shopper.home().await.1, "SALUTE15");
        assert_eq!(
            (app.token_calls(), app.attributes_calls()),
            (1, 1),
            "{mode}: one token call, one attributes call"
        );
        assert_eq!(app.jwks_calls(), jwks_calls, "{mode}");

        // A second shopper: the sandbox's JWKS comes from the cache.
        let other = app.shopper();
        let res = other.verify_as("military", "veteran").await;
        assert_eq!(res.status(), 303, "{mode}");
        assert_eq!(app.jwks_calls(), jwks_calls, "{mode}: cached");
        app.stop().await;
    }
}

#[tokio::test]
async fn the_sandbox_publishes_its_jwks_where_idme_does() {
    let app = spawn_with(Options::default().var("PERKGATE_SANDBOX_PAYLOAD", "signed")).await;
    let jwks: Value = app
        .get("/sandbox/idme/oidc/.well-known/jwks")
        .await
        .json()
        .await
        .unwrap();
    let algs: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["alg"].as_str().unwrap())
        .collect();
    assert_eq!(algs, ["RS256", "ES256"]);
    for key in jwks["keys"].as_array().unwrap() {
        assert!(key.get("d").is_none(), "public keys only");
    }
}

#[tokio::test]
async fn an_encrypting_sandbox_encrypts_to_the_configured_key() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = merchant_key_file(dir.path());
    let app = spawn_with(
        Options::default()
            .var("PERKGATE_SANDBOX_PAYLOAD", "encrypted")
            .var("PERKGATE_IDME_PAYLOAD", "encrypted")
            .var("PERKGATE_IDME_DECRYPTION_KEY", &path),
    )
    .await;
    let res = app.verify_as("military", "service_member").await;
    assert_eq!(res.status(), 303);
    assert_verified(&app.home().await.1, "SALUTE15");
}

// ---------------------------------------------------------------------------------------------
// The scripted fake ID.me.

struct Setup {
    app: TestApp,
    idme: FakeIdme,
    shopper: Shopper,
}

async fn setup_with(options: Options) -> Setup {
    let idme = FakeIdme::start().await;
    let app = spawn_with(options.idme(&idme.url())).await;
    let shopper = app.shopper();
    Setup { app, idme, shopper }
}

impl Setup {
    /// A new shopper starts a verification; ID.me's redirect back is played with a code.
    async fn callback(&self) -> reqwest::Response {
        let shopper = self.app.shopper();
        let authorize = shopper.start_verify("military").await;
        let state = query_param(&authorize, "state").unwrap();
        let res = shopper.callback("the-code", &state).await;
        if res.status() == 303 && shopper.home().await.1.contains("data-testid=\"benefit\"") {
            return res;
        }
        panic!("the shopper was not verified");
    }

    /// The callback ends back on the store with the failure notice (reference included) and
    /// no benefit; returns the request id.
    async fn expect_failure(&self) -> String {
        let authorize = self.shopper.start_verify("military").await;
        let state = query_param(&authorize, "state").unwrap();
        let res = self.shopper.callback("the-code", &state).await;
        assert_eq!(res.status(), 303);
        assert_eq!(location(&res), "/");
        let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
        let (_, store) = self.shopper.home().await;
        assert!(
            store.contains("data-testid=\"message\" role=\"alert\""),
            "{store}"
        );
        assert!(
            store.contains("We could not complete your verification"),
            "{store}"
        );
        assert!(
            store.contains(&format!(
                "<code data-testid=\"correlation-id\">{request_id}</code>"
            )),
            "{store}"
        );
        assert!(!store.contains("data-testid=\"benefit\""));
        assert!(store.contains("data-testid=\"verify-military\""));
        request_id
    }
}

/// The failure's log line, found by request id: it names the reason label.
fn failure_line(logs: &Capture, request_id: &str) -> String {
    let text = logs.text();
    text.lines()
        .find(|l| l.contains("ID.me call failed") && l.contains(request_id))
        .unwrap_or_else(|| panic!("no failure line for {request_id} in:\n{text}"))
        .to_owned()
}

/// Nothing of the payload, the tokens or the keys may reach the log.
fn assert_log_quotes_nothing(logs: &Capture, tokens: &[String]) {
    let text = logs.text();
    for secret in NEVER_LOGGED {
        assert!(!text.contains(secret), "the log contains {secret:?}");
    }
    for token in tokens {
        for part in token.split('.').filter(|p| p.len() > 16) {
            assert!(!text.contains(part), "the log contains a token part");
        }
    }
    let key_der = b64(&fake_keys().rsa_public_der());
    assert!(
        !text.contains(&key_der[40..80]),
        "the log contains key material"
    );
}

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

// ---------------------------------------------------------------------------------------------
// Start-up.

async fn build_with(vars: &[(&str, &str)]) -> Result<perkgate::App, String> {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("perkgate.toml");
    std::fs::write(&empty, "").unwrap();
    let db = format!("sqlite://{}", dir.path().join("perkgate.db").display());
    let mut all = vec![
        ("PERKGATE_LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
        ("PERKGATE_CONFIG".to_owned(), empty.display().to_string()),
        ("PERKGATE_DATABASE_URL".to_owned(), db),
    ];
    all.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let config = perkgate::Config::from_vars(all).map_err(|e| e.to_string())?;
    perkgate::App::build(config)
        .await
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn a_bad_decryption_key_file_stops_start_up_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let (good, _) = merchant_key_file(dir.path());
    let pem = std::fs::read_to_string(&good).unwrap();
    let secret_line = pem.lines().nth(1).unwrap()[..32].to_owned();
    let pkcs1 = dir.path().join("pkcs1.pem");
    std::fs::write(&pkcs1, pem.replace("PRIVATE KEY", "RSA PRIVATE KEY")).unwrap();
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(
        &garbage,
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            &secret_line
        ),
    )
    .unwrap();
    let missing = dir.path().join("missing.pem");
    for (path, why) in [
        (missing.display().to_string(), "cannot read"),
        (pkcs1.display().to_string(), "PKCS#1"),
        (
            garbage.display().to_string(),
            "not a PKCS#8 RSA private key",
        ),
        (dir.path().display().to_string(), "cannot read"),
    ] {
        let err = match build_with(&[("PERKGATE_IDME_DECRYPTION_KEY", &path)]).await {
            Ok(_) => panic!("{path}: started"),
            Err(e) => e,
        };
        assert!(err.starts_with("PERKGATE_IDME_DECRYPTION_KEY: "), "{err}");
        assert!(err.contains(&path) && err.contains(why), "{err}");
        assert!(!err.contains(&secret_line), "{err}");
    }
    // The good file starts.
    assert!(
        build_with(&[("PERKGATE_IDME_DECRYPTION_KEY", &good)])
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn an_encrypted_policy_needs_a_key_except_in_the_sandbox() {
    let err = build_with(&[
        ("PERKGATE_IDME_URL", "https://api.idmelabs.com"),
        ("PERKGATE_IDME_CLIENT_ID", "id"),
        ("PERKGATE_IDME_CLIENT_SECRET", "secret"),
        ("PERKGATE_IDME_PAYLOAD", "encrypted"),
    ])
    .await
    .err()
    .unwrap();
    assert_eq!(
        err,
        "PERKGATE_IDME_DECRYPTION_KEY: required when PERKGATE_IDME_PAYLOAD is encrypted"
    );
    for (name, value) in [
        ("PERKGATE_IDME_PAYLOAD", "jws"),
        ("PERKGATE_SANDBOX_PAYLOAD", "jwe"),
        ("PERKGATE_IDME_JWKS_CACHE_SECS", "0"),
        ("PERKGATE_IDME_JWKS_URL", "ftp://x"),
    ] {
        let err = build_with(&[(name, value)]).await.err().unwrap();
        assert!(err.starts_with(&format!("{name}: ")), "{err}");
    }
    assert!(
        build_with(&[
            ("PERKGATE_IDME_PAYLOAD", "encrypted"),
            ("PERKGATE_SANDBOX_PAYLOAD", "encrypted")
        ])
        .await
        .is_ok()
    );
}
