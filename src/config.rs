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

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use url::Url;

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

/// Requests per minute per client on the routes that start or finish a verification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// 0 turns the limit off.
    pub per_minute: u32,
    pub burst: u32,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
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
    pub database_url: String,
    pub session_url: Option<String>,
    pub session: SessionConfig,
    pub allow_sandbox: bool,
    pub rate_limit: RateLimit,
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
                payload: PayloadSettings {
                    jwks_cache: Duration::from_secs(3600),
                    ..PayloadSettings::default()
                },
            },
            rules: PathBuf::from("config/rules.toml"),
            rules_explicit: false,
            rules_poll: Duration::from_secs(2),
            database_url: "sqlite://perkgate.db".to_owned(),
            session_url: None,
            session: SessionConfig {
                idle: Duration::from_secs(2 * 3600),
                absolute: Duration::from_secs(24 * 3600),
                auth_timeout: Duration::from_secs(600),
                read_cache: Duration::from_millis(1000),
            },
            allow_sandbox: false,
            rate_limit: RateLimit {
                per_minute: 30,
                burst: 10,
                trusted_proxies: Vec::new(),
            },
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

/// Every setting, by its file key. The environment variable is `PERKGATE_` + upper case.
const SETTINGS: &[&str] = &[
    "listen",
    "public_url",
    "idme_url",
    "idme_client_id",
    "idme_client_secret",
    "idme_client_auth",
    "idme_connect_timeout_ms",
    "idme_timeout_ms",
    "idme_max_body_bytes",
    "idme_payload",
    "idme_jwks_url",
    "idme_jwks_cache_secs",
    "idme_decryption_key",
    "idme_issuer",
    "idme_audience",
    "sandbox_payload",
    "rules",
    "rules_poll_ms",
    "database_url",
    "session_url",
    "session_idle_secs",
    "session_absolute_secs",
    "auth_timeout_secs",
    "session_cache_ms",
    "allow_sandbox",
    "rate_limit_per_minute",
    "rate_limit_burst",
    "trusted_proxies",
    "log",
    "log_format",
    "shutdown_grace_secs",
];

/// Variables with our prefix that are not settings but are expected (test and CI switches).
const OTHER_VARS: &[&str] = &[
    "PERKGATE_CONFIG",
    // Read by the test suite, not by the service.
    "PERKGATE_REQUIRE_BROWSER",
    "PERKGATE_REQUIRE_STORES",
    "PERKGATE_TEST_POSTGRES_URL",
    "PERKGATE_TEST_REDIS_URL",
    "PERKGATE_SOAK_SECS",
];

