//! The merchant's offers: the model, loading and validation (`load`), and which offer a
//! verified shopper gets (`select`).
//!
//! Everything here is plain data and pure functions; the ledger that hands out codes and
//! enforces limits lives in `rewards`.

mod communities;
pub mod diff;
pub mod edit;
pub mod explain;
pub mod live;
mod load;
pub mod preview;
mod select;
pub mod versions;
pub mod watch;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::i18n::{self, Locale, Msg};

pub use communities::{SUBGROUPS, community_name, community_name_in};
pub use load::{LoadError, Loaded, parse};
pub use select::{Evaluation, Facts, Ineligible, evaluate, select_offer};

/// The example rules, compiled in so `cargo run` works from any directory.
pub const EXAMPLE_RULES: &str = include_str!("../../config/rules.toml");

/// ID.me's documented group handles. Others are legal (apps can have custom policies) but
/// draw a warning, since a typo would make an offer nobody can get.
pub const KNOWN_GROUPS: &[&str] = &[
    "military",
    "responder",
    "student",
    "teacher",
    "government",
    "employee",
    "hospital_employee",
    "alumni",
    "nurse",
    "medical",
    "military_canada",
    "responder_canada",
    "student_canada",
    "teacher_canada",
];

/// An amount in minor units (cents).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Money(pub i64);

impl Money {
    /// Parses "100", "100.5" or "100.00" (at most two decimals, not negative).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
        if whole.is_empty()
            || frac.len() > 2
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
            || whole.len() > 12
        {
            return None;
        }
        let whole: i64 = whole.parse().ok()?;
        let frac: i64 = format!("{frac:0<2}").parse().ok()?;
        Some(Self(whole * 100 + frac))
    }

    pub fn display(self, currency: &str) -> String {
        let amount = format!("{}.{:02}", self.0 / 100, self.0 % 100);
        match currency {
            "USD" | "CAD" | "AUD" | "NZD" => format!("${amount}"),
            "EUR" => format!("€{amount}"),
            "GBP" => format!("£{amount}"),
            other => format!("{amount} {other}"),
        }
    }
}

/// What the shopper gets off.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Discount {
    Percent {
        percent: u8,
        cap: Option<Money>,
        min_order: Option<Money>,
    },
    Amount {
        amount: Money,
        min_order: Option<Money>,
    },
    FreeShipping {
        min_order: Option<Money>,
    },
}

impl Discount {
    /// "20% off, up to $100.00, on orders of $50.00 or more" (the console's words).
    pub fn describe(&self, currency: &str) -> String {
        self.describe_in(currency, Locale::En)
    }

    /// The discount in the shopper's language: "20 % de rabais, jusqu'à concurrence de 100,00 $".
    pub fn describe_in(&self, currency: &str, locale: Locale) -> String {
        let cat = i18n::catalog(locale);
        let amount = |m: &Money| i18n::money(*m, currency, locale);
        let (head, min_order) = match self {
            Self::Percent {
                percent,
                cap,
                min_order,
            } => (
                match cap {
                    Some(cap) => cat.say(
                        Msg::DiscountPercentCap,
                        &[("percent", (*percent).into()), ("cap", amount(cap).into())],
                    ),
                    None => cat.say(Msg::DiscountPercent, &[("percent", (*percent).into())]),
                },
                min_order,
            ),
            Self::Amount {
                amount: a,
                min_order,
            } => (
                cat.say(Msg::DiscountAmount, &[("amount", amount(a).into())]),
                min_order,
            ),
            Self::FreeShipping { min_order } => {
                (cat.text(Msg::DiscountFreeShipping).into_owned(), min_order)
            }
        };
        match min_order {
            Some(m) => cat.say(
                Msg::DiscountMinOrder,
                &[("head", head.into()), ("min", amount(m).into())],
            ),
            None => head,
        }
    }

    /// What this discount is worth on the reference order, for "greatest value" ordering.
    pub fn value(&self, basis: &ValueBasis) -> Money {
        match self {
            Self::Percent { percent, cap, .. } => {
                let v = Money(basis.reference_order.0 * i64::from(*percent) / 100);
                cap.map_or(v, |c| v.min(c))
            }
            Self::Amount { amount, .. } => (*amount).min(basis.reference_order),
            Self::FreeShipping { .. } => basis.free_shipping,
        }
    }
}

