//! The ledger: hands out codes (static, pooled, generated or none), enforces per-person limits
//! and total caps, and shows a returning shopper their earlier unused code.
//!
//! A claim's logic ([`claim_in`]) is written once over the [`Ledger`] statements, which each
//! database implements. Claims are serialized so a pool code goes to exactly one claim and two
//! sessions of one person cannot both slip under a limit, however many requests race: on
//! SQLite by its single database thread, on PostgreSQL by a per-offer advisory lock.

mod codes;
mod ledger;
mod levels;
mod pools;
pub mod redemptions;
pub mod support;

use crate::db::{Db, Error, sqlite};
use crate::rules::{CodeSource, Limit, Offer};
use crate::webhooks::{Event, EventType};
use codes::generate;
use ledger::{Ledger, OnSqlite};

pub use codes::{CodesFile, import, is_code, mark_redeemed, parse_codes};
pub use levels::{PoolLevels, history as level_history, record_level};
pub use pools::{
    PoolStatus, check_low, claim_count, pool_status, remaining, seed_pools, unlock_counts,
};

/// What a claim attempt came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// A code (or none, for status-only offers); `reused` when it is the shopper's earlier one.
    Issued { code: Option<String>, reused: bool },
    /// The offer's pool has no code left.
    RanOut,
    /// The person already had `claims` claims in the period; the next is possible at `until`.
    LimitReached { until: i64 },
    /// The offer's total cap is used up.
    CapReached,
}

impl Claim {
    /// Whether the claim's writes are kept.
    fn keeps(&self) -> bool {
        matches!(self, Self::Issued { .. })
    }
}

/// What a claim needs of an offer, owned: on SQLite it travels to the database thread.
struct Terms {
    offer_id: String,
    /// Recorded with the unlock event (the offer's first group).
    group: String,
    limit: Option<Limit>,
    total_cap: Option<u64>,
    code: CodeSource,
    /// The pool's `low_threshold` (0: the 10% rule of `support::level`), for `pool.low`.
    low_threshold: u64,
}

impl Terms {
    fn of(offer: &Offer) -> Self {
        Self {
            offer_id: offer.id.clone(),
            group: offer.groups.first().cloned().unwrap_or_default(),
            limit: offer.limit,
            total_cap: offer.total_cap,
            code: offer.code.clone(),
            low_threshold: 0,
        }
    }
}

/// Claims `offer` for a person: their earlier unused code, a new one, or why not.
pub async fn claim(db: &Db, offer: &Offer, person_key: &str, at: i64) -> Result<Claim, Error> {
    claim_terms(db, Terms::of(offer), person_key, at).await
}

/// [`claim`], with the rules the offer is from: its pool's low threshold, for `pool.low`.
pub async fn claim_from(
    db: &Db,
    rules: &crate::rules::Rules,
    offer: &Offer,
    person_key: &str,
    at: i64,
) -> Result<Claim, Error> {
    let mut terms = Terms::of(offer);
    if let CodeSource::Pool(pool) = &offer.code {
        terms.low_threshold = rules.pools.get(pool).map_or(0, |p| p.low_threshold);
    }
    claim_terms(db, terms, person_key, at).await
}

async fn claim_terms(db: &Db, terms: Terms, person_key: &str, at: i64) -> Result<Claim, Error> {
    match db {
        Db::Sqlite(s) => {
            let person = person_key.to_owned();
            s.call(move |c| {
                // A savepoint of its own: a claim that comes to nothing leaves nothing behind.
                let sp = c.savepoint()?;
                let claim = sqlite::run_now(claim_in(&mut OnSqlite(&sp), &terms, &person, at))
                    .unwrap_or_else(|| Err(Error::Other("a SQLite claim waited".to_owned())))?;
                if claim.keeps() {
                    sp.commit()?;
                }
                Ok(claim)
            })
            .await
        }
        Db::Postgres(p) => {
            let mut tx = p.begin().await?;
            // Claims of one offer take turns (limits and caps count, then insert); pool rows
            // are also taken with SKIP LOCKED.
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
                .bind(&terms.offer_id)
                .execute(&mut *tx)
                .await?;
            let claim = claim_in(&mut *tx, &terms, person_key, at).await?;
            if claim.keeps() {
                tx.commit().await?;
                // Its webhook events are committed now: the deliverer may look.
                crate::webhooks::wake();
            }
            Ok(claim)
        }
    }
}

/// The claim itself. Writes are kept only when it ends in `Issued`.
async fn claim_in<L: Ledger>(l: &mut L, t: &Terms, person: &str, at: i64) -> Result<Claim, Error> {
    // A returning shopper sees their earlier unused code: within the limit's period, or at
    // any time when the offer has no limit.
    let since = t.limit.map_or(i64::MIN, |l| at - l.period_secs());
    if let Some(code) = l.earlier_code(&t.offer_id, person, since).await? {
        l.event(&t.offer_id, &t.group, at, "reshown").await?;
        return Ok(Claim::Issued { code, reused: true });
    }
    if let Some(limit) = t.limit {
        let recent = l.recent(&t.offer_id, person, since).await?;
        if recent.len() >= limit.claims as usize {
            let oldest = recent.first().copied().unwrap_or(at);
            return Ok(Claim::LimitReached {
                until: oldest + limit.period_secs(),
            });
        }
    }
    if let Some(cap) = t.total_cap
        && l.total(&t.offer_id).await? >= cap
    {
        return Ok(Claim::CapReached);
    }
    let claim_id = l.insert_claim(&t.offer_id, person, at).await?;
    let code = match &t.code {
        CodeSource::Static(code) => Some(code.clone()),
        CodeSource::None => None,
        CodeSource::Pool(pool) => match l.take_pool_code(claim_id, pool).await? {
            Some(code) => {
                pool_crossing(l, pool, t.low_threshold, at).await?;
                Some(code)
            }
            None => return Ok(Claim::RanOut),
        },
        CodeSource::Generated { prefix, length } => loop {
            let candidate = generate(prefix, *length);
            if !l.code_taken(&candidate).await? {
                break Some(candidate);
            }
        },
    };
    l.set_code(claim_id, code.as_deref()).await?;
    l.event(&t.offer_id, &t.group, at, "claimed").await?;
    let unlocked = Event::benefit_unlocked(&t.offer_id, &t.group, code.as_deref(), at);
    l.webhook(&unlocked).await?;
    Ok(Claim::Issued {
        code,
        reused: false,
    })
}

/// `pool.low` when this claim brought the pool to its threshold, `pool.empty` when it took the
/// last code: once per crossing (claims of a pool take one code at a time, in turn), and
/// only counted when someone subscribes.
async fn pool_crossing<L: Ledger>(l: &mut L, pool: &str, low: u64, at: i64) -> Result<(), Error> {
    if !l
        .subscribed(&[EventType::PoolLow, EventType::PoolEmpty])
        .await?
    {
        return Ok(());
    }
    let (left, issued) = l.pool_counts(pool).await?;
    let threshold = support::threshold(left, issued, low);
    if left == 0 {
        l.webhook(&Event::pool_empty(pool, at)).await?;
    } else if left == threshold {
        l.webhook(&Event::pool_low(pool, left, threshold, at))
            .await?;
    }
    Ok(())
}
