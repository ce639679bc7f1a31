//! The embedded sandbox: a stand-in for ID.me's three endpoints, served under
//! `/sandbox/idme` when no `PERKGATE_IDME_URL` is set.
//!
//! perkgate reaches it over HTTP through the same client as real ID.me, so the sandbox checks
//! what ID.me checks: the client credentials, the exact redirect URI, PKCE S256, single-use
//! codes and tokens that expire after five minutes. Its pages are deliberately plain and
//! labelled as a simulation: it must never look like ID.me.
//!
//! Its attributes answer can be plain JSON, a JWS or a JWE around a JWS
//! (`PERKGATE_SANDBOX_PAYLOAD`), with its own JWKS, so the signed and encrypted paths run over
//! HTTP as they would against ID.me.
//!
//! It cannot be abused: what it keeps is capped in number (`grants`) and size (`fields`), its
//! pages sit behind a per-address flood ceiling (`web::router`), every refusal is its own page or
//! OAuth JSON with a correlation id (`refusal`), and it starts beyond loopback only on purpose,
//! warning whenever it answers an outsider (`guard`).

pub mod fields;
pub mod guard;
pub mod keys;
pub mod personas;

mod grants;
mod oauth;
mod pages;
mod refusal;

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::clock::now;
use crate::config::Secret;
use crate::crypto::random_token;
use grants::Grants;
pub use grants::{CAPS, Stored};
use keys::{JwsAlg, KeyError, RecipientKey, SigningKeys};
use oauth::{attributes, token};
use pages::{authorize, consent, groups};

/// Where the sandbox is mounted.
pub const PATH: &str = "/sandbox/idme";
/// Codes and tokens live five minutes, like ID.me's.
const GRANT_TTL_SECS: i64 = 300;
/// A shopper has ten minutes on the persona page.
const REQUEST_TTL_SECS: i64 = 600;

/// Where the sandbox serves its JWKS, relative to its base (as ID.me does).
pub const JWKS_PATH: &str = "/oidc/.well-known/jwks";

/// What the sandbox's attributes endpoint answers with (`PERKGATE_SANDBOX_PAYLOAD`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SandboxPayload {
    #[default]
    Json,
    /// A JWS with this algorithm.
    Signed(JwsAlg),
    /// A JWE (RSA-OAEP, A256CBC-HS512) of such a JWS, `cty: "JWT"`.
    Encrypted(JwsAlg),
}

impl SandboxPayload {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Signed(JwsAlg::Rs256) => "signed",
            Self::Signed(JwsAlg::Es256) => "signed-es256",
            Self::Encrypted(JwsAlg::Rs256) => "encrypted",
            Self::Encrypted(JwsAlg::Es256) => "encrypted-es256",
        }
    }
}

impl FromStr for SandboxPayload {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "json" => Ok(Self::Json),
            "signed" => Ok(Self::Signed(JwsAlg::Rs256)),
            "signed-es256" => Ok(Self::Signed(JwsAlg::Es256)),
            "encrypted" => Ok(Self::Encrypted(JwsAlg::Rs256)),
            "encrypted-es256" => Ok(Self::Encrypted(JwsAlg::Es256)),
            _ => Err(format!(
                "expected \"json\", \"signed\", \"signed-es256\", \"encrypted\" or \"encrypted-es256\", got {s:?}"
            )),
        }
    }
}

/// Calls the sandbox received, for tests and the benchmark.
#[derive(Default, Debug)]
pub struct Calls {
    pub authorize: AtomicU64,
    pub token: AtomicU64,
    pub attributes: AtomicU64,
    pub jwks: AtomicU64,
}

impl Calls {
    pub fn token(&self) -> u64 {
        self.token.load(Ordering::SeqCst)
    }
    pub fn attributes(&self) -> u64 {
        self.attributes.load(Ordering::SeqCst)
    }
    pub fn jwks(&self) -> u64 {
        self.jwks.load(Ordering::SeqCst)
    }
}

pub struct Sandbox {
    pub client_id: String,
    pub client_secret: Secret,
    /// The one registered redirect URI, compared exactly.
    pub redirect_uri: String,
    pub calls: Arc<Calls>,
    grants: Mutex<Grants>,
    /// Who beyond this machine it has warned about.
    watch: guard::Watch,
    payload: SandboxPayload,
    /// `iss` of its signed payloads: its base + `/oidc`, as ID.me's issuer is.
    issuer: String,
    /// Made on first use: RSA key generation is not free, and a JSON sandbox needs none.
    signing: OnceLock<Result<SigningKeys, KeyError>>,
    /// Whom encrypted payloads are for: the public half of perkgate's decryption key.
    recipient: Option<RecipientKey>,
}

