//! The raw shapes of a rules file, as serde reads them: every value keeps its position.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;
use toml::value::Datetime;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    pub(super) currency: Option<Spanned<String>>,
    pub(super) value: Option<RawValue>,
    /// The shop's look (`shop::Look::FIELDS`), checked field by field.
    #[serde(default)]
    pub(super) store: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    pub(super) pools: BTreeMap<String, Spanned<RawPool>>,
    #[serde(default)]
    pub(super) offers: Vec<Spanned<RawOffer>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawValue {
    pub(super) reference_order: Option<Spanned<toml::Value>>,
    pub(super) free_shipping: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPool {
    pub(super) low_threshold: Option<Spanned<i64>>,
    pub(super) seed: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOffer {
    pub(super) id: Spanned<String>,
    pub(super) title: Spanned<RawText>,
    pub(super) description: Option<Spanned<RawText>>,
    pub(super) groups: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    pub(super) subgroups: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) when: BTreeMap<String, Spanned<BTreeMap<String, Spanned<toml::Value>>>>,
    pub(super) percent: Option<Spanned<i64>>,
    pub(super) amount: Option<Spanned<toml::Value>>,
    pub(super) free_shipping: Option<Spanned<bool>>,
    pub(super) cap: Option<Spanned<toml::Value>>,
    pub(super) min_order: Option<Spanned<toml::Value>>,
    pub(super) code: Option<Spanned<toml::Value>>,
    pub(super) starts: Option<Spanned<Datetime>>,
    pub(super) ends: Option<Spanned<Datetime>>,
    pub(super) limit: Option<Spanned<RawLimit>>,
    pub(super) total_cap: Option<Spanned<i64>>,
    pub(super) priority: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimit {
    pub(super) claims: Spanned<i64>,
    pub(super) per_days: Spanned<i64>,
}

/// An offer's text: `title = "…"`, or one per language (`title.en = "…"`, `title.fr-CA = "…"`,
/// or inline `title = { en = "…", fr-CA = "…" }`), each tag with its position.
pub(super) enum RawText {
    Plain(String),
    ByLocale(Vec<(Spanned<String>, Spanned<String>)>),
}

impl<'de> Deserialize<'de> for RawText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = RawText;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string, or a table of strings by language (en, fr-CA, es)")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawText, E> {
                Ok(RawText::Plain(v.to_owned()))
            }

            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<RawText, E> {
                Ok(RawText::Plain(v))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<RawText, A::Error> {
                let mut texts = Vec::new();
                while let Some(tag) = map.next_key::<Spanned<String>>()? {
                    texts.push((tag, map.next_value::<Spanned<String>>()?));
                }
                Ok(RawText::ByLocale(texts))
            }
        }
        d.deserialize_any(Visitor)
    }
}
