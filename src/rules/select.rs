//! Which offers a verified shopper is eligible for, in which order, and why the others are not.
//!
//! Deterministic: eligible offers are ordered by priority (highest first), then by value on
//! the reference order (greatest first), then by id. Limits, caps and pools are the ledger's
//! business: the flow tries the eligible offers in this order until one can be claimed.

use std::collections::BTreeMap;
use std::fmt;

use super::{Offer, Rules, Test, VerifiedGroup, date};
use crate::idme::Payload;

/// What we know about the shopper at the moment of selection. Attributes are used here and
/// dropped: only group handles and subgroup names are kept in the session.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    pub groups: Vec<VerifiedGroup>,
    pub attributes: BTreeMap<String, Vec<String>>,
}

impl Facts {
    pub fn from_payload(payload: &Payload) -> Self {
        Self {
            groups: payload
                .verified_groups()
                .map(|s| VerifiedGroup {
                    group: s.group.clone(),
                    subgroups: s.subgroups.clone(),
                })
                .collect(),
            attributes: payload.attribute_values(),
        }
    }
}

/// Why an offer does not apply, before any code or limit is looked at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ineligible {
    /// None of the shopper's verified groups is one of the offer's groups.
    NotForGroup,
    /// The group matches but no subgroup does.
    Subgroup,
    /// A `when` condition does not hold (the text says which and why).
    Condition(String),
    NotStarted(i64),
    Ended(i64),
}

impl fmt::Display for Ineligible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotForGroup => f.write_str("not for the shopper's verified groups"),
            Self::Subgroup => f.write_str("the shopper's subgroups are not among the offer's"),
            Self::Condition(why) => write!(f, "condition not met: {why}"),
            Self::NotStarted(t) => write!(f, "not started yet (starts {})", date(*t)),
            Self::Ended(t) => write!(f, "ended on {}", date(*t)),
        }
    }
}

/// Every offer, sorted into eligible (in claim order) and not, with reasons.
#[derive(Debug)]
pub struct Evaluation<'r> {
    pub eligible: Vec<&'r Offer>,
    pub ineligible: Vec<(&'r Offer, Ineligible)>,
}

pub fn evaluate<'r>(rules: &'r Rules, facts: &Facts, at: i64) -> Evaluation<'r> {
    let mut eligible = Vec::new();
    let mut ineligible = Vec::new();
    for offer in &rules.offers {
        match check(offer, facts, at) {
            Ok(()) => eligible.push(offer),
            Err(why) => ineligible.push((offer, why)),
        }
    }
    eligible.sort_by(|a, b| {
        b.priority
            .cmp(&a.priority)
            .then_with(|| {
                b.discount
                    .value(&rules.value)
                    .cmp(&a.discount.value(&rules.value))
            })
            .then_with(|| a.id.cmp(&b.id))
    });
    Evaluation {
        eligible,
        ineligible,
    }
}

/// The offer that applies, before ledger checks: the first eligible one.
pub fn select_offer<'r>(rules: &'r Rules, facts: &Facts, at: i64) -> Option<&'r Offer> {
    evaluate(rules, facts, at).eligible.first().copied()
}

fn check(offer: &Offer, facts: &Facts, at: i64) -> Result<(), Ineligible> {
    let matching: Vec<&VerifiedGroup> = facts
        .groups
        .iter()
        .filter(|g| offer.groups.contains(&g.group))
        .collect();
    if matching.is_empty() {
        return Err(Ineligible::NotForGroup);
    }
    if !offer.subgroups.is_empty()
        && !matching.iter().any(|g| {
            g.subgroups
                .iter()
                .any(|s| offer.subgroups.iter().any(|w| w.eq_ignore_ascii_case(s)))
        })
    {
        return Err(Ineligible::Subgroup);
    }
    if let Some(starts) = offer.starts.filter(|s| at < *s) {
        return Err(Ineligible::NotStarted(starts));
    }
    if let Some(ends) = offer.ends.filter(|e| at > *e) {
        return Err(Ineligible::Ended(ends));
    }
    for condition in &offer.when {
        let values = facts
            .attributes
            .get(&condition.attribute)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let holds = match &condition.test {
            Test::Exists(want) => values.is_empty() != *want,
            Test::Equals(v) => values.iter().any(|x| x.eq_ignore_ascii_case(v)),
            Test::OneOf(vs) => values
                .iter()
                .any(|x| vs.iter().any(|v| x.eq_ignore_ascii_case(v))),
            Test::Before(t) => values.iter().filter_map(|x| parse_date(x)).any(|d| d < *t),
            Test::After(t) => values.iter().filter_map(|x| parse_date(x)).any(|d| d > *t),
        };
        if !holds {
            let why = if values.is_empty() && !matches!(condition.test, Test::Exists(false)) {
                format!("{condition} (the attribute is absent)")
            } else {
                condition.to_string()
            };
            return Err(Ineligible::Condition(why));
        }
    }
    Ok(())
}

