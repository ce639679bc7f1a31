//! The settings table and the parsing of each setting from its textual value.

use std::path::PathBuf;
use std::time::Duration;

use super::values::{boolean, non_empty, number, parse_base_url, redact_url};
use super::{ClientAuth, Config, Hsts, LogFormat, Secret, VerifyButton};
use crate::shop;

/// Every setting, by its file key. The environment variable is `PERKGATE_` + upper case.
pub(super) const SETTINGS: &[&str] = &[
    "listen",
    "public_url",
    "idme_url",
    "idme_client_id",
    "idme_client_secret",
    "idme_client_auth",
    "idme_connect_timeout_ms",
    "idme_timeout_ms",
    "idme_max_body_bytes",
    "idme_groups_url",
    "idme_payload",
    "idme_jwks_url",
    "idme_jwks_cache_secs",
    "idme_decryption_key",
    "idme_issuer",
    "idme_audience",
    "sandbox_payload",
    "verify_button",
    "rules",
    "rules_poll_ms",
    "rules_version_poll_ms",
    "database_url",
    "session_url",
    "session_idle_secs",
    "session_absolute_secs",
    "auth_timeout_secs",
    "session_cache_ms",
    "allow_sandbox",
    "rate_limit_per_minute",
    "rate_limit_burst",
    "rate_limit_address_per_minute",
    "rate_limit_callback_per_minute",
    "trusted_proxies",
    "header_timeout_secs",
    "idle_timeout_secs",
    "body_timeout_secs",
    "max_connections",
    "max_connections_per_address",
    "ops_listen",
    "hsts",
    "store_name",
    "store_url",
    "store_logo_url",
    "store_color",
    "store_privacy_url",
    "store_terms_url",
    "store_support",
    "templates",
    "return_origins",
    "apply_url",
    "embed_origins",
    "admin_email",
    "admin_idle_minutes",
    "admin_absolute_hours",
    "admin_require_2fa",
    "admin_totp_key",
    "audit_retention_days",
    "webhooks_allow_http",
    "webhooks_allow_private",
    "webhooks_connect_timeout_ms",
    "webhooks_timeout_ms",
    "webhooks_backoff_base_ms",
    "webhooks_backoff_cap_ms",
    "webhooks_retry_secs",
    "webhooks_disable_after_secs",
    "webhooks_lease_secs",
    "webhooks_poll_ms",
    "webhooks_rotation_grace_hours",
    "log",
    "log_format",
    "shutdown_grace_secs",
];

/// Variables with our prefix that are not settings but are expected (test and CI switches).
pub(super) const OTHER_VARS: &[&str] = &[
    "PERKGATE_CONFIG",
    // Read by the test suite, not by the service.
    "PERKGATE_REQUIRE_BROWSER",
    "PERKGATE_REQUIRE_STORES",
    "PERKGATE_TEST_POSTGRES_URL",
    "PERKGATE_TEST_REDIS_URL",
    "PERKGATE_SOAK_SECS",
];

