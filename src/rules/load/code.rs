//! Where an offer's code comes from: a static code, a pool, generated codes or none.

use std::collections::BTreeMap;

use toml::Spanned;

use super::Report;
use crate::rules::{CodeSource, Pool};

pub(super) fn code(
    r: &mut Report<'_>,
    raw: Option<Spanned<toml::Value>>,
    offer_span: std::ops::Range<usize>,
    pools: &BTreeMap<String, Pool>,
) -> Option<CodeSource> {
    const FORMS: &str = "give code = \"TEXT\", { pool = \"name\" }, { prefix = \"ABC-\", length = 10 } or { none = true }";
    let Some(raw) = raw else {
        r.error(offer_span, "code", format!("missing: {FORMS}"));
        return None;
    };
    let span = raw.span();
    match raw.into_inner() {
        toml::Value::String(s) if !s.trim().is_empty() && s.len() <= 64 => {
            Some(CodeSource::Static(s.trim().to_owned()))
        }
        toml::Value::Table(t) => {
            let keys: Vec<&str> = t.keys().map(String::as_str).collect();
            match keys.as_slice() {
                ["pool"] => match t.get("pool").and_then(|v| v.as_str()) {
                    Some(p) if pools.contains_key(p) => Some(CodeSource::Pool(p.to_owned())),
                    Some(p) => {
                        r.error(
                            span,
                            "code.pool",
                            format!("unknown pool {p:?} (declare it as [pools.{p}])"),
                        );
                        None
                    }
                    None => {
                        r.error(span, "code.pool", "expected a pool name");
                        None
                    }
                },
                ["length", "prefix"] | ["prefix"] | ["length"] => {
                    let prefix = t.get("prefix").and_then(|v| v.as_str()).unwrap_or("");
                    let length = t.get("length").and_then(|v| v.as_integer()).unwrap_or(10);
                    if prefix.len() > 16
                        || !prefix.bytes().all(|b| {
                            b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
                        })
                    {
                        r.error(
                            span,
                            "code.prefix",
                            "use at most 16 upper-case letters, digits, '-' or '_'",
                        );
                        None
                    } else if !(6..=32).contains(&length) {
                        r.error(
                            span,
                            "code.length",
                            format!("must be from 6 to 32 random characters, got {length}"),
                        );
                        None
                    } else {
                        Some(CodeSource::Generated {
                            prefix: prefix.to_owned(),
                            length: length as u8,
                        })
                    }
                }
                ["none"] if t.get("none").and_then(|v| v.as_bool()) == Some(true) => {
                    Some(CodeSource::None)
                }
                _ => {
                    r.error(span, "code", FORMS);
                    None
                }
            }
        }
        _ => {
            r.error(span, "code", FORMS);
            None
        }
    }
}
