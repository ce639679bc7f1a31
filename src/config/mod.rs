//! One typed configuration, read once at start-up.
//!
//! Layers, lowest first: built-in defaults < `perkgate.toml` (or `PERKGATE_CONFIG`) <
//! `PERKGATE_*` environment variables. Both sources go through the same per-setting parser, so
//! a bad value is reported the same way: the file, line, column and field for the file, the
//! variable's name for the environment. Secrets are wrapped in [`Secret`], whose `Debug` and
//! `Display` never show the value.
//!
//! We parse the file with `toml` ourselves instead of using a layering crate because those
//! lose the position of a value once merged, and an operator deserves "line 4, field
//! `listen`" rather than "somewhere in perkgate.toml".

mod settings;
mod sources;
#[cfg(test)]
mod tests;
mod values;

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

pub use sources::line_col;

/// A value that must never reach a log line or `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The only way to read the value: grep for `expose` to audit every use.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// How the client authenticates at ID.me's token endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_id` and `client_secret` in the form body (ID.me's documented default).
    Post,
    /// HTTP Basic (`client_secret_basic`).
    Basic,
}

/// Where ID.me is, and how we talk to it.
#[derive(Clone, Debug)]
pub struct IdmeConfig {
    /// `None`: the embedded sandbox serves ID.me's endpoints under `/sandbox/idme`.
    pub url: Option<Url>,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub client_auth: ClientAuth,
    pub connect_timeout: Duration,
    pub timeout: Duration,
    /// Largest response body we read from ID.me.
    pub max_body_bytes: usize,
    /// ID.me's groups endpoint when set (see [`Config::groups_url`] for the default).
    pub groups_url: Option<Url>,
    pub payload: PayloadSettings,
}

/// Signed and encrypted attribute payloads (see `idme::jose`).
#[derive(Clone, Debug, Default)]
pub struct PayloadSettings {
    /// The weakest payload accepted (`PERKGATE_IDME_PAYLOAD`).
    pub policy: crate::idme::jose::PayloadPolicy,
    /// `None`: `<ID.me base>/oidc/.well-known/jwks` (the sandbox's when it answers).
    pub jwks_url: Option<Url>,
    /// How long fetched JWKS keys are trusted before they are fetched again.
    pub jwks_cache: Duration,
    /// A PKCS#8 PEM file with the merchant's RSA private key; read at start-up.
    pub decryption_key: Option<PathBuf>,
    /// Required `iss` of a signed payload, when set.
    pub issuer: Option<String>,
    /// Required `aud` of a signed payload, when set.
    pub audience: Option<String>,
    /// What the embedded sandbox answers with (`PERKGATE_SANDBOX_PAYLOAD`).
    pub sandbox: crate::sandbox::SandboxPayload,
}

/// How the storefront offers verification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerifyButton {
    /// One "Verify with ID.me" for every community (through the groups endpoint).
    Unified,
    /// One section and button per community.
    PerGroup,
}

#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// A session unused for this long expires.
    pub idle: Duration,
    /// A session older than this expires however active it is.
    pub absolute: Duration,
    /// How long a read-only page may reuse a session read by this instance (0 = never).
    pub read_cache: Duration,
    /// How long a shopper may take at ID.me before the authorization is refused.
    pub auth_timeout: Duration,
}

/// Rate limits on the routes that start or finish a verification (see `web::limits`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Starts per minute per browser; 0 turns every limit off.
    pub per_minute: u32,
    /// Starts a browser may make at once.
    pub burst: u32,
    /// Starts per minute per address, all browsers behind it together (as many at once); 0:
    /// no ceiling. `None`: [`RateLimit::address_per_minute`].
    pub address_per_minute: Option<u32>,
    /// Callbacks per minute per address (as many at once), against floods only; 0: none.
    /// `None`: [`RateLimit::callback_per_minute`].
    pub callback_per_minute: Option<u32>,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl RateLimit {
    /// Unless set, ten times a browser's: a shared address (a campus, a base) is many
    /// shoppers, not one, yet one address still cannot flood.
    pub fn address_per_minute(&self) -> u32 {
        self.address_per_minute
            .unwrap_or(self.per_minute.saturating_mul(10))
    }

    /// Unless set, a hundred times a browser's starts: every callback answers a start made
    /// within the authorization timeout, so only a flood comes near it (and a refused
    /// callback keeps its state for a reload).
    pub fn callback_per_minute(&self) -> u32 {
        self.callback_per_minute
            .unwrap_or(self.per_minute.saturating_mul(100))
    }
}

