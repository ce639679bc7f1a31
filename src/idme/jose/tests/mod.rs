//! Unit tests of the JOSE layer, one file per topic, and what they share: one set of keys per
//! test binary, claims, and a scriptable JWKS endpoint on loopback behind an `Opener`.

mod jwe;
mod jwks;
mod jws;
mod policy;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use serde_json::{Value, json};
use url::Url;

use super::*;
use crate::sandbox::keys::{RecipientKey, SigningKeys};

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

#[allow(non_snake_case)]
fn URL_SAFE_NO_PAD_decode(part: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap()
}
