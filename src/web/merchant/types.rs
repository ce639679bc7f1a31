//! What the merchant API reads and answers, as JSON and as the OpenAPI document's schemas.
//! Times are RFC 3339 in UTC; amounts are decimal strings in the currency's major unit
//! ("12.34"), never floating-point numbers.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::rewards::redemptions::{self, Event, Lookup, Order, Page, Redemption};
use crate::rules::{Discount, Money, Rules};

/// "2026-12-31T12:00:00Z".
pub fn rfc3339(at: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Why a code is not valid now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvalidReason {
    /// Redeemed already.
    Redeemed,
    /// Support revoked it.
    Revoked,
    /// Its offer ended.
    Expired,
    /// Its offer is no longer in the rules.
    OfferWithdrawn,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DiscountKind {
    Percent,
    Amount,
    FreeShipping,
}

/// The offer's discount, from the live rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct DiscountInfo {
    pub kind: DiscountKind,
    /// For `percent`: the percentage off.
    pub percent: Option<u8>,
    /// For `amount`: the amount off.
    #[schema(example = "10.00")]
    pub amount: Option<String>,
    /// For `percent`: the most taken off.
    pub cap: Option<String>,
    /// The smallest order it applies to.
    pub min_order: Option<String>,
    /// The rules' currency, of every amount here.
    #[schema(example = "USD")]
    pub currency: String,
    /// In words: "15% off, up to $100.00".
    #[schema(example = "15% off")]
    pub text: String,
}

fn decimal(m: Money) -> String {
    format!("{}.{:02}", m.0 / 100, m.0 % 100)
}

impl DiscountInfo {
    fn of(d: &Discount, currency: &str) -> Self {
        let (kind, percent, amount, cap, min_order) = match d {
            Discount::Percent {
                percent,
                cap,
                min_order,
            } => (
                DiscountKind::Percent,
                Some(*percent),
                None,
                *cap,
                *min_order,
            ),
            Discount::Amount { amount, min_order } => {
                (DiscountKind::Amount, None, Some(*amount), None, *min_order)
            }
            Discount::FreeShipping { min_order } => {
                (DiscountKind::FreeShipping, None, None, None, *min_order)
            }
        };
        Self {
            kind,
            percent,
            amount: amount.map(decimal),
            cap: cap.map(decimal),
            min_order: min_order.map(decimal),
            currency: currency.to_owned(),
            text: d.describe(currency),
        }
    }
}

/// A code's state. Nothing about the shopper who has it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct CodeInfo {
    #[schema(example = "VET-7KQ2M9")]
    pub code: String,
    /// Whether the code can be applied now: issued, not redeemed, not revoked, its offer live.
    pub valid: bool,
    /// Why not, when not valid.
    pub reason: Option<InvalidReason>,
    /// A code many shoppers got (an offer's static code): it is never redeemed per order.
    pub shared: bool,
    #[schema(example = "military")]
    pub offer_id: String,
    /// The offer's title in the live rules (null when the offer is gone).
    pub offer_title: Option<String>,
    pub discount: Option<DiscountInfo>,
    /// When it was issued (null for a shared code).
    pub issued_at: Option<String>,
    /// When its offer ends (null: no end).
    pub expires_at: Option<String>,
    pub redeemed: bool,
    pub redeemed_at: Option<String>,
    /// The order it was redeemed for through this API (null otherwise).
    pub order_id: Option<String>,
}

impl CodeInfo {
    /// `None` for an unknown code.
    pub fn of(code: &str, found: Lookup, rules: &Rules, now: i64) -> Option<Self> {
        let (offer_id, state) = match found {
            Lookup::NotFound => return None,
            Lookup::Shared { offer_id } => (offer_id, None),
            Lookup::Found(s) => (s.offer_id.clone(), Some(s)),
        };
        let offer = rules.offer(&offer_id);
        let redeemed_at = state.as_ref().and_then(|s| s.redeemed_at);
        let revoked = state.as_ref().is_some_and(|s| s.revoked_at.is_some());
        let reason = if revoked {
            Some(InvalidReason::Revoked)
        } else if redeemed_at.is_some() {
            Some(InvalidReason::Redeemed)
        } else {
            match offer {
                None => Some(InvalidReason::OfferWithdrawn),
                Some(o) if o.ends.is_some_and(|e| now > e) => Some(InvalidReason::Expired),
                Some(_) => None,
            }
        };
        Some(Self {
            code: code.to_owned(),
            valid: reason.is_none(),
            reason,
            shared: state.is_none(),
            offer_title: offer.map(|o| o.title.clone()),
            discount: offer.map(|o| DiscountInfo::of(&o.discount, &rules.currency)),
            issued_at: state.as_ref().map(|s| rfc3339(s.issued_at)),
            expires_at: offer.and_then(|o| o.ends).map(rfc3339),
            redeemed: redeemed_at.is_some(),
            redeemed_at: redeemed_at.map(rfc3339),
            order_id: state.and_then(|s| s.redemption).map(|r| r.order_id),
            offer_id,
        })
    }
}

