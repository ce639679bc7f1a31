//! The one explanation of who gets what: the offer that applies to some facts and, for every
//! other offer, why not. `perkgate rules eval` prints it (its `Display`); the console's preview
//! shows the same parts in a table.

use std::fmt;

use super::{CodeSource, Facts, Offer, Rules, date, describe_groups, evaluate};
use crate::idme::Payload;

/// The offer that applies, as a reader needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chosen {
    pub id: String,
    pub title: String,
    /// "20% off, up to $100.00".
    pub discount: String,
    /// "code SALUTE15", "a code from pool vets", "no code".
    pub code: String,
    pub priority: i64,
    /// Its value on the reference order, displayed.
    pub worth: String,
}

/// Another offer and why it is not the one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WhyNot {
    pub id: String,
    pub title: String,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explanation {
    pub at: i64,
    /// "military (Veteran)"; empty when none is verified.
    pub groups: String,
    pub chosen: Option<Chosen>,
    /// Eligible offers ranked lower first (in claim order), then the ineligible ones.
    pub others: Vec<WhyNot>,
}

/// What `rules eval` and the preview say for these facts at `at`.
pub fn explain(rules: &Rules, facts: &Facts, at: i64) -> Explanation {
    let evaluation = evaluate(rules, facts, at);
    let worth = |o: &Offer| o.discount.value(&rules.value).display(&rules.currency);
    let chosen = evaluation.eligible.first().map(|o| Chosen {
        id: o.id.clone(),
        title: o.title.clone(),
        discount: o.discount.describe(&rules.currency),
        code: code_source(&o.code),
        priority: o.priority,
        worth: worth(o),
    });
    let lower = evaluation.eligible.iter().skip(1).map(|o| WhyNot {
        id: o.id.clone(),
        title: o.title.clone(),
        reason: format!(
            "eligible, ranked lower (priority {}, worth {}); tried next if the one above cannot be claimed",
            o.priority,
            worth(o)
        ),
    });
    let ineligible = evaluation.ineligible.iter().map(|(o, why)| WhyNot {
        id: o.id.clone(),
        title: o.title.clone(),
        reason: why.to_string(),
    });
    Explanation {
        at,
        groups: describe_groups(&facts.groups),
        chosen,
        others: lower.chain(ineligible).collect(),
    }
}

/// Where an offer's code comes from, in words.
pub fn code_source(code: &CodeSource) -> String {
    match code {
        CodeSource::Static(c) => format!("code {c}"),
        CodeSource::Pool(p) => format!("a code from pool {p}"),
        CodeSource::Generated { prefix, length } => format!("a generated code {prefix}+{length}"),
        CodeSource::None => "no code".to_owned(),
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let groups = if self.groups.is_empty() {
            "none"
        } else {
            &self.groups
        };
        writeln!(f, "at {}: verified groups: {groups}", date(self.at))?;
        match &self.chosen {
            Some(c) => writeln!(
                f,
                "applies: {} \"{}\": {}, {} (priority {}, worth {} on the reference order)",
                c.id, c.title, c.discount, c.code, c.priority, c.worth
            )?,
            None => writeln!(f, "applies: nothing")?,
        }
        for o in &self.others {
            writeln!(f, "  {}: {}", o.id, o.reason)?;
        }
        writeln!(
            f,
            "(pool codes, per-person limits and total caps are checked when the offer is claimed)"
        )
    }
}

/// "2026-12-31" (that day's start, UTC) or an RFC 3339 moment, as unix seconds.
pub fn parse_time(s: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    let s = s.trim();
    if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t.unix_timestamp());
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, &format)
        .ok()
        .map(|d| d.midnight().assume_utc().unix_timestamp())
}

/// Why an attributes object could not be read. The text never quotes the input (it may carry
/// a name or an email).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttributesError {
    /// A signed or encrypted payload: it cannot be checked here (no JWKS, no key).
    Jwt,
    Payload(crate::idme::PayloadError),
}

impl fmt::Display for AttributesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Jwt => f.write_str(
                "the attributes payload is a JWT (signed or encrypted): give the plain JSON attributes object",
            ),
            Self::Payload(e) => e.fmt(f),
        }
    }
}

