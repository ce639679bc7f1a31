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
pub(super) fn veteran_claims(extra: Value) -> Vec<u8> {
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

pub(super) fn signed(alg: JwsAlg) -> String {
    fake_keys().sign(alg, &veteran_claims(json!({}))).unwrap()
}

pub(super) fn jwt(token: &str) -> Reply {
    Reply::Raw(200, "application/jwt", token.to_owned())
}

/// A fresh merchant key as a PKCS#8 PEM file in `dir`; returns its path and its public half.
pub(super) fn merchant_key_file(dir: &std::path::Path) -> (String, RecipientKey) {
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

pub(super) struct Setup {
    pub(super) app: TestApp,
    pub(super) idme: FakeIdme,
    shopper: Shopper,
}

pub(super) async fn setup_with(options: Options) -> Setup {
    let idme = FakeIdme::start().await;
    let app = spawn_with(options.idme(&idme.url())).await;
    let shopper = app.shopper();
    Setup { app, idme, shopper }
}

impl Setup {
    /// A new shopper starts a verification; ID.me's redirect back is played with a code.
    pub(super) async fn callback(&self) -> reqwest::Response {
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
    pub(super) async fn expect_failure(&self) -> String {
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
pub(super) fn failure_line(logs: &Capture, request_id: &str) -> String {
    let text = logs.text();
    text.lines()
        .find(|l| l.contains("ID.me call failed") && l.contains(request_id))
        .unwrap_or_else(|| panic!("no failure line for {request_id} in:\n{text}"))
        .to_owned()
}

/// Nothing of the payload, the tokens or the keys may reach the log.
pub(super) fn assert_log_quotes_nothing(logs: &Capture, tokens: &[String]) {
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

mod encrypted;
mod sandbox;
mod signed;
