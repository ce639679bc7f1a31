//! `GET /`: the demo store with its running offers, the unlocked benefit, or why none applies.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::error::AppError;
use super::extract::CachedShopper;
use super::pages::{Chrome, CommunityCards, MessageView, OfferView, StorefrontView, page};
use super::state::AppState;
use super::templates::{self, Overrides};
use crate::clock::now;
use crate::i18n::{self, Catalog, Locale, Msg};
use crate::rewards::PoolLevels;
use crate::rules::{Benefit, Offer, Rules, Verification, community_name_in};
use crate::session::Notice;
use crate::verification::NoBenefit;

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(show))
}

async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    CachedShopper(mut shopper): CachedShopper,
) -> Result<Response, AppError> {
    // A visitor without a session gets none: their forms carry a signed token and its cookie.
    let (csrf, csrf_cookie) = if shopper.is_stored() {
        (shopper.csrf_token().to_owned(), None)
    } else {
        state.forms.token(&headers)
    };
    // The outcome of the last verification is shown once: this view takes it out of the
    // session (the only write a page view makes, and only when there is a notice).
    let notice = shopper.take_notice();
    if notice.is_some() {
        shopper.save().await?;
    }
    let locale = i18n::locale_of(&headers);
    let cat = i18n::catalog(locale);
    let t = &cat.t;
    let rules = state.rules();
    let overrides = state.templates.current();
    let cards = state.offer_cards.of(
        &rules,
        state.unified,
        &state.verifier.levels,
        now(),
        locale,
        overrides.as_ref(),
    )?;
    let s = &shopper.state;
    let expiry = state.config.session.auth_timeout;
    let message = notice.map(|(n, retry)| MessageView::new(&n, retry, state.unified, expiry, cat));
    let title = match (&message, &s.benefit) {
        (Some(m), _) => m.title,
        (None, Some(_)) => t.title_unlocked.as_str(),
        (None, None) if s.verification.is_some() => t.title_verified.as_str(),
        (None, None) => t.title_discounts.as_str(),
    };
    let benefit = s.benefit.as_ref();
    let shop = state.shop();
    let back = shop.shop.back(
        param(query.as_deref(), "return_to").as_deref(),
        s.return_to.as_deref(),
    );
    let returns = &shop.shop.returns;
    // A page opened as `?embed=X` hands over to X or, unlisted, to nobody: never to the page
    // an earlier popup of this session came from.
    let embed = match param(query.as_deref(), "embed") {
        Some(raw) => returns.embed_origin(&raw),
        None => s
            .embed_origin
            .as_deref()
            .and_then(|raw| returns.embed_origin(raw)),
    };
    let here = here(query.as_deref(), back.as_ref(), embed.as_deref());
    let next = i18n::switch_next(&here);
    let apply = s
        .benefit
        .as_ref()
        .and_then(|b| b.code.as_deref())
        .and_then(|code| shop.shop.returns.apply_link(code))
        .map(String::from);
    let chrome = Chrome {
        t,
        next: Some(&next),
        sandbox: state.sandbox.is_some(),
        store: &shop.shop,
        title,
    };
    let body = StorefrontView {
        t,
        back: back.as_ref().map(url::Url::as_str),
        apply,
        embed: embed.as_deref(),
        communities: &cards.communities,
        benefit,
        benefit_title: benefit.map_or("", |b| benefit_title(b, &rules, locale)),
        benefit_summary: benefit.map_or(std::borrow::Cow::Borrowed(""), |b| {
            benefit_summary(b, locale)
        }),
        benefit_until: benefit
            .and_then(|b| b.ends)
            .map(|end| cat.say(Msg::ValidUntil, &[("date", i18n::date(end, locale).into())])),
        verified_as: (s.verification.as_ref())
            .map(|v| verified_as(v, locale))
            .unwrap_or_default(),
        message,
        show_verify: s.benefit.is_none(),
        csrf: &csrf,
    };
    let mut page = page(&chrome, &body, overrides.as_deref())?.into_response();
    if let Some(cookie) = csrf_cookie {
        page.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(page)
}

/// The unlocked offer's title in the shopper's language: the offer's translation when it is
/// still in the rules, else the title it was unlocked under.
fn benefit_title<'a>(b: &'a Benefit, rules: &'a Rules, locale: Locale) -> &'a str {
    match rules.offer(&b.offer_id) {
        Some(offer) if locale != Locale::En => offer.title_in(locale),
        _ => &b.title,
    }
}

/// The discount in the shopper's language; the session's own words in English.
fn benefit_summary(b: &Benefit, locale: Locale) -> std::borrow::Cow<'_, str> {
    match locale {
        Locale::En => std::borrow::Cow::Borrowed(&b.summary),
        _ => std::borrow::Cow::Owned(b.discount.describe_in(&b.currency, locale)),
    }
}