/// How discounts of different kinds compare: their value on a reference order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueBasis {
    pub reference_order: Money,
    pub free_shipping: Money,
}

impl Default for ValueBasis {
    fn default() -> Self {
        Self {
            reference_order: Money(10_000),
            free_shipping: Money(800),
        }
    }
}

/// Where an offer's code comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodeSource {
    /// One code shared by everyone.
    Static(String),
    /// Single-use codes from a named pool, each handed out once.
    Pool(String),
    /// A fresh unique code per claim: the prefix plus random characters.
    Generated { prefix: String, length: u8 },
    /// Status only: the merchant applies the discount from the API, no code.
    None,
}

/// At most `claims` claims per person in any `period_days` days.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    pub claims: u32,
    pub period_days: u32,
}

impl Limit {
    pub fn period_secs(&self) -> i64 {
        i64::from(self.period_days) * 86_400
    }
}

/// A test on one attribute of ID.me's payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Test {
    /// Case-insensitive equality with any of the attribute's values.
    Equals(String),
    OneOf(Vec<String>),
    /// `exists = true`: the attribute has a value; `false`: it has none.
    Exists(bool),
    /// The attribute is a date (YYYY-MM-DD...) strictly before / after this one (unix seconds).
    Before(i64),
    After(i64),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    pub attribute: String,
    pub test: Test,
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = &self.attribute;
        match &self.test {
            Test::Equals(v) => write!(f, "{a} equals {v:?}"),
            Test::OneOf(vs) => write!(f, "{a} is one of {vs:?}"),
            Test::Exists(true) => write!(f, "{a} is present"),
            Test::Exists(false) => write!(f, "{a} is absent"),
            Test::Before(t) => write!(f, "{a} is before {}", date(*t)),
            Test::After(t) => write!(f, "{a} is after {}", date(*t)),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offer {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    /// Any of these ID.me group handles; each is also a scope the storefront may request.
    pub groups: Vec<String>,
    /// Any of these subgroup names (compared case-insensitively); empty means any.
    pub subgroups: Vec<String>,
    /// All of these must hold.
    pub when: Vec<Condition>,
    pub discount: Discount,
    pub code: CodeSource,
    /// Unix seconds; `ends` is inclusive.
    pub starts: Option<i64>,
    pub ends: Option<i64>,
    pub limit: Option<Limit>,
    /// At most this many claims in all.
    pub total_cap: Option<u64>,
    pub priority: i64,
    /// The title and description in the other languages (`title.fr-CA = "…"`).
    pub translations: Translations,
}

/// An offer's texts by locale, besides the English default (`title.en`, or a plain `title`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Translations {
    pub title: Vec<(Locale, String)>,
    pub description: Vec<(Locale, String)>,
}

fn translated(texts: &[(Locale, String)], locale: Locale) -> Option<&str> {
    texts
        .iter()
        .find(|(l, _)| *l == locale)
        .map(|(_, t)| t.as_str())
}

impl Offer {
    /// The title the shopper reads: their language's, else the default.
    pub fn title_in(&self, locale: Locale) -> &str {
        translated(&self.translations.title, locale).unwrap_or(&self.title)
    }

    pub fn description_in(&self, locale: Locale) -> Option<&str> {
        translated(&self.translations.description, locale).or(self.description.as_deref())
    }

    pub fn active_at(&self, at: i64) -> bool {
        self.starts.is_none_or(|s| at >= s) && self.ends.is_none_or(|e| at <= e)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pool {
    pub id: String,
    /// A warning is logged when fewer codes than this remain.
    pub low_threshold: u64,
    /// A CSV of codes imported at start-up and on reload (duplicates skipped).
    pub seed: Option<std::path::PathBuf>,
}

/// A validated rule set: what `rules check` accepts and the service serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rules {
    pub currency: String,
    pub value: ValueBasis,
    pub offers: Vec<Offer>,
    pub pools: BTreeMap<String, Pool>,
    /// The shop's look as the merchant set it (`[store]`); the `PERKGATE_STORE_*` settings win.
    pub store: crate::shop::Look,
}

impl Rules {
    pub fn offer(&self, id: &str) -> Option<&Offer> {
        self.offers.iter().find(|o| o.id == id)
    }