impl Config {
    /// Reads the process environment and the configuration file it points to.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars())
    }

    /// Builds the configuration from these variables (and the file `PERKGATE_CONFIG` names, or
    /// `perkgate.toml` in the working directory if present).
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let vars: BTreeMap<String, String> = vars
            .into_iter()
            .filter(|(k, _)| k.starts_with("PERKGATE_"))
            .collect();
        let mut config = Config::default();

        let (file, named) = match vars.get("PERKGATE_CONFIG") {
            Some(path) => (PathBuf::from(path), true),
            None => (PathBuf::from("perkgate.toml"), false),
        };
        match std::fs::read_to_string(&file) {
            Ok(text) => config.apply_file(&file, &text)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !named => {}
            Err(e) => {
                return Err(ConfigError(format!(
                    "{}: cannot read configuration file: {e}",
                    file.display()
                )));
            }
        }

        for (name, value) in &vars {
            let key = name["PERKGATE_".len()..].to_ascii_lowercase();
            if SETTINGS.contains(&key.as_str()) {
                config
                    .set(&key, value)
                    .map_err(|reason| ConfigError(format!("{name}: {reason}")))?;
            } else if !OTHER_VARS.contains(&name.as_str()) {
                config
                    .warnings
                    .push(format!("{name} is not a perkgate setting; ignored"));
            }
        }
        config.check()?;
        Ok(config)
    }

    /// Applies a `perkgate.toml`: flat `key = value` pairs named like the variables.
    pub fn apply_file(&mut self, path: &Path, text: &str) -> Result<(), ConfigError> {
        let at = |span: Option<std::ops::Range<usize>>| match span {
            Some(span) => {
                let (line, col) = line_col(text, span.start);
                format!("{}:{line}:{col}", path.display())
            }
            None => path.display().to_string(),
        };
        let table: BTreeMap<String, toml::Spanned<toml::Value>> = toml::from_str(text)
            .map_err(|e| ConfigError(format!("{}: {}", at(e.span()), e.message().trim())))?;
        for (key, value) in table {
            let span = Some(value.span());
            if !SETTINGS.contains(&key.as_str()) {
                return Err(ConfigError(format!(
                    "{}: field `{key}`: unknown setting (known: {})",
                    at(span),
                    SETTINGS.join(", ")
                )));
            }
            let raw = match value.into_inner() {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                other => {
                    return Err(ConfigError(format!(
                        "{}: field `{key}`: expected a string, number or boolean, found {}",
                        at(span),
                        other.type_str()
                    )));
                }
            };
            self.set(&key, &raw)
                .map_err(|reason| ConfigError(format!("{}: field `{key}`: {reason}", at(span))))?;
        }
        Ok(())
    }

    /// Sets one setting from its textual value; the error says what was expected.
    fn set(&mut self, key: &str, raw: &str) -> Result<(), String> {
        let raw = raw.trim();
        match key {
            "listen" => {
                self.listen = raw
                    .parse()
                    .map_err(|_| format!("expected an address like 127.0.0.1:3000, got {raw:?}"))?
            }
            "public_url" => self.public_url = Some(parse_base_url(raw)?),
            "idme_url" => self.idme.url = Some(parse_base_url(raw)?),
            "idme_client_id" => self.idme.client_id = Some(non_empty(raw)?.to_owned()),
            // Never echo a secret back, not even a malformed one.
            "idme_client_secret" => {
                self.idme.client_secret = Some(Secret::new(
                    non_empty(raw).map_err(|_| "must not be empty".to_owned())?,
                ))
            }
            "idme_client_auth" => {
                self.idme.client_auth = match raw {
                    "post" | "client_secret_post" => ClientAuth::Post,
                    "basic" | "client_secret_basic" => ClientAuth::Basic,
                    _ => return Err(format!("expected \"post\" or \"basic\", got {raw:?}")),
                }
            }
            "idme_connect_timeout_ms" => {
                self.idme.connect_timeout = Duration::from_millis(number(raw, 1, 60_000)?)
            }
            "idme_timeout_ms" => {
                self.idme.timeout = Duration::from_millis(number(raw, 1, 120_000)?)
            }
            "idme_max_body_bytes" => {
                self.idme.max_body_bytes = number(raw, 1024, 16 * 1024 * 1024)? as usize
            }
            "idme_payload" => self.idme.payload.policy = raw.parse()?,
            "idme_jwks_url" => {
                let url = Url::parse(raw)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                    .ok_or_else(|| format!("expected an http(s) URL, got {raw:?}"))?;
                self.idme.payload.jwks_url = Some(url);
            }
            "idme_jwks_cache_secs" => {
                self.idme.payload.jwks_cache = Duration::from_secs(number(raw, 1, 86_400)?)
            }
            "idme_decryption_key" => {
                self.idme.payload.decryption_key = Some(PathBuf::from(non_empty(raw)?))
            }
            "idme_issuer" => self.idme.payload.issuer = Some(non_empty(raw)?.to_owned()),
            "idme_audience" => self.idme.payload.audience = Some(non_empty(raw)?.to_owned()),
            "sandbox_payload" => self.idme.payload.sandbox = raw.parse()?,
            "rules" => {
                self.rules = PathBuf::from(non_empty(raw)?);
                self.rules_explicit = true;
            }
            "rules_poll_ms" => self.rules_poll = Duration::from_millis(number(raw, 50, 3_600_000)?),
            "database_url" => {
                if !["sqlite:", "postgres://", "postgresql://"]
                    .iter()
                    .any(|p| raw.starts_with(p))
                {
                    return Err(format!(
                        "expected sqlite://FILE or postgres://USER:PASSWORD@HOST/DB, got {}",
                        redact_url(raw)
                    ));
                }
                self.database_url = raw.to_owned();
            }
            "session_url" => {
                if !(raw.starts_with("redis://") || raw.starts_with("rediss://")) {
                    return Err(format!(
                        "expected redis://HOST:PORT (unset keeps sessions in the database), got {}",
                        redact_url(raw)
                    ));
                }
                self.session_url = Some(raw.to_owned());
            }
            "session_idle_secs" => {
                self.session.idle = Duration::from_secs(number(raw, 60, 365 * 86_400)?)
            }
            "session_absolute_secs" => {
                self.session.absolute = Duration::from_secs(number(raw, 60, 365 * 86_400)?)
            }
            "session_cache_ms" => {
                self.session.read_cache = Duration::from_millis(number(raw, 0, 60_000)?)
            }
            "auth_timeout_secs" => {
                self.session.auth_timeout = Duration::from_secs(number(raw, 1, 3600)?)
            }
            "allow_sandbox" => self.allow_sandbox = boolean(raw)?,
            "rate_limit_per_minute" => self.rate_limit.per_minute = number(raw, 0, 100_000)? as u32,
            "rate_limit_burst" => self.rate_limit.burst = number(raw, 1, 10_000)? as u32,
            "trusted_proxies" => {
                self.rate_limit.trusted_proxies = raw
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| {
                        s.parse::<ipnet::IpNet>()
                            .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                            .map_err(|_| format!("expected IP addresses or CIDR ranges, got {s:?}"))
                    })
                    .collect::<Result<_, _>>()?
            }
            "shutdown_grace_secs" => {
                self.shutdown_grace = Duration::from_secs(number(raw, 0, 3600)?)
            }
            "log" => self.log_filter = non_empty(raw)?.to_owned(),
            "log_format" => {
                self.log_format = match raw {
                    "text" => LogFormat::Text,
                    "json" => LogFormat::Json,
                    _ => return Err(format!("expected \"text\" or \"json\", got {raw:?}")),
                }
            }
            _ => return Err("unknown setting".to_owned()),
        }
        Ok(())
    }

    /// Rules that involve several settings.
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
        if self.sandbox_enabled() && self.is_https() && !self.allow_sandbox {
            return Err(ConfigError(
                "PERKGATE_IDME_URL: not set, so the embedded sandbox would answer for ID.me, but \
                 PERKGATE_PUBLIC_URL is https (a real deployment). Set PERKGATE_IDME_URL, \
                 PERKGATE_IDME_CLIENT_ID and PERKGATE_IDME_CLIENT_SECRET, or PERKGATE_ALLOW_SANDBOX=1 \
                 to run the sandbox on purpose"
                    .to_owned(),
            ));
        }
        Ok(())
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