/// This page for the language switch: `/`, with the `return_to` and `embed` its query gave
/// when they were accepted (an ignored one is not carried on).
fn here(
    query: Option<&str>,
    back: Option<&url::Url>,
    embed: Option<&str>,
) -> std::borrow::Cow<'static, str> {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    if let Some(back) = back.filter(|_| param(query, "return_to").is_some()) {
        out.append_pair("return_to", back.as_str());
    }
    if let Some(embed) = embed.filter(|_| param(query, "embed").is_some()) {
        out.append_pair("embed", embed);
    }
    match out.finish() {
        q if q.is_empty() => std::borrow::Cow::Borrowed("/"),
        q => std::borrow::Cow::Owned(format!("/?{q}")),
    }
}

/// The query's `name` (`return_to`, `embed`), when it is there exactly once (a repeated one
/// is ambiguous, so ignored like any unlisted address).
fn param(query: Option<&str>, name: &str) -> Option<String> {
    let mut found = url::form_urlencoded::parse(query?.as_bytes())
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned());
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

/// The offers as every shopper sees them, each community's cards rendered once per rule set,
/// per state of its offers (which run now, which ran out of codes) and per language, not on
/// every view: their words and escaping were most of a page's rendering.
#[derive(Default)]
pub struct OfferCards([Mutex<Option<Arc<Cards>>>; Locale::ALL.len()]);

/// One rendering of the offers, and what it was rendered from.
pub struct Cards {
    rules: Arc<Rules>,
    unified: bool,
    /// The merchant's templates they were rendered with (a reload renders them anew).
    overrides: Option<Arc<Overrides>>,
    /// Per offer of the rule set: whether it runs, and whether it ran out.
    shown: Vec<(bool, bool)>,
    communities: Vec<CommunityCards>,
}

impl OfferCards {
    fn of(
        &self,
        rules: &Arc<Rules>,
        unified: bool,
        levels: &PoolLevels,
        at: i64,
        locale: Locale,
        overrides: Option<&Arc<Overrides>>,
    ) -> Result<Arc<Cards>, AppError> {
        let shown = |o: &Offer| {
            let runs = o.active_at(at);
            (runs, runs && levels.ran_out(o))
        };
        let mut made = self.0[locale.index()]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(cards) = made.as_ref()
            && Arc::ptr_eq(&cards.rules, rules)
            && cards.unified == unified
            && same(cards.overrides.as_ref(), overrides)
            && rules
                .offers
                .iter()
                .map(shown)
                .eq(cards.shown.iter().copied())
        {
            return Ok(Arc::clone(cards));
        }
        let shown: Vec<_> = rules.offers.iter().map(shown).collect();
        let cards = Arc::new(Cards {
            communities: render_cards(
                rules,
                unified,
                &shown,
                at,
                i18n::catalog(locale),
                overrides.map(Arc::as_ref),
            )?,
            rules: Arc::clone(rules),
            unified,
            overrides: overrides.cloned(),
            shown,
        });
        *made = Some(Arc::clone(&cards));
        Ok(cards)
    }
}

fn same(a: Option<&Arc<Overrides>>, b: Option<&Arc<Overrides>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        (None, None) => true,
        _ => false,
    }
}

