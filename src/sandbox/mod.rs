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

pub mod keys;
pub mod personas;

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use askama::Template;
use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use url::Url;

use crate::clock::now;
use crate::config::Secret;
use crate::crypto::random_token;
use keys::{JwsAlg, KeyError, RecipientKey, SigningKeys};

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

struct AuthRequest {
    redirect_uri: String,
    state: Option<String>,
    scopes: Vec<String>,
    code_challenge: String,
    created_at: i64,
}

struct CodeGrant {
    redirect_uri: String,
    scopes: Vec<String>,
    code_challenge: String,
    persona: &'static personas::Persona,
    created_at: i64,
    /// Set on first redemption; a second redemption revokes it.
    issued_token: Option<String>,
}

struct TokenGrant {
    scopes: Vec<String>,
    persona: &'static personas::Persona,
    created_at: i64,
}

#[derive(Default)]
struct Grants {
    requests: HashMap<String, AuthRequest>,
    codes: HashMap<String, CodeGrant>,
    tokens: HashMap<String, TokenGrant>,
}

impl Grants {
    fn prune(&mut self, now: i64) {
        self.requests
            .retain(|_, r| now - r.created_at <= REQUEST_TTL_SECS);
        self.codes
            .retain(|_, c| now - c.created_at <= GRANT_TTL_SECS);
        self.tokens
            .retain(|_, t| now - t.created_at <= GRANT_TTL_SECS);
    }
}

pub struct Sandbox {
    pub client_id: String,
    pub client_secret: Secret,
    /// The one registered redirect URI, compared exactly.
    pub redirect_uri: String,
    pub calls: Arc<Calls>,
    grants: Mutex<Grants>,
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

    pub fn router<S: Clone + Send + Sync + 'static>(self: Arc<Self>) -> Router<S> {
        Router::new()
            .route("/groups", get(groups))
            .route("/oauth/authorize", get(authorize).post(consent))
            .route("/oauth/token", axum::routing::post(token))
            .route("/api/public/v3/attributes.json", get(attributes))
            .route(JWKS_PATH, get(jwks))
            .with_state(self)
    }
}

#[derive(Template)]
#[template(path = "sandbox_authorize.html")]
struct AuthorizePage<'a> {
    request_id: &'a str,
    scopes: &'a [String],
    matching: Vec<&'static personas::Persona>,
    others: Vec<&'static personas::Persona>,
}

#[derive(Template)]
#[template(path = "sandbox_groups.html")]
struct GroupsPage {
    communities: Vec<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "sandbox_error.html")]
struct ErrorPage<'a> {
    message: &'a str,
}

fn page<T: Template>(status: StatusCode, t: &T) -> Response {
    match t.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "sandbox template failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

fn refuse(message: &str) -> Response {
    page(StatusCode::BAD_REQUEST, &ErrorPage { message })
}

/// Sends the browser back to the client with an OAuth error, as ID.me does.
fn redirect_error(
    redirect_uri: &str,
    state: Option<&str>,
    error: &str,
    description: &str,
) -> Response {
    match Url::parse(redirect_uri) {
        Ok(mut url) => {
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("error", error);
                q.append_pair("error_description", description);
                if let Some(state) = state {
                    q.append_pair("state", state);
                }
            }
            Redirect::to(url.as_str()).into_response()
        }
        Err(_) => refuse("The redirect URI is not a URL."),
    }
}