/// How connections are served (see `crate::serve`): the timeouts and caps that keep idle or
/// slow clients from using up the process's open files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connections {
    /// A request's head must arrive within this: from the connection's opening for its first
    /// request, from the first byte of the head for the next ones.
    pub header_timeout: Duration,
    /// A kept-alive connection waiting this long for its next request is closed.
    pub idle_timeout: Duration,
    /// A request's body must arrive in full within this of its head.
    pub body_timeout: Duration,
    /// Open connections at most; lowered at start-up to what the open-files limit allows.
    pub max: usize,
    /// Open connections per client address (an IPv6 /64 counts as one address); trusted
    /// proxies are exempt.
    pub max_per_address: usize,
}

/// `Strict-Transport-Security`, sent only behind an https public URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hsts {
    Off,
    /// The header's `max-age`, in seconds (0 tells browsers to forget an earlier one).
    MaxAge(u64),
}

impl Hsts {
    /// One year: what `on` and the default mean.
    pub const DEFAULT_MAX_AGE: u64 = 365 * 86_400;
}

/// The merchant console (`/admin`): its first account and its sessions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminConfig {
    /// The first owner, made on a database without a usable console account.
    pub email: String,
    /// A console session unused for this long expires.
    pub idle: Duration,
    /// A console session older than this expires however active it is.
    pub absolute: Duration,
    /// Owners must have a second factor: one without is sent to enrol after signing in.
    pub require_2fa: bool,
    /// Seals the accounts' TOTP keys; `None`: a key derived from the database's own secret.
    pub totp_key: Option<Secret>,
    /// Audit log entries older than this many days are deleted (housekeeping).
    pub audit_retention_days: u64,
}