impl Sandbox {
    pub fn new(redirect_uri: String) -> Self {
        Self {
            client_id: "perkgate-sandbox".to_owned(),
            client_secret: Secret::new(random_token()),
            redirect_uri,
            calls: Arc::default(),
            grants: Mutex::default(),
            watch: guard::Watch::default(),
            payload: SandboxPayload::Json,
            issuer: String::new(),
            signing: OnceLock::new(),
            recipient: None,
        }
    }

    /// Answers attributes as `payload`, signed as `issuer`, encrypted to `recipient`. Keys a
    /// signing sandbox needs are made here, so a failure stops start-up.
    pub fn with_payload(
        mut self,
        payload: SandboxPayload,
        issuer: String,
        recipient: Option<RecipientKey>,
    ) -> Result<Self, KeyError> {
        if matches!(payload, SandboxPayload::Encrypted(_)) && recipient.is_none() {
            return Err(KeyError("an encrypting sandbox needs a recipient key"));
        }
        self.payload = payload;
        self.issuer = issuer;
        self.recipient = recipient;
        if payload != SandboxPayload::Json {
            self.signing_keys()?;
        }
        Ok(self)
    }

    pub fn payload(&self) -> SandboxPayload {
        self.payload
    }

    fn signing_keys(&self) -> Result<&SigningKeys, KeyError> {
        self.signing
            .get_or_init(|| SigningKeys::generate("sandbox"))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The attributes answer in the configured form.
    fn encode(&self, payload: serde_json::Value) -> Result<Response, KeyError> {
        let alg = match self.payload {
            SandboxPayload::Json => return Ok(axum::Json(payload).into_response()),
            SandboxPayload::Signed(alg) | SandboxPayload::Encrypted(alg) => alg,
        };
        let mut claims = payload;
        let now = now();
        claims["iss"] = self.issuer.clone().into();
        claims["aud"] = self.client_id.clone().into();
        claims["iat"] = now.into();
        claims["exp"] = (now + GRANT_TTL_SECS).into();
        let jws = self
            .signing_keys()?
            .sign(alg, claims.to_string().as_bytes())?;
        let body = match (&self.payload, &self.recipient) {
            (SandboxPayload::Encrypted(_), Some(to)) => {
                keys::encrypt(jws.as_bytes(), to, Some("JWT"))?
            }
            (SandboxPayload::Encrypted(_), None) => return Err(KeyError("no recipient key")),
            _ => jws,
        };
        Ok(([(header::CONTENT_TYPE, "application/jwt")], body).into_response())
    }

    fn grants(&self) -> MutexGuard<'_, Grants> {
        // A panic elsewhere must not wedge the sandbox: the data stays consistent per call.
        self.grants.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many requests, codes and tokens it holds (at most [`CAPS`]).
    pub fn stored(&self) -> Stored {
        self.grants().stored()
    }

    /// What the shopper's browser sees (the groups and persona pages and the consent form), to
    /// mount behind a per-address flood ceiling.
    pub fn pages<S: Clone + Send + Sync + 'static>(self: Arc<Self>) -> Router<S> {
        let routes = Router::new()
            .route("/groups", get(groups))
            .route("/oauth/authorize", get(authorize).post(consent));
        self.finish(routes)
    }

    /// What perkgate itself calls (token, attributes, JWKS): all from this machine, so a
    /// per-client limit would throttle every shopper's verification at once. Storing needs
    /// the client secret, and answers are bounded.
    pub fn back_channel<S: Clone + Send + Sync + 'static>(self: Arc<Self>) -> Router<S> {
        let routes = Router::new()
            .route("/oauth/token", axum::routing::post(token))
            .route("/api/public/v3/attributes.json", get(attributes))
            .route(JWKS_PATH, get(jwks));
        self.finish(routes)
    }

    fn finish<S: Clone + Send + Sync + 'static>(
        self: Arc<Self>,
        routes: Router<Arc<Self>>,
    ) -> Router<S> {
        routes
            .layer(axum::middleware::from_fn(refusal::render))
            .layer(axum::middleware::from_fn_with_state(
                self.clone(),
                guard::watch,
            ))
            .with_state(self)
    }
}

/// The sandbox's public signing keys, as ID.me publishes its own.
async fn jwks(State(sandbox): State<Arc<Sandbox>>) -> Response {
    sandbox.calls.jwks.fetch_add(1, Ordering::SeqCst);
    match sandbox.signing_keys() {
        Ok(keys) => (
            [(header::CONTENT_TYPE, "application/json")],
            keys.jwks_json(),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "sandbox signing keys unavailable");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
