//! The [`Ledger`] statements a claim is made of: their SQL text, the same on both databases,
//! and one implementation per database.

use rusqlite::OptionalExtension;
use sqlx::PgConnection;

use crate::admin::store;
use crate::db::Error;
use crate::webhooks::{Event, EventType, outbox};

// The statements of a claim, the same text on both databases.
// A revoked code is never shown again; a claim whose limit support reset no longer counts.
const EARLIER_CODE: &str = "SELECT code FROM claims WHERE offer_id = $1 AND person_key = $2 \
     AND redeemed_at IS NULL AND revoked_at IS NULL AND limit_reset_at IS NULL \
     AND claimed_at > $3 ORDER BY claimed_at DESC, id DESC LIMIT 1";
const RECENT: &str = "SELECT claimed_at FROM claims WHERE offer_id = $1 AND person_key = $2 \
     AND limit_reset_at IS NULL AND claimed_at > $3 ORDER BY claimed_at ASC";
pub(super) const TOTAL: &str = "SELECT count(*) FROM claims WHERE offer_id = $1";
const INSERT_CLAIM: &str =
    "INSERT INTO claims (offer_id, person_key, claimed_at) VALUES ($1, $2, $3) RETURNING id";
macro_rules! take_pool_code {
    ($lock:literal) => {
        concat!(
            "UPDATE pool_codes SET claim_id = $1 WHERE pool = $2 AND code = \
             (SELECT code FROM pool_codes WHERE pool = $2 AND claim_id IS NULL \
             ORDER BY imported_at, code LIMIT 1",
            $lock,
            ") RETURNING code"
        )
    };
}
const CODE_TAKEN: &str = "SELECT count(*) FROM claims WHERE code = $1";
const SET_CODE: &str = "UPDATE claims SET code = $1 WHERE id = $2";
const EVENT: &str = "INSERT INTO unlock_events (offer_id, grp, at, kind) VALUES ($1, $2, $3, $4)";

/// The statements [`claim_in`] is made of, one implementation per database.
pub(super) trait Ledger {
    /// The person's latest unredeemed claim since `since`: `Some(code)` (a code-less offer's
    /// claim has `None`).
    async fn earlier_code(
        &mut self,
        offer: &str,
        person: &str,
        since: i64,
    ) -> Result<Option<Option<String>>, Error>;
    /// When the person claimed since `since`, oldest first.
    async fn recent(&mut self, offer: &str, person: &str, since: i64) -> Result<Vec<i64>, Error>;
    async fn total(&mut self, offer: &str) -> Result<u64, Error>;
    async fn insert_claim(&mut self, offer: &str, person: &str, at: i64) -> Result<i64, Error>;
    async fn take_pool_code(&mut self, claim_id: i64, pool: &str) -> Result<Option<String>, Error>;
    async fn code_taken(&mut self, code: &str) -> Result<bool, Error>;
    async fn set_code(&mut self, claim_id: i64, code: Option<&str>) -> Result<(), Error>;
    async fn event(&mut self, offer: &str, group: &str, at: i64, kind: &str) -> Result<(), Error>;
    /// Codes left in a pool and codes issued from it.
    async fn pool_counts(&mut self, pool: &str) -> Result<(u64, u64), Error>;
    /// Whether an enabled webhook endpoint subscribes to any of `kinds`.
    async fn subscribed(&mut self, kinds: &[EventType]) -> Result<bool, Error>;
    /// Writes a webhook event to the outbox, in the claim's transaction.
    async fn webhook(&mut self, event: &Event) -> Result<(), Error>;
}

const POOL_COUNTS: &str = "SELECT count(*) FILTER (WHERE claim_id IS NULL), \
     count(*) FILTER (WHERE claim_id IS NOT NULL) FROM pool_codes WHERE pool = $1";

/// On the SQLite database thread: nothing here ever waits.
pub(super) struct OnSqlite<'c>(pub(super) &'c rusqlite::Connection);

