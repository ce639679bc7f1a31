//! The embedded sandbox in each payload format through the whole HTTP flow, and start-up
//! with a decryption key.

use super::*;

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