/// The facts in a plain JSON attributes object, as `rules eval` and the preview read it.
pub fn facts_from_json(body: &[u8]) -> Result<Facts, AttributesError> {
    // Say "JWT" rather than call a signed or encrypted payload malformed JSON.
    let trimmed = body.trim_ascii();
    let unquoted = trimmed.strip_prefix(b"\"").unwrap_or(trimmed);
    if unquoted.starts_with(b"eyJ") {
        return Err(AttributesError::Jwt);
    }
    Payload::parse(body)
        .map(|p| Facts::from_payload(&p))
        .map_err(AttributesError::Payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{VerifiedGroup, parse};

    const RULES: &str = r#"
[[offers]]
id = "veterans"
title = "Veterans 20%"
groups = ["military"]
subgroups = ["Veteran"]
percent = 20
code = "VET20"
priority = 10

[[offers]]
id = "military"
title = "Military 15%"
groups = ["military"]
percent = 15
code = { none = true }

[[offers]]
id = "students"
title = "Students 10%"
groups = ["student"]
percent = 10
code = "STUDY10"
"#;

    const AT: i64 = 1_790_000_000; // 2026-09-21

    fn facts(group: &str, subgroups: &[&str]) -> Facts {
        Facts {
            groups: vec![VerifiedGroup {
                group: group.into(),
                subgroups: subgroups.iter().map(|s| s.to_string()).collect(),
            }],
            attributes: Default::default(),
        }
    }

    #[test]
    fn the_chosen_offer_and_why_not_the_others() {
        let rules = parse("r.toml", RULES, None).unwrap().rules;
        let e = explain(&rules, &facts("military", &["Veteran"]), AT);
        let c = e.chosen.as_ref().unwrap();
        assert_eq!(
            (c.id.as_str(), c.discount.as_str(), c.code.as_str()),
            ("veterans", "20% off", "code VET20")
        );
        let reasons: Vec<(&str, &str)> = e
            .others
            .iter()
            .map(|o| (o.id.as_str(), o.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            [
                (
                    "military",
                    "eligible, ranked lower (priority 0, worth $15.00); tried next if the one above cannot be claimed"
                ),
                ("students", "not for the shopper's verified groups"),
            ]
        );
        assert_eq!(
            e.to_string(),
            "at 2026-09-21: verified groups: military (Veteran)\n\
             applies: veterans \"Veterans 20%\": 20% off, code VET20 (priority 10, worth $20.00 on the reference order)\n  \
             military: eligible, ranked lower (priority 0, worth $15.00); tried next if the one above cannot be claimed\n  \
             students: not for the shopper's verified groups\n\
             (pool codes, per-person limits and total caps are checked when the offer is claimed)\n"
        );
    }

    #[test]
    fn nothing_applies_without_a_group() {
        let rules = parse("r.toml", RULES, None).unwrap().rules;
        let e = explain(&rules, &Facts::default(), AT);
        assert_eq!(e.chosen, None);
        assert_eq!(e.others.len(), 3);
        assert!(
            e.to_string()
                .starts_with("at 2026-09-21: verified groups: none\napplies: nothing\n")
        );
    }

    #[test]
    fn times_and_attributes_parse_or_say_why_not() {
        assert_eq!(parse_time("2026-09-21"), Some(1_789_948_800));
        assert_eq!(parse_time(" 2026-09-21T00:00:00Z "), Some(1_789_948_800));
        assert_eq!(parse_time("2026-09-21T02:00:00+02:00"), Some(1_789_948_800));
        assert_eq!(parse_time("21/09/2026"), None);
        let f = facts_from_json(
            br#"{"attributes":[{"handle":"uuid","value":"u1"}],"status":[{"group":"student","subgroups":["Student"],"verified":true}]}"#,
        )
        .unwrap();
        assert_eq!(f.groups, facts("student", &["Student"]).groups);
        let err = facts_from_json(br#"{"attributes": [secret@example.com"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 1") && !err.contains("secret"), "{err}");
        assert_eq!(
            facts_from_json(b"\"eyJhbGciOi.x.y\""),
            Err(AttributesError::Jwt)
        );
    }
}
