//! Reading and validating a rules file. Every problem names the file, line, column and field;
//! `rules check` lists them all.

mod code;
mod conditions;
mod dates;
mod discount;
mod offer;
mod raw;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::{CodeSource, Offer, Pool, Rules, ValueBasis};
use crate::config::line_col;
use discount::money;
use offer::offer;
use raw::RawFile;

/// One problem in a rules file: an error, or a warning about legal but suspicious input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    pub file: String,
    /// 1-based; 0 when the problem concerns the whole file.
    pub line: usize,
    pub column: usize,
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A valid rule set and the warnings it drew.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub rules: Rules,
    pub warnings: Vec<LoadError>,
}

/// Collects problems with their positions.
struct Report<'a> {
    file: &'a str,
    text: &'a str,
    errors: Vec<LoadError>,
    warnings: Vec<LoadError>,
}

impl Report<'_> {
    fn at(&self, span: std::ops::Range<usize>, field: &str, message: String) -> LoadError {
        let (line, column) = line_col(self.text, span.start);
        LoadError {
            file: self.file.to_owned(),
            line,
            column,
            field: (!field.is_empty()).then(|| field.to_owned()),
            message,
        }
    }

    fn error(&mut self, span: std::ops::Range<usize>, field: &str, message: impl Into<String>) {
        let e = self.at(span, field, message.into());
        self.errors.push(e);
    }

    fn warn(&mut self, span: std::ops::Range<usize>, field: &str, message: impl Into<String>) {
        let w = self.at(span, field, message.into());
        self.warnings.push(w);
    }
}

/// Parses and validates a rules file. `base` is the folder relative pool seed files are
/// resolved against (the rules file's own folder).
pub fn parse(file: &str, text: &str, base: Option<&Path>) -> Result<Loaded, Vec<LoadError>> {
    let raw: RawFile = toml::from_str(text).map_err(|e| vec![syntax_error(file, text, &e)])?;
    let mut r = Report {
        file,
        text,
        errors: Vec::new(),
        warnings: Vec::new(),
    };

    let currency = match raw.currency {
        Some(c)
            if c.get_ref().len() == 3 && c.get_ref().bytes().all(|b| b.is_ascii_uppercase()) =>
        {
            c.into_inner()
        }
        Some(c) => {
            r.error(
                c.span(),
                "currency",
                format!(
                    "expected a three-letter code such as \"USD\", got {:?}",
                    c.get_ref()
                ),
            );
            "USD".to_owned()
        }
        None => "USD".to_owned(),
    };

    let mut value = ValueBasis::default();
    if let Some(v) = raw.value {
        if let Some(m) = v
            .reference_order
            .and_then(|m| money(&mut r, &m, "value.reference_order"))
        {
            value.reference_order = m;
        }
        if let Some(m) = v
            .free_shipping
            .and_then(|m| money(&mut r, &m, "value.free_shipping"))
        {
            value.free_shipping = m;
        }
    }

    let mut store = crate::shop::Look::default();
    for (field, value) in raw.store {
        let name = format!("store.{field}");
        if !crate::shop::Look::FIELDS.contains(&field.as_str()) {
            let known = crate::shop::Look::FIELDS.join(", ");
            r.error(
                value.span(),
                &name,
                format!("unknown field (known: {known})"),
            );
        } else if let Err(why) = store.set(&field, value.get_ref()) {
            r.error(value.span(), &name, why);
        }
    }

    let mut pools = BTreeMap::new();
    for (id, pool) in raw.pools {
        let span = pool.span();
        let pool = pool.into_inner();
        if !is_handle(&id) {
            r.error(
                span.clone(),
                &format!("pools.{id}"),
                "a pool name uses lower-case letters, digits, '-' or '_'",
            );
        }
        let low_threshold = match pool.low_threshold {
            Some(t) if *t.get_ref() < 0 => {
                r.error(t.span(), "low_threshold", "must not be negative");
                0
            }
            Some(t) => *t.get_ref() as u64,
            None => 0,
        };
        let seed = pool.seed.map(|s| {
            let p = PathBuf::from(s.get_ref());
            let p = match base {
                Some(base) if p.is_relative() => base.join(p),
                _ => p,
            };
            if base.is_some() && !p.exists() {
                r.warn(
                    s.span(),
                    &format!("pools.{id}.seed"),
                    format!("{} does not exist; the pool starts empty", p.display()),
                );
            }
            p
        });
        pools.insert(
            id.clone(),
            Pool {
                id,
                low_threshold,
                seed,
            },
        );
    }

    let mut offers: Vec<Offer> = Vec::new();
    // Ids are checked before each offer's own validation, so a duplicate is reported even
    // when the first offer of that id has mistakes of its own.
    let mut first_line: BTreeMap<String, usize> = BTreeMap::new();
    for raw_offer in raw.offers {
        let offer_span = raw_offer.span();
        let raw_offer = raw_offer.into_inner();
        let id = raw_offer.id.get_ref().clone();
        if let Some(first) = first_line.get(&id) {
            let msg = format!("duplicate offer id {id:?} (first used on line {first})");
            r.error(raw_offer.id.span(), "id", msg);
            continue;
        }
        first_line.insert(id, line_col(text, raw_offer.id.span().start).0);
        if let Some(offer) = offer(&mut r, raw_offer, offer_span, &pools) {
            offers.push(offer);
        }
    }
    if offers.is_empty() && r.errors.is_empty() {
        r.errors.push(LoadError {
            file: file.to_owned(),
            line: 0,
            column: 0,
            field: None,
            message: "no [[offers]]: the storefront would offer nothing".to_owned(),
        });
    }
    for pool in pools.keys() {
        if !offers
            .iter()
            .any(|o| o.code == CodeSource::Pool(pool.clone()))
        {
            r.warnings.push(LoadError {
                file: file.to_owned(),
                line: 0,
                column: 0,
                field: Some(format!("pools.{pool}")),
                message: "no offer uses this pool".to_owned(),
            });
        }
    }

    if r.errors.is_empty() {
        Ok(Loaded {
            rules: Rules {
                currency,
                value,
                offers,
                pools,
                store,
            },
            warnings: r.warnings,
        })
    } else {
        Err(r.errors)
    }
}

/// A TOML or type error, with the field read off the offending line when the parser's
/// message does not name it.
fn syntax_error(file: &str, text: &str, e: &toml::de::Error) -> LoadError {
    let (line, column, field) = match e.span() {
        Some(span) => {
            let (line, column) = line_col(text, span.start);
            let field = text
                .lines()
                .nth(line - 1)
                .and_then(|l| l.split_once('='))
                .map(|(k, _)| k.trim())
                .filter(|k| {
                    !k.is_empty()
                        && k.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
                })
                .map(str::to_owned);
            (line, column, field)
        }
        None => (0, 0, None),
    };
    let message = e.message().trim().to_owned();
    // toml already names unknown and missing fields in its message.
    let field = field.filter(|_| !message.contains("field `"));
    LoadError {
        file: file.to_owned(),
        line,
        column,
        field,
        message,
    }
}

/// Offer ids, group handles and pool names go into URLs, scopes and logs.
fn is_handle(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}