/// The order a code is redeemed for.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[schema(example = json!({"order_id": "1001", "amount": "59.90", "currency": "USD"}))]
pub struct RedeemRequest {
    /// The shop's order id: 1 to 128 printable ASCII characters.
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = r"^[\x20-\x7E]{1,128}$",
        example = "1001"
    )]
    pub order_id: String,
    /// The order's total, a decimal string in the currency's major unit, with at most as many
    /// decimals as the currency has (2 for USD, 0 for JPY, 3 for KWD).
    #[schema(pattern = r"^[0-9]{1,12}(\.[0-9]{1,3})?$", example = "59.90")]
    pub amount: String,
    /// ISO 4217, upper case.
    #[schema(pattern = "^[A-Z]{3}$", example = "USD")]
    pub currency: String,
}

impl RedeemRequest {
    /// The order, checked: `(field, why)` otherwise.
    pub fn order(&self) -> Result<Order, (&'static str, &'static str)> {
        if !redemptions::valid_order_id(&self.order_id) {
            return Err(("order_id", "1 to 128 printable ASCII characters"));
        }
        if !redemptions::valid_currency(&self.currency) {
            return Err(("currency", "an ISO 4217 code in upper case, such as USD"));
        }
        let amount_minor = redemptions::parse_amount(&self.amount, &self.currency).ok_or((
            "amount",
            "a decimal string such as \"12.34\", with no more decimals than the currency has",
        ))?;
        Ok(Order {
            order_id: self.order_id.clone(),
            amount_minor,
            currency: self.currency.clone(),
        })
    }
}

/// A redemption: which code, for which order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct RedemptionInfo {
    pub code: String,
    pub offer_id: String,
    pub order_id: String,
    #[schema(example = "59.90")]
    pub amount: String,
    pub currency: String,
    pub redeemed_at: String,
}

impl RedemptionInfo {
    pub fn of(r: &Redemption) -> Self {
        Self {
            code: r.code.clone(),
            offer_id: r.offer_id.clone(),
            order_id: r.order_id.clone(),
            amount: redemptions::format_amount(r.amount_minor, &r.currency),
            currency: r.currency.clone(),
            redeemed_at: rfc3339(r.redeemed_at),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    /// A shopper unlocked a benefit (a code issued, or none for a status-only offer).
    Unlocked,
    /// A code was redeemed for an order through this API.
    Redeemed,
}

/// An entry of the feed. `order_id`, `amount` and `currency` are set for `redeemed` only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct EventInfo {
    #[serde(rename = "type")]
    pub kind: EventType,
    pub at: String,
    pub offer_id: String,
    pub code: Option<String>,
    pub order_id: Option<String>,
    pub amount: Option<String>,
    pub currency: Option<String>,
}

/// A page of the feed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct EventsPage {
    /// Oldest first.
    pub events: Vec<EventInfo>,
    /// Pass as `since` for the next page, or later to poll for new events.
    pub next: String,
    /// Whether more events wait after this page.
    pub has_more: bool,
}

impl EventsPage {
    pub fn of(page: &Page) -> Self {
        Self {
            events: page
                .events
                .iter()
                .map(|e| match e {
                    Event::Unlocked {
                        offer_id, code, at, ..
                    } => EventInfo {
                        kind: EventType::Unlocked,
                        at: rfc3339(*at),
                        offer_id: offer_id.clone(),
                        code: code.clone(),
                        order_id: None,
                        amount: None,
                        currency: None,
                    },
                    Event::Redeemed { redemption: r, .. } => EventInfo {
                        kind: EventType::Redeemed,
                        at: rfc3339(r.redeemed_at),
                        offer_id: r.offer_id.clone(),
                        code: Some(r.code.clone()),
                        order_id: Some(r.order_id.clone()),
                        amount: Some(redemptions::format_amount(r.amount_minor, &r.currency)),
                        currency: Some(r.currency.clone()),
                    },
                })
                .collect(),
            next: page.next.encode(),
            has_more: page.more,
        }
    }
}