/// One button for every community, or one section (offers and button) per community.
fn render_cards(
    rules: &Rules,
    unified: bool,
    shown: &[(bool, bool)],
    at: i64,
    cat: &'static Catalog,
    overrides: Option<&Overrides>,
) -> Result<Vec<CommunityCards>, AppError> {
    let locale = cat.locale();
    let views: Vec<OfferView> = (rules.offers.iter().zip(shown))
        .filter(|(_, (runs, _))| *runs)
        .map(|(o, &(_, ran_out))| OfferView {
            id: o.id.clone(),
            title: o.title_in(locale).to_owned(),
            description: o.description_in(locale).map(str::to_owned),
            summary: o.discount.describe_in(&rules.currency, locale),
            until: o
                .ends
                .map(|end| cat.say(Msg::OfferUntil, &[("date", i18n::date(end, locale).into())])),
            communities: {
                let names = (o.groups.iter())
                    .map(|g| community_name_in(g, locale))
                    .collect::<Vec<_>>()
                    .join(", ");
                cat.say(Msg::OfferFor, &[("communities", names.into())])
            },
            ran_out,
            groups: o.groups.clone(),
        })
        .collect();
    if unified {
        return Ok(vec![CommunityCards {
            handle: String::new(),
            name: String::new(),
            cards: templates::cards(overrides, &cat.t, &views, unified, None)?,
            offers: views,
        }]);
    }
    (rules.active_groups(at).into_iter())
        .map(|g| {
            let offers: Vec<OfferView> = (views.iter())
                .filter(|v| v.groups.iter().any(|og| og == g))
                .cloned()
                .collect();
            let name = community_name_in(g, locale).into_owned();
            Ok(CommunityCards {
                cards: templates::cards(overrides, &cat.t, &offers, unified, Some((g, &name)))?,
                handle: g.to_owned(),
                name,
                offers,
            })
        })
        .collect()
}

