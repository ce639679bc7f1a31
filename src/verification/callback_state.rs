//! The callback-state table: which callback `state`s have been answered, and how it ended.
//!
//! The insert of a state's row is the atomic "first one wins" that keeps a duplicate callback
//! (a double click, a refresh, two requests racing on two instances) from redeeming a code
//! twice. Only a hash of the state is stored. The word "claim" belongs to the ledger; here a
//! state is *begun* and *settled*.

use std::time::{Duration, Instant};

use rusqlite::OptionalExtension;

use crate::clock::now;
use crate::crypto::sha256_b64;
use crate::db::{Db, Error};

/// How a begun callback ended, as later requests for the same state see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settled {
    Verified,
    Failed,
}

/// What to do with a callback: answer it (this request is the first), or report how the first
/// one ended. After zero-to-production's `NextAction`: a type, not a bool.
#[must_use]
pub enum Begin {
    First(Guard),
    Duplicate(Settled),
}

/// Held by the one request answering a state; `settle` records the outcome for duplicates.
#[must_use]
pub struct Guard {
    db: Db,
    hash: String,
}

impl Guard {
    pub async fn settle(self, outcome: Settled) -> Result<(), Error> {
        const SQL: &str = "UPDATE callback_states SET outcome = $1 WHERE state_hash = $2";
        let outcome = match outcome {
            Settled::Verified => "verified",
            Settled::Failed => "failed",
        };
        match &self.db {
            Db::Sqlite(s) => {
                let hash = self.hash;
                s.call(move |c| Ok(c.prepare_cached(SQL)?.execute([outcome, hash.as_str()])?))
                    .await?;
            }
            Db::Postgres(p) => {
                sqlx::query(SQL)
                    .bind(outcome)
                    .bind(&self.hash)
                    .execute(p)
                    .await?;
            }
        }
        Ok(())
    }
}

/// Begins the answer to `state`: `First` for exactly one caller per state, however many race
/// on however many instances. A duplicate waits (at most `wait`) for the first to settle.
pub async fn begin(db: &Db, state: &str, wait: Duration) -> Result<Begin, Error> {
    const SQL: &str = "INSERT INTO callback_states (state_hash, claimed_at) VALUES ($1, $2) \
                       ON CONFLICT DO NOTHING";
    let hash = sha256_b64(state);
    let (row, at) = (hash.clone(), now());
    let inserted = match db {
        Db::Sqlite(s) => {
            s.call(move |c| Ok(c.prepare_cached(SQL)?.execute(rusqlite::params![row, at])?))
                .await? as u64
        }
        Db::Postgres(p) => sqlx::query(SQL)
            .bind(row)
            .bind(at)
            .execute(p)
            .await?
            .rows_affected(),
    };
    if inserted == 1 {
        return Ok(Begin::First(Guard {
            db: db.clone(),
            hash,
        }));
    }
    let deadline = Instant::now() + wait;
    loop {
        match outcome(db, &hash).await? {
            Some(settled) => return Ok(Begin::Duplicate(settled)),
            // Still running past every ID.me timeout: the first request will not finish well.
            None if Instant::now() >= deadline => return Ok(Begin::Duplicate(Settled::Failed)),
            None => tokio::time::sleep(Duration::from_millis(25)).await,
        }
    }
}

/// `None` while the first request is still running.
async fn outcome(db: &Db, hash: &str) -> Result<Option<Settled>, Error> {
    const SQL: &str = "SELECT outcome FROM callback_states WHERE state_hash = $1";
    let hash = hash.to_owned();
    let outcome: Option<String> = match db {
        Db::Sqlite(s) => {
            s.call(move |c| {
                Ok(c.prepare_cached(SQL)?
                    .query_row([&hash], |r| r.get(0))
                    .optional()?)
            })
            .await?
        }
        Db::Postgres(p) => sqlx::query_scalar(SQL).bind(hash).fetch_optional(p).await?,
    };
    Ok(match outcome.as_deref() {
        Some("running") => None,
        Some("verified") => Some(Settled::Verified),
        _ => Some(Settled::Failed),
    })
}

/// Forgets states older than an hour: pending authorizations live ten minutes, so an older
/// state can no longer match anything.
pub async fn prune(db: &Db) -> Result<u64, Error> {
    const SQL: &str = "DELETE FROM callback_states WHERE claimed_at < $1";
    let before = now() - 3600;
    Ok(match db {
        Db::Sqlite(s) => s.call(move |c| Ok(c.execute(SQL, [before])?)).await? as u64,
        Db::Postgres(p) => sqlx::query(SQL)
            .bind(before)
            .execute(p)
            .await?
            .rows_affected(),
    })
}
