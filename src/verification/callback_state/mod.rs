//! The callback-state table: which callback `state`s have been answered, and how it ended.
//!
//! The insert of a state's row is the atomic "first one wins" that keeps a duplicate callback
//! (a double click, a refresh, two requests racing on two instances) from redeeming a code
//! twice. Only a hash of the state is stored, with the binding to the browser that began it
//! (see `handover`). The word "claim" belongs to the ledger; here a state is *begun* and
//! *settled*.
//!
//! A row is `running` only while its first request is at work: that work runs to the end in a
//! task of its own (see `callback`), a guard marks it `abandoned` if it cannot, start-up marks
//! what a crash left behind, and one running past [`Verifier::stale_after`] counts as abandoned.
//!
//! [`Verifier::stale_after`]: super::Verifier::stale_after

use std::time::{Duration, Instant};

use rusqlite::OptionalExtension;
use tower_sessions::session::Id;

use super::handover::Caller;
use crate::clock::now;
use crate::crypto::sha256_b64;
use crate::db::{Db, Error};

/// How a begun callback ended, as later requests for the same state see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settled {
    /// Verified, or found verified already. A new session id may be sealed with it.
    Verified,
    /// Ended with a notice in the session, but the response never reached the shopper (the
    /// connection dropped): a retry is sent to the store, where the notice shows.
    Noted,
    /// Ended, and the shopper was answered (the store with a notice, or an error page): a
    /// replay is refused as used.
    Failed,
    /// Never finished: the process died, or the work ran past every timeout.
    Abandoned,
}

impl Settled {
    fn as_str(self) -> &'static str {
        match self {
            Self::Verified => "verified",
            Self::Noted => "noted",
            Self::Failed => "failed",
            Self::Abandoned => "abandoned",
        }
    }

    /// `None` for `running`; anything unknown (a newer version's value) counts as failed.
    fn parse(text: &str) -> Option<Self> {
        match text {
            "running" => None,
            "verified" => Some(Self::Verified),
            "noted" => Some(Self::Noted),
            "abandoned" => Some(Self::Abandoned),
            _ => Some(Self::Failed),
        }
    }
}

/// A state's row, as a request that did not begin it sees it.
#[derive(Debug, PartialEq, Eq)]
pub struct Seen {
    /// `None` while the first request is still at work.
    pub settled: Option<Settled>,
    /// Whether the request looking is the one that began it: the same browser, state and code.
    pub began: bool,
    /// For that request only: the verified session's new id.
    pub handover: Option<Id>,
}

/// What to do with a callback: answer it (this request is the first), or see how the first is
/// doing. After zero-to-production's `NextAction`: a type, not a bool.
#[must_use]
pub enum Begin {
    First(Guard),
    Taken,
}

/// Held by the one request answering a state. `settle` records the outcome; dropped without
/// it (a panic, a cancelled task), it marks the state abandoned, so no retry waits on it.
#[must_use]
pub struct Guard {
    db: Db,
    hash: String,
    caller: Caller,
    settled: bool,
}

impl Guard {
    /// Records how it ended; `session` is the verified session's new id, sealed for the caller.
    pub async fn settle(mut self, outcome: Settled, session: Option<Id>) -> Result<(), Error> {
        const SQL: &str =
            "UPDATE callback_states SET outcome = $1, handover = $2 WHERE state_hash = $3";
        self.settled = true;
        let (outcome, handover) = (outcome.as_str(), session.map(|id| self.caller.seal(id)));
        match &self.db {
            Db::Sqlite(s) => {
                let hash = self.hash.clone();
                s.call(move |c| {
                    Ok(c.prepare_cached(SQL)?
                        .execute(rusqlite::params![outcome, handover, hash])?)
                })
                .await?;
            }
            Db::Postgres(p) => {
                sqlx::query(SQL)
                    .bind(outcome)
                    .bind(handover)
                    .bind(&self.hash)
                    .execute(p)
                    .await?;
            }
        }
        Ok(())
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        // Drop cannot wait: the update runs on its own. Without a runtime (the process is
        // exiting) start-up does it next time.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (db, hash) = (self.db.clone(), std::mem::take(&mut self.hash));
            runtime.spawn(async move {
                tracing::warn!("a callback ended without settling its state; marked abandoned");
                if let Err(e) = abandon(&db, Some(&hash), i64::MAX).await {
                    tracing::warn!(error = %e, "could not mark a callback state abandoned");
                }
            });
        }
    }
}

