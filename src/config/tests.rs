//! Unit tests of the configuration: layering, validation and the messages that name a value.

use std::path::Path;

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
fn the_sandbox_refuses_to_serve_beyond_loopback_unless_allowed() {
    for (var, value, why) in [
        (
            "PERKGATE_PUBLIC_URL",
            "https://shop.example",
            "PERKGATE_PUBLIC_URL is https://shop.example/, not a loopback address",
        ),
        (
            "PERKGATE_PUBLIC_URL",
            "http://192.168.1.5:3000",
            "PERKGATE_PUBLIC_URL is http://192.168.1.5:3000/, not a loopback address",
        ),
        (
            "PERKGATE_LISTEN",
            "0.0.0.0:3000",
            "PERKGATE_LISTEN is 0.0.0.0:3000, every interface",
        ),
        (
            "PERKGATE_LISTEN",
            "[::]:3000",
            "PERKGATE_LISTEN is [::]:3000, every interface",
        ),
    ] {
        let err = load(&[(var, value)]).unwrap_err();
        assert_eq!(
            err.0,
            format!(
                "PERKGATE_IDME_URL: not set, so the embedded sandbox would answer for ID.me, but it \
                 would serve beyond this machine: {why} (loopback: localhost, 127.0.0.0/8, [::1]). \
                 Set PERKGATE_IDME_URL, PERKGATE_IDME_CLIENT_ID and PERKGATE_IDME_CLIENT_SECRET, \
                 or PERKGATE_ALLOW_SANDBOX=1 to run the sandbox on purpose"
            )
        );
        let ok = load(&[(var, value), ("PERKGATE_ALLOW_SANDBOX", "1")]).unwrap();
        assert!(ok.sandbox_enabled() && ok.allow_sandbox);
    }
    // A loopback public URL does not make a wildcard listen private: the port still answers.
    assert!(
        load(&[
            ("PERKGATE_LISTEN", "0.0.0.0:3000"),
            ("PERKGATE_PUBLIC_URL", "http://localhost:8080"),
        ])
        .is_err()
    );
    for (listen, public) in [
        ("127.0.0.1:3000", "http://localhost:3000"),
        ("127.0.0.1:3000", "https://localhost"),
        ("127.0.0.2:3000", "http://127.0.0.2:3000"),
        ("[::1]:3000", "http://[::1]:3000"),
    ] {
        let ok = load(&[("PERKGATE_LISTEN", listen), ("PERKGATE_PUBLIC_URL", public)]);
        assert!(ok.is_ok(), "{listen} {public}: {ok:?}");
    }
    assert!(
        load(&[]).unwrap().sandbox_enabled(),
        "the default is loopback"
    );
    // With ID.me configured there is no sandbox to guard.
    assert!(
        load(&[
            ("PERKGATE_LISTEN", "0.0.0.0:3000"),
            ("PERKGATE_PUBLIC_URL", "https://shop.example"),
            ("PERKGATE_IDME_URL", "https://api.idmelabs.com"),
            ("PERKGATE_IDME_CLIENT_ID", "id"),
            ("PERKGATE_IDME_CLIENT_SECRET", "secret"),
        ])
        .is_ok()
    );
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
        (
            "PERKGATE_ADMIN_TOTP_KEY",
            "totp-key-0123456789abcdefghijklmnop",
        ),
    ])
    .unwrap();
    assert!(c.admin.totp_key.is_some());
    assert_eq!(
        c.idme.url.as_ref().unwrap().as_str(),
        "https://api.idmelabs.com/"
    );
    let debug = format!("{c:?}");
    assert!(!debug.contains("s3cr3t-value") && !debug.contains("totp-key-0123"));
    assert!(debug.contains("[redacted]"));
}

