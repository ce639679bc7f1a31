//! CSV downloads: a field quoted when it must be, and the response that carries a file.

use std::borrow::Cow;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// A field as RFC 4180 writes it. `formula`: free text a spreadsheet could read as a formula
/// (a leading `=`, `+`, `-`, `@`) is prefixed with `'`, so an e-mail typed by someone else
/// cannot run in the merchant's spreadsheet. Codes are never altered (their alphabet has no
/// `=`, `+` or `@`).
pub fn field(s: &str, formula: bool) -> Cow<'_, str> {
    let guarded: Cow<'_, str> = if formula && s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{s}"))
    } else {
        Cow::Borrowed(s)
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        Cow::Owned(format!("\"{}\"", guarded.replace('"', "\"\"")))
    } else {
        guarded
    }
}

/// "2026-12-31T12:00:00Z", or empty for none.
pub fn time(at: Option<i64>) -> String {
    at.and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// A CSV file to download; never stored by a cache (it is the console's data).
pub fn download(name: &'static str, body: String) -> Response {
    let disposition = format!("attachment; filename=\"{name}\"");
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_and_formulas_defused() {
        assert_eq!(field("ABC-1", false), "ABC-1");
        assert_eq!(field("-ABC", false), "-ABC");
        assert_eq!(field("a,b", true), "\"a,b\"");
        assert_eq!(field("say \"hi\"", true), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=HYPERLINK(1)", true), "'=HYPERLINK(1)");
        assert_eq!(field("@x,y", true), "\"'@x,y\"");
        assert_eq!(time(Some(0)), "1970-01-01T00:00:00Z");
        assert_eq!(time(None), "");
    }
}
