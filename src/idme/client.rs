//! The ID.me client: authorize URL, one token exchange, one attributes call.
//!
//! The OAuth parts (PKCE, state, the token request and its error body) come from the `oauth2`
//! crate; this module adds what a payments-adjacent service needs around them: timeouts, no
//! redirects, a cap on every response body, and errors that say which call failed and how
//! without carrying a token or a payload. The attributes answer goes through the JOSE opener
//! (signature, decryption, payload policy) before it is read.

use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope,
    TokenResponse, TokenUrl,
};
use url::Url;

use super::jose::{ClaimChecks, DecryptionKey, JoseError, Jwks, Opener};
use super::payload::{Payload, PayloadError};
use crate::config::{ClientAuth, IdmeConfig, Secret};

/// An unknown `kid` refetches the JWKS at most this often: a forged `kid` must not turn every
/// callback into a call to ID.me.
const JWKS_MIN_REFETCH: std::time::Duration = std::time::Duration::from_secs(60);

type OAuthClient =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// Where the ID.me endpoints are. The browser goes to `authorize`; the server calls `token`,
/// `attributes` and `jwks` (for the embedded sandbox these are loopback addresses).
#[derive(Clone, Debug)]
pub struct Endpoints {
    pub authorize: Url,
    pub token: Url,
    pub attributes: Url,
    /// ID.me's signing keys, for signed attribute payloads.
    pub jwks: Url,
}

impl Endpoints {
    /// ID.me's paths under a base URL (`https://api.id.me`, the sandbox, or a stand-in).
    pub fn under(browser_base: &Url, server_base: &Url) -> Result<Self, url::ParseError> {
        let join = |base: &Url, path: &str| {
            Url::parse(&format!("{}{path}", base.as_str().trim_end_matches('/')))
        };
        Ok(Self {
            authorize: join(browser_base, "/oauth/authorize")?,
            token: join(server_base, "/oauth/token")?,
            attributes: join(server_base, "/api/public/v3/attributes.json")?,
            jwks: join(server_base, "/oidc/.well-known/jwks")?,
        })
    }
}

/// The browser redirect plus what the callback needs to finish it.
pub struct Authorization {
    pub url: Url,
    pub state: String,
    pub pkce_verifier: String,
}

/// Which call failed. A label for logs and metrics, never data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Token,
    Attributes,
}

impl Endpoint {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::Attributes => "attributes",
        }
    }
}

/// What went wrong talking to ID.me. Every variant means "not verified this time, try again".
#[derive(Debug)]
pub enum IdmeError {
    Timeout(Endpoint),
    Unreachable(Endpoint),
    /// A non-2xx answer without a recognisable OAuth error.
    Status(Endpoint, u16),
    /// An OAuth error such as `invalid_grant` (the code was used or expired).
    OAuth(String),
    TooLarge(Endpoint),
    /// The token answer was not a bearer token response.
    BadToken(String),
    /// The attributes answer was a JWS or JWE that failed a check, or weaker than required.
    Jose(JoseError),
    Payload(PayloadError),
}

impl std::fmt::Display for IdmeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Timeout(e) => write!(f, "ID.me {} call timed out", e.as_str()),
            Self::Unreachable(e) => write!(f, "ID.me {} endpoint unreachable", e.as_str()),
            Self::Status(e, s) => write!(f, "ID.me {} call answered HTTP {s}", e.as_str()),
            Self::OAuth(code) => write!(f, "ID.me token call answered OAuth error {code}"),
            Self::TooLarge(e) => write!(f, "ID.me {} answer exceeds the size limit", e.as_str()),
            Self::BadToken(why) => write!(f, "ID.me token answer unusable: {why}"),
            Self::Jose(e) => write!(f, "{e}"),
            Self::Payload(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for IdmeError {}

impl IdmeError {
    /// A short stable label for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Timeout(_) => "timeout",
            Self::Unreachable(_) => "unreachable",
            Self::Status(..) => "status",
            Self::OAuth(_) => "oauth_error",
            Self::TooLarge(_) => "too_large",
            Self::BadToken(_) => "bad_token",
            Self::Jose(e) => e.kind(),
            Self::Payload(PayloadError::MissingUuid) => "missing_uuid",
            Self::Payload(_) => "malformed_payload",
        }
    }
}