/// Begins the answer to `state`: `First` for exactly one caller per state, however many race
/// on however many instances.
pub async fn begin(db: &Db, state: &str, caller: &Caller) -> Result<Begin, Error> {
    const SQL: &str = "INSERT INTO callback_states (state_hash, claimed_at, binding) \
                       VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
    let hash = sha256_b64(state);
    let (row, at, binding) = (hash.clone(), now(), caller.binding());
    let inserted = match db {
        Db::Sqlite(s) => {
            s.call(move |c| {
                Ok(c.prepare_cached(SQL)?
                    .execute(rusqlite::params![row, at, binding])?)
            })
            .await? as u64
        }
        Db::Postgres(p) => sqlx::query(SQL)
            .bind(row)
            .bind(at)
            .bind(binding)
            .execute(p)
            .await?
            .rows_affected(),
    };
    Ok(if inserted == 1 {
        Begin::First(Guard {
            db: db.clone(),
            hash,
            caller: caller.clone(),
            settled: false,
        })
    } else {
        Begin::Taken
    })
}

/// The state's row, if it was begun. The request that began it waits (until the row's own
/// deadline: `stale_after` from when it was begun) for it to settle; anyone else gets the
/// row as it is, at once.
pub async fn wait(
    db: &Db,
    state: &str,
    caller: Option<&Caller>,
    stale_after: Duration,
) -> Result<Option<Seen>, Error> {
    let hash = sha256_b64(state);
    // A bound of our own too, whatever the clocks say.
    let deadline = Instant::now() + stale_after + Duration::from_secs(1);
    loop {
        let Some(row) = row(db, &hash).await? else {
            return Ok(None);
        };
        let seen = row.seen(caller, now(), stale_after);
        if seen.settled.is_some() || !seen.began {
            return Ok(Some(seen));
        }
        if Instant::now() >= deadline {
            return Ok(Some(Seen {
                settled: Some(Settled::Abandoned),
                ..seen
            }));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// How long after a state was begun its browser may still be handed the verified session: a
/// retry of a dropped connection comes within minutes, and no later would the old session id
/// and the code together be worth anything.
const HANDOVER_SECS: i64 = 600;

struct Row {
    outcome: String,
    claimed_at: i64,
    binding: Option<String>,
    handover: Option<String>,
}

impl Row {
    fn seen(&self, caller: Option<&Caller>, now: i64, stale_after: Duration) -> Seen {
        let began = match (caller, &self.binding) {
            (Some(caller), Some(binding)) => caller.began(binding),
            _ => false,
        };
        let settled = Settled::parse(&self.outcome)
            .or_else(|| is_stale(self.claimed_at, now, stale_after).then_some(Settled::Abandoned));
        let handover = match (caller, &self.handover) {
            (Some(caller), Some(sealed)) if began && now - self.claimed_at <= HANDOVER_SECS => {
                caller.open(sealed)
            }
            _ => None,
        };
        Seen {
            settled,
            began,
            handover,
        }
    }
}

/// Running past the longest a callback's work can take: whoever began it is gone.
fn is_stale(claimed_at: i64, now: i64, stale_after: Duration) -> bool {
    now - claimed_at > stale_after.as_secs() as i64
}

async fn row(db: &Db, hash: &str) -> Result<Option<Row>, Error> {
    const SQL: &str = "SELECT outcome, claimed_at, binding, handover FROM callback_states \
                       WHERE state_hash = $1";
    let hash = hash.to_owned();
    let row: Option<(String, i64, Option<String>, Option<String>)> = match db {
        Db::Sqlite(s) => {
            s.call(move |c| {
                Ok(c.prepare_cached(SQL)?
                    .query_row([&hash], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                    })
                    .optional()?)
            })
            .await?
        }
        Db::Postgres(p) => sqlx::query_as(SQL).bind(hash).fetch_optional(p).await?,
    };
    Ok(row.map(|(outcome, claimed_at, binding, handover)| Row {
        outcome,
        claimed_at,
        binding,
        handover,
    }))
}

/// At start-up: marks abandoned what a crash left running. On SQLite only this process serves
/// the file, so every running state is a dead process's; on PostgreSQL other instances may be
/// answering theirs right now, so only states past `stale_after` (which none can still be
/// working on) are marked, and younger ones become stale on their own.
pub async fn abandon_unfinished(db: &Db, stale_after: Duration) -> Result<u64, Error> {
    let before = match db {
        Db::Sqlite(_) => now() + 1,
        Db::Postgres(_) => now() - stale_after.as_secs() as i64,
    };
    abandon(db, None, before).await
}

/// Marks running states begun before `before` abandoned: one (`hash`), or all.
async fn abandon(db: &Db, hash: Option<&str>, before: i64) -> Result<u64, Error> {
    const SQL: &str = "UPDATE callback_states SET outcome = 'abandoned' \
                       WHERE outcome = 'running' AND claimed_at < $1 \
                       AND ($2 IS NULL OR state_hash = $2)";
    let hash = hash.map(str::to_owned);
    Ok(match db {
        Db::Sqlite(s) => {
            s.call(move |c| {
                Ok(c.prepare_cached(SQL)?
                    .execute(rusqlite::params![before, hash])?)
            })
            .await? as u64
        }
        Db::Postgres(p) => sqlx::query(SQL)
            .bind(before)
            .bind(hash)
            .execute(p)
            .await?
            .rows_affected(),
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

#[cfg(test)]
mod tests;