#[test]
fn a_short_totp_key_is_refused_without_being_echoed() {
    let e = load(&[("PERKGATE_ADMIN_TOTP_KEY", "short-key-value")])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("PERKGATE_ADMIN_TOTP_KEY") && e.contains("at least 32"),
        "{e}"
    );
    assert!(!e.contains("short-key-value"), "{e}");
}

#[test]
fn rate_limits_keep_their_names_and_derive_the_ceilings() {
    let c = load(&[]).unwrap();
    assert_eq!((c.rate_limit.per_minute, c.rate_limit.burst), (30, 10));
    assert_eq!(c.rate_limit.address_per_minute(), 300);
    assert_eq!(c.rate_limit.callback_per_minute(), 3000);
    // A raised browser limit raises the ceilings with it, unless they are set.
    let c = load(&[("PERKGATE_RATE_LIMIT_PER_MINUTE", "100")]).unwrap();
    assert_eq!(c.rate_limit.address_per_minute(), 1000);
    assert_eq!(c.rate_limit.callback_per_minute(), 10_000);
    let c = load(&[
        ("PERKGATE_RATE_LIMIT_ADDRESS_PER_MINUTE", "0"),
        ("PERKGATE_RATE_LIMIT_CALLBACK_PER_MINUTE", "120"),
    ])
    .unwrap();
    assert_eq!(c.rate_limit.address_per_minute(), 0);
    assert_eq!(c.rate_limit.callback_per_minute(), 120);
    let err = load(&[("PERKGATE_RATE_LIMIT_ADDRESS_PER_MINUTE", "-1")]).unwrap_err();
    assert_eq!(
        err.0,
        "PERKGATE_RATE_LIMIT_ADDRESS_PER_MINUTE: expected a whole number from 0 to 1000000, got \"-1\""
    );
}

#[test]
fn connection_limits_have_defaults_and_are_checked() {
    let c = load(&[]).unwrap();
    assert_eq!(
        c.connections,
        Connections {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
            body_timeout: Duration::from_secs(10),
            max: 8192,
            max_per_address: 512,
        }
    );
    let c = load(&[
        ("PERKGATE_HEADER_TIMEOUT_SECS", "3"),
        ("PERKGATE_IDLE_TIMEOUT_SECS", "20"),
        ("PERKGATE_BODY_TIMEOUT_SECS", "5"),
        ("PERKGATE_MAX_CONNECTIONS", "1000"),
        ("PERKGATE_MAX_CONNECTIONS_PER_ADDRESS", "50"),
    ])
    .unwrap();
    assert_eq!(c.connections.header_timeout, Duration::from_secs(3));
    assert_eq!(c.connections.idle_timeout, Duration::from_secs(20));
    assert_eq!(c.connections.body_timeout, Duration::from_secs(5));
    assert_eq!(
        (c.connections.max, c.connections.max_per_address),
        (1000, 50)
    );
    let err = load(&[("PERKGATE_HEADER_TIMEOUT_SECS", "0")]).unwrap_err();
    assert_eq!(
        err.0,
        "PERKGATE_HEADER_TIMEOUT_SECS: expected a whole number from 1 to 300, got \"0\""
    );
    let err = load(&[("PERKGATE_MAX_CONNECTIONS", "8")]).unwrap_err();
    assert_eq!(
        err.0,
        "PERKGATE_MAX_CONNECTIONS: expected a whole number from 16 to 1000000, got \"8\""
    );
}

#[test]
fn the_ops_listener_is_an_address_apart_from_the_main_one() {
    assert_eq!(load(&[]).unwrap().ops_listen, None);
    let c = load(&[("PERKGATE_OPS_LISTEN", "127.0.0.1:9000")]).unwrap();
    assert_eq!(c.ops_listen, Some("127.0.0.1:9000".parse().unwrap()));
    let err = load(&[("PERKGATE_OPS_LISTEN", "9000")]).unwrap_err();
    assert_eq!(
        err.0,
        "PERKGATE_OPS_LISTEN: expected an address like 127.0.0.1:9000, got \"9000\""
    );
    let err = load(&[
        ("PERKGATE_LISTEN", "127.0.0.1:9000"),
        ("PERKGATE_OPS_LISTEN", "127.0.0.1:9000"),
    ])
    .unwrap_err();
    assert!(
        err.0.starts_with("PERKGATE_OPS_LISTEN: must differ"),
        "{err}"
    );
}