/// The transport failure handed through `oauth2` (and met fetching the JWKS).
#[derive(Debug)]
pub(super) enum Transport {
    Timeout,
    Unreachable,
    TooLarge,
    Other,
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::error::Error for Transport {}

impl Transport {
    pub(super) fn from_reqwest(e: &reqwest::Error) -> Self {
        if e.is_timeout() {
            Self::Timeout
        } else if e.is_connect() {
            Self::Unreachable
        } else {
            Self::Other
        }
    }

    fn at(self, endpoint: Endpoint) -> IdmeError {
        match self {
            Self::Timeout => IdmeError::Timeout(endpoint),
            Self::Unreachable | Self::Other => IdmeError::Unreachable(endpoint),
            Self::TooLarge => IdmeError::TooLarge(endpoint),
        }
    }
}

#[derive(Clone)]
pub struct IdmeClient {
    oauth: OAuthClient,
    /// ID.me's groups endpoint (production's `https://groups.id.me/`), where the shopper
    /// picks their community; `None` where there is none (ID.me's sandbox).
    groups: Option<Url>,
    http: reqwest::Client,
    attributes_url: Url,
    max_body: usize,
    opener: Opener,
}

impl IdmeClient {
    /// `decryption_key` is the merchant's (or the sandbox's), read at start-up.
    pub fn new(
        config: &IdmeConfig,
        endpoints: Endpoints,
        client_id: &str,
        client_secret: &Secret,
        redirect_uri: Url,
        groups: Option<Url>,
        decryption_key: Option<DecryptionKey>,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            // A redirect from a token endpoint would resend credentials elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("perkgate/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let oauth = BasicClient::new(ClientId::new(client_id.to_owned()))
            .set_client_secret(ClientSecret::new(client_secret.expose().to_owned()))
            .set_auth_uri(AuthUrl::from_url(endpoints.authorize))
            .set_token_uri(TokenUrl::from_url(endpoints.token))
            .set_redirect_uri(RedirectUrl::from_url(redirect_uri))
            .set_auth_type(match config.client_auth {
                ClientAuth::Post => AuthType::RequestBody,
                ClientAuth::Basic => AuthType::BasicAuth,
            });
        let payload = &config.payload;
        // The JWKS goes through the same client: same timeouts, no redirects, same body cap.
        let jwks = Jwks::new(
            endpoints.jwks,
            http.clone(),
            config.max_body_bytes,
            payload.jwks_cache,
            JWKS_MIN_REFETCH,
        );
        let opener = Opener::new(
            payload.policy,
            decryption_key,
            jwks,
            ClaimChecks {
                issuer: payload.issuer.clone(),
                audience: payload.audience.clone(),
            },
        );
        Ok(Self {
            oauth,
            groups,
            http,
            attributes_url: endpoints.attributes,
            max_body: config.max_body_bytes,
            opener,
        })
    }

    /// The payload opener (its JWKS cache counts fetches, for tests and diagnostics).
    pub fn opener(&self) -> &Opener {
        &self.opener
    }

    /// A fresh authorization: 256-bit state, PKCE S256, exactly the scopes asked for, no nonce.
    pub fn authorize(&self, scopes: &[&str]) -> Authorization {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = self
            .oauth
            .authorize_url(|| CsrfToken::new_random_len(32))
            .add_scopes(scopes.iter().map(|s| Scope::new((*s).to_owned())))
            .set_pkce_challenge(challenge)
            .url();
        Authorization {
            url,
            state: state.into_secret(),
            pkce_verifier: verifier.into_secret(),
        }
    }

