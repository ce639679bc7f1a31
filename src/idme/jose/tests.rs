use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use serde_json::{Value, json};
use url::Url;

use super::*;
use crate::sandbox::keys::{self, RecipientKey, SigningKeys, b64, compact};

/// Key generation is the slow part of these tests: one set per test binary.
fn idme_keys() -> &'static SigningKeys {
    static KEYS: OnceLock<SigningKeys> = OnceLock::new();
    KEYS.get_or_init(|| SigningKeys::generate("idme-1").unwrap())
}

/// Another issuer's keys under the same key ids: a forger's.
fn forger_keys() -> &'static SigningKeys {
    static KEYS: OnceLock<SigningKeys> = OnceLock::new();
    KEYS.get_or_init(|| SigningKeys::generate("idme-1").unwrap())
}

fn merchant_key() -> &'static DecryptionKey {
    static KEY: OnceLock<DecryptionKey> = OnceLock::new();
    KEY.get_or_init(|| DecryptionKey::generate().unwrap())
}

fn recipient(key: &DecryptionKey) -> RecipientKey {
    RecipientKey::from_spki_der(key.public_key_der()).unwrap()
}

fn now() -> i64 {
    crate::clock::now()
}

fn claims(extra: Value) -> Vec<u8> {
    let mut c = json!({
        "attributes": [{"handle": "fname", "value": "Sunny"}, {"handle": "uuid", "value": "u-1"}],
        "status": [{"group": "military", "subgroups": ["Veteran"], "verified": true}],
        "exp": now() + 300,
    });
    if let (Some(c), Value::Object(extra)) = (c.as_object_mut(), extra) {
        c.extend(extra);
    }
    c.to_string().into_bytes()
}

fn jws(alg: JwsAlg, extra: Value) -> String {
    idme_keys().sign(alg, &claims(extra)).unwrap()
}

/// A scriptable JWKS endpoint on loopback that counts its hits.
struct JwksServer {
    url: Url,
    reply: std::sync::Arc<Mutex<(u16, String)>>,
    delay: std::sync::Arc<Mutex<Duration>>,
    hits: std::sync::Arc<AtomicU64>,
}

impl JwksServer {
    async fn start(body: String) -> Self {
        use axum::extract::State;
        type Shared = (
            std::sync::Arc<Mutex<(u16, String)>>,
            std::sync::Arc<Mutex<Duration>>,
            std::sync::Arc<AtomicU64>,
        );
        let reply = std::sync::Arc::new(Mutex::new((200, body)));
        let delay = std::sync::Arc::new(Mutex::new(Duration::ZERO));
        let hits = std::sync::Arc::new(AtomicU64::new(0));
        let app = axum::Router::new()
            .route(
                "/jwks",
                axum::routing::get(|State((reply, delay, hits)): State<Shared>| async move {
                    hits.fetch_add(1, Ordering::SeqCst);
                    let wait = *delay.lock().unwrap();
                    tokio::time::sleep(wait).await;
                    let (status, body) = reply.lock().unwrap().clone();
                    (axum::http::StatusCode::from_u16(status).unwrap(), body)
                }),
            )
            .with_state((reply.clone(), delay.clone(), hits.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}/jwks", listener.local_addr().unwrap())).unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            url,
            reply,
            delay,
            hits,
        }
    }

    fn set(&self, status: u16, body: String) {
        *self.reply.lock().unwrap() = (status, body);
    }

    fn hits(&self) -> u64 {
        self.hits.load(Ordering::SeqCst)
    }
}

struct Setup {
    policy: PayloadPolicy,
    key: Option<DecryptionKey>,
    claims: ClaimChecks,
    min_refetch: Duration,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            policy: PayloadPolicy::Any,
            key: Some(merchant_key().clone()),
            claims: ClaimChecks::default(),
            min_refetch: Duration::from_secs(60),
        }
    }
}

impl Setup {
    fn opener(self, url: &Url) -> Opener {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let jwks = Jwks::new(
            url.clone(),
            http,
            64 * 1024,
            Duration::from_secs(3600),
            self.min_refetch,
        );
        Opener::new(self.policy, self.key, jwks, self.claims)
    }
}

async fn served() -> (JwksServer, Opener) {
    served_with(Setup::default()).await
}

