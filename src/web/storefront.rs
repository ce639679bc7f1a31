//! `GET /`: the demo store with its offers, the unlocked benefit, or a message.

use axum::Router;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use tower_sessions::Session;

use super::pages::{OfferView, StorefrontView, html};
use crate::app::AppState;
use crate::error::AppError;
use crate::rules::Verification;
use crate::session::Notice;

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(show))
}

async fn show(State(state): State<AppState>, session: Session) -> Result<Html<String>, AppError> {
    let mut shopper = state.shopper(session).await?;
    let notice = shopper.take_notice();
    if notice.is_some() {
        shopper.save().await?;
    }
    let mut seen: Vec<&str> = Vec::new();
    let offers = state
        .offers
        .iter()
        .map(|o| {
            let first_of_group = !seen.contains(&o.group.as_str());
            seen.push(&o.group);
            OfferView {
                id: &o.id,
                group: &o.group,
                title: &o.title,
                description: o.description.as_deref(),
                first_of_group,
            }
        })
        .collect();
    let s = &shopper.state;
    html(&StorefrontView {
        sandbox: state.sandbox.is_some(),
        offers,
        benefit: s.benefit.as_ref(),
        verified_as: s.verification.as_ref().map(verified_as).unwrap_or_default(),
        notice: notice.map(message),
        show_verify: s.benefit.is_none(),
        csrf: shopper.csrf_token(),
    })
}

/// "military (Veteran)", "student": group handles and subgroup names, nothing personal.
pub fn verified_as(v: &Verification) -> String {
    v.groups
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

fn message(notice: Notice) -> &'static str {
    match notice {
        Notice::NotVerified => {
            "ID.me could not confirm your status, so no discount was unlocked. \
             If you think this is wrong, verify again or check your status at ID.me."
        }
        Notice::NoOffer => {
            "You are verified, but this store has no offer for your group right now."
        }
    }
}
