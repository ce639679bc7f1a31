//! Signed webhooks (Standard Webhooks): the events, the outbox they are written to in the
//! transaction of what they tell, the endpoints that subscribe to them, and the deliverer.
//!
//! An event is a row of `webhook_events` plus one `webhook_deliveries` row per enabled endpoint
//! subscribed to its type, written with the claim, redemption or publish itself: committed
//! together or not at all. The deliverer ([`deliver`]) leases due deliveries, signs and sends
//! them, and retries with backoff; a delivery is sent at least once, and every attempt of it
//! carries the event's id as `webhook-id`, so a receiver can drop repeats.
//!
//! Payloads carry nothing personal: offer, group, code, pool, order id and amount, rules version.

pub mod cli;
pub mod deliver;
pub mod endpoints;
pub mod outbox;
pub mod sign;
pub mod target;

use std::sync::LazyLock;

use tokio::sync::watch;

/// Runs `$body` (a future over `$tx: &mut impl Exec`) in one transaction of either database:
/// on SQLite on its thread (it must not wait), on PostgreSQL in a transaction committed when
/// it succeeds. What `$body` uses is moved in.
macro_rules! transaction {
    ($db:expr, |$tx:ident| $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite(s) => {
                s.call(move |c| {
                    let mut on = $crate::admin::store::OnSqlite(c);
                    let $tx = &mut on;
                    $crate::db::sqlite::run_now($body).unwrap_or_else(|| {
                        Err($crate::db::Error::Other(
                            "a SQLite transaction waited".to_owned(),
                        ))
                    })
                })
                .await
            }
            $crate::db::Db::Postgres(p) => {
                let mut t = p.begin().await?;
                let out = {
                    let $tx = &mut *t;
                    $body.await?
                };
                t.commit().await?;
                Ok::<_, $crate::db::Error>(out)
            }
        }
    };
}
pub(crate) use transaction;

/// What an endpoint can subscribe to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    BenefitUnlocked,
    CodeRedeemed,
    PoolLow,
    PoolEmpty,
    RulesPublished,
}

impl EventType {
    pub const ALL: [Self; 5] = [
        Self::BenefitUnlocked,
        Self::CodeRedeemed,
        Self::PoolLow,
        Self::PoolEmpty,
        Self::RulesPublished,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::BenefitUnlocked => "benefit.unlocked",
            Self::CodeRedeemed => "code.redeemed",
            Self::PoolLow => "pool.low",
            Self::PoolEmpty => "pool.empty",
            Self::RulesPublished => "rules.published",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// What the console says about it.
    pub fn describe(self) -> &'static str {
        match self {
            Self::BenefitUnlocked => "a shopper unlocked an offer (a code was issued)",
            Self::CodeRedeemed => "a code was redeemed through the merchant API",
            Self::PoolLow => "a code pool fell to its low threshold",
            Self::PoolEmpty => "a code pool gave out its last code",
            Self::RulesPublished => "a rules version was published",
        }
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `benefit.unlocked,code.redeemed` (commas, spaces tolerated) into event types, in the
/// canonical order, without repeats; an unknown name or an empty list is an error that lists
/// the known ones.
pub fn parse_events(list: &str) -> Result<Vec<EventType>, String> {
    let mut events = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match EventType::parse(name) {
            Some(t) => events.push(t),
            None => return Err(format!("unknown event {name:?}; known: {}", known_events())),
        }
    }
    if events.is_empty() {
        return Err(format!(
            "name at least one event; known: {}",
            known_events()
        ));
    }
    events.sort();
    events.dedup();
    Ok(events)
}

fn known_events() -> String {
    EventType::ALL.map(EventType::as_str).join(", ")
}

/// An event as the outbox keeps it: its `webhook-id` and the exact body every attempt sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub id: String,
    pub kind: EventType,
    pub payload: String,
    pub at: i64,
}

impl Event {
    /// The Standard Webhooks shape: `{"type", "timestamp", "data"}`.
    fn new(kind: EventType, at: i64, data: serde_json::Value) -> Self {
        let payload = serde_json::json!({
            "type": kind.as_str(),
            "timestamp": rfc3339(at),
            "data": data,
        });
        Self {
            id: new_id(),
            kind,
            payload: payload.to_string(),
            at,
        }
    }

    /// A shopper's claim issued a code (or, for a status-only offer, none). Not the person.
    pub fn benefit_unlocked(offer_id: &str, group: &str, code: Option<&str>, at: i64) -> Self {
        Self::new(
            EventType::BenefitUnlocked,
            at,
            serde_json::json!({ "offer_id": offer_id, "group": group, "code": code }),
        )
    }

