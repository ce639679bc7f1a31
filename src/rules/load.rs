//! Reading and validating a rules file. Every problem names the file, line, column and field;
//! `rules check` lists them all.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;
use toml::value::Datetime;

use super::{
    CodeSource, Condition, Discount, KNOWN_GROUPS, Limit, Money, Offer, Pool, Rules, Test,
    ValueBasis, date,
};
use crate::config::line_col;

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    currency: Option<Spanned<String>>,
    value: Option<RawValue>,
    #[serde(default)]
    pools: BTreeMap<String, Spanned<RawPool>>,
    #[serde(default)]
    offers: Vec<Spanned<RawOffer>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawValue {
    reference_order: Option<Spanned<toml::Value>>,
    free_shipping: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPool {
    low_threshold: Option<Spanned<i64>>,
    seed: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOffer {
    id: Spanned<String>,
    title: Spanned<String>,
    description: Option<String>,
    groups: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    subgroups: Vec<Spanned<String>>,
    #[serde(default)]
    when: BTreeMap<String, Spanned<BTreeMap<String, Spanned<toml::Value>>>>,
    percent: Option<Spanned<i64>>,
    amount: Option<Spanned<toml::Value>>,
    free_shipping: Option<Spanned<bool>>,
    cap: Option<Spanned<toml::Value>>,
    min_order: Option<Spanned<toml::Value>>,
    code: Option<Spanned<toml::Value>>,
    starts: Option<Spanned<Datetime>>,
    ends: Option<Spanned<Datetime>>,
    limit: Option<Spanned<RawLimit>>,
    total_cap: Option<Spanned<i64>>,
    priority: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimit {
    claims: Spanned<i64>,
    per_days: Spanned<i64>,
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

fn money(r: &mut Report<'_>, v: &Spanned<toml::Value>, field: &str) -> Option<Money> {
    let parsed = match v.get_ref() {
        toml::Value::String(s) => Money::parse(s),
        toml::Value::Integer(i) if *i >= 0 => Some(Money(i * 100)),
        toml::Value::Float(f) if *f >= 0.0 => Money::parse(&format!("{f}")),
        _ => None,
    };
    if parsed.is_none() {
        r.error(
            v.span(),
            field,
            "expected an amount such as \"100.00\" (not negative, at most two decimals)",
        );
    }
    parsed
}

/// A TOML date or offset date-time as unix seconds. A bare date means the start of that day
/// (UTC), or its last second when `end_of_day`.
fn instant(dt: &Datetime, end_of_day: bool) -> Result<i64, &'static str> {
    let Some(d) = dt.date else {
        return Err(
            "expected a date (2026-12-31) or a date-time with an offset (2026-12-31T23:59:59Z)",
        );
    };
    let month = time::Month::try_from(d.month).map_err(|_| "invalid month")?;
    let date = time::Date::from_calendar_date(i32::from(d.year), month, d.day)
        .map_err(|_| "invalid date")?;
    let (clock, offset_secs) = match (dt.time, dt.offset) {
        (None, _) if end_of_day => (
            time::Time::from_hms(23, 59, 59).map_err(|_| "invalid time")?,
            0,
        ),
        (None, _) => (time::Time::MIDNIGHT, 0),
        (Some(_), None) => {
            return Err(
                "a date-time needs an offset (e.g. Z or -05:00) so it means one moment everywhere",
            );
        }
        (Some(t), Some(off)) => (
            time::Time::from_hms(t.hour, t.minute, t.second.unwrap_or(0))
                .map_err(|_| "invalid time")?,
            match off {
                toml::value::Offset::Z => 0,
                toml::value::Offset::Custom { minutes } => i32::from(minutes) * 60,
            },
        ),
    };
    Ok(date.with_time(clock).assume_utc().unix_timestamp() - i64::from(offset_secs))
}

fn window(
    r: &mut Report<'_>,
    raw: &Option<Spanned<Datetime>>,
    field: &str,
    end: bool,
) -> Option<i64> {
    let v = raw.as_ref()?;
    match instant(v.get_ref(), end) {
        Ok(t) => Some(t),
        Err(why) => {
            r.error(v.span(), field, why);
            None
        }
    }
}

const OPERATORS: &str = "equals, one_of, exists, before, after";

fn conditions(
    r: &mut Report<'_>,
    when: BTreeMap<String, Spanned<BTreeMap<String, Spanned<toml::Value>>>>,
) -> Vec<Condition> {
    let mut out = Vec::new();
    for (attribute, tests) in when {
        let table_span = tests.span();
        let field = format!("when.{attribute}");
        let tests = tests.into_inner();
        if tests.is_empty() {
            r.error(
                table_span,
                &field,
                format!("no condition: use one of {OPERATORS}"),
            );
            continue;
        }
        let mut parsed: Vec<(Test, std::ops::Range<usize>)> = Vec::new();
        for (op, value) in tests {
            let span = value.span();
            let field = format!("when.{attribute}.{op}");
            let test = match (op.as_str(), value.into_inner()) {
                ("equals", toml::Value::String(s)) => Test::Equals(s),
                ("one_of", toml::Value::Array(items)) => {
                    let items: Vec<String> = items
                        .into_iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect();
                    if items.is_empty() {
                        r.error(
                            span,
                            &field,
                            "an offer no one can ever get: one_of lists no strings",
                        );
                        continue;
                    }
                    Test::OneOf(items)
                }
                ("exists", toml::Value::Boolean(b)) => Test::Exists(b),
                ("before" | "after", toml::Value::Datetime(dt)) => match instant(&dt, false) {
                    Ok(t) if op == "before" => Test::Before(t),
                    Ok(t) => Test::After(t),
                    Err(why) => {
                        r.error(span, &field, why);
                        continue;
                    }
                },
                ("equals", _) => {
                    r.error(span, &field, "expected a string");
                    continue;
                }
                ("one_of", _) => {
                    r.error(span, &field, "expected a list of strings");
                    continue;
                }
                ("exists", _) => {
                    r.error(span, &field, "expected true or false");
                    continue;
                }
                ("before" | "after", _) => {
                    r.error(
                        span,
                        &field,
                        "expected a date such as 2020-01-01 (unquoted)",
                    );
                    continue;
                }
                (other, _) => {
                    r.error(
                        span,
                        &format!("when.{attribute}"),
                        format!(
                            "unknown condition operator `{other}` (expected one of {OPERATORS})"
                        ),
                    );
                    continue;
                }
            };
            parsed.push((test, span));
        }
        // Contradictions make an offer nobody can get.
        let absent = parsed.iter().any(|(t, _)| *t == Test::Exists(false));
        if absent && parsed.len() > 1 {
            r.error(
                table_span.clone(),
                &field,
                "an offer no one can ever get: exists = false contradicts the other conditions",
            );
        }
        let after = parsed
            .iter()
            .filter_map(|(t, _)| {
                if let Test::After(a) = t {
                    Some(*a)
                } else {
                    None
                }
            })
            .max();
        let before = parsed
            .iter()
            .filter_map(|(t, _)| {
                if let Test::Before(b) = t {
                    Some(*b)
                } else {
                    None
                }
            })
            .min();
        if let (Some(a), Some(b)) = (after, before)
            && b <= a + 86_400
        {
            r.error(
                table_span,
                &field,
                format!(
                    "an offer no one can ever get: no date is after {} and before {}",
                    date(a),
                    date(b)
                ),
            );
        }
        out.extend(parsed.into_iter().map(|(test, _)| Condition {
            attribute: attribute.clone(),
            test,
        }));
    }
    out
}

fn code(
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

fn discount(
    r: &mut Report<'_>,
    o: &RawOffer,
    offer_span: std::ops::Range<usize>,
) -> Option<Discount> {
    let min_order = o.min_order.as_ref().and_then(|m| money(r, m, "min_order"));
    let given = [
        o.percent.is_some(),
        o.amount.is_some(),
        o.free_shipping.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if given == 0 {
        r.error(
            offer_span,
            "percent",
            "no discount: give one of percent, amount or free_shipping",
        );
        return None;
    }
    if given > 1 {
        r.error(
            offer_span,
            "percent",
            "give only one of percent, amount or free_shipping",
        );
        return None;
    }
    if let Some(cap) = &o.cap
        && o.percent.is_none()
    {
        r.error(
            cap.span(),
            "cap",
            "a cap only applies to a percent discount",
        );
    }
    if let Some(p) = &o.percent {
        let percent = *p.get_ref();
        if !(1..=100).contains(&percent) {
            r.error(
                p.span(),
                "percent",
                format!("must be from 1 to 100, got {percent}"),
            );
            return None;
        }
        let cap = o.cap.as_ref().and_then(|c| money(r, c, "cap"));
        return Some(Discount::Percent {
            percent: percent as u8,
            cap,
            min_order,
        });
    }
    if let Some(a) = &o.amount {
        let amount = money(r, a, "amount")?;
        if amount.0 == 0 {
            r.error(a.span(), "amount", "must be more than 0");
            return None;
        }
        return Some(Discount::Amount { amount, min_order });
    }
    match &o.free_shipping {
        Some(f) if *f.get_ref() => Some(Discount::FreeShipping { min_order }),
        Some(f) => {
            r.error(
                f.span(),
                "free_shipping",
                "set free_shipping = true, or give percent or amount",
            );
            None
        }
        None => None,
    }
}

/// Validates one offer.
fn offer(
    r: &mut Report<'_>,
    o: RawOffer,
    offer_span: std::ops::Range<usize>,
    pools: &BTreeMap<String, Pool>,
) -> Option<Offer> {
    let errors_before = r.errors.len();
    let id = o.id.get_ref().clone();
    if !is_handle(&id) {
        r.error(
            o.id.span(),
            "id",
            format!("use lower-case letters, digits, '-' or '_', got {id:?}"),
        );
    }
    if o.title.get_ref().trim().is_empty() {
        r.error(o.title.span(), "title", "must not be empty");
    }
    if o.groups.get_ref().is_empty() {
        r.error(
            o.groups.span(),
            "groups",
            "an offer no one can ever get: no groups",
        );
    }
    let mut groups = Vec::new();
    for g in o.groups.get_ref() {
        let handle = g.get_ref();
        if !is_handle(handle) {
            r.error(
                g.span(),
                "groups",
                format!("an ID.me group handle such as \"military\", got {handle:?}"),
            );
        } else {
            if !KNOWN_GROUPS.contains(&handle.as_str()) {
                r.warn(g.span(), "groups", format!("{handle:?} is not a group handle ID.me documents; fine if your app has this custom policy"));
            }
            if !groups.contains(handle) {
                groups.push(handle.clone());
            }
        }
    }
    let mut subgroups = Vec::new();
    for s in &o.subgroups {
        if s.get_ref().trim().is_empty() {
            r.error(s.span(), "subgroups", "must not be empty");
        } else {
            subgroups.push(s.get_ref().trim().to_owned());
        }
    }
    let when = conditions(r, o.when.clone());
    let discount = discount(r, &o, offer_span.clone());
    let code = code(r, o.code.clone(), offer_span.clone(), pools);
    let starts = window(r, &o.starts, "starts", false);
    let ends = window(r, &o.ends, "ends", true);
    if let (Some(s), Some(e), Some(raw)) = (starts, ends, &o.ends)
        && e < s
    {
        r.error(
            raw.span(),
            "ends",
            format!("`ends` ({}) is before `starts` ({})", date(e), date(s)),
        );
    }
    if let (Some(e), Some(raw)) = (ends, &o.ends)
        && e < crate::db::now()
    {
        r.warn(
            raw.span(),
            "ends",
            format!("this offer ended on {}", date(e)),
        );
    }
    let limit = match &o.limit {
        Some(l) => {
            let l = l.get_ref();
            let (claims, days) = (*l.claims.get_ref(), *l.per_days.get_ref());
            if claims < 1 {
                r.error(
                    l.claims.span(),
                    "limit.claims",
                    format!("an offer no one can ever get: limit.claims is {claims}"),
                );
            } else if claims > 1000 {
                r.error(
                    l.claims.span(),
                    "limit.claims",
                    format!("must be from 1 to 1000, got {claims}"),
                );
            }
            if !(1..=3650).contains(&days) {
                r.error(
                    l.per_days.span(),
                    "limit.per_days",
                    format!("must be from 1 to 3650 days, got {days}"),
                );
            }
            Some(Limit {
                claims: claims.clamp(1, 1000) as u32,
                period_days: days.clamp(1, 3650) as u32,
            })
        }
        None => None,
    };
    let total_cap = match &o.total_cap {
        Some(c) if *c.get_ref() < 1 => {
            r.error(
                c.span(),
                "total_cap",
                format!("an offer no one can ever get: total_cap is {}", c.get_ref()),
            );
            None
        }
        Some(c) => Some(*c.get_ref() as u64),
        None => None,
    };
    if r.errors.len() > errors_before {
        return None;
    }
    Some(Offer {
        id,
        title: o.title.get_ref().trim().to_owned(),
        description: o.description.as_ref().map(|d| d.trim().to_owned()),
        groups,
        subgroups,
        when,
        discount: discount?,
        code: code?,
        starts,
        ends,
        limit,
        total_cap,
        priority: o.priority.as_ref().map_or(0, |p| *p.get_ref()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"
[[offers]]
id = "a"
title = "A"
groups = ["military"]
percent = 10
code = "X"
"#;

    /// The one message a file with this offer body produces.
    fn only_error(offer_body: &str) -> String {
        let text = format!(
            "[pools.p]\n\n[[offers]]\nid = \"a\"\ntitle = \"A\"\ngroups = [\"military\"]\n{offer_body}\n"
        );
        let errors = parse("r.toml", &text, None).map(|_| ()).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        errors[0].to_string()
    }

    #[test]
    fn a_minimal_offer_loads() {
        let loaded = parse("r.toml", OK, None).unwrap();
        assert_eq!(loaded.rules.offers[0].code, CodeSource::Static("X".into()));
        assert_eq!(loaded.rules.currency, "USD");
        assert!(loaded.warnings.is_empty());
    }

    #[test]
    fn each_validation_message() {
        assert_eq!(
            only_error("percent = 150\ncode = \"X\""),
            "r.toml:7:11: field `percent`: must be from 1 to 100, got 150"
        );
        assert_eq!(
            only_error("percent = 10\ncode = \"X\"\nstarts = 2026-02-01\nends = 2026-01-01"),
            "r.toml:10:8: field `ends`: `ends` (2026-01-01) is before `starts` (2026-02-01)"
        );
        assert_eq!(
            only_error("percent = 10\ncode = { pool = \"nope\" }"),
            "r.toml:8:8: field `code.pool`: unknown pool \"nope\" (declare it as [pools.nope])"
        );
        assert_eq!(
            only_error(
                "percent = 10\ncode = \"X\"\nwhen.alumni_school_name = { contains = \"State\" }"
            ),
            "r.toml:9:40: field `when.alumni_school_name`: unknown condition operator `contains` (expected one of equals, one_of, exists, before, after)"
        );
        assert_eq!(
            only_error("percent = 10\ncode = \"X\"\ntotal_cap = 0"),
            "r.toml:9:13: field `total_cap`: an offer no one can ever get: total_cap is 0"
        );
        assert_eq!(
            only_error("percent = 10\ncode = \"X\"\nlimit = { claims = 0, per_days = 30 }"),
            "r.toml:9:20: field `limit.claims`: an offer no one can ever get: limit.claims is 0"
        );
        assert_eq!(
            only_error(
                "percent = 10\ncode = \"X\"\nwhen.alumni_graduation_date = { after = 2020-01-01, before = 2019-01-01 }"
            ),
            "r.toml:9:31: field `when.alumni_graduation_date`: an offer no one can ever get: no date is after 2020-01-01 and before 2019-01-01"
        );
        assert_eq!(
            only_error(
                "percent = 10\ncode = \"X\"\nwhen.military_branch = { exists = false, equals = \"Navy\" }"
            ),
            "r.toml:9:24: field `when.military_branch`: an offer no one can ever get: exists = false contradicts the other conditions"
        );
        assert_eq!(
            only_error("code = \"X\""),
            "r.toml:3:1: field `percent`: no discount: give one of percent, amount or free_shipping"
        );
        assert_eq!(
            only_error("percent = 10\namount = \"5\"\ncode = \"X\""),
            "r.toml:3:1: field `percent`: give only one of percent, amount or free_shipping"
        );
        assert_eq!(
            only_error("percent = 10"),
            "r.toml:3:1: field `code`: missing: give code = \"TEXT\", { pool = \"name\" }, { prefix = \"ABC-\", length = 10 } or { none = true }"
        );
        assert_eq!(
            only_error("amount = \"-5\"\ncode = \"X\""),
            "r.toml:7:10: field `amount`: expected an amount such as \"100.00\" (not negative, at most two decimals)"
        );
        assert_eq!(
            only_error("percent = 10\ncode = { prefix = \"ab\" }"),
            "r.toml:8:8: field `code.prefix`: use at most 16 upper-case letters, digits, '-' or '_'"
        );
        assert_eq!(
            only_error("percent = 10\ncode = \"X\"\nends = 2026-12-31T10:00:00"),
            "r.toml:9:8: field `ends`: a date-time needs an offset (e.g. Z or -05:00) so it means one moment everywhere"
        );
    }

    #[test]
    fn duplicate_ids_name_the_first_line() {
        let errors = parse("r.toml", &format!("{OK}{OK}"), None).unwrap_err();
        assert_eq!(
            errors[0].to_string(),
            "r.toml:10:6: field `id`: duplicate offer id \"a\" (first used on line 3)"
        );
    }

    #[test]
    fn a_duplicate_is_reported_even_when_the_first_offer_is_invalid() {
        let text = format!("{}{OK}", OK.replace("percent = 10", "percent = 0"));
        let errors: Vec<String> = parse("r.toml", &text, None)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errors,
            [
                "r.toml:6:11: field `percent`: must be from 1 to 100, got 0",
                "r.toml:10:6: field `id`: duplicate offer id \"a\" (first used on line 3)",
            ]
        );
    }

    #[test]
    fn syntax_and_type_errors_name_line_and_field() {
        let e = parse(
            "r.toml",
            &OK.replace("percent = 10", "percent = \"ten\""),
            None,
        )
        .unwrap_err();
        assert_eq!(e.len(), 1);
        assert!(
            e[0].to_string()
                .starts_with("r.toml:6:11: field `percent`: invalid type"),
            "{}",
            e[0]
        );
        let e = parse("r.toml", &OK.replace("percent = 10", "percnt = 10"), None).unwrap_err();
        assert!(
            e[0].to_string()
                .starts_with("r.toml:6:1: unknown field `percnt`"),
            "{}",
            e[0]
        );
        let e = parse("r.toml", "[[offers]\n", None).unwrap_err();
        assert!(e[0].to_string().starts_with("r.toml:1:"), "{}", e[0]);
    }

    #[test]
    fn every_error_is_listed() {
        let text = format!(
            "{}{}",
            OK.replace("percent = 10", "percent = 0"),
            OK.replace("id = \"a\"", "id = \"b\"")
                .replace("code = \"X\"", "code = { pool = \"x\" }")
        );
        let errors = parse("r.toml", &text, None).unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
    }

    #[test]
    fn suspicious_input_warns() {
        let text = OK.replace("[\"military\"]", "[\"milltary\"]") + "\n[pools.unused]\n";
        let loaded = parse("r.toml", &text, None).unwrap();
        let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(
            warnings,
            [
                "r.toml:5:11: field `groups`: \"milltary\" is not a group handle ID.me documents; fine if your app has this custom policy",
                "r.toml: field `pools.unused`: no offer uses this pool",
            ]
        );
    }

    #[test]
    fn dates_mean_whole_days_in_utc_and_offsets_are_honoured() {
        let text = OK.replace(
            "code = \"X\"",
            "code = \"X\"\nstarts = 2026-01-01\nends = 2026-12-31T18:00:00-05:00",
        );
        let o = &parse("r.toml", &text, None).unwrap().rules.offers[0];
        assert_eq!(o.starts, Some(1_767_225_600));
        assert_eq!(o.ends, Some(1_798_758_000));
        let text = OK.replace("code = \"X\"", "code = \"X\"\nends = 2026-12-31");
        let o = &parse("r.toml", &text, None).unwrap().rules.offers[0];
        assert_eq!(o.ends, Some(1_798_761_599), "the last second of the day");
    }
}