/// Webhook deliveries (`PERKGATE_WEBHOOKS_*`, see `crate::webhooks`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookSettings {
    /// `http://` targets are accepted (tests, a receiver on this machine); else https only.
    pub allow_http: bool,
    /// Targets on loopback, private, link-local and other non-public addresses are accepted.
    pub allow_private: bool,
    pub connect_timeout: Duration,
    /// One attempt, answer included, at most this.
    pub timeout: Duration,
    /// The first retry waits up to this (full jitter), each next one up to twice as long ...
    pub backoff_base: Duration,
    /// ... but never more than this.
    pub backoff_cap: Duration,
    /// Attempts stop this long after the event (then the delivery has failed).
    pub retry_for: Duration,
    /// An endpoint failing without a success for this long is disabled.
    pub disable_after: Duration,
    /// A deliverer holds the deliveries it took this long (more than `timeout`): a crashed
    /// instance's deliveries are retried once it passes.
    pub lease: Duration,
    /// How often the outbox is looked at besides when this instance writes to it.
    pub poll: Duration,
    /// After a rotation the previous secret also signs for this long.
    pub rotation_grace: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            allow_http: false,
            allow_private: false,
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(15),
            backoff_base: Duration::from_secs(5),
            backoff_cap: Duration::from_secs(6 * 3600),
            retry_for: Duration::from_secs(3 * 86_400),
            disable_after: Duration::from_secs(5 * 86_400),
            lease: Duration::from_secs(60),
            poll: Duration::from_secs(1),
            rotation_grace: Duration::from_secs(86_400),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    /// `None`: derived from the bound address once the listener is open.
    pub public_url: Option<Url>,
    pub idme: IdmeConfig,
    pub rules: PathBuf,
    /// True when the operator named the rules file: a missing file is then an error instead of
    /// falling back to the example rules compiled into the binary.
    pub rules_explicit: bool,
    /// How often the rules file is checked for changes.
    pub rules_poll: Duration,
    /// How often the database is asked for a newer rules version (database-authoritative).
    pub rules_version_poll: Duration,
    pub database_url: String,
    pub session_url: Option<String>,
    pub session: SessionConfig,
    pub allow_sandbox: bool,
    /// `None`: unified where ID.me has a groups endpoint, per group elsewhere.
    pub verify_button: Option<VerifyButton>,
    pub rate_limit: RateLimit,
    pub connections: Connections,
    /// A second listener for `/metrics` and the detailed `/readyz`; when set, the main
    /// listener serves neither.
    pub ops_listen: Option<SocketAddr>,
    pub hsts: Hsts,
    /// How the shopper's pages look inside the merchant's shop (`PERKGATE_STORE_*`).
    pub store: crate::shop::Look,
    /// The merchant's own page templates (`PERKGATE_TEMPLATES`), read at start-up and on
    /// SIGHUP (`web::templates`).
    pub templates: Option<PathBuf>,
    /// Where `return_to` may lead (`PERKGATE_RETURN_ORIGINS`); see [`Config::returns`].
    pub return_origins: Vec<url::Origin>,
    /// `PERKGATE_APPLY_URL`, with its `{code}`.
    pub apply_url: Option<String>,
    /// Pages that may embed the verify button (`PERKGATE_EMBED_ORIGINS`).
    pub embed_origins: Vec<url::Origin>,
    pub admin: AdminConfig,
    pub webhooks: WebhookSettings,
    pub log_filter: String,
    pub log_format: LogFormat,
    /// How long requests in flight may take to finish after SIGTERM.
    pub shutdown_grace: Duration,
    /// Settings that were ignored, reported once logging is up.
    pub warnings: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            public_url: None,
            idme: IdmeConfig {
                url: None,
                client_id: None,
                client_secret: None,
                client_auth: ClientAuth::Post,
                connect_timeout: Duration::from_secs(3),
                timeout: Duration::from_secs(10),
                max_body_bytes: 64 * 1024,
                groups_url: None,
                payload: PayloadSettings {
                    jwks_cache: Duration::from_secs(3600),
                    ..PayloadSettings::default()
                },
            },
            rules: PathBuf::from("config/rules.toml"),
            rules_explicit: false,
            rules_poll: Duration::from_secs(2),
            rules_version_poll: Duration::from_secs(1),
            database_url: "sqlite://perkgate.db".to_owned(),
            session_url: None,
            session: SessionConfig {
                idle: Duration::from_secs(2 * 3600),
                absolute: Duration::from_secs(24 * 3600),
                auth_timeout: Duration::from_secs(600),
                read_cache: Duration::from_millis(1000),
            },
            allow_sandbox: false,
            verify_button: None,
            rate_limit: RateLimit {
                per_minute: 30,
                burst: 10,
                address_per_minute: None,
                callback_per_minute: None,
                trusted_proxies: Vec::new(),
            },
            connections: Connections {
                header_timeout: Duration::from_secs(10),
                // Above the 60 s that proxies and load balancers commonly keep an idle
                // upstream connection (nginx, AWS ALB): closing first would race their reuse.
                idle_timeout: Duration::from_secs(75),
                body_timeout: Duration::from_secs(10),
                max: 8192,
                max_per_address: 512,
            },
            ops_listen: None,
            hsts: Hsts::MaxAge(Hsts::DEFAULT_MAX_AGE),
            store: crate::shop::Look::default(),
            templates: None,
            return_origins: Vec::new(),
            apply_url: None,
            embed_origins: Vec::new(),
            admin: AdminConfig {
                email: "admin@localhost".to_owned(),
                idle: Duration::from_secs(30 * 60),
                absolute: Duration::from_secs(12 * 3600),
                require_2fa: false,
                totp_key: None,
                audit_retention_days: 365,
            },
            webhooks: WebhookSettings::default(),
            log_filter: "info".to_owned(),
            log_format: LogFormat::Text,
            shutdown_grace: Duration::from_secs(10),
            warnings: Vec::new(),
        }
    }
}

