//! A scripted stand-in for ID.me on a loopback socket, for the faults the sandbox never
//! produces: slow answers, 500s, bad JSON, huge bodies, OAuth errors, odd payloads. It counts
//! every call and keeps the last token request's form for assertions. Its JWKS
//! (`/oidc/.well-known/jwks`) publishes [`fake_keys`] unless scripted otherwise, so attributes
//! answers can be JWS or JWE built with `perkgate::sandbox::keys`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use perkgate::sandbox::keys::SigningKeys;

/// The fake's signing keys (key ids `fake-1-rs256`, `fake-1-es256`), made once per test binary.
pub fn fake_keys() -> &'static SigningKeys {
    static KEYS: OnceLock<SigningKeys> = OnceLock::new();
    KEYS.get_or_init(|| SigningKeys::generate("fake-1").expect("signing keys"))
}

/// What an endpoint answers.
#[derive(Clone, Debug)]
pub enum Reply {
    Json(u16, String),
    /// Any status, content type and body.
    Raw(u16, &'static str, String),
    /// Waits, then answers.
    After(Duration, Box<Reply>),
    /// A body of this many bytes, without announcing its length up front.
    Huge(usize),
}

pub const TOKEN_OK: &str = r#"{"access_token":"tok-SECRET-123","token_type":"Bearer","expires_in":300,"refresh_token":"r","scope":"military"}"#;

pub const VETERAN: &str = r#"{"attributes":[
    {"handle":"fname","name":"First Name","value":"Sunny"},
    {"handle":"lname","name":"Last Name","value":"Nader"},
    {"handle":"email","name":"Email","value":"sunny.nader@id.me"},
    {"handle":"uuid","name":"Unique Identifier","value":"d733a89e2e634f04ac2fe66c97f71612"}],
  "status":[{"group":"military","subgroups":["Service Member"],"verified":true}]}"#;

/// What the fake hands perkgate that must never reach a log: its token, the client secret the
/// harness configures, and VETERAN's personal data.
pub const NEVER_LOGGED: &[&str] = &[
    "tok-SECRET-123",
    "test-secret-value",
    "Sunny",
    "Nader",
    "sunny.nader@id.me",
    "d733a89e2e634f04ac2fe66c97f71612",
];

pub struct FakeIdme {
    pub addr: SocketAddr,
    pub state: Arc<FakeState>,
}

pub struct FakeState {
    pub token_calls: AtomicU64,
    pub attributes_calls: AtomicU64,
    pub jwks_calls: AtomicU64,
    pub token_reply: Mutex<Reply>,
    pub attributes_reply: Mutex<Reply>,
    pub jwks_reply: Mutex<Reply>,
    pub last_token_form: Mutex<HashMap<String, String>>,
    pub last_token_auth: Mutex<Option<String>>,
    pub last_bearer: Mutex<Option<String>>,
    /// Replaces `{n}` in attributes bodies, so each call can be a different person.
    pub people: AtomicU64,
}

impl FakeIdme {
    pub async fn start() -> Self {
        let state = Arc::new(FakeState {
            token_calls: AtomicU64::new(0),
            attributes_calls: AtomicU64::new(0),
            jwks_calls: AtomicU64::new(0),
            token_reply: Mutex::new(Reply::Json(200, TOKEN_OK.to_owned())),
            attributes_reply: Mutex::new(Reply::Json(200, VETERAN.to_owned())),
            jwks_reply: Mutex::new(Reply::Json(200, fake_keys().jwks_json())),
            last_token_form: Mutex::default(),
            last_token_auth: Mutex::default(),
            last_bearer: Mutex::default(),
            people: AtomicU64::new(0),
        });
        let app = Router::new()
            .route("/oauth/token", post(token))
            .route("/api/public/v3/attributes.json", get(attributes))
            .route("/oidc/.well-known/jwks", get(jwks))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("fake idme");
        });
        Self { addr, state }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn on_token(&self, reply: Reply) {
        *self.state.token_reply.lock().unwrap() = reply;
    }

    pub fn on_attributes(&self, reply: Reply) {
        *self.state.attributes_reply.lock().unwrap() = reply;
    }

    pub fn on_jwks(&self, reply: Reply) {
        *self.state.jwks_reply.lock().unwrap() = reply;
    }

    pub fn jwks_calls(&self) -> u64 {
        self.state.jwks_calls.load(Ordering::SeqCst)
    }

    pub fn token_calls(&self) -> u64 {
        self.state.token_calls.load(Ordering::SeqCst)
    }

    pub fn attributes_calls(&self) -> u64 {
        self.state.attributes_calls.load(Ordering::SeqCst)
    }

    pub fn last_token_form(&self) -> HashMap<String, String> {
        self.state.last_token_form.lock().unwrap().clone()
    }
}

async fn answer(reply: Reply) -> Response {
    let mut reply = reply;
    loop {
        match reply {
            Reply::After(delay, next) => {
                tokio::time::sleep(delay).await;
                reply = *next;
            }
            Reply::Json(status, body) => {
                return (
                    StatusCode::from_u16(status).unwrap(),
                    [(header::CONTENT_TYPE, "application/json")],
                    body,
                )
                    .into_response();
            }
            Reply::Raw(status, content_type, body) => {
                return (
                    StatusCode::from_u16(status).unwrap(),
                    [(header::CONTENT_TYPE, content_type)],
                    body,
                )
                    .into_response();
            }
            Reply::Huge(n) => {
                // Streamed in chunks so no Content-Length warns the client in advance.
                let chunk = vec![b' '; 8192];
                let chunks = n / chunk.len() + 1;
                let stream = futures_stream(chunk, chunks);
                return (
                    [(header::CONTENT_TYPE, "application/json")],
                    axum::body::Body::from_stream(stream),
                )
                    .into_response();
            }
        }
    }
}

fn futures_stream(
    chunk: Vec<u8>,
    count: usize,
) -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send {
    struct Chunks {
        chunk: Vec<u8>,
        left: usize,
    }
    impl futures_core::Stream for Chunks {
        type Item = Result<Vec<u8>, std::io::Error>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            if self.left == 0 {
                return std::task::Poll::Ready(None);
            }
            self.left -= 1;
            std::task::Poll::Ready(Some(Ok(self.chunk.clone())))
        }
    }
    Chunks { chunk, left: count }
}

async fn token(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    state.token_calls.fetch_add(1, Ordering::SeqCst);
    *state.last_token_form.lock().unwrap() = form;
    *state.last_token_auth.lock().unwrap() = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let reply = state.token_reply.lock().unwrap().clone();
    answer(reply).await
}

async fn attributes(State(state): State<Arc<FakeState>>, headers: HeaderMap) -> Response {
    state.attributes_calls.fetch_add(1, Ordering::SeqCst);
    *state.last_bearer.lock().unwrap() = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut reply = state.attributes_reply.lock().unwrap().clone();
    if let Reply::Json(status, body) = &reply
        && body.contains("{n}")
    {
        let n = state.people.fetch_add(1, Ordering::SeqCst);
        reply = Reply::Json(*status, body.replace("{n}", &n.to_string()));
    }
    answer(reply).await
}

async fn jwks(State(state): State<Arc<FakeState>>) -> Response {
    state.jwks_calls.fetch_add(1, Ordering::SeqCst);
    let reply = state.jwks_reply.lock().unwrap().clone();
    answer(reply).await
}
