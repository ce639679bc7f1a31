//! The validation of one offer: its id, title, groups, limits and caps, and the parts the
//! sibling modules check.

use std::collections::BTreeMap;

use super::code::code;
use super::conditions::conditions;
use super::dates::window;
use super::discount::discount;
use super::raw::{RawOffer, RawText};
use super::{Report, is_handle};
use toml::Spanned;

use crate::i18n::Locale;
use crate::rules::{KNOWN_GROUPS, Limit, Offer, Pool, Translations, date};

/// Validates one offer.
pub(super) fn offer(
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
    let title = text(r, &o.title, "title", true);
    let description = o
        .description
        .as_ref()
        .map(|d| text(r, d, "description", false));
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
        && e < crate::clock::now()
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
        title: title.as_ref().map(|t| t.0.clone()).unwrap_or_default(),
        description: description
            .as_ref()
            .and_then(|d| d.as_ref())
            .map(|d| d.0.clone()),
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
        translations: Translations {
            title: title.map(|t| t.1).unwrap_or_default(),
            description: description.flatten().map(|d| d.1).unwrap_or_default(),
        },
    })
}

/// A title or description: its default (English) text and its translations. A table names
/// each language by its tag and must give `en`, the text of every language without one.
fn text(
    r: &mut Report<'_>,
    raw: &Spanned<RawText>,
    field: &str,
    required: bool,
) -> Option<(String, Vec<(Locale, String)>)> {
    let texts = match raw.get_ref() {
        RawText::Plain(t) => {
            if required && t.trim().is_empty() {
                r.error(raw.span(), field, "must not be empty");
                return None;
            }
            return Some((t.trim().to_owned(), Vec::new()));
        }
        RawText::ByLocale(texts) => texts,
    };
    let errors_before = r.errors.len();
    let mut default = None;
    let mut others: Vec<(Locale, String)> = Vec::new();
    for (tag, value) in texts {
        let path = format!("{field}.{}", tag.get_ref());
        let Some(locale) = Locale::from_tag(tag.get_ref()) else {
            let known: Vec<_> = Locale::ALL.iter().map(|l| l.tag()).collect();
            r.error(
                tag.span(),
                &path,
                format!(
                    "no catalog for the language {:?}: use one of {}",
                    tag.get_ref(),
                    known.join(", ")
                ),
            );
            continue;
        };
        let value_text = value.get_ref().trim();
        if value_text.is_empty() {
            r.error(value.span(), &path, "must not be empty");
            continue;
        }
        if locale == Locale::En && default.is_none() {
            default = Some(value_text.to_owned());
        } else if locale == Locale::En || others.iter().any(|(l, _)| *l == locale) {
            r.error(tag.span(), &path, "given twice");
        } else {
            others.push((locale, value_text.to_owned()));
        }
    }
    if default.is_none() && r.errors.len() == errors_before {
        r.error(
            raw.span(),
            &format!("{field}.en"),
            format!(
                "give the English text too ({field}.en = \"…\"): shoppers of other languages see it"
            ),
        );
    }
    if r.errors.len() > errors_before {
        return None;
    }
    Some((default?, others))
}
