//! Parsers for setting values (URLs, numbers, booleans) and redaction of URLs in messages.

use url::Url;

pub(super) fn parse_base_url(raw: &str) -> Result<Url, String> {
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
pub(super) fn redact_url(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            format!("{:?}", url.as_str())
        }
        Ok(_) | Err(_) if raw.contains('@') => "a URL with credentials (not shown)".to_owned(),
        _ => format!("{raw:?}"),
    }
}

pub(super) fn non_empty(raw: &str) -> Result<&str, String> {
    if raw.is_empty() {
        Err("must not be empty".to_owned())
    } else {
        Ok(raw)
    }
}

pub(super) fn number(raw: &str, min: u64, max: u64) -> Result<u64, String> {
    match raw.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "expected a whole number from {min} to {max}, got {raw:?}"
        )),
    }
}

pub(super) fn boolean(raw: &str) -> Result<bool, String> {
    match raw {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err(format!("expected true/false or 1/0, got {raw:?}")),
    }
}
