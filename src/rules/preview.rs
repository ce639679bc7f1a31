//! Before publishing: who gets what under a draft, next to what they get from the live rules.
//! Pure: the console gives it the subjects (the sandbox personas, pasted attributes).

use super::explain::{Chosen, Explanation, explain};
use super::{Facts, Rules};

/// Someone to preview: a label and what the rules would see of them.
pub struct Subject {
    pub name: String,
    pub facts: Facts,
}

/// One row of the preview table.
pub struct Row {
    pub name: String,
    /// Under the draft: the chosen offer and why not the others.
    pub draft: Explanation,
    /// The offer the live rules give, in words ("nothing" when none; `None` without live rules).
    pub live: Option<String>,
    pub changed: bool,
}

/// "Military: 15% off — 15% off, code SALUTE15", or "nothing".
pub fn label(chosen: Option<&Chosen>) -> String {
    match chosen {
        Some(c) => format!("{} — {}, {}", c.title, c.discount, c.code),
        None => "nothing".to_owned(),
    }
}

pub fn preview(draft: &Rules, live: Option<&Rules>, subjects: &[Subject], at: i64) -> Vec<Row> {
    subjects
        .iter()
        .map(|s| {
            let d = explain(draft, &s.facts, at);
            let l = live.map(|live| explain(live, &s.facts, at));
            // Changed means the shopper would see something else: another offer, or the same
            // offer with another title, discount or code.
            let changed = match &l {
                Some(l) => l.chosen != d.chosen,
                None => d.chosen.is_some(),
            };
            Row {
                name: s.name.clone(),
                live: l.as_ref().map(|l| label(l.chosen.as_ref())),
                draft: d,
                changed,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{VerifiedGroup, parse};

    const LIVE: &str = r#"
[[offers]]
id = "military"
title = "Military"
groups = ["military"]
percent = 15
code = "SALUTE"

[[offers]]
id = "students"
title = "Students"
groups = ["student"]
percent = 10
code = "STUDY"
"#;

    fn subject(group: &str) -> Subject {
        Subject {
            name: group.to_owned(),
            facts: Facts {
                groups: vec![VerifiedGroup {
                    group: group.to_owned(),
                    subgroups: vec![],
                }],
                attributes: Default::default(),
            },
        }
    }

    #[test]
    fn marks_what_changes_against_the_live_rules() {
        let live = parse("l.toml", LIVE, None).unwrap().rules;
        let draft = parse(
            "d.toml",
            &LIVE.replace("percent = 15", "percent = 25"),
            None,
        )
        .unwrap()
        .rules;
        let rows = preview(
            &draft,
            Some(&live),
            &[subject("military"), subject("student"), subject("nurse")],
            1_790_000_000,
        );
        let seen: Vec<(&str, Option<&str>, String, bool)> = rows
            .iter()
            .map(|r| {
                (
                    r.name.as_str(),
                    r.live.as_deref(),
                    label(r.draft.chosen.as_ref()),
                    r.changed,
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                (
                    "military",
                    Some("Military — 15% off, code SALUTE"),
                    "Military — 25% off, code SALUTE".to_owned(),
                    true
                ),
                (
                    "student",
                    Some("Students — 10% off, code STUDY"),
                    "Students — 10% off, code STUDY".to_owned(),
                    false
                ),
                ("nurse", Some("nothing"), "nothing".to_owned(), false),
            ]
        );
        let rows = preview(&draft, None, &[subject("military")], 1_790_000_000);
        assert!(rows[0].changed && rows[0].live.is_none());
    }
}
