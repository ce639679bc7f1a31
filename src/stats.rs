//! What happened, per day, offer and community, for the merchant's dashboard: verifications
//! started, returned, verified, declined and failed, benefits unlocked, codes redeemed.
//!
//! Counted as it happens, in memory, and added to the database's `daily_counts` every couple
//! of seconds (and at shutdown), so a flow pays a map update, not a write; every instance adds
//! its own counts to the same rows, so the sums add up across instances and survive restarts.
//! Nothing personal is kept: an event, an offer id and a community handle from the rules.
//! A crash loses at most the counts of the last interval.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::admin::store::{self, Val};
use crate::db::{Db, Error};

/// How often the counts go to the database.
pub const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Event {
    /// A shopper was sent to ID.me.
    Started,
    /// ID.me sent the shopper back (with a code, or saying why not).
    Returned,
    /// ID.me confirmed a status (with or without a benefit).
    Verified,
    /// The shopper chose not to share at ID.me.
    Declined,
    /// Not verified: ID.me failed, could not confirm the status, or the attempt expired.
    Failed,
    /// A benefit was unlocked (a code issued or shown again).
    Unlocked,
    /// A code was marked redeemed.
    Redeemed,
}

impl Event {
    pub const ALL: [Self; 7] = [
        Self::Started,
        Self::Returned,
        Self::Verified,
        Self::Declined,
        Self::Failed,
        Self::Unlocked,
        Self::Redeemed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::Returned => "returned",
            Self::Verified => "verified",
            Self::Declined => "declined",
            Self::Failed => "failed",
            Self::Unlocked => "unlocked",
            Self::Redeemed => "redeemed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == s)
    }
}

/// One row's key: the day (days since 1970-01-01, UTC), the event, the offer, the community.
type Key = (i64, Event, Box<str>, Box<str>);

/// The counts not yet in the database; cheap to clone (one map shared).
#[derive(Clone, Default)]
pub struct Counts(Arc<Mutex<HashMap<Key, i64>>>);

pub fn day_of(unix: i64) -> i64 {
    unix.div_euclid(86_400)
}

impl Counts {
    /// Counts one event at `at` (unix seconds); `offer` and `group` are "" where not known.
    pub fn add(&self, at: i64, event: Event, offer: &str, group: &str) {
        self.add_n(at, event, offer, group, 1);
    }

    pub fn add_n(&self, at: i64, event: Event, offer: &str, group: &str, n: i64) {
        if n == 0 {
            return;
        }
        let key = (day_of(at), event, offer.into(), group.into());
        let mut counts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *counts.entry(key).or_insert(0) += n;
    }

    /// Adds what was counted to the database. What could not be written is kept for the next
    /// flush: nothing is lost to a database that is briefly away.
    pub async fn flush(&self, db: &Db) -> Result<(), Error> {
        let taken = std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()));
        let mut first_error = None;
        for ((day, event, offer, group), n) in taken {
            let written = store::exec(
                db,
                "INSERT INTO daily_counts (day, event, offer_id, grp, n) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (day, event, offer_id, grp) DO UPDATE SET n = daily_counts.n + excluded.n",
                vec![
                    Val::Int(day),
                    event.as_str().into(),
                    Val::Text(offer.to_string()),
                    Val::Text(group.to_string()),
                    Val::Int(n),
                ],
            )
            .await;
            if let Err(e) = written {
                let mut counts = self.0.lock().unwrap_or_else(|e| e.into_inner());
                *counts.entry((day, event, offer, group)).or_insert(0) += n;
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Flushes every [`FLUSH_EVERY`] for ever (the caller flushes once more at shutdown).
    pub async fn keep_flushing(self, db: Db) {
        let mut tick = tokio::time::interval(FLUSH_EVERY);
        loop {
            tick.tick().await;
            if let Err(e) = self.flush(&db).await {
                tracing::warn!(error = %e, "could not add the dashboard's counts; kept for later");
            }
        }
    }
}

/// One stored row: a day's count of an event for an offer and a community.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Daily {
    pub day: i64,
    pub event: Event,
    pub offer: String,
    pub group: String,
    pub n: i64,
}

/// The rows of days `from..=to`, in day order.
pub async fn daily(db: &Db, from: i64, to: i64) -> Result<Vec<Daily>, Error> {
    let rows = store::rows(
        db,
        "SELECT day, event, offer_id, grp, n FROM daily_counts WHERE day >= $1 AND day <= $2 \
         ORDER BY day, event, offer_id, grp",
        vec![Val::Int(from), Val::Int(to)],
    )
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(Daily {
                day: r[0].int(),
                event: Event::parse(r[1].text()?)?,
                offer: r[2].string(),
                group: r[3].string(),
                n: r[4].int(),
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_add_up_across_flushes_and_instances_and_survive_a_failed_write() {
        let db = Db::Sqlite(crate::db::Sqlite::open("sqlite::memory:").unwrap());
        let day = 20_000 * 86_400;
        let (a, b) = (Counts::default(), Counts::default());
        a.add(day, Event::Started, "", "military");
        a.add(day + 10, Event::Started, "", "military");
        a.add(day + 86_399, Event::Unlocked, "military", "military");
        b.add(day + 5, Event::Started, "", "military");
        b.add(day + 86_400, Event::Started, "", "student");
        a.flush(&db).await.unwrap();
        b.flush(&db).await.unwrap();
        a.add(day, Event::Started, "", "military");
        a.flush(&db).await.unwrap();
        a.flush(&db).await.unwrap(); // nothing new: nothing added twice

        let rows = daily(&db, 20_000, 20_001).await.unwrap();
        let n = |d: i64, e: Event, offer: &str, group: &str| {
            rows.iter()
                .find(|r| r.day == d && r.event == e && r.offer == offer && r.group == group)
                .map_or(0, |r| r.n)
        };
        assert_eq!(n(20_000, Event::Started, "", "military"), 4);
        assert_eq!(n(20_000, Event::Unlocked, "military", "military"), 1);
        assert_eq!(n(20_001, Event::Started, "", "student"), 1);
        assert_eq!(rows.len(), 3);
        assert!(daily(&db, 19_000, 19_999).await.unwrap().is_empty());

        // A database that refuses the write: the counts wait for the next flush.
        let broken = Db::Sqlite(crate::db::Sqlite::open("sqlite::memory:").unwrap());
        if let Db::Sqlite(s) = &broken {
            s.call(|c| Ok(c.execute_batch("DROP TABLE daily_counts")?))
                .await
                .unwrap();
        }
        a.add(day, Event::Declined, "", "student");
        assert!(a.flush(&broken).await.is_err());
        a.flush(&db).await.unwrap();
        let rows = daily(&db, 20_000, 20_000).await.unwrap();
        assert!(rows.iter().any(|r| r.event == Event::Declined && r.n == 1));
    }

    #[test]
    fn days_are_utc_days_since_the_epoch() {
        assert_eq!(day_of(0), 0);
        assert_eq!(day_of(86_399), 0);
        assert_eq!(day_of(86_400), 1);
        assert_eq!(day_of(-1), -1);
        for e in Event::ALL {
            assert_eq!(Event::parse(e.as_str()), Some(e));
        }
    }
}