#[test]
fn hsts_is_on_off_or_a_max_age() {
    assert_eq!(load(&[]).unwrap().hsts, Hsts::MaxAge(31_536_000));
    for (raw, want) in [
        ("off", Hsts::Off),
        ("false", Hsts::Off),
        ("on", Hsts::MaxAge(31_536_000)),
        ("true", Hsts::MaxAge(31_536_000)),
        ("300", Hsts::MaxAge(300)),
        ("0", Hsts::MaxAge(0)),
    ] {
        assert_eq!(load(&[("PERKGATE_HSTS", raw)]).unwrap().hsts, want, "{raw}");
    }
    let err = load(&[("PERKGATE_HSTS", "max-age=300")]).unwrap_err();
    assert_eq!(
        err.0,
        "PERKGATE_HSTS: expected on, off or a max-age in seconds from 0 to 63072000, got \"max-age=300\""
    );
    let mut c = Config::default();
    c.apply_file(Path::new("p.toml"), "hsts = false\n").unwrap();
    assert_eq!(c.hsts, Hsts::Off);
}

#[test]
fn audit_retention_is_a_number_of_days() {
    assert_eq!(load(&[]).unwrap().admin.audit_retention_days, 365);
    let c = load(&[("PERKGATE_AUDIT_RETENTION_DAYS", "30")]).unwrap();
    assert_eq!(c.admin.audit_retention_days, 30);
    let e = load(&[("PERKGATE_AUDIT_RETENTION_DAYS", "0")]).unwrap_err();
    assert!(e.0.contains("PERKGATE_AUDIT_RETENTION_DAYS"), "{e}");
}

#[test]
fn the_shop_settings_are_typed_and_checked_together() {
    let config = load(&[
        ("PERKGATE_STORE_NAME", "Acme Outfitters"),
        ("PERKGATE_STORE_URL", "https://shop.example/"),
        ("PERKGATE_STORE_COLOR", "#0b4"),
        ("PERKGATE_STORE_SUPPORT", "help@shop.example"),
        (
            "PERKGATE_RETURN_ORIGINS",
            "https://shop.example, http://localhost:8080",
        ),
        ("PERKGATE_APPLY_URL", "https://shop.example/discount/{code}"),
    ])
    .unwrap();
    assert_eq!(config.store.name.as_deref(), Some("Acme Outfitters"));
    assert_eq!(config.store.palette.as_ref().unwrap().color, "#00bb44");
    assert_eq!(config.return_origins.len(), 2);
    assert!(config.returns().unwrap().apply_link("X").is_some());

    for (pairs, expected) in [
        (
            vec![("PERKGATE_STORE_COLOR", "green")],
            "PERKGATE_STORE_COLOR: expected a colour like #0b6e4f or #0b4, got \"green\"",
        ),
        (
            vec![("PERKGATE_RETURN_ORIGINS", "https://shop.example/cart")],
            "PERKGATE_RETURN_ORIGINS: expected an origin (scheme://host[:port], nothing after \
             it), got \"https://shop.example/cart\"",
        ),
        (
            vec![("PERKGATE_APPLY_URL", "https://shop.example/discount/{code}")],
            "PERKGATE_APPLY_URL: its origin https://shop.example must be listed in \
             PERKGATE_RETURN_ORIGINS",
        ),
        (
            vec![("PERKGATE_STORE_LOGO_URL", "logo.png")],
            "PERKGATE_STORE_LOGO_URL: expected an http(s) URL, got \"logo.png\" (relative URL \
             without a base)",
        ),
    ] {
        assert_eq!(load(&pairs).unwrap_err().0, expected);
    }
}