/// Why the configuration was refused. The text names where the bad value came from.
#[derive(Debug, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Rules that involve several settings.
    /// The groups endpoint: as set, or `https://groups.id.me` for ID.me production; `None`
    /// elsewhere (ID.me's sandbox has none).
    pub fn groups_url(&self) -> Option<Url> {
        if let Some(url) = &self.idme.groups_url {
            return Some(url.clone());
        }
        let production = self
            .idme
            .url
            .as_ref()
            .is_some_and(|u| u.host_str() == Some("api.id.me"));
        production
            .then(|| Url::parse("https://groups.id.me/").ok())
            .flatten()
    }

    fn check(&self) -> Result<(), ConfigError> {
        if self.idme.url.is_some() {
            for (value, name) in [
                (self.idme.client_id.is_some(), "PERKGATE_IDME_CLIENT_ID"),
                (
                    self.idme.client_secret.is_some(),
                    "PERKGATE_IDME_CLIENT_SECRET",
                ),
            ] {
                if !value {
                    return Err(ConfigError(format!(
                        "{name}: required when PERKGATE_IDME_URL is set"
                    )));
                }
            }
        }
        // The sandbox makes its own key when none is configured.
        if self.idme.payload.policy == crate::idme::jose::PayloadPolicy::Encrypted
            && self.idme.payload.decryption_key.is_none()
            && !self.sandbox_enabled()
        {
            return Err(ConfigError(
                "PERKGATE_IDME_DECRYPTION_KEY: required when PERKGATE_IDME_PAYLOAD is encrypted"
                    .to_owned(),
            ));
        }
        if self.session.absolute < self.session.idle {
            return Err(ConfigError(
                "PERKGATE_SESSION_ABSOLUTE_SECS: must be at least PERKGATE_SESSION_IDLE_SECS"
                    .to_owned(),
            ));
        }
        // The sandbox lets anyone verify as any persona: this machine only, unless on purpose.
        if self.sandbox_enabled()
            && !self.allow_sandbox
            && let Some(why) =
                crate::sandbox::guard::exposure(self.listen, self.public_url.as_ref())
        {
            return Err(ConfigError(format!(
                "PERKGATE_IDME_URL: not set, so the embedded sandbox would answer for ID.me, but \
                 it would serve beyond this machine: {why} (loopback: localhost, 127.0.0.0/8, \
                 [::1]). Set PERKGATE_IDME_URL, PERKGATE_IDME_CLIENT_ID and \
                 PERKGATE_IDME_CLIENT_SECRET, or PERKGATE_ALLOW_SANDBOX=1 to run the sandbox on \
                 purpose"
            )));
        }
        if self.admin.absolute < self.admin.idle {
            return Err(ConfigError(
                "PERKGATE_ADMIN_ABSOLUTE_HOURS: must be at least PERKGATE_ADMIN_IDLE_MINUTES"
                    .to_owned(),
            ));
        }
        self.returns()?;
        if self.webhooks.lease <= self.webhooks.timeout {
            return Err(ConfigError(
                "PERKGATE_WEBHOOKS_LEASE_SECS: must be longer than PERKGATE_WEBHOOKS_TIMEOUT_MS \
                 (a delivery still being sent must not be taken again)"
                    .to_owned(),
            ));
        }
        if self.webhooks.backoff_cap < self.webhooks.backoff_base {
            return Err(ConfigError(
                "PERKGATE_WEBHOOKS_BACKOFF_CAP_MS: must be at least PERKGATE_WEBHOOKS_BACKOFF_BASE_MS"
                    .to_owned(),
            ));
        }
        if self.ops_listen == Some(self.listen) && self.listen.port() != 0 {
            return Err(ConfigError(
                "PERKGATE_OPS_LISTEN: must differ from PERKGATE_LISTEN (it keeps /metrics off the \
                 public listener)"
                    .to_owned(),
            ));
        }
        Ok(())
    }

    /// The way back to the shop: the return origins and the apply-at-checkout template,
    /// checked together (the template's origin must be listed).
    pub fn returns(&self) -> Result<crate::shop::Returns, ConfigError> {
        crate::shop::Returns::new(self.return_origins.clone(), self.apply_url.as_deref())
            .map(|r| r.with_embed(self.embed_origins.clone()))
            .map_err(|why| ConfigError(format!("PERKGATE_APPLY_URL: {why}")))
    }

    /// The embedded sandbox answers for ID.me when no ID.me URL is configured.
    pub fn sandbox_enabled(&self) -> bool {
        self.idme.url.is_none()
    }

    /// Secure cookies and the `__Host-` prefix follow an https public URL.
    pub fn is_https(&self) -> bool {
        self.public_url
            .as_ref()
            .is_some_and(|u| u.scheme() == "https")
    }
}
