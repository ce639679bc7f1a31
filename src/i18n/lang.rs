//! Which language a request gets: the switch's cookie, else `Accept-Language`, else English;
//! and the switch's own pieces (its cookie, its `next`).
//!
//! Negotiated by hand rather than with `fluent-langneg`: that crate ignores q-values (so
//! `fr;q=0` would pick French) and allocates a list per request, while three locales matched
//! by their primary subtag need neither.

use std::borrow::Cow;

use axum::http::{HeaderMap, HeaderValue, header};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::Locale;

/// The switch's cookie: the chosen tag (`fr-CA`).
pub const COOKIE: &str = "perkgate-lang";

/// A year: the choice outlives the session.
const COOKIE_MAX_AGE: u32 = 365 * 24 * 3600;

/// The request's language: the switch's cookie when it names one of ours, else the best
/// `Accept-Language` match, else English.
pub fn locale_of(headers: &HeaderMap) -> Locale {
    cookie_locale(headers).unwrap_or_else(|| {
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .map_or(Locale::En, negotiate)
    })
}

fn cookie_locale(headers: &HeaderMap) -> Option<Locale> {
    crate::web::cookie(headers, COOKIE).and_then(|value| Locale::from_tag(value.trim()))
}

/// The best of our locales for an `Accept-Language` value: by primary subtag (`fr`, `fr-FR`,
/// `fr-CA` → fr-CA; `es-MX` → es; `en-GB` → en), the highest q-value first and the header's
/// order among equals; `q=0` refuses; English when nothing matches.
pub fn negotiate(header: &str) -> Locale {
    let mut best: Option<(u16, Locale)> = None;
    for item in header.split(',') {
        let mut parts = item.split(';');
        let tag = parts.next().unwrap_or_default().trim();
        let q = match parts.find_map(|p| {
            let p = p.trim();
            p.strip_prefix("q=").or_else(|| p.strip_prefix("Q="))
        }) {
            Some(q) => match quality(q.trim()) {
                Some(q) => q,
                None => continue,
            },
            None => 1000,
        };
        let primary = tag.split(['-', '_']).next().unwrap_or_default();
        let locale = if primary.eq_ignore_ascii_case("en") {
            Locale::En
        } else if primary.eq_ignore_ascii_case("fr") {
            Locale::FrCa
        } else if primary.eq_ignore_ascii_case("es") {
            Locale::Es
        } else {
            continue;
        };
        if q > 0 && best.is_none_or(|(b, _)| q > b) {
            best = Some((q, locale));
        }
    }
    best.map_or(Locale::En, |(_, l)| l)
}

/// A q-value in thousandths ("1", "0.8", "0.125"); `None` when malformed.
fn quality(q: &str) -> Option<u16> {
    let (whole, frac) = q.split_once('.').unwrap_or((q, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths: u16 = format!("{frac:0<3}").parse().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// The switch's `Set-Cookie`: readable by the page (no secret in it), sent on top-level
/// navigations from elsewhere (Lax), Secure behind https.
pub fn cookie(locale: Locale, secure: bool) -> Option<HeaderValue> {
    let value = format!(
        "{COOKIE}={}; Path=/; Max-Age={COOKIE_MAX_AGE}; SameSite=Lax{}",
        locale.tag(),
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&value).ok()
}

/// `next` when it is a path on this site: one leading `/`, not `//` (another host), no
/// backslash (browsers read `/\` as `//`), no control characters or spaces (browsers drop
/// tabs and newlines, which could make `/<tab>/evil` into `//evil`).
pub fn safe_next(next: &str) -> Option<&str> {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next
            .bytes()
            .any(|b| b == b'\\' || b.is_ascii_control() || b == b' ');
    local.then_some(next)
}

/// What a query value may hold unescaped: a path's slashes stay readable.
const NEXT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The page's path and query as the switch's `next` (encoded for a query value): `/` as it is.
pub fn switch_next(path_and_query: &str) -> Cow<'_, str> {
    utf8_percent_encode(path_and_query, NEXT).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_by_primary_subtag_and_quality() {
        for (header, want) in [
            ("fr-CA", Locale::FrCa),
            ("fr", Locale::FrCa),
            ("fr-FR,fr;q=0.9", Locale::FrCa),
            ("es-MX,es;q=0.9,en;q=0.5", Locale::Es),
            ("es", Locale::Es),
            ("en-US,en;q=0.9", Locale::En),
            ("de-DE,fr;q=0.7,en;q=0.6", Locale::FrCa),
            ("en;q=0.5,es;q=0.8", Locale::Es),
            ("fr;q=0, es;q=0.1", Locale::Es),
            ("fr;q=0", Locale::En),
            ("de, ja", Locale::En),
            ("*", Locale::En),
            ("", Locale::En),
            ("fr;q=abc,es;q=0.3", Locale::Es),
            ("FR-ca", Locale::FrCa),
            ("es;q=1.0", Locale::Es),
            ("en, fr", Locale::En),
        ] {
            assert_eq!(negotiate(header), want, "{header:?}");
        }
    }

    #[test]
    fn the_cookie_wins_over_the_header_when_it_names_a_locale() {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_static("fr-CA"));
        assert_eq!(locale_of(&h), Locale::FrCa);
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; perkgate-lang=es"),
        );
        assert_eq!(locale_of(&h), Locale::Es);
        h.insert(header::COOKIE, HeaderValue::from_static("perkgate-lang=xx"));
        assert_eq!(locale_of(&h), Locale::FrCa, "an unknown tag is no choice");
        assert_eq!(locale_of(&HeaderMap::new()), Locale::En);
    }

    #[test]
    fn next_is_a_local_path_only() {
        for ok in [
            "/",
            "/?return_to=https%3A%2F%2Fshop.example",
            "/sandbox/x?a=b",
        ] {
            assert_eq!(safe_next(ok), Some(ok));
        }
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "\\\\evil",
            "https://evil.example",
            "evil",
            "",
            "/\t/evil",
            "/\n/evil",
            "/ /evil",
            "javascript:alert(1)",
        ] {
            assert_eq!(safe_next(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_switch_carries_the_page_along() {
        assert_eq!(switch_next("/"), "/");
        assert_eq!(
            switch_next("/?return_to=https://shop.example/a&embed=x"),
            "/%3Freturn_to%3Dhttps%3A//shop.example/a%26embed%3Dx"
        );
        let c = cookie(Locale::FrCa, true).unwrap();
        assert_eq!(
            c,
            "perkgate-lang=fr-CA; Path=/; Max-Age=31536000; SameSite=Lax; Secure"
        );
        assert!(
            !cookie(Locale::Es, false)
                .unwrap()
                .to_str()
                .unwrap()
                .contains("Secure")
        );
    }
}