impl Config {
    /// Sets one setting from its textual value; the error says what was expected.
    pub(super) fn set(&mut self, key: &str, raw: &str) -> Result<(), String> {
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
            "rules" => {
                self.rules = PathBuf::from(non_empty(raw)?);
                self.rules_explicit = true;
            }
            "rules_poll_ms" => self.rules_poll = Duration::from_millis(number(raw, 50, 3_600_000)?),
            "rules_version_poll_ms" => {
                self.rules_version_poll = Duration::from_millis(number(raw, 50, 60_000)?)
            }
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
            "idme_payload" => self.idme.payload.policy = raw.parse()?,
            "idme_jwks_url" => self.idme.payload.jwks_url = Some(parse_base_url(raw)?),
            "idme_jwks_cache_secs" => {
                self.idme.payload.jwks_cache = Duration::from_secs(number(raw, 1, 86_400)?)
            }
            "idme_decryption_key" => {
                self.idme.payload.decryption_key = Some(PathBuf::from(non_empty(raw)?))
            }
            "idme_issuer" => self.idme.payload.issuer = Some(non_empty(raw)?.to_owned()),
            "idme_audience" => self.idme.payload.audience = Some(non_empty(raw)?.to_owned()),
            "sandbox_payload" => self.idme.payload.sandbox = raw.parse()?,
            "idme_groups_url" => self.idme.groups_url = Some(parse_base_url(raw)?),
            "verify_button" => {
                self.verify_button = Some(match raw {
                    "unified" => VerifyButton::Unified,
                    "per-group" => VerifyButton::PerGroup,
                    _ => {
                        return Err(format!(
                            "expected \"unified\" or \"per-group\", got {raw:?}"
                        ));
                    }
                })
            }
            "rate_limit_per_minute" => self.rate_limit.per_minute = number(raw, 0, 100_000)? as u32,
            "rate_limit_burst" => self.rate_limit.burst = number(raw, 1, 10_000)? as u32,
            "rate_limit_address_per_minute" => {
                self.rate_limit.address_per_minute = Some(number(raw, 0, 1_000_000)? as u32)
            }
            "rate_limit_callback_per_minute" => {
                self.rate_limit.callback_per_minute = Some(number(raw, 0, 10_000_000)? as u32)
            }
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
            "header_timeout_secs" => {
                self.connections.header_timeout = Duration::from_secs(number(raw, 1, 300)?)
            }
            "idle_timeout_secs" => {
                self.connections.idle_timeout = Duration::from_secs(number(raw, 1, 3600)?)
            }
            "body_timeout_secs" => {
                self.connections.body_timeout = Duration::from_secs(number(raw, 1, 600)?)
            }
            "max_connections" => self.connections.max = number(raw, 16, 1_000_000)? as usize,
            "max_connections_per_address" => {
                self.connections.max_per_address = number(raw, 1, 1_000_000)? as usize
            }
            "ops_listen" => {
                self.ops_listen =
                    Some(raw.parse().map_err(|_| {
                        format!("expected an address like 127.0.0.1:9000, got {raw:?}")
                    })?)
            }
            "hsts" => self.hsts = match raw {
                "off" | "false" => Hsts::Off,
                "on" | "true" => Hsts::MaxAge(Hsts::DEFAULT_MAX_AGE),
                _ => Hsts::MaxAge(number(raw, 0, 2 * Hsts::DEFAULT_MAX_AGE).map_err(|_| {
                    format!(
                        "expected on, off or a max-age in seconds from 0 to 63072000, got {raw:?}"
                    )
                })?),
            },
            "templates" => self.templates = Some(PathBuf::from(non_empty(raw)?)),
            key if key.starts_with("store_") => self.store.set(&key["store_".len()..], raw)?,
            "return_origins" => self.return_origins = shop::Returns::parse_origins(raw)?,
            "apply_url" => self.apply_url = Some(non_empty(raw)?.to_owned()),
            "embed_origins" => self.embed_origins = shop::Returns::parse_origins(raw)?,
            "admin_email" => {
                self.admin.email = crate::admin::accounts::normalise_email(raw)
                    .map_err(|why| format!("{why}, got {raw:?}"))?
            }
            "admin_idle_minutes" => {
                self.admin.idle = Duration::from_secs(number(raw, 1, 24 * 60)? * 60)
            }
            "admin_absolute_hours" => {
                self.admin.absolute = Duration::from_secs(number(raw, 1, 30 * 24)? * 3600)
            }
            "admin_require_2fa" => self.admin.require_2fa = boolean(raw)?,
            // Never echo a secret back, not even a malformed one.
            "admin_totp_key" => {
                if raw.len() < 32 {
                    return Err("expected at least 32 random characters".to_owned());
                }
                self.admin.totp_key = Some(Secret::new(raw));
            }
            // Up to a hundred years: "keep it" without a special value.
            "audit_retention_days" => self.admin.audit_retention_days = number(raw, 1, 36_500)?,
            "webhooks_allow_http" => self.webhooks.allow_http = boolean(raw)?,
            "webhooks_allow_private" => self.webhooks.allow_private = boolean(raw)?,
            "webhooks_connect_timeout_ms" => {
                self.webhooks.connect_timeout = Duration::from_millis(number(raw, 1, 60_000)?)
            }
            "webhooks_timeout_ms" => {
                self.webhooks.timeout = Duration::from_millis(number(raw, 1, 300_000)?)
            }
            "webhooks_backoff_base_ms" => {
                self.webhooks.backoff_base = Duration::from_millis(number(raw, 1, 3_600_000)?)
            }
            "webhooks_backoff_cap_ms" => {
                self.webhooks.backoff_cap = Duration::from_millis(number(raw, 1, 86_400_000)?)
            }
            "webhooks_retry_secs" => {
                self.webhooks.retry_for = Duration::from_secs(number(raw, 1, 30 * 86_400)?)
            }
            "webhooks_disable_after_secs" => {
                self.webhooks.disable_after = Duration::from_secs(number(raw, 1, 90 * 86_400)?)
            }
            "webhooks_lease_secs" => {
                self.webhooks.lease = Duration::from_secs(number(raw, 1, 3600)?)
            }
            "webhooks_poll_ms" => {
                self.webhooks.poll = Duration::from_millis(number(raw, 10, 60_000)?)
            }
            "webhooks_rotation_grace_hours" => {
                self.webhooks.rotation_grace = Duration::from_secs(number(raw, 0, 30 * 24)? * 3600)
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
}
