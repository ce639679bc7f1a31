//! The `when` conditions of an offer, and the contradictions that make an offer nobody can get.

use std::collections::BTreeMap;

use toml::Spanned;

use super::Report;
use super::dates::instant;
use crate::rules::{Condition, Test, date};

const OPERATORS: &str = "equals, one_of, exists, before, after";

pub(super) fn conditions(
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