/// The groups endpoint (production's `groups.id.me`): the shopper picks a community, then
/// goes on to that community's authorize page with the same parameters and `scope` set to it.
/// As ID.me's SDKs expect, it takes `scopes` (plural, comma-separated) and no `scope`.
async fn groups(
    State(sandbox): State<Arc<Sandbox>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let param = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    if param("client_id") != sandbox.client_id {
        return refuse("Unknown client_id: this sandbox only knows perkgate's own client.");
    }
    if param("redirect_uri") != sandbox.redirect_uri {
        return refuse("The redirect_uri does not exactly match the registered one.");
    }
    if q.contains_key("scope") {
        return refuse(
            "The groups endpoint takes `scopes` (plural, comma-separated), not `scope`.",
        );
    }
    let scopes: Vec<&str> = param("scopes")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .take(32)
        .collect();
    if scopes.is_empty() {
        return refuse("scopes is required: the communities the store has offers for.");
    }
    let communities = scopes
        .iter()
        .map(|scope| {
            let mut url = Url::parse("http://sandbox.invalid/oauth/authorize").ok();
            if let Some(url) = url.as_mut() {
                let mut pairs = url.query_pairs_mut();
                for (k, v) in &q {
                    if k != "scopes" {
                        pairs.append_pair(k, v);
                    }
                }
                pairs.append_pair("scope", scope);
            }
            let query = url
                .and_then(|u| u.query().map(str::to_owned))
                .unwrap_or_default();
            (
                (*scope).to_owned(),
                crate::rules::community_name(scope),
                format!("{PATH}/oauth/authorize?{query}"),
            )
        })
        .collect();
    page(StatusCode::OK, &GroupsPage { communities })
}

async fn authorize(
    State(sandbox): State<Arc<Sandbox>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    sandbox.calls.authorize.fetch_add(1, Ordering::SeqCst);
    let param = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    if param("client_id") != sandbox.client_id {
        return refuse("Unknown client_id: this sandbox only knows perkgate's own client.");
    }
    // Never redirect to an unregistered URI: show the error here instead.
    let redirect_uri = param("redirect_uri");
    if redirect_uri != sandbox.redirect_uri {
        return refuse("The redirect_uri does not exactly match the registered one.");
    }
    let state = q.get("state").map(String::as_str);
    let problem = if param("response_type") != "code" {
        Some("response_type must be code")
    } else if param("code_challenge").len() < 43 || param("code_challenge_method") != "S256" {
        Some("PKCE with code_challenge_method=S256 is required")
    } else if q.contains_key("nonce") {
        Some("nonce is an OpenID Connect parameter and this request has no openid scope")
    } else if param("scope").trim().is_empty() {
        Some("scope is required")
    } else {
        None
    };
    if let Some(problem) = problem {
        return redirect_error(redirect_uri, state, "invalid_request", problem);
    }
    let scopes: Vec<String> = param("scope")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let request_id = random_token();
    let now = now();
    {
        let mut grants = sandbox.grants();
        grants.prune(now);
        grants.requests.insert(
            request_id.clone(),
            AuthRequest {
                redirect_uri: redirect_uri.to_owned(),
                state: state.map(str::to_owned),
                scopes: scopes.clone(),
                code_challenge: param("code_challenge").to_owned(),
                created_at: now,
            },
        );
    }
    let (matching, others) = personas::PERSONAS
        .iter()
        .partition(|p| p.group.is_some_and(|g| scopes.iter().any(|s| s == g)));
    page(
        StatusCode::OK,
        &AuthorizePage {
            request_id: &request_id,
            scopes: &scopes,
            matching,
            others,
        },
    )
}

#[derive(Deserialize)]
struct ConsentForm {
    request: String,
    persona: String,
}