async fn served_with(setup: Setup) -> (JwksServer, Opener) {
    let server = JwksServer::start(idme_keys().jwks_json()).await;
    let opener = setup.opener(&server.url);
    (server, opener)
}

/// The error, checked to quote nothing of the token or the payload.
async fn refused(opener: &Opener, body: &str) -> JoseError {
    let e = opener.open(body.as_bytes()).await.expect_err("refused");
    let text = e.to_string();
    assert!(!text.contains("Sunny") && !text.contains("u-1"), "{text}");
    for part in body.split('.').filter(|p| p.len() > 8) {
        assert!(!text.contains(part), "{text}");
    }
    assert!(!e.kind().is_empty());
    e
}

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

// RFC 7518 Appendix B.3 (AES_256_CBC_HMAC_SHA_512).
const B3_P: &str = "41 20 63 69 70 68 65 72 20 73 79 73 74 65 6d 20 6d 75 73 74 20 6e 6f 74 20 62 65 20 72 65 71 75
    69 72 65 64 20 74 6f 20 62 65 20 73 65 63 72 65 74 2c 20 61 6e 64 20 69 74 20 6d 75 73 74 20 62
    65 20 61 62 6c 65 20 74 6f 20 66 61 6c 6c 20 69 6e 74 6f 20 74 68 65 20 68 61 6e 64 73 20 6f 66
    20 74 68 65 20 65 6e 65 6d 79 20 77 69 74 68 6f 75 74 20 69 6e 63 6f 6e 76 65 6e 69 65 6e 63 65";
const B3_IV: &str = "1a f3 8c 2d c2 b9 6f fd d8 66 94 09 23 41 bc 04";
const B3_A: &str = "54 68 65 20 73 65 63 6f 6e 64 20 70 72 69 6e 63 69 70 6c 65 20 6f 66 20 41 75 67 75 73 74 65 20
    4b 65 72 63 6b 68 6f 66 66 73";
const B3_E: &str = "4a ff aa ad b7 8c 31 c5 da 4b 1b 59 0d 10 ff bd 3d d8 d5 d3 02 42 35 26 91 2d a0 37 ec bc c7 bd
    82 2c 30 1d d6 7c 37 3b cc b5 84 ad 3e 92 79 c2 e6 d1 2a 13 74 b7 7f 07 75 53 df 82 94 10 44 6b
    36 eb d9 70 66 29 6a e6 42 7e a7 5c 2e 08 46 a1 1a 09 cc f5 37 0d c8 0b fe cb ad 28 c7 3f 09 b3
    a3 b7 5e 66 2a 25 94 41 0a e4 96 b2 e2 e6 60 9e 31 e6 e0 2c c8 37 f0 53 d2 1f 37 ff 4f 51 95 0b
    be 26 38 d0 9d d7 a4 93 09 30 80 6d 07 03 b1 f6";
const B3_T: &str = "4d d3 b4 c0 88 a7 f4 5c 21 68 39 64 5b 20 12 bf 2e 62 69 a8 c5 6a 81 6d bc 1b 26 77 61 95 5b c5";

fn b3_key() -> [u8; 64] {
    std::array::from_fn(|i| i as u8)
}

#[test]
fn a256cbc_hs512_decrypts_the_rfc_7518_b3_vector() {
    let iv: [u8; 16] = hex(B3_IV).try_into().unwrap();
    let plaintext =
        jwe::a256cbc_hs512_decrypt(&b3_key(), &hex(B3_A), &iv, hex(B3_E), &hex(B3_T)).unwrap();
    assert_eq!(plaintext, hex(B3_P));
    assert!(plaintext.starts_with(b"A cipher system must not be required to be secret"));

    // One flipped bit anywhere authenticated: refused before any decryption.
    let mut tag = hex(B3_T);
    tag[31] ^= 1;
    assert_eq!(
        jwe::a256cbc_hs512_decrypt(&b3_key(), &hex(B3_A), &iv, hex(B3_E), &tag),
        Err(JoseError::Undecryptable)
    );
    let mut e = hex(B3_E);
    e[0] ^= 0x80;
    assert_eq!(
        jwe::a256cbc_hs512_decrypt(&b3_key(), &hex(B3_A), &iv, e, &hex(B3_T)),
        Err(JoseError::Undecryptable)
    );
    let mut aad = hex(B3_A);
    aad.push(b'!');
    assert_eq!(
        jwe::a256cbc_hs512_decrypt(&b3_key(), &aad, &iv, hex(B3_E), &hex(B3_T)),
        Err(JoseError::Undecryptable)
    );
}