fn parse_base_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|e| format!("expected an http(s) URL, got {raw:?} ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!("expected an http(s) URL, got {raw:?}"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("must not carry a query or fragment, got {raw:?}"));
    }
    // Store without a trailing slash so paths can be appended uniformly.
    let trimmed = url.as_str().trim_end_matches('/').to_owned();
    Url::parse(&trimmed).map_err(|e| format!("invalid URL {raw:?} ({e})"))
}

/// A URL for an error message, with any password replaced.
fn redact_url(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            format!("{:?}", url.as_str())
        }
        Ok(_) | Err(_) if raw.contains('@') => "a URL with credentials (not shown)".to_owned(),
        _ => format!("{raw:?}"),
    }
}

fn non_empty(raw: &str) -> Result<&str, String> {
    if raw.is_empty() {
        Err("must not be empty".to_owned())
    } else {
        Ok(raw)
    }
}

fn number(raw: &str, min: u64, max: u64) -> Result<u64, String> {
    match raw.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "expected a whole number from {min} to {max}, got {raw:?}"
        )),
    }
}

fn boolean(raw: &str) -> Result<bool, String> {
    match raw {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err(format!("expected true/false or 1/0, got {raw:?}")),
    }
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loads from these variables and an empty configuration file, so a developer's own
    /// perkgate.toml never leaks into a unit test.
    fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("perkgate.toml");
        std::fs::write(&empty, "").unwrap();
        Config::from_vars(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .chain([("PERKGATE_CONFIG".to_owned(), empty.display().to_string())]),
        )
    }

    #[test]
    fn a_named_but_missing_file_is_an_error() {
        let err = Config::from_vars([(
            "PERKGATE_CONFIG".to_owned(),
            "/nonexistent/perkgate-test.toml".to_owned(),
        )])
        .unwrap_err();
        assert!(
            err.0
                .starts_with("/nonexistent/perkgate-test.toml: cannot read"),
            "{err}"
        );
    }

    #[test]
    fn env_values_are_validated_and_named() {
        let err = load(&[("PERKGATE_LISTEN", "nowhere")]).unwrap_err();
        assert_eq!(
            err.0,
            "PERKGATE_LISTEN: expected an address like 127.0.0.1:3000, got \"nowhere\""
        );
        let err = load(&[("PERKGATE_IDME_URL", "https://api.idmelabs.com")]).unwrap_err();
        assert_eq!(
            err.0,
            "PERKGATE_IDME_CLIENT_ID: required when PERKGATE_IDME_URL is set"
        );
    }

    #[test]
    fn sandbox_refuses_https_unless_allowed() {
        let err = load(&[("PERKGATE_PUBLIC_URL", "https://shop.example")]).unwrap_err();
        assert!(err.0.contains("PERKGATE_ALLOW_SANDBOX"), "{err}");
        let ok = load(&[
            ("PERKGATE_PUBLIC_URL", "https://shop.example"),
            ("PERKGATE_ALLOW_SANDBOX", "1"),
        ])
        .unwrap();
        assert!(ok.sandbox_enabled() && ok.is_https());
    }

    #[test]
    fn file_errors_name_file_line_and_field() {
        let mut c = Config::default();
        let err = c
            .apply_file(
                Path::new("perkgate.toml"),
                "listen = \"127.0.0.1:8080\"\nsession_idle_secs = 5\n",
            )
            .unwrap_err();
        assert_eq!(
            err.0,
            "perkgate.toml:2:21: field `session_idle_secs`: expected a whole number from 60 to 31536000, got \"5\""
        );
        let err = c
            .apply_file(Path::new("p.toml"), "\n\nlisten = [1]\n")
            .unwrap_err();
        assert!(err.0.starts_with("p.toml:3:10: field `listen`"), "{err}");
        let err = c
            .apply_file(Path::new("p.toml"), "lisen = 1\n")
            .unwrap_err();
        assert!(
            err.0
                .starts_with("p.toml:1:9: field `lisen`: unknown setting"),
            "{err}"
        );
        let err = c
            .apply_file(Path::new("p.toml"), "listen = \n")
            .unwrap_err();
        assert!(err.0.starts_with("p.toml:1:"), "{err}");
    }

    #[test]
    fn file_then_env_layering() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("perkgate.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\nidme_timeout_ms = 2500\n",
        )
        .unwrap();
        let c = Config::from_vars([
            ("PERKGATE_CONFIG".to_owned(), path.display().to_string()),
            ("PERKGATE_LISTEN".to_owned(), "127.0.0.1:9001".to_owned()),
            ("PERKGATE_TYPO".to_owned(), "1".to_owned()),
        ])
        .unwrap();
        assert_eq!(c.listen.port(), 9001);
        assert_eq!(c.idme.timeout, Duration::from_millis(2500));
        assert_eq!(
            c.warnings,
            ["PERKGATE_TYPO is not a perkgate setting; ignored"]
        );
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let c = load(&[
            ("PERKGATE_IDME_URL", "https://api.idmelabs.com/"),
            ("PERKGATE_IDME_CLIENT_ID", "abc"),
            ("PERKGATE_IDME_CLIENT_SECRET", "s3cr3t-value"),
        ])
        .unwrap();
        assert_eq!(
            c.idme.url.as_ref().unwrap().as_str(),
            "https://api.idmelabs.com/"
        );
        let debug = format!("{c:?}");
        assert!(!debug.contains("s3cr3t-value"));
        assert!(debug.contains("[redacted]"));
    }
}
