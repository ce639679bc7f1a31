//! `GET /`: the demo store with its running offers, the unlocked benefit, or why none applies.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::error::AppError;
use super::extract::CachedShopper;
use super::pages::{OfferView, StorefrontView, html};
use super::state::AppState;
use crate::clock::now;
use crate::rules::{Verification, date};
use crate::session::Notice;
use crate::verification::NoBenefit;

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(show))
}

async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    CachedShopper(shopper): CachedShopper,
) -> Result<Response, AppError> {
    // Reading never writes (but to slide an idle session's expiry): the notice stays with the
    // state it explains, so a refresh shows the same page. A visitor without a session gets
    // none; their forms carry a signed token and its cookie instead.
    let (csrf, csrf_cookie) = if shopper.is_stored() {
        (shopper.csrf_token().to_owned(), None)
    } else {
        state.forms.token(&headers)
    };
    let notice = shopper.state.notice;
    let rules = state.rules();
    let now = now();
    let mut shown: Vec<&str> = Vec::new();
    let offers = rules
        .active(now)
        .map(|o| {
            // One verify button per group, on the first offer that names it.
            let buttons: Vec<&str> = o
                .groups
                .iter()
                .map(String::as_str)
                .filter(|g| !shown.contains(g))
                .collect();
            shown.extend(&buttons);
            OfferView {
                id: &o.id,
                title: &o.title,
                description: o.description.as_deref(),
                summary: o.discount.describe(&rules.currency),
                until: o.ends.map(date),
                buttons,
            }
        })
        .collect();
    let s = &shopper.state;
    let mut page = html(&StorefrontView {
        sandbox: state.sandbox.is_some(),
        offers,
        benefit: s.benefit.as_ref(),
        benefit_until: s.benefit.as_ref().and_then(|b| b.ends).map(date),
        verified_as: s.verification.as_ref().map(verified_as).unwrap_or_default(),
        notice: notice.map(message),
        show_verify: s.benefit.is_none(),
        csrf: &csrf,
    })?
    .into_response();
    if let Some(cookie) = csrf_cookie {
        page.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(page)
}

/// "military (Veteran)", "student": group handles and subgroup names, nothing personal.
pub fn verified_as(v: &Verification) -> String {
    crate::rules::describe_groups(&v.groups)
}

/// The shopper's own outcome in words; never anything about other shoppers.
pub fn message(notice: Notice) -> String {
    match notice {
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