#[test]
fn the_issuer_side_produces_the_b3_vector_too() {
    let iv: [u8; 16] = hex(B3_IV).try_into().unwrap();
    let (e, t) = keys::a256cbc_hs512_encrypt(&b3_key(), &hex(B3_A), &iv, &hex(B3_P)).unwrap();
    assert_eq!(e, hex(B3_E));
    assert_eq!(t.to_vec(), hex(B3_T));
}

#[tokio::test]
async fn rsa_oaep_round_trip_and_the_wrong_key() {
    let (_server, opener) = served().await;
    let json = claims(json!({}));
    let token = keys::encrypt(&json, &recipient(merchant_key()), None).unwrap();
    assert_eq!(token.split('.').count(), 5);
    assert_eq!(
        opener.open(token.as_bytes()).await.unwrap(),
        (json.clone(), PayloadFormat::Encrypted { signed: false })
    );

    // Encrypted to someone else: the random-CEK path fails at the tag, like a tampered tag.
    let other = DecryptionKey::generate().unwrap();
    let token = keys::encrypt(&json, &recipient(&other), None).unwrap();
    assert_eq!(refused(&opener, &token).await, JoseError::Undecryptable);
}

#[tokio::test]
async fn tampered_jwe_parts_are_undecryptable() {
    let (_server, opener) = served().await;
    let token = keys::encrypt(&claims(json!({})), &recipient(merchant_key()), None).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let flip = |part: &str| {
        let mut bytes = URL_SAFE_NO_PAD_decode(part);
        bytes[0] ^= 1;
        b64(&bytes)
    };
    for i in 1..5 {
        let mut tampered: Vec<String> = parts.iter().map(|p| p.to_string()).collect();
        tampered[i] = flip(parts[i]);
        let e = refused(&opener, &tampered.join(".")).await;
        assert_eq!(e, JoseError::Undecryptable, "part {i}");
    }
    // The header is the AAD: a changed header (still valid) fails the tag.
    let header = b64(br#"{"alg":"RSA-OAEP","enc":"A256CBC-HS512","kid":"x"}"#);
    let swapped = format!("{header}.{}", parts[1..].join("."));
    assert_eq!(refused(&opener, &swapped).await, JoseError::Undecryptable);
    // Truncated: a part missing, a short tag.
    assert!(matches!(
        refused(&opener, &parts[..4].join(".")).await,
        JoseError::Malformed(_)
    ));
    let short_tag = format!("{}.{}", parts[..4].join("."), &parts[4][..20]);
    assert!(matches!(
        refused(&opener, &short_tag).await,
        JoseError::Malformed(_)
    ));
}

#[allow(non_snake_case)]
fn URL_SAFE_NO_PAD_decode(part: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap()
}

#[tokio::test]
async fn jwe_headers_other_than_rsa_oaep_a256cbc_hs512_are_refused() {
    let (_server, opener) = served().await;
    let to = recipient(merchant_key());
    let json = claims(json!({}));
    for (header, expected) in [
        (
            json!({"alg": "RSA-OAEP", "enc": "A256CBC-HS512", "zip": "DEF"}),
            JoseError::Compressed,
        ),
        (
            json!({"alg": "RSA1_5", "enc": "A256CBC-HS512"}),
            JoseError::UnsupportedEncryption,
        ),
        (
            json!({"alg": "RSA-OAEP-256", "enc": "A256CBC-HS512"}),
            JoseError::UnsupportedEncryption,
        ),
        (
            json!({"alg": "dir", "enc": "A256CBC-HS512"}),
            JoseError::UnsupportedEncryption,
        ),
        (
            json!({"alg": "RSA-OAEP", "enc": "A128GCM"}),
            JoseError::UnsupportedEncryption,
        ),
        (
            json!({"alg": "RSA-OAEP", "enc": "A256CBC-HS512", "crit": ["exp"]}),
            JoseError::UnsupportedHeader("crit"),
        ),
    ] {
        let token = keys::encrypt_with_header(&json, &to, &header).unwrap();
        assert_eq!(refused(&opener, &token).await, expected, "{header}");
    }
}

#[tokio::test]
async fn a_jwe_without_a_configured_key_is_refused() {
    let (_server, opener) = served_with(Setup {
        key: None,
        ..Setup::default()
    })
    .await;
    let token = keys::encrypt(&claims(json!({})), &recipient(merchant_key()), None).unwrap();
    let e = refused(&opener, &token).await;
    assert_eq!(e, JoseError::NoDecryptionKey);
    assert_eq!(e.kind(), "no_decryption_key");
}

#[tokio::test]
async fn rs256_and_es256_verify_against_the_jwks() {
    let (server, opener) = served().await;
    for alg in [JwsAlg::Rs256, JwsAlg::Es256] {
        let token = jws(alg, json!({}));
        let (json, format) = opener.open(token.as_bytes()).await.unwrap();
        assert_eq!(format, PayloadFormat::Signed);
        let value: Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(value["attributes"][1]["value"], "u-1");
        // Quoted, with whitespace, as some ID.me answers come.
        let quoted = format!(" \"{token}\"\n");
        assert_eq!(
            opener.open(quoted.as_bytes()).await.unwrap().1,
            PayloadFormat::Signed
        );
    }
    assert_eq!(server.hits(), 1, "one fetch, then the cache");
    assert_eq!(opener.jwks().fetches(), 1);
}

#[tokio::test]
async fn nested_jwe_of_a_jws_is_verified_inside() {
    let (_server, opener) = served().await;
    let to = recipient(merchant_key());
    let inner = jws(JwsAlg::Rs256, json!({}));
    let token = keys::encrypt(inner.as_bytes(), &to, Some("JWT")).unwrap();
    assert_eq!(
        opener.open(token.as_bytes()).await.unwrap().1,
        PayloadFormat::Encrypted { signed: true }
    );
    // A forged JWS inside a perfectly decryptable JWE is still a forgery.
    let forged = forger_keys()
        .sign(JwsAlg::Rs256, &claims(json!({})))
        .unwrap();
    let token = keys::encrypt(forged.as_bytes(), &to, Some("JWT")).unwrap();
    assert_eq!(refused(&opener, &token).await, JoseError::BadSignature);
    // A JWE inside a JWE is not a payload.
    let outer = keys::encrypt(token.as_bytes(), &to, None).unwrap();
    assert!(matches!(
        refused(&opener, &outer).await,
        JoseError::Malformed(_)
    ));
}

#[tokio::test]
async fn forged_and_confused_signatures_are_refused() {
    let (_server, opener) = served().await;
    let payload = claims(json!({}));
    let kid = idme_keys().kid(JwsAlg::Rs256);

    // Another key under ID.me's kid.
    let forged = forger_keys().sign(JwsAlg::Rs256, &payload).unwrap();
    assert_eq!(refused(&opener, &forged).await, JoseError::BadSignature);
    let forged = forger_keys().sign(JwsAlg::Es256, &payload).unwrap();
    assert_eq!(refused(&opener, &forged).await, JoseError::BadSignature);

    // The forger's key embedded in the header: never consulted.
    let mut header = json!({"alg": "RS256", "kid": kid});
    header["jwk"] = forger_keys().jwks_keys()[0].clone();
    header["jku"] = Value::from("https://attacker.invalid/jwks");
    header["x5u"] = Value::from("https://attacker.invalid/cert");
    let forged = forger_keys()
        .sign_with_header(JwsAlg::Rs256, &header, &payload)
        .unwrap();
    assert_eq!(refused(&opener, &forged).await, JoseError::BadSignature);

    // alg none, with and without a signature part.
    let none = compact(&json!({"alg": "none", "kid": kid}), &payload, b"");
    assert_eq!(
        refused(&opener, &none).await,
        JoseError::DisallowedAlgorithm
    );
    let none = compact(&json!({"alg": "none"}), &payload, b"x");
    assert_eq!(
        refused(&opener, &none).await,
        JoseError::DisallowedAlgorithm
    );
    let no_alg = compact(&json!({"kid": kid}), &payload, b"x");
    assert_eq!(
        refused(&opener, &no_alg).await,
        JoseError::DisallowedAlgorithm
    );

    // HS256 keyed with the RSA public key (DER, and its JWK modulus): the classic confusion.
    use hmac::Mac;
    let n = URL_SAFE_NO_PAD_decode(idme_keys().jwks_keys()[0]["n"].as_str().unwrap());
    for secret in [idme_keys().rsa_public_der(), n] {
        for alg in ["HS256", "HS384", "HS512"] {
            let header = json!({"alg": alg, "kid": kid});
            let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(&payload));
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&secret).unwrap();
            mac.update(input.as_bytes());
            let token = format!("{input}.{}", b64(&mac.finalize().into_bytes()));
            assert_eq!(
                refused(&opener, &token).await,
                JoseError::DisallowedAlgorithm
            );
        }
    }

    // Other asymmetric algorithms are not ours either.
    for alg in ["PS256", "RS512", "ES384", "EdDSA"] {
        let token = compact(&json!({"alg": alg, "kid": kid}), &payload, b"sig");
        assert_eq!(
            refused(&opener, &token).await,
            JoseError::DisallowedAlgorithm
        );
    }

    // The EC key's kid with RS256 (and the reverse): algorithm and key type must agree.
    let header = json!({"alg": "RS256", "kid": idme_keys().kid(JwsAlg::Es256)});
    let token = idme_keys()
        .sign_with_header(JwsAlg::Rs256, &header, &payload)
        .unwrap();
    assert_eq!(
        refused(&opener, &token).await,
        JoseError::AlgorithmKeyMismatch
    );
    let header = json!({"alg": "ES256", "kid": kid});
    let token = idme_keys()
        .sign_with_header(JwsAlg::Es256, &header, &payload)
        .unwrap();
    assert_eq!(
        refused(&opener, &token).await,
        JoseError::AlgorithmKeyMismatch
    );

    // A critical extension we do not implement.
    let header = json!({"alg": "RS256", "kid": kid, "crit": ["b64"], "b64": false});
    let token = idme_keys()
        .sign_with_header(JwsAlg::Rs256, &header, &payload)
        .unwrap();
    assert_eq!(
        refused(&opener, &token).await,
        JoseError::UnsupportedHeader("crit")
    );
}

