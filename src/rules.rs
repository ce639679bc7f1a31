//! The merchant's offers and which one a verified shopper gets.
//!
//! First version: one offer per group with a percentage and a static code. The interface
//! (`Offers::parse`, `select_offer`) is what the rest of the service uses.

use std::path::Path;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::config::line_col;

/// The example rules, compiled in so `cargo run` works from anywhere.
pub const EXAMPLE_RULES: &str = include_str!("../config/rules.toml");

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offer {
    pub id: String,
    /// The ID.me group handle, also the scope requested for this offer.
    pub group: String,
    pub title: String,
    pub description: Option<String>,
    pub percent: u8,
    pub code: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Offers {
    offers: Vec<Offer>,
}

/// A verified group as the session keeps it: the handle and subgroup names, nothing personal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedGroup {
    pub group: String,
    pub subgroups: Vec<String>,
}

/// What a successful verification leaves behind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    pub groups: Vec<VerifiedGroup>,
    /// Unix seconds.
    pub verified_at: i64,
    /// Keyed hash of ID.me's uuid: stable per person, useless to anyone without our key.
    pub person_key: String,
}

/// The discount a shopper unlocked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Benefit {
    pub offer_id: String,
    pub group: String,
    pub title: String,
    pub percent: u8,
    pub code: String,
}

/// The first offer, in file order, for a group the shopper is verified in.
pub fn select_offer(offers: &Offers, verification: &Verification) -> Option<Benefit> {
    offers
        .offers
        .iter()
        .find(|o| verification.groups.iter().any(|g| g.group == o.group))
        .map(|o| Benefit {
            offer_id: o.id.clone(),
            group: o.group.clone(),
            title: o.title.clone(),
            percent: o.percent,
            code: o.code.clone(),
        })
}

impl Offers {
    pub fn iter(&self) -> impl Iterator<Item = &Offer> {
        self.offers.iter()
    }

    /// Distinct groups in file order: one verify button and one scope each.
    pub fn groups(&self) -> Vec<&str> {
        let mut groups: Vec<&str> = Vec::new();
        for o in &self.offers {
            if !groups.contains(&o.group.as_str()) {
                groups.push(&o.group);
            }
        }
        groups
    }

    pub fn has_group(&self, group: &str) -> bool {
        self.offers.iter().any(|o| o.group == group)
    }

    /// Reads the rules file; the default path falls back to the compiled-in example.
    pub fn load(path: &Path, explicit: bool) -> Result<Self, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&path.display().to_string(), &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
                Self::parse("(built-in example rules)", EXAMPLE_RULES)
            }
            Err(e) => Err(format!("{}: cannot read rules: {e}", path.display())),
        }
    }

    /// Parses and validates; every error names file, line, column and field.
    pub fn parse(name: &str, text: &str) -> Result<Self, String> {
        let at = |span: std::ops::Range<usize>| {
            let (line, col) = line_col(text, span.start);
            format!("{name}:{line}:{col}")
        };
        let file: RawFile = toml::from_str(text).map_err(|e| match e.span() {
            Some(span) => format!("{}: {}", at(span), e.message().trim()),
            None => format!("{name}: {}", e.message().trim()),
        })?;
        let mut offers: Vec<Offer> = Vec::new();
        for raw in file.offers {
            let id = raw.id.get_ref();
            if !is_handle(id) {
                return Err(format!(
                    "{}: field `id`: use lower-case letters, digits, '-' or '_', got {id:?}",
                    at(raw.id.span())
                ));
            }
            if offers.iter().any(|o| &o.id == id) {
                return Err(format!(
                    "{}: field `id`: duplicate offer id {id:?}",
                    at(raw.id.span())
                ));
            }
            let group = raw.group.get_ref();
            if !is_handle(group) {
                return Err(format!(
                    "{}: field `group`: an ID.me group handle such as \"military\", got {group:?}",
                    at(raw.group.span())
                ));
            }
            let percent = *raw.percent.get_ref();
            if !(1..=100).contains(&percent) {
                return Err(format!(
                    "{}: field `percent`: must be from 1 to 100, got {percent}",
                    at(raw.percent.span())
                ));
            }
            for (field, value) in [("title", &raw.title), ("code", &raw.code)] {
                if value.get_ref().trim().is_empty() {
                    return Err(format!(
                        "{}: field `{field}`: must not be empty",
                        at(value.span())
                    ));
                }
            }
            offers.push(Offer {
                id: id.clone(),
                group: group.clone(),
                title: raw.title.into_inner().trim().to_owned(),
                description: raw.description.map(|d| d.trim().to_owned()),
                percent: percent as u8,
                code: raw.code.into_inner().trim().to_owned(),
            });
        }
        if offers.is_empty() {
            return Err(format!(
                "{name}: no [[offers]]: the storefront would offer nothing"
            ));
        }
        Ok(Self { offers })
    }
}

/// Handles go into URLs and scopes: keep them to a safe alphabet.
fn is_handle(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    offers: Vec<RawOffer>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOffer {
    id: Spanned<String>,
    group: Spanned<String>,
    title: Spanned<String>,
    #[serde(default)]
    description: Option<String>,
    percent: Spanned<i64>,
    code: Spanned<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verified(groups: &[&str]) -> Verification {
        Verification {
            groups: groups
                .iter()
                .map(|g| VerifiedGroup {
                    group: (*g).to_owned(),
                    subgroups: vec![],
                })
                .collect(),
            verified_at: 0,
            person_key: "k".into(),
        }
    }

    #[test]
    fn example_rules_cover_the_five_groups() {
        let offers = Offers::parse("rules.toml", EXAMPLE_RULES).unwrap();
        assert_eq!(
            offers.groups(),
            ["military", "student", "teacher", "responder", "nurse"]
        );
        let b = select_offer(&offers, &verified(&["military"])).unwrap();
        assert_eq!((b.percent, b.offer_id.as_str()), (15, "military"));
        assert_eq!(
            select_offer(&offers, &verified(&["student"]))
                .unwrap()
                .percent,
            10
        );
    }

    #[test]
    fn no_offer_for_other_or_no_groups() {
        let offers = Offers::parse("rules.toml", EXAMPLE_RULES).unwrap();
        assert_eq!(select_offer(&offers, &verified(&["alumni"])), None);
        assert_eq!(select_offer(&offers, &verified(&[])), None);
    }

    #[test]
    fn file_order_decides_between_two_verified_groups() {
        let offers = Offers::parse("rules.toml", EXAMPLE_RULES).unwrap();
        let b = select_offer(&offers, &verified(&["nurse", "military"])).unwrap();
        assert_eq!(b.group, "military");
    }

    #[test]
    fn errors_point_at_the_line_and_field() {
        let text = "[[offers]]\nid = \"a\"\ngroup = \"military\"\ntitle = \"A\"\npercent = 150\ncode = \"X\"\n";
        assert_eq!(
            Offers::parse("r.toml", text).unwrap_err(),
            "r.toml:5:11: field `percent`: must be from 1 to 100, got 150"
        );
        let dup = format!("{text}{text}").replace("150", "10");
        assert_eq!(
            Offers::parse("r.toml", &dup).unwrap_err(),
            "r.toml:8:6: field `id`: duplicate offer id \"a\""
        );
        let unknown = text.replace("percent = 150", "percnt = 15");
        assert!(
            Offers::parse("r.toml", &unknown)
                .unwrap_err()
                .starts_with("r.toml:5:1: unknown field `percnt`"),
        );
        assert_eq!(
            Offers::parse("r.toml", "").unwrap_err(),
            "r.toml: no [[offers]]: the storefront would offer nothing"
        );
    }
}