/// An attribute date: "2019-05-20", "2019-05-20T...", or "05/20/2019" (ID.me's format is
/// not documented; both have been seen in the wild).
fn parse_date(s: &str) -> Option<i64> {
    let s = s.trim();
    let (y, m, d) = if s.len() >= 10 && s.as_bytes()[4] == b'-' {
        (s.get(0..4)?, s.get(5..7)?, s.get(8..10)?)
    } else if s.len() == 10 && s.as_bytes()[2] == b'/' {
        (s.get(6..10)?, s.get(0..2)?, s.get(3..5)?)
    } else {
        return None;
    };
    let month = time::Month::try_from(m.parse::<u8>().ok()?).ok()?;
    let date = time::Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()?;
    Some(date.midnight().assume_utc().unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::parse;

    const RULES: &str = r#"
[pools.vets]

[[offers]]
id = "veterans"
title = "Veterans 20%"
groups = ["military"]
subgroups = ["Veteran", "Retiree"]
percent = 20
cap = "100.00"
code = { pool = "vets" }
priority = 10

[[offers]]
id = "military"
title = "Military 15%"
groups = ["military"]
percent = 15
code = "SALUTE15"

[[offers]]
id = "military-ship"
title = "Military free shipping"
groups = ["military"]
free_shipping = true
code = { none = true }

[[offers]]
id = "students"
title = "Students 10%"
groups = ["student"]
percent = 10
code = "STUDY10"
starts = 2026-01-01

[[offers]]
id = "alumni"
title = "Alumni free shipping"
groups = ["alumni"]
free_shipping = true
code = { none = true }
when.alumni_school_name = { equals = "State University" }
when.alumni_graduation_date = { after = 2000-01-01 }
ends = 2030-12-31
"#;

    fn rules() -> Rules {
        parse("r.toml", RULES, None).unwrap().rules
    }

    fn facts(group: &str, subgroups: &[&str], attrs: &[(&str, &str)]) -> Facts {
        Facts {
            groups: vec![VerifiedGroup {
                group: group.into(),
                subgroups: subgroups.iter().map(|s| s.to_string()).collect(),
            }],
            attributes: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), vec![v.to_string()]))
                .collect(),
        }
    }

    const NOW: i64 = 1_790_000_000; // 2026-09-21

    fn ids(e: &Evaluation<'_>) -> Vec<String> {
        e.eligible.iter().map(|o| o.id.clone()).collect()
    }

    #[test]
    fn priority_then_value_then_id() {
        let r = rules();
        let e = evaluate(&r, &facts("military", &["veteran"], &[]), NOW);
        assert_eq!(ids(&e), ["veterans", "military", "military-ship"]);
        let e = evaluate(&r, &facts("military", &["Service Member"], &[]), NOW);
        assert_eq!(ids(&e), ["military", "military-ship"]);
        let (o, why) = &e.ineligible[0];
        assert_eq!((o.id.as_str(), why), ("veterans", &Ineligible::Subgroup));
    }

    #[test]
    fn windows_and_conditions_explain_themselves() {
        let r = rules();
        let e = evaluate(&r, &facts("student", &[], &[]), 1_760_000_000);
        assert!(e.eligible.is_empty());
        assert_eq!(
            e.ineligible
                .iter()
                .find(|(o, _)| o.id == "students")
                .unwrap()
                .1
                .to_string(),
            "not started yet (starts 2026-01-01)"
        );
        let e = evaluate(
            &r,
            &facts("alumni", &[], &[("alumni_school_name", "state university")]),
            NOW,
        );
        assert_eq!(
            e.ineligible
                .iter()
                .find(|(o, _)| o.id == "alumni")
                .unwrap()
                .1
                .to_string(),
            "condition not met: alumni_graduation_date is after 2000-01-01 (the attribute is absent)"
        );
        let e = evaluate(
            &r,
            &facts(
                "alumni",
                &[],
                &[
                    ("alumni_school_name", "State University"),
                    ("alumni_graduation_date", "05/20/2010"),
                ],
            ),
            NOW,
        );
        assert_eq!(ids(&e), ["alumni"]);
        let e = evaluate(
            &r,
            &facts(
                "alumni",
                &[],
                &[
                    ("alumni_school_name", "State University"),
                    ("alumni_graduation_date", "2010-05-20"),
                ],
            ),
            1_930_000_000,
        );
        assert_eq!(
            e.ineligible
                .iter()
                .find(|(o, _)| o.id == "alumni")
                .unwrap()
                .1
                .to_string(),
            "ended on 2030-12-31"
        );
    }

    #[test]
    fn dates_in_both_formats() {
        assert_eq!(parse_date("2010-05-20"), parse_date("05/20/2010"));
        assert_eq!(parse_date("2010-05-20T10:00:00Z"), parse_date("2010-05-20"));
        assert_eq!(parse_date("20 May 2010"), None);
        assert_eq!(parse_date("2010-13-01"), None);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        const GROUPS: &[&str] = &["military", "student", "alumni", "teacher"];
        const SUBGROUPS: &[&str] = &["Veteran", "Retiree", "Service Member", "Student"];

        fn arb_facts() -> impl Strategy<Value = Facts> {
            (
                proptest::sample::subsequence(GROUPS, 0..=3),
                proptest::sample::subsequence(SUBGROUPS, 0..=2),
                proptest::option::of(prop_oneof!["State University", "Other College"]),
                proptest::option::of(1990i32..2030),
            )
                .prop_map(|(groups, subgroups, school, year)| {
                    let mut attributes = BTreeMap::new();
                    if let Some(s) = school {
                        attributes.insert("alumni_school_name".to_owned(), vec![s.to_owned()]);
                    }
                    if let Some(y) = year {
                        attributes.insert(
                            "alumni_graduation_date".to_owned(),
                            vec![format!("{y}-06-01")],
                        );
                    }
                    Facts {
                        groups: groups
                            .iter()
                            .map(|g| VerifiedGroup {
                                group: g.to_string(),
                                subgroups: subgroups.iter().map(|s| s.to_string()).collect(),
                            })
                            .collect(),
                        attributes,
                    }
                })
        }

        proptest! {
            #[test]
            fn never_picks_an_ineligible_offer(f in arb_facts(), at in 1_700_000_000i64..2_000_000_000) {
                let r = rules();
                let e = evaluate(&r, &f, at);
                for o in &e.eligible {
                    // Eligible means: a verified group of the offer, a matching subgroup when
                    // required, inside the window, every condition true.
                    prop_assert!(check(o, &f, at).is_ok());
                    prop_assert!(f.groups.iter().any(|g| o.groups.contains(&g.group)));
                    prop_assert!(o.active_at(at));
                }
                for (o, _) in &e.ineligible {
                    prop_assert!(check(o, &f, at).is_err());
                }
                prop_assert_eq!(e.eligible.len() + e.ineligible.len(), r.offers.len());
            }

            #[test]
            fn same_input_same_result(f in arb_facts(), at in 1_700_000_000i64..2_000_000_000) {
                let r = rules();
                let mut shuffled = r.clone();
                shuffled.offers.reverse();
                let a = ids(&evaluate(&r, &f, at));
                prop_assert_eq!(&a, &ids(&evaluate(&r, &f, at)));
                // File order does not matter either: the order is priority, value, id.
                prop_assert_eq!(&a, &ids(&evaluate(&shuffled, &f, at)));
            }
        }
    }
}
