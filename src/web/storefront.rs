//! `GET /`: the demo store with its running offers, the unlocked benefit, or why none applies.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::error::AppError;
use super::extract::CachedShopper;
use super::pages::{
    CardsView, CommunityCards, MessageView, OfferView, StorefrontView, duration_words, html,
};
use super::state::AppState;
use crate::clock::now;
use crate::rewards::PoolLevels;
use crate::rules::{Offer, Rules, Verification, community_name, date};
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
    let rules = state.rules();
    let cards = state
        .offer_cards
        .of(&rules, state.unified, &state.verifier.levels, now())?;
    let s = &shopper.state;
    let expiry = state.config.session.auth_timeout;
    let message = notice.map(|(n, retry)| MessageView::new(&n, retry, state.unified, expiry));
    let title = match (&message, &s.benefit) {
        (Some(m), _) => m.title,
        (None, Some(_)) => "Discount unlocked",
        (None, None) if s.verification.is_some() => "Verified",
        (None, None) => "Discounts",
    };
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
    let apply = s
        .benefit
        .as_ref()
        .and_then(|b| b.code.as_deref())
        .and_then(|code| shop.shop.returns.apply_link(code))
        .map(String::from);
    let mut page = html(&StorefrontView {
        sandbox: state.sandbox.is_some(),
        store: &shop.shop,
        back: back.as_ref().map(url::Url::as_str),
        apply,
        embed: embed.as_deref(),
        title,
        communities: &cards.communities,
        benefit: s.benefit.as_ref(),
        benefit_until: s.benefit.as_ref().and_then(|b| b.ends).map(date),
        verified_as: s.verification.as_ref().map(verified_as).unwrap_or_default(),
        message,
        show_verify: s.benefit.is_none(),
        csrf: &csrf,
    })?
    .into_response();
    if let Some(cookie) = csrf_cookie {
        page.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(page)
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

/// The offers as every shopper sees them, each community's cards rendered once per rule set
/// and per state of its offers (which run now, which ran out of codes), not on every view:
/// their words and escaping were most of a page's rendering.
#[derive(Default)]
pub struct OfferCards(Mutex<Option<Arc<Cards>>>);

/// One rendering of the offers, and what it was rendered from.
pub struct Cards {
    rules: Arc<Rules>,
    unified: bool,
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
    ) -> Result<Arc<Cards>, AppError> {
        let shown = |o: &Offer| {
            let runs = o.active_at(at);
            (runs, runs && levels.ran_out(o))
        };
        let mut made = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(cards) = made.as_ref()
            && Arc::ptr_eq(&cards.rules, rules)
            && cards.unified == unified
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
            communities: render_cards(rules, unified, &shown, at)?,
            rules: Arc::clone(rules),
            unified,
            shown,
        });
        *made = Some(Arc::clone(&cards));
        Ok(cards)
    }
}

/// One button for every community, or one section (offers and button) per community.
fn render_cards(
    rules: &Rules,
    unified: bool,
    shown: &[(bool, bool)],
    at: i64,
) -> Result<Vec<CommunityCards>, AppError> {
    let views: Vec<OfferView> = (rules.offers.iter().zip(shown))
        .filter(|(_, (runs, _))| *runs)
        .map(|(o, &(_, ran_out))| OfferView {
            id: &o.id,
            title: &o.title,
            description: o.description.as_deref(),
            summary: o.discount.describe(&rules.currency),
            until: o.ends.map(date),
            communities: (o.groups.iter())
                .map(|g| community_name(g))
                .collect::<Vec<_>>()
                .join(", "),
            ran_out,
            groups: &o.groups,
        })
        .collect();
    let render = |offers: Vec<&OfferView>| {
        CardsView { offers, unified }
            .render()
            .map_err(AppError::from)
    };
    if unified {
        return Ok(vec![CommunityCards {
            handle: String::new(),
            name: String::new(),
            cards: render(views.iter().collect())?,
        }]);
    }
    (rules.active_groups(at).into_iter())
        .map(|g| {
            let offers = views.iter().filter(|v| v.groups.iter().any(|og| og == g));
            Ok(CommunityCards {
                handle: g.to_owned(),
                name: community_name(g).into_owned(),
                cards: render(offers.collect())?,
            })
        })
        .collect()
}