    /// Offers running at `at`, in file order.
    pub fn active(&self, at: i64) -> impl Iterator<Item = &Offer> {
        self.offers.iter().filter(move |o| o.active_at(at))
    }

    /// The groups of the running offers, in file order: the storefront's verify buttons and
    /// the only scopes perkgate will request.
    pub fn active_groups(&self, at: i64) -> Vec<&str> {
        let mut groups: Vec<&str> = Vec::new();
        for g in self.active(at).flat_map(|o| o.groups.iter()) {
            if !groups.contains(&g.as_str()) {
                groups.push(g);
            }
        }
        groups
    }
}

/// A verified group as the session keeps it: the handle and subgroup names, nothing personal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedGroup {
    pub group: String,
    pub subgroups: Vec<String>,
}

/// "military (Veteran, Retiree)", "student"; several groups joined with "; ".
pub fn describe_groups(groups: &[VerifiedGroup]) -> String {
    groups
        .iter()
        .map(|g| {
            if g.subgroups.is_empty() {
                g.group.clone()
            } else {
                format!("{} ({})", g.group, g.subgroups.join(", "))
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
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

/// The discount a shopper unlocked, as the session and the API show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Benefit {
    pub offer_id: String,
    pub title: String,
    /// Human text, e.g. "20% off, up to $100.00".
    pub summary: String,
    pub discount: Discount,
    pub currency: String,
    pub code: Option<String>,
    /// When the offer ends (unix seconds), if it does.
    pub ends: Option<i64>,
}

impl Benefit {
    pub fn new(offer: &Offer, currency: &str, code: Option<String>) -> Self {
        Self {
            offer_id: offer.id.clone(),
            title: offer.title.clone(),
            summary: offer.discount.describe(currency),
            discount: offer.discount.clone(),
            currency: currency.to_owned(),
            code,
            ends: offer.ends,
        }
    }
}

/// "2026-12-31" for a unix time (UTC).
pub fn date(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .map(|t| format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day()))
        .unwrap_or_else(|_| unix.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_parses_and_prints() {
        assert_eq!(Money::parse("100"), Some(Money(10_000)));
        assert_eq!(Money::parse("100.5"), Some(Money(10_050)));
        assert_eq!(Money::parse("0.05"), Some(Money(5)));
        for bad in ["", "-1", "1.234", "1,00", "abc", ".5", "1e3"] {
            assert_eq!(Money::parse(bad), None, "{bad}");
        }
        assert_eq!(Money(10_050).display("USD"), "$100.50");
        assert_eq!(Money(5).display("CHF"), "0.05 CHF");
    }

    #[test]
    fn discounts_describe_themselves_and_compare_by_value() {
        let basis = ValueBasis::default();
        let pct = Discount::Percent {
            percent: 20,
            cap: Some(Money(1_000)),
            min_order: Some(Money(5_000)),
        };
        assert_eq!(
            pct.describe("USD"),
            "20% off, up to $10.00, on orders of $50.00 or more"
        );
        assert_eq!(pct.value(&basis), Money(1_000), "capped");
        let amount = Discount::Amount {
            amount: Money(1_500),
            min_order: None,
        };
        assert_eq!(amount.describe("USD"), "$15.00 off");
        assert_eq!(amount.value(&basis), Money(1_500));
        let ship = Discount::FreeShipping { min_order: None };
        assert_eq!(ship.describe("EUR"), "Free shipping");
        assert_eq!(
            pct.describe_in("CAD", Locale::FrCa),
            "20\u{a0}% de rabais, jusqu'à concurrence de 10,00\u{a0}$, à l'achat de 50,00\u{a0}$ ou plus"
        );
        assert_eq!(
            amount.describe_in("USD", Locale::Es),
            "15,00\u{a0}US$ de descuento"
        );
        assert_eq!(ship.describe_in("EUR", Locale::Es), "Envío gratis");
        assert_eq!(ship.value(&basis), Money(800));
    }
}
