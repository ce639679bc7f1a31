//! How many codes each pool has left, as this instance last saw it: the storefront says on
//! an offer's card when its codes have run out, without a database query per page view.
//!
//! Counted at start-up, after every rules reload and every minute (so codes imported by the
//! CLI or claimed on another instance show up), and updated by every claim made here.
//!
//! Each count is also the pool's level of the day (`pool_levels`, which the dashboard charts):
//! written when it changed, so a day's row holds the day's last count.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use super::pools::remaining;
use crate::admin::store::{self, Val};
use crate::db::{Db, Error};
use crate::rules::{CodeSource, Offer, Rules};

#[derive(Clone, Default)]
pub struct PoolLevels {
    left: Arc<RwLock<HashMap<String, u64>>>,
    /// Pool → the (day, level) last written to `pool_levels` from here.
    written: Arc<Mutex<HashMap<String, (i64, u64)>>>,
}

impl PoolLevels {
    /// Counts every pool the rules name, and keeps each count as the pool's level of today.
    pub async fn refresh(&self, db: &Db, rules: &Rules) {
        let day = crate::stats::day_of(crate::clock::now());
        for pool in rules.pools.keys() {
            match remaining(db, pool).await {
                Ok(n) => {
                    self.set(pool, n);
                    if let Err(e) = self.record(db, day, pool, n).await {
                        tracing::warn!(pool = %pool, error = %e, "could not keep the pool's level of the day");
                    }
                }
                Err(e) => tracing::warn!(pool = %pool, error = %e, "could not count pool codes"),
            }
        }
    }

    /// Writes `left` as `pool`'s level of `day`, unless that is what was last written here.
    async fn record(&self, db: &Db, day: i64, pool: &str, left: u64) -> Result<(), Error> {
        let fresh = |w: &HashMap<String, (i64, u64)>| w.get(pool) != Some(&(day, left));
        if !fresh(&self.written.lock().unwrap_or_else(|e| e.into_inner())) {
            return Ok(());
        }
        record_level(db, day, pool, left).await?;
        (self.written.lock().unwrap_or_else(|e| e.into_inner()))
            .insert(pool.to_owned(), (day, left));
        Ok(())
    }

    pub fn set(&self, pool: &str, left: u64) {
        // A poisoned lock only means a panic elsewhere mid-insert: the map is still usable.
        let mut levels = self.left.write().unwrap_or_else(|e| e.into_inner());
        levels.insert(pool.to_owned(), left);
    }

    /// Whether this offer draws from a pool known to be empty (unknown counts as not empty).
    pub fn ran_out(&self, offer: &Offer) -> bool {
        let CodeSource::Pool(pool) = &offer.code else {
            return false;
        };
        let levels = self.left.read().unwrap_or_else(|e| e.into_inner());
        levels.get(pool) == Some(&0)
    }
}

/// Sets `pool`'s level of `day` (every instance writes the same counts: the last one stays).
pub async fn record_level(db: &Db, day: i64, pool: &str, left: u64) -> Result<(), Error> {
    const SQL: &str = "INSERT INTO pool_levels (day, pool, remaining) VALUES ($1, $2, $3) \
                       ON CONFLICT (day, pool) DO UPDATE SET remaining = excluded.remaining";
    let left = i64::try_from(left).unwrap_or(i64::MAX);
    let params = vec![Val::Int(day), Val::from(pool), Val::Int(left)];
    store::rows(db, SQL, params).await.map(|_| ())
}

/// Each pool's level on days `from..=to` as `(day, pool, remaining)`, by day, and before them
/// the last level each pool had before `from` (at its own day), so a line can start at `from`.
pub async fn history(db: &Db, from: i64, to: i64) -> Result<Vec<(i64, String, u64)>, Error> {
    const SQL: &str = "SELECT l.day, l.pool, l.remaining FROM pool_levels l \
         JOIN (SELECT pool, max(day) AS day FROM pool_levels WHERE day < $1 GROUP BY pool) b \
         ON l.pool = b.pool AND l.day = b.day \
         UNION ALL SELECT day, pool, remaining FROM pool_levels WHERE day >= $1 AND day <= $2 \
         ORDER BY 1, 2";
    let rows = store::rows(db, SQL, vec![Val::Int(from), Val::Int(to)]).await?;
    Ok(rows
        .iter()
        .map(|r| (r[0].int(), r[1].string(), r[2].int().max(0) as u64))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_pool_counted_at_zero_has_run_out() {
        let rules = crate::rules::parse(
            "r.toml",
            r#"
[pools.p]

[[offers]]
id = "a"
title = "A"
groups = ["military"]
percent = 10
code = { pool = "p" }

[[offers]]
id = "b"
title = "B"
groups = ["military"]
percent = 5
code = "B5"
"#,
            None,
        )
        .unwrap()
        .rules;
        let levels = PoolLevels::default();
        assert!(!levels.ran_out(&rules.offers[0]), "unknown is not empty");
        levels.set("p", 0);
        assert!(levels.ran_out(&rules.offers[0]));
        assert!(
            !levels.ran_out(&rules.offers[1]),
            "a static code never runs out"
        );
        levels.set("p", 3);
        assert!(!levels.ran_out(&rules.offers[0]));
    }
}