#[tokio::test]
async fn tampered_and_truncated_jws_are_refused() {
    let (_server, opener) = served().await;
    let token = jws(JwsAlg::Rs256, json!({}));
    let parts: Vec<&str> = token.split('.').collect();

    // A payload swapped for another person's: the signature no longer matches.
    let other = b64(&claims(
        json!({"attributes": [{"handle": "uuid", "value": "u-2"}]}),
    ));
    let swapped = format!("{}.{other}.{}", parts[0], parts[2]);
    assert_eq!(refused(&opener, &swapped).await, JoseError::BadSignature);

    for truncated in [
        format!("{}.{}", parts[0], parts[1]),
        parts[0].to_owned(),
        token[..token.len() / 2].to_owned(),
        format!("{}.{}.", parts[0], parts[1]),
        format!(
            "{}.{}.{}",
            parts[0],
            parts[1],
            &parts[2][..parts[2].len() - 5]
        ),
        format!("{}..{}", parts[0], parts[2]),
        format!("{}.{}.{}!", parts[0], parts[1], parts[2]),
    ] {
        let e = refused(&opener, &truncated).await;
        assert!(
            matches!(e, JoseError::Malformed(_) | JoseError::BadSignature),
            "{e:?}"
        );
    }
}

#[tokio::test]
async fn exp_and_nbf_are_checked_with_a_minute_of_leeway() {
    let (_server, opener) = served().await;
    let t = now();
    for (extra, expected) in [
        (json!({"exp": t - 120}), Err(JoseError::Expired)),
        (json!({"exp": t - 30}), Ok(())),
        (json!({"nbf": t + 120}), Err(JoseError::NotYetValid)),
        (json!({"nbf": t + 30}), Ok(())),
        (
            json!({"exp": "tomorrow"}),
            Err(JoseError::Malformed("JWS claims")),
        ),
    ] {
        let token = jws(JwsAlg::Es256, extra.clone());
        let got = opener.open(token.as_bytes()).await.map(|_| ());
        assert_eq!(got, expected, "{extra}");
    }
    // No exp at all is accepted: ID.me's claims are not documented.
    let mut bare: Value = serde_json::from_slice(&claims(json!({}))).unwrap();
    bare.as_object_mut().unwrap().remove("exp");
    let token = idme_keys()
        .sign(JwsAlg::Rs256, bare.to_string().as_bytes())
        .unwrap();
    assert!(opener.open(token.as_bytes()).await.is_ok());
}