#[test]
fn a_bad_shop_setting_in_the_file_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("perkgate.toml");
    std::fs::write(
        &file,
        "store_name = \"Acme\"\nstore_support = \"not an address\"\n",
    )
    .unwrap();
    let err = Config::from_vars([("PERKGATE_CONFIG".to_owned(), file.display().to_string())])
        .unwrap_err();
    assert_eq!(
        err.0,
        format!(
            "{}:2:17: field `store_support`: expected an e-mail address or an http(s) URL, got \
             \"not an address\"",
            file.display()
        )
    );
}

#[test]
fn the_templates_folder_is_a_path() {
    assert_eq!(load(&[]).unwrap().templates, None);
    let c = load(&[("PERKGATE_TEMPLATES", "/etc/perkgate/templates")]).unwrap();
    assert_eq!(
        c.templates.as_deref(),
        Some(Path::new("/etc/perkgate/templates"))
    );
    let e = load(&[("PERKGATE_TEMPLATES", " ")]).unwrap_err();
    assert!(e.0.starts_with("PERKGATE_TEMPLATES: "), "{e}");
    let mut c = Config::default();
    c.apply_file(Path::new("p.toml"), "templates = \"tpl\"\n")
        .unwrap();
    assert_eq!(c.templates.as_deref(), Some(Path::new("tpl")));
}

#[test]
fn webhook_settings_have_safe_defaults_and_are_checked_together() {
    let d = load(&[]).unwrap().webhooks;
    assert!(!d.allow_http && !d.allow_private);
    assert_eq!(d.retry_for, Duration::from_secs(3 * 86_400));
    assert!(d.lease > d.timeout);
    let c = load(&[
        ("PERKGATE_WEBHOOKS_ALLOW_HTTP", "1"),
        ("PERKGATE_WEBHOOKS_ALLOW_PRIVATE", "true"),
        ("PERKGATE_WEBHOOKS_TIMEOUT_MS", "1000"),
        ("PERKGATE_WEBHOOKS_BACKOFF_BASE_MS", "100"),
        ("PERKGATE_WEBHOOKS_BACKOFF_CAP_MS", "2000"),
        ("PERKGATE_WEBHOOKS_RETRY_SECS", "60"),
        ("PERKGATE_WEBHOOKS_LEASE_SECS", "3"),
        ("PERKGATE_WEBHOOKS_ROTATION_GRACE_HOURS", "0"),
    ])
    .unwrap()
    .webhooks;
    assert!(c.allow_http && c.allow_private);
    assert_eq!(c.backoff_base, Duration::from_millis(100));
    assert_eq!(c.retry_for, Duration::from_secs(60));
    assert_eq!(c.rotation_grace, Duration::ZERO);
    // A lease no longer than an attempt would let a second instance take it mid-send.
    let e = load(&[
        ("PERKGATE_WEBHOOKS_TIMEOUT_MS", "5000"),
        ("PERKGATE_WEBHOOKS_LEASE_SECS", "5"),
    ])
    .unwrap_err();
    assert!(e.0.contains("PERKGATE_WEBHOOKS_LEASE_SECS"), "{e}");
    let e = load(&[
        ("PERKGATE_WEBHOOKS_BACKOFF_BASE_MS", "5000"),
        ("PERKGATE_WEBHOOKS_BACKOFF_CAP_MS", "100"),
    ])
    .unwrap_err();
    assert!(e.0.contains("PERKGATE_WEBHOOKS_BACKOFF_CAP_MS"), "{e}");
    let e = load(&[("PERKGATE_WEBHOOKS_POLL_MS", "0")]).unwrap_err();
    assert!(e.0.contains("PERKGATE_WEBHOOKS_POLL_MS"), "{e}");
}