/// "Military (Veteran)", "Students": community and subgroup names (as ID.me sends them),
/// nothing personal.
pub fn verified_as(v: &Verification, locale: Locale) -> String {
    v.groups
        .iter()
        .map(|g| {
            let name = community_name_in(&g.group, locale);
            if g.subgroups.is_empty() {
                name.into_owned()
            } else {
                format!("{name} ({})", g.subgroups.join(", "))
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl MessageView {
    /// The message for a notice, its role, the page title it gives, and its "Try again".
    fn new(
        notice: &Notice,
        retry: Option<String>,
        unified: bool,
        expiry: Duration,
        cat: &'static Catalog,
    ) -> Self {
        let t = &cat.t;
        let (title, role) = match notice {
            Notice::NotVerified => (&t.title_not_verified, "status"),
            Notice::NoBenefit(_) => (&t.title_no_benefit, "status"),
            Notice::Declined => (&t.title_declined, "status"),
            Notice::Failed { .. } => (&t.title_failed, "alert"),
            Notice::Expired => (&t.title_expired, "alert"),
            Notice::PassedOver { .. } => (&t.title_unlocked, "status"),
        };
        // "Try again" starts the same attempt: that community's button, or the one button.
        let retry = match notice {
            Notice::PassedOver { .. } => None,
            _ => Some(match retry {
                Some(group) if !unified && !group.contains(',') && !group.is_empty() => {
                    format!("/verify/{group}")
                }
                _ if unified => "/verify".to_owned(),
                // Per-group without a known group: the buttons below are the way to retry.
                _ => String::new(),
            })
            .filter(|action| !action.is_empty()),
        };
        Self {
            title,
            role,
            text: message(notice, expiry, cat),
            reference: match notice {
                Notice::Failed { reference } => Some(reference.clone()),
                _ => None,
            },
            retry,
        }
    }
}

/// The shopper's own outcome in words; never anything about other shoppers. `expiry` is how
/// long a verification may take (`PERKGATE_AUTH_TIMEOUT_SECS`).
pub fn message(notice: &Notice, expiry: Duration, cat: &'static Catalog) -> String {
    let day = |t: i64| -> (&'static str, fluent_bundle::FluentValue<'static>) {
        ("date", i18n::date(t, cat.locale()).into())
    };
    let text = |msg: Msg| cat.text(msg).into_owned();
    match *notice {
        Notice::Declined => text(Msg::OutcomeDeclined),
        Notice::Failed { .. } => text(Msg::OutcomeFailed),
        Notice::Expired => cat.say(
            Msg::OutcomeExpired,
            &[("duration", cat.duration(expiry).into())],
        ),
        Notice::PassedOver { ref offer, reason } => cat.say(
            Msg::OutcomePassedOver,
            &[
                ("offer", offer.as_str().into()),
                ("reason", passed_over_reason(reason, cat).into()),
            ],
        ),
        Notice::NotVerified => text(Msg::OutcomeNotVerified),
        Notice::NoBenefit(reason) => match reason {
            NoBenefit::NoOfferForGroup => text(Msg::OutcomeNoOffer),
            NoBenefit::NotEligible => text(Msg::OutcomeNotEligible),
            NoBenefit::NotStarted(t) => cat.say(Msg::OutcomeNotStarted, &[day(t)]),
            NoBenefit::Ended(t) => cat.say(Msg::OutcomeEnded, &[day(t)]),
            NoBenefit::RanOut => text(Msg::OutcomeRanOut),
            NoBenefit::LimitReached(t) => cat.say(Msg::OutcomeLimitReached, &[day(t)]),
            NoBenefit::CapReached => text(Msg::OutcomeCapReached),
        },
    }
}

/// Why a better offer was passed over, in a few words.
fn passed_over_reason(reason: NoBenefit, cat: &'static Catalog) -> String {
    let day = |t: i64| [("date", i18n::date(t, cat.locale()).into())];
    match reason {
        NoBenefit::RanOut => cat.text(Msg::PassedRanOut).into_owned(),
        NoBenefit::LimitReached(t) => cat.say(Msg::PassedLimit, &day(t)),
        NoBenefit::CapReached => cat.text(Msg::PassedCap).into_owned(),
        NoBenefit::NotStarted(t) => cat.say(Msg::PassedNotStarted, &day(t)),
        NoBenefit::Ended(t) => cat.say(Msg::PassedEnded, &day(t)),
        NoBenefit::NoOfferForGroup | NoBenefit::NotEligible => {
            cat.text(Msg::PassedNotQualified).into_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Arc<Rules> {
        let text = r#"
[pools.p]

[[offers]]
id = "vets"
title = "Vets <20%>"
groups = ["military"]
percent = 20
code = { pool = "p" }
ends = 2030-12-31

[[offers]]
id = "students"
title = "Students"
groups = ["student"]
percent = 10
code = "S10"
"#;
        Arc::new(crate::rules::parse("r.toml", text, None).unwrap().rules)
    }

    fn at(day: &str) -> i64 {
        let d = time::Date::parse(day, &time::format_description::well_known::Iso8601::DATE);
        d.unwrap().midnight().assume_utc().unix_timestamp()
    }

    #[test]
    fn cards_are_rendered_once_until_the_offers_change() {
        let (rules, cards, levels) = (sample(), OfferCards::default(), PoolLevels::default());
        let first = cards
            .of(&rules, false, &levels, at("2027-01-01"), Locale::En, None)
            .unwrap();
        let handles: Vec<_> = first.communities.iter().map(|c| &c.handle).collect();
        assert_eq!(handles, ["military", "student"]);
        let vets = &first.communities[0].cards;
        assert!(
            vets.contains("Vets &") && !vets.contains("<20%>"),
            "escaped: {vets}"
        );
        assert!(vets.contains("until 2030-12-31") && !vets.contains("ran-out"));

        let again = cards
            .of(&rules, false, &levels, at("2027-06-01"), Locale::En, None)
            .unwrap();
        assert!(
            Arc::ptr_eq(&first, &again),
            "nothing changed: the same cards"
        );

        levels.set("p", 0);
        let ran_out = cards
            .of(&rules, false, &levels, at("2027-06-01"), Locale::En, None)
            .unwrap();
        assert!(
            ran_out.communities[0]
                .cards
                .contains("data-testid=\"ran-out\"")
        );

        let ended = cards
            .of(&rules, false, &levels, at("2031-01-01"), Locale::En, None)
            .unwrap();
        let handles: Vec<_> = ended.communities.iter().map(|c| &c.handle).collect();
        assert_eq!(handles, ["student"], "an ended offer's community goes");

        let unified = cards
            .of(&rules, true, &levels, at("2031-01-01"), Locale::En, None)
            .unwrap();
        assert_eq!(unified.communities.len(), 1);
        assert!(unified.communities[0].cards.contains("<h3>Students</h3>"));

        let reloaded = sample();
        let fresh = cards
            .of(&reloaded, true, &levels, at("2031-01-01"), Locale::En, None)
            .unwrap();
        assert!(
            !Arc::ptr_eq(&unified, &fresh),
            "a new rule set: rendered anew"
        );
    }
}