    /// One authorization for several communities: at the groups endpoint when there is one
    /// (the shopper picks there; `status[]` in the payload says which was verified), else
    /// ID.me's own authorize with the scopes space-separated.
    pub fn authorize_any(&self, scopes: &[&str]) -> Authorization {
        let Some(groups) = &self.groups else {
            return self.authorize(scopes);
        };
        let authorization = self.authorize(&[]);
        // The same parameters on the groups host, but `scopes`: plural and comma-separated
        // (ID.me's SDKs send no `scope` there).
        let mut url = groups.clone();
        {
            let mut query = url.query_pairs_mut();
            for (k, v) in authorization.url.query_pairs() {
                if k != "scope" {
                    query.append_pair(&k, &v);
                }
            }
            query.append_pair("scopes", &scopes.join(","));
        }
        Authorization {
            url,
            ..authorization
        }
    }

    /// Whether the one button goes to a groups endpoint.
    pub fn has_groups_endpoint(&self) -> bool {
        self.groups.is_some()
    }

    /// Redeems the code once (never retried: ID.me revokes tokens on a second redemption) and
    /// reads the attributes once with the token, which is dropped on return.
    pub async fn verify(&self, code: &str, pkce_verifier: &str) -> Result<Payload, IdmeError> {
        let started = std::time::Instant::now();
        let token = self.exchange(code, pkce_verifier).await;
        crate::metrics::idme_call(
            "token",
            started.elapsed(),
            token.as_ref().err().map(IdmeError::kind),
        );
        let started = std::time::Instant::now();
        let payload = self.attributes(&token?).await;
        crate::metrics::idme_call(
            "attributes",
            started.elapsed(),
            payload.as_ref().err().map(IdmeError::kind),
        );
        payload
    }

    async fn exchange(&self, code: &str, pkce_verifier: &str) -> Result<String, IdmeError> {
        // The adapter owns its client handle: a closure borrowing `self` makes the future's
        // lifetime higher-ranked, which axum handlers (which must be Send) cannot accept.
        let (client, max_body) = (self.http.clone(), self.max_body);
        let http = move |req: oauth2::HttpRequest| send(client.clone(), req, max_body);
        let response = self
            .oauth
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&http)
            .await
            .map_err(|e| match e {
                RequestTokenError::Request(t) => t.at(Endpoint::Token),
                RequestTokenError::ServerResponse(r) => IdmeError::OAuth(r.error().to_string()),
                // Only the serde path and category, never the body.
                RequestTokenError::Parse(e, _) => {
                    IdmeError::BadToken(format!("unexpected JSON at `{}`", e.path()))
                }
                RequestTokenError::Other(why) => IdmeError::BadToken(why),
            })?;
        if !response
            .token_type()
            .as_ref()
            .eq_ignore_ascii_case("bearer")
        {
            return Err(IdmeError::BadToken("token_type is not bearer".to_owned()));
        }
        Ok(response.access_token().secret().clone())
    }

    async fn attributes(&self, token: &str) -> Result<Payload, IdmeError> {
        let endpoint = Endpoint::Attributes;
        let response = self
            .http
            .get(self.attributes_url.clone())
            .bearer_auth(token)
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| Transport::from_reqwest(&e).at(endpoint))?;
        let status = response.status();
        let body = read_capped(response, self.max_body)
            .await
            .map_err(|t| t.at(endpoint))?;
        if !status.is_success() {
            return Err(IdmeError::Status(endpoint, status.as_u16()));
        }
        let (json, format) = self.opener.open(&body).await.map_err(IdmeError::Jose)?;
        tracing::debug!(format = format.as_str(), "ID.me attributes payload opened");
        Payload::parse(&json).map_err(IdmeError::Payload)
    }
}

/// The `oauth2` HTTP adapter: one request, no retry, capped body.
async fn send(
    client: reqwest::Client,
    request: oauth2::HttpRequest,
    max_body: usize,
) -> Result<oauth2::HttpResponse, Transport> {
    let request = reqwest::Request::try_from(request).map_err(|_| Transport::Other)?;
    let response = client
        .execute(request)
        .await
        .map_err(|e| Transport::from_reqwest(&e))?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = read_capped(response, max_body).await?;
    let mut out = http::Response::new(body);
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    Ok(out)
}

/// Reads at most `max` bytes; a longer body is an error, not a truncation.
pub(super) async fn read_capped(
    mut response: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, Transport> {
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Err(Transport::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| Transport::from_reqwest(&e))?
    {
        if body.len() + chunk.len() > max {
            return Err(Transport::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