impl Ledger for OnSqlite<'_> {
    async fn earlier_code(
        &mut self,
        offer: &str,
        person: &str,
        since: i64,
    ) -> Result<Option<Option<String>>, Error> {
        Ok(self
            .0
            .prepare_cached(EARLIER_CODE)?
            .query_row(rusqlite::params![offer, person, since], |r| r.get(0))
            .optional()?)
    }

    async fn recent(&mut self, offer: &str, person: &str, since: i64) -> Result<Vec<i64>, Error> {
        let mut stmt = self.0.prepare_cached(RECENT)?;
        let rows = stmt.query_map(rusqlite::params![offer, person, since], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    async fn total(&mut self, offer: &str) -> Result<u64, Error> {
        Ok(self
            .0
            .prepare_cached(TOTAL)?
            .query_row([offer], |r| r.get(0))?)
    }

    async fn insert_claim(&mut self, offer: &str, person: &str, at: i64) -> Result<i64, Error> {
        Ok(self
            .0
            .prepare_cached(INSERT_CLAIM)?
            .query_row(rusqlite::params![offer, person, at], |r| r.get(0))?)
    }

    async fn take_pool_code(&mut self, claim_id: i64, pool: &str) -> Result<Option<String>, Error> {
        Ok(self
            .0
            .prepare_cached(take_pool_code!(""))?
            .query_row(rusqlite::params![claim_id, pool], |r| r.get(0))
            .optional()?)
    }

    async fn code_taken(&mut self, code: &str) -> Result<bool, Error> {
        let n: i64 = self
            .0
            .prepare_cached(CODE_TAKEN)?
            .query_row([code], |r| r.get(0))?;
        Ok(n > 0)
    }

    async fn set_code(&mut self, claim_id: i64, code: Option<&str>) -> Result<(), Error> {
        self.0
            .prepare_cached(SET_CODE)?
            .execute(rusqlite::params![code, claim_id])?;
        Ok(())
    }

    async fn event(&mut self, offer: &str, group: &str, at: i64, kind: &str) -> Result<(), Error> {
        self.0
            .prepare_cached(EVENT)?
            .execute(rusqlite::params![offer, group, at, kind])?;
        Ok(())
    }

    async fn pool_counts(&mut self, pool: &str) -> Result<(u64, u64), Error> {
        let (left, issued): (i64, i64) = self
            .0
            .prepare_cached(POOL_COUNTS)?
            .query_row([pool], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok((left as u64, issued as u64))
    }

    async fn subscribed(&mut self, kinds: &[EventType]) -> Result<bool, Error> {
        outbox::subscribed(&mut store::OnSqlite(self.0), kinds).await
    }

    async fn webhook(&mut self, event: &Event) -> Result<(), Error> {
        outbox::enqueue(&mut store::OnSqlite(self.0), event)
            .await
            .map(|_| ())
    }
}

/// On a PostgreSQL transaction.
impl Ledger for PgConnection {
    async fn earlier_code(
        &mut self,
        offer: &str,
        person: &str,
        since: i64,
    ) -> Result<Option<Option<String>>, Error> {
        Ok(sqlx::query_scalar(EARLIER_CODE)
            .bind(offer)
            .bind(person)
            .bind(since)
            .fetch_optional(self)
            .await?)
    }

    async fn recent(&mut self, offer: &str, person: &str, since: i64) -> Result<Vec<i64>, Error> {
        Ok(sqlx::query_scalar(RECENT)
            .bind(offer)
            .bind(person)
            .bind(since)
            .fetch_all(self)
            .await?)
    }

    async fn total(&mut self, offer: &str) -> Result<u64, Error> {
        let n: i64 = sqlx::query_scalar(TOTAL)
            .bind(offer)
            .fetch_one(self)
            .await?;
        Ok(n as u64)
    }

    async fn insert_claim(&mut self, offer: &str, person: &str, at: i64) -> Result<i64, Error> {
        Ok(sqlx::query_scalar(INSERT_CLAIM)
            .bind(offer)
            .bind(person)
            .bind(at)
            .fetch_one(self)
            .await?)
    }

    async fn take_pool_code(&mut self, claim_id: i64, pool: &str) -> Result<Option<String>, Error> {
        Ok(
            sqlx::query_scalar(take_pool_code!(" FOR UPDATE SKIP LOCKED"))
                .bind(claim_id)
                .bind(pool)
                .fetch_optional(self)
                .await?,
        )
    }

    async fn code_taken(&mut self, code: &str) -> Result<bool, Error> {
        let n: i64 = sqlx::query_scalar(CODE_TAKEN)
            .bind(code)
            .fetch_one(self)
            .await?;
        Ok(n > 0)
    }

    async fn set_code(&mut self, claim_id: i64, code: Option<&str>) -> Result<(), Error> {
        sqlx::query(SET_CODE)
            .bind(code)
            .bind(claim_id)
            .execute(self)
            .await?;
        Ok(())
    }

    async fn event(&mut self, offer: &str, group: &str, at: i64, kind: &str) -> Result<(), Error> {
        sqlx::query(EVENT)
            .bind(offer)
            .bind(group)
            .bind(at)
            .bind(kind)
            .execute(self)
            .await?;
        Ok(())
    }

    async fn pool_counts(&mut self, pool: &str) -> Result<(u64, u64), Error> {
        // Claims of one offer take turns, but offers may share a pool: counting under the
        // pool's own lock, each claim sees the others' committed takes (a fresh snapshot per
        // statement), so no crossing of the low threshold is missed or told twice.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('pool:' || $1))")
            .bind(pool)
            .execute(&mut *self)
            .await?;
        let (left, issued): (i64, i64) = sqlx::query_as(POOL_COUNTS)
            .bind(pool)
            .fetch_one(&mut *self)
            .await?;
        Ok((left as u64, issued as u64))
    }

    async fn subscribed(&mut self, kinds: &[EventType]) -> Result<bool, Error> {
        outbox::subscribed(self, kinds).await
    }

    async fn webhook(&mut self, event: &Event) -> Result<(), Error> {
        outbox::enqueue(self, event).await.map(|_| ())
    }
}