/// "Military (Veteran)", "Students": community and subgroup names, nothing personal.
pub fn verified_as(v: &Verification) -> String {
    v.groups
        .iter()
        .map(|g| {
            let name = community_name(&g.group);
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
    fn new(notice: &Notice, retry: Option<String>, unified: bool, expiry: Duration) -> Self {
        let (title, role) = match notice {
            Notice::NotVerified => ("Not verified", "status"),
            Notice::NoBenefit(_) => ("No discount for you right now", "status"),
            Notice::Declined => ("Verification declined", "status"),
            Notice::Failed { .. } => ("Verification failed", "alert"),
            Notice::Expired => ("Verification expired", "alert"),
            Notice::PassedOver { .. } => ("Discount unlocked", "status"),
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
            text: message(notice, expiry),
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
pub fn message(notice: &Notice, expiry: Duration) -> String {
    match *notice {
        Notice::Declined => "You chose not to share your status, so nothing was shared with us \
             and no discount was unlocked. You can verify any time."
            .to_owned(),
        Notice::Failed { .. } => "We could not complete your verification with ID.me just now, \
             and nothing was unlocked. Please try again in a moment."
            .to_owned(),
        Notice::Expired => format!(
            "Your verification took too long and has expired: verifications expire after {}. \
             Please start again.",
            duration_words(expiry)
        ),
        Notice::PassedOver { ref offer, reason } => format!(
            "\u{201c}{offer}\u{201d} is not available to you ({}), so you got the next best offer.",
            passed_over_reason(reason)
        ),
        Notice::NotVerified => "ID.me could not confirm your status, so no discount was unlocked. \
             If you think this is wrong, verify again or check your status at ID.me."
            .to_owned(),
        Notice::NoBenefit(reason) => match reason {
            NoBenefit::NoOfferForGroup => {
                "You are verified, but this store has no offer for your group right now.".to_owned()
            }
            NoBenefit::NotEligible => {
                "You are verified, but the offers for your group are limited \
                 to statuses or details your verification does not include."
                    .to_owned()
            }
            NoBenefit::NotStarted(t) => format!(
                "You are verified. The offer for your group starts on {}: come back then.",
                date(t)
            ),
            NoBenefit::Ended(t) => format!(
                "You are verified, but the offer for your group ended on {}.",
                date(t)
            ),
            NoBenefit::RanOut => {
                "You are verified, but the codes for this offer have run out.".to_owned()
            }
            NoBenefit::LimitReached(t) => format!(
                "You are verified and have already used this offer. You can claim it again from {}.",
                date(t)
            ),
            NoBenefit::CapReached => {
                "You are verified, but this offer has been fully claimed.".to_owned()
            }
        },
    }
}

/// Why a better offer was passed over, in a few words.
fn passed_over_reason(reason: NoBenefit) -> String {
    match reason {
        NoBenefit::RanOut => "its codes have run out".to_owned(),
        NoBenefit::LimitReached(t) => format!("you have used it; again from {}", date(t)),
        NoBenefit::CapReached => "it has been fully claimed".to_owned(),
        NoBenefit::NotStarted(t) => format!("it starts on {}", date(t)),
        NoBenefit::Ended(t) => format!("it ended on {}", date(t)),
        NoBenefit::NoOfferForGroup | NoBenefit::NotEligible => "you do not qualify".to_owned(),
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
        let first = cards.of(&rules, false, &levels, at("2027-01-01")).unwrap();
        let handles: Vec<_> = first.communities.iter().map(|c| &c.handle).collect();
        assert_eq!(handles, ["military", "student"]);
        let vets = &first.communities[0].cards;
        assert!(
            vets.contains("Vets &") && !vets.contains("<20%>"),
            "escaped: {vets}"
        );
        assert!(vets.contains("until 2030-12-31") && !vets.contains("ran-out"));

        let again = cards.of(&rules, false, &levels, at("2027-06-01")).unwrap();
        assert!(
            Arc::ptr_eq(&first, &again),
            "nothing changed: the same cards"
        );

        levels.set("p", 0);
        let ran_out = cards.of(&rules, false, &levels, at("2027-06-01")).unwrap();
        assert!(
            ran_out.communities[0]
                .cards
                .contains("data-testid=\"ran-out\"")
        );

        let ended = cards.of(&rules, false, &levels, at("2031-01-01")).unwrap();
        let handles: Vec<_> = ended.communities.iter().map(|c| &c.handle).collect();
        assert_eq!(handles, ["student"], "an ended offer's community goes");

        let unified = cards.of(&rules, true, &levels, at("2031-01-01")).unwrap();
        assert_eq!(unified.communities.len(), 1);
        assert!(unified.communities[0].cards.contains("<h3>Students</h3>"));

        let reloaded = sample();
        let fresh = cards
            .of(&reloaded, true, &levels, at("2031-01-01"))
            .unwrap();
        assert!(
            !Arc::ptr_eq(&unified, &fresh),
            "a new rule set: rendered anew"
        );
    }
}