    /// A code redeemed for an order through the merchant API.
    pub fn code_redeemed(r: &crate::rewards::redemptions::Redemption) -> Self {
        Self::new(
            EventType::CodeRedeemed,
            r.redeemed_at,
            serde_json::json!({
                "code": r.code,
                "offer_id": r.offer_id,
                "order_id": r.order_id,
                "amount_minor": r.amount_minor,
                "amount": crate::rewards::redemptions::format_amount(r.amount_minor, &r.currency),
                "currency": r.currency,
            }),
        )
    }

    /// A code marked redeemed without an order (a CSV in the console, `perkgate codes
    /// redeemed`): the order's fields are null.
    pub fn code_marked_redeemed(code: &str, offer_id: &str, at: i64) -> Self {
        Self::new(
            EventType::CodeRedeemed,
            at,
            serde_json::json!({
                "code": code,
                "offer_id": offer_id,
                "order_id": null,
                "amount_minor": null,
                "amount": null,
                "currency": null,
            }),
        )
    }

    /// A pool's claim left it at its low threshold.
    pub fn pool_low(pool: &str, remaining: u64, threshold: u64, at: i64) -> Self {
        Self::new(
            EventType::PoolLow,
            at,
            serde_json::json!({ "pool": pool, "remaining": remaining, "threshold": threshold }),
        )
    }

    /// A pool's claim took its last code.
    pub fn pool_empty(pool: &str, at: i64) -> Self {
        Self::new(
            EventType::PoolEmpty,
            at,
            serde_json::json!({ "pool": pool, "remaining": 0 }),
        )
    }

    /// A rules version went live (console, command line or start-up import).
    pub fn rules_published(version: i64, at: i64) -> Self {
        Self::new(
            EventType::RulesPublished,
            at,
            serde_json::json!({ "version": version }),
        )
    }
}

/// `msg_` and 32 hex digits of randomness: unique per event, the same on every attempt.
fn new_id() -> String {
    let bytes: [u8; 16] = rand::random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("msg_{hex}")
}

pub(crate) fn rfc3339(at: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Wakes every deliverer of this process: something was just written to the outbox. (One
/// process may run several apps, in tests: each looks, only the one with work finds it.)
pub fn wake() {
    WAKE.send_modify(|n| *n = n.wrapping_add(1));
}

static WAKE: LazyLock<watch::Sender<u64>> = LazyLock::new(|| watch::channel(0).0);

fn wakes() -> watch::Receiver<u64> {
    WAKE.subscribe()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_lists_are_checked_and_canonical() {
        assert_eq!(
            parse_events("code.redeemed, benefit.unlocked,code.redeemed").unwrap(),
            [EventType::BenefitUnlocked, EventType::CodeRedeemed]
        );
        let unknown = parse_events("benefit.unlocked,code.used").unwrap_err();
        assert!(unknown.contains("\"code.used\"") && unknown.contains("pool.empty"));
        assert!(parse_events(" , ").is_err());
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
    }

    #[test]
    fn payloads_have_the_standard_shape_and_nothing_personal() {
        let redemption = crate::rewards::redemptions::Redemption {
            code: "ABC-123".to_owned(),
            offer_id: "military".to_owned(),
            order_id: "order-1".to_owned(),
            amount_minor: 1250,
            currency: "USD".to_owned(),
            redeemed_at: 1_790_000_000,
        };
        let events = [
            Event::benefit_unlocked("military", "military", Some("ABC-123"), 1_790_000_000),
            Event::code_redeemed(&redemption),
            Event::code_marked_redeemed("ABC-124", "military", 1_790_000_000),
            Event::pool_low("spring", 10, 10, 1_790_000_000),
            Event::pool_empty("spring", 1_790_000_000),
            Event::rules_published(7, 1_790_000_000),
        ];
        let mut ids = std::collections::HashSet::new();
        for e in &events {
            assert!(e.id.starts_with("msg_") && e.id.len() == 36, "{}", e.id);
            assert!(ids.insert(e.id.clone()));
            let v: serde_json::Value = serde_json::from_str(&e.payload).unwrap();
            assert_eq!(v["type"], e.kind.as_str());
            assert_eq!(v["timestamp"], "2026-09-21T14:13:20Z");
            let keys: Vec<&str> = v["data"]
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            // Only these, ever: a new field is a decision, not an accident.
            let allowed = [
                "offer_id",
                "group",
                "code",
                "order_id",
                "amount_minor",
                "amount",
                "currency",
                "pool",
                "remaining",
                "threshold",
                "version",
            ];
            for k in keys {
                assert!(allowed.contains(&k), "{k} in {}", e.payload);
            }
            for personal in ["person", "email", "name", "subject", "uuid"] {
                assert!(!e.payload.contains(personal), "{personal} in {}", e.payload);
            }
        }
        let redeemed: serde_json::Value = serde_json::from_str(&events[1].payload).unwrap();
        assert_eq!(redeemed["data"]["amount"], "12.50");
    }
}