#[tokio::test]
async fn iss_and_aud_are_checked_when_configured() {
    let (_server, opener) = served_with(Setup {
        claims: ClaimChecks {
            issuer: Some("https://api.id.me/oidc".into()),
            audience: Some("client-1".into()),
        },
        ..Setup::default()
    })
    .await;
    let good = json!({"iss": "https://api.id.me/oidc", "aud": "client-1"});
    assert!(
        opener
            .open(jws(JwsAlg::Rs256, good).as_bytes())
            .await
            .is_ok()
    );
    let listed = json!({"iss": "https://api.id.me/oidc", "aud": ["other", "client-1"]});
    assert!(
        opener
            .open(jws(JwsAlg::Rs256, listed).as_bytes())
            .await
            .is_ok()
    );
    for (extra, expected) in [
        (
            json!({"iss": "https://evil.example", "aud": "client-1"}),
            JoseError::WrongIssuer,
        ),
        (json!({"aud": "client-1"}), JoseError::WrongIssuer),
        (
            json!({"iss": "https://api.id.me/oidc", "aud": "client-2"}),
            JoseError::WrongAudience,
        ),
        (
            json!({"iss": "https://api.id.me/oidc"}),
            JoseError::WrongAudience,
        ),
    ] {
        let token = jws(JwsAlg::Rs256, extra.clone());
        assert_eq!(refused(&opener, &token).await, expected, "{extra}");
    }

    // Unconfigured: whatever iss and aud say.
    let (_server, lenient) = served().await;
    let any = json!({"iss": "https://elsewhere.example", "aud": "someone"});
    assert!(
        lenient
            .open(jws(JwsAlg::Rs256, any).as_bytes())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn an_unknown_kid_refetches_at_most_once_per_interval() {
    let (server, opener) = served_with(Setup {
        min_refetch: Duration::from_millis(400),
        ..Setup::default()
    })
    .await;
    let payload = claims(json!({}));
    let header = json!({"alg": "RS256", "kid": "nobody"});
    let unknown = idme_keys()
        .sign_with_header(JwsAlg::Rs256, &header, &payload)
        .unwrap();
    // The first fetch already looked for it: no second fetch right after.
    assert_eq!(refused(&opener, &unknown).await, JoseError::UnknownKey);
    assert_eq!(server.hits(), 1);
    for _ in 0..5 {
        assert_eq!(refused(&opener, &unknown).await, JoseError::UnknownKey);
    }
    assert_eq!(server.hits(), 1, "throttled");
    // Known keys keep working meanwhile, from the cache.
    assert!(
        opener
            .open(jws(JwsAlg::Rs256, json!({})).as_bytes())
            .await
            .is_ok()
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(refused(&opener, &unknown).await, JoseError::UnknownKey);
    assert_eq!(server.hits(), 2, "one refetch once the interval passed");

    // No kid: only an unambiguous key of the right type will do.
    let bare = idme_keys()
        .sign_with_header(JwsAlg::Es256, &json!({"alg": "ES256"}), &payload)
        .unwrap();
    assert!(opener.open(bare.as_bytes()).await.is_ok());
}

#[tokio::test]
async fn a_key_rotation_is_picked_up_with_one_refetch() {
    let (server, opener) = served().await;
    assert!(
        opener
            .open(jws(JwsAlg::Rs256, json!({})).as_bytes())
            .await
            .is_ok()
    );
    assert_eq!(server.hits(), 1);

    let rotated = SigningKeys::generate("idme-2").unwrap();
    server.set(200, rotated.jwks_json());
    let token = rotated.sign(JwsAlg::Rs256, &claims(json!({}))).unwrap();
    assert!(opener.open(token.as_bytes()).await.is_ok());
    assert_eq!(server.hits(), 2);
    // The old key is gone with the new set; yet another kid waits for the interval.
    assert_eq!(
        refused(&opener, &jws(JwsAlg::Rs256, json!({}))).await,
        JoseError::UnknownKey
    );
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn concurrent_callbacks_share_one_fetch() {
    let (server, opener) = served().await;
    *server.delay.lock().unwrap() = Duration::from_millis(300);
    let token = jws(JwsAlg::Rs256, json!({}));
    let opens: Vec<_> = (0..8)
        .map(|_| {
            let (opener, token) = (opener.clone(), token.clone());
            tokio::spawn(async move { opener.open(token.as_bytes()).await })
        })
        .collect();
    for open in opens {
        assert!(open.await.unwrap().is_ok());
    }
    assert_eq!(server.hits(), 1);

    // A failing JWKS is shared the same way: one fetch, everyone told.
    let (server, opener) = served().await;
    server.set(500, "{}".into());
    *server.delay.lock().unwrap() = Duration::from_millis(300);
    let opens: Vec<_> = (0..8)
        .map(|_| {
            let (opener, token) = (opener.clone(), token.clone());
            tokio::spawn(async move { opener.open(token.as_bytes()).await })
        })
        .collect();
    for open in opens {
        assert_eq!(
            open.await.unwrap(),
            Err(JoseError::JwksUnavailable("HTTP 500".into()))
        );
    }
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn jwks_outages_and_garbage_are_typed() {
    let (server, opener) = served().await;
    let token = jws(JwsAlg::Rs256, json!({}));
    server.set(503, "down".into());
    let e = refused(&opener, &token).await;
    assert_eq!(e, JoseError::JwksUnavailable("HTTP 503".into()));
    assert_eq!(e.kind(), "jwks_unavailable");
    server.set(200, "<html>".into());
    assert_eq!(refused(&opener, &token).await, JoseError::JwksInvalid);
    // Once it is back, the next callback fetches again (failures are not cached).
    server.set(200, idme_keys().jwks_json());
    assert!(opener.open(token.as_bytes()).await.is_ok());

    let gone = Url::parse("http://127.0.0.1:9/jwks").unwrap();
    let opener = Setup::default().opener(&gone);
    assert_eq!(
        refused(&opener, &token).await,
        JoseError::JwksUnavailable("unreachable".into())
    );
}

#[tokio::test]
async fn odd_jwks_entries_are_skipped_not_fatal() {
    let mut keys = idme_keys().jwks_keys();
    let rsa = keys[0].clone();
    let mut enc = rsa.clone();
    enc["use"] = "enc".into();
    enc["kid"] = "enc-key".into();
    let mut pss = rsa.clone();
    pss["alg"] = "PS256".into();
    pss["kid"] = "pss-key".into();
    let mut small = rsa.clone();
    small["n"] = b64(&[0xff; 128]).into();
    small["kid"] = "small-key".into();
    keys.extend([
        enc,
        pss,
        small,
        json!({"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}),
        json!({"kty": "EC", "crv": "P-384", "kid": "p384", "x": "AA", "y": "AA"}),
        json!({"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": "AA"}),
        json!({"kty": "RSA", "kid": "broken", "n": 12, "e": true}),
        json!("not even an object"),
    ]);
    let server = JwksServer::start(json!({ "keys": keys }).to_string()).await;
    let opener = Setup::default().opener(&server.url);
    assert!(
        opener
            .open(jws(JwsAlg::Rs256, json!({})).as_bytes())
            .await
            .is_ok()
    );
    assert!(
        opener
            .open(jws(JwsAlg::Es256, json!({})).as_bytes())
            .await
            .is_ok()
    );
    let payload = claims(json!({}));
    for kid in ["enc-key", "pss-key", "small-key", "hmac"] {
        let header = json!({"alg": "RS256", "kid": kid});
        let token = idme_keys()
            .sign_with_header(JwsAlg::Rs256, &header, &payload)
            .unwrap();
        assert_eq!(
            refused(&opener, &token).await,
            JoseError::UnknownKey,
            "{kid}"
        );
    }
}

#[tokio::test]
async fn the_policy_refuses_weaker_payloads() {
    let to = recipient(merchant_key());
    let json = claims(json!({}));
    let signed = jws(JwsAlg::Rs256, json!({}));
    let encrypted = keys::encrypt(&json, &to, None).unwrap();
    let nested = keys::encrypt(signed.as_bytes(), &to, Some("JWT")).unwrap();
    let bodies = [
        (
            String::from_utf8(json.clone()).unwrap(),
            PayloadFormat::Json,
        ),
        (signed, PayloadFormat::Signed),
        (encrypted, PayloadFormat::Encrypted { signed: false }),
        (nested, PayloadFormat::Encrypted { signed: true }),
    ];
    for (policy, admitted) in [
        (PayloadPolicy::Any, [true, true, true, true]),
        (PayloadPolicy::Json, [true, true, true, true]),
        (PayloadPolicy::Signed, [false, true, false, true]),
        (PayloadPolicy::Encrypted, [false, false, true, true]),
    ] {
        let (_server, opener) = served_with(Setup {
            policy,
            ..Setup::default()
        })
        .await;
        for ((body, format), ok) in bodies.iter().zip(admitted) {
            let got = opener.open(body.as_bytes()).await;
            if ok {
                assert_eq!(got.map(|(_, f)| f), Ok(*format), "{policy:?}");
            } else {
                let e = refused(&opener, body).await;
                assert_eq!(
                    e,
                    JoseError::WeakerThanRequired {
                        required: policy,
                        got: *format
                    }
                );
                assert_eq!(e.kind(), "weaker_than_required");
            }
        }
    }
}

#[test]
fn policy_and_format_labels() {
    for s in ["any", "json", "signed", "encrypted"] {
        assert_eq!(s.parse::<PayloadPolicy>().unwrap().as_str(), s);
    }
    let err = "jwe".parse::<PayloadPolicy>().unwrap_err();
    assert!(err.contains("\"signed\""), "{err}");
    assert_eq!(PayloadPolicy::default(), PayloadPolicy::Any);
    assert_eq!(
        PayloadFormat::Encrypted { signed: true }.as_str(),
        "encrypted_signed"
    );
}

#[tokio::test]
async fn plain_json_and_garbage_pass_through_to_the_payload_parser() {
    let (server, opener) = served().await;
    let (json, format) = opener.open(b"  {\"status\": []}\n").await.unwrap();
    assert_eq!(
        (json.as_slice(), format),
        (&b"{\"status\": []}"[..], PayloadFormat::Json)
    );
    // Not JOSE-shaped: left for `Payload::parse` to call malformed.
    assert_eq!(
        opener.open(b"<html>Sunny</html>").await.unwrap().1,
        PayloadFormat::Json
    );
    // JOSE-shaped but broken.
    for body in [
        "eyJhbGciOiJSUzI1NiJ9",
        "eyJhbGci OiJ.e30.x",
        "\"eyJ.a.b.c\"",
        "a.b.c.d.e.f",
    ] {
        assert!(
            matches!(refused(&opener, body).await, JoseError::Malformed(_)),
            "{body}"
        );
    }
    assert_eq!(server.hits(), 0, "no JWKS needed for any of these");
}

#[test]
fn the_decryption_key_reads_pkcs8_pem_and_says_what_is_wrong_otherwise() {
    use aws_lc_rs::encoding::AsDer;
    use base64::Engine;
    let key =
        aws_lc_rs::rsa::PrivateDecryptingKey::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let der = key.as_der().unwrap();
    let body = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    );
    let loaded = DecryptionKey::from_pem(&pem).unwrap();
    assert_eq!(format!("{loaded:?}"), "DecryptionKey([redacted])");
    assert!(!loaded.public_key_der().is_empty());

    for (text, expected) in [
        (pem.replace("PRIVATE KEY", "RSA PRIVATE KEY"), "PKCS#1"),
        (
            pem.replace("PRIVATE KEY", "ENCRYPTED PRIVATE KEY"),
            "encrypted",
        ),
        ("just text".to_owned(), "not a PEM file"),
        (pem.replace(&lines[3][..10], "!!!!!!!!!!"), "base64"),
        (pem.replace("-----END PRIVATE KEY-----", ""), "END"),
        (
            format!(
                "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
                base64::engine::general_purpose::STANDARD.encode(b"not a key at all, Sunny")
            ),
            "not a PKCS#8 RSA private key",
        ),
    ] {
        let err = DecryptionKey::from_pem(&text).unwrap_err();
        assert!(err.contains(expected), "{err}");
        assert!(
            !err.contains(&lines[3][..20]) && !err.contains("Sunny"),
            "{err}"
        );
    }

    // An EC key is PKCS#8 too, but not RSA.
    let ec = aws_lc_rs::signature::EcdsaKeyPair::generate(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
    )
    .unwrap();
    let ec_der = ec.to_pkcs8v1().unwrap();
    assert!(DecryptionKey::from_pkcs8_der(ec_der.as_ref()).is_err());
}