/// The shopper picked a persona (or declined): back to the client with a code or an error.
async fn consent(State(sandbox): State<Arc<Sandbox>>, Form(form): Form<ConsentForm>) -> Response {
    let now = now();
    let mut grants = sandbox.grants();
    // Single use: the request id doubles as this form's CSRF token.
    let Some(request) = grants.requests.remove(&form.request) else {
        return refuse(
            "This sign-in page has expired or was already used. Start again from the store.",
        );
    };
    if now - request.created_at > REQUEST_TTL_SECS {
        return refuse("This sign-in page has expired. Start again from the store.");
    }
    if form.persona == personas::DECLINE {
        return redirect_error(
            &request.redirect_uri,
            request.state.as_deref(),
            "access_denied",
            "The user denied the request",
        );
    }
    let Some(persona) = personas::find(&form.persona) else {
        return refuse("Unknown persona.");
    };
    let code = random_token();
    grants.codes.insert(
        code.clone(),
        CodeGrant {
            redirect_uri: request.redirect_uri.clone(),
            scopes: request.scopes,
            code_challenge: request.code_challenge,
            persona,
            created_at: now,
            issued_token: None,
        },
    );
    drop(grants);
    let Ok(mut url) = Url::parse(&request.redirect_uri) else {
        return refuse("The redirect URI is not a URL.");
    };
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("code", &code);
        if let Some(state) = &request.state {
            q.append_pair("state", state);
        }
    }
    Redirect::to(url.as_str()).into_response()
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(serde_json::json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// The client's id and secret from HTTP Basic or the form body.
fn client_credentials(
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Option<(String, String)> {
    if let Some(basic) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    {
        let decoded = String::from_utf8(STANDARD.decode(basic.trim()).ok()?).ok()?;
        let (id, secret) = decoded.split_once(':')?;
        let unescape = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
        };
        return Some((unescape(id)?, unescape(secret)?));
    }
    Some((
        form.get("client_id")?.clone(),
        form.get("client_secret")?.clone(),
    ))
}

async fn token(
    State(sandbox): State<Arc<Sandbox>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    sandbox.calls.token.fetch_add(1, Ordering::SeqCst);
    let authenticated = client_credentials(&headers, &form).is_some_and(|(id, secret)| {
        id == sandbox.client_id
            && bool::from(
                secret
                    .as_bytes()
                    .ct_eq(sandbox.client_secret.expose().as_bytes()),
            )
    });
    if !authenticated {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
    }
    if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "use authorization_code",
        );
    }
    let code = form.get("code").map(String::as_str).unwrap_or("");
    let now = now();
    let mut guard = sandbox.grants();
    guard.prune(now);
    let grants = &mut *guard;
    let Some(grant) = grants.codes.get_mut(code) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "unknown or expired code",
        );
    };
    if let Some(issued) = grant.issued_token.take() {
        // A second redemption: refuse it and revoke what the first one got, like ID.me.
        grants.tokens.remove(&issued);
        grants.codes.remove(code);
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "code already used",
        );
    }
    if form.get("redirect_uri") != Some(&grant.redirect_uri) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "redirect_uri mismatch",
        );
    }
    let verifier = form.get("code_verifier").map(String::as_str).unwrap_or("");
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    if verifier.is_empty()
        || !bool::from(challenge.as_bytes().ct_eq(grant.code_challenge.as_bytes()))
    {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "PKCE verification failed",
        );
    }
    let access_token = random_token();
    grant.issued_token = Some(access_token.clone());
    let scopes = grant.scopes.clone();
    let persona = grant.persona;
    grants.tokens.insert(
        access_token.clone(),
        TokenGrant {
            scopes: scopes.clone(),
            persona,
            created_at: now,
        },
    );
    (
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(serde_json::json!({
            "access_token": access_token,
            "token_type": "bearer",
            "expires_in": GRANT_TTL_SECS,
            "refresh_token": random_token(),
            "scope": scopes.join(" "),
        })),
    )
        .into_response()
}

async fn attributes(State(sandbox): State<Arc<Sandbox>>, headers: HeaderMap) -> Response {
    sandbox.calls.attributes.fetch_add(1, Ordering::SeqCst);
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    // Single use, as ID.me's documentation describes its access tokens.
    let grant = sandbox.grants().tokens.remove(token);
    match grant {
        Some(g) if now() - g.created_at <= GRANT_TTL_SECS => {
            match sandbox.encode(g.persona.payload(&g.scopes)) {
                Ok(response) => response,
                Err(e) => {
                    tracing::error!(error = %e, "sandbox could not sign or encrypt the payload");
                    StatusCode::INTERNAL_SERVER_ERROR.into_response()
                }
            }
        }
        _ => oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "unknown, used or expired token",
        ),
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
