//! How many codes each pool has left, as this instance last saw it: the storefront says on
//! an offer's card when its codes have run out, without a database query per page view.
//!
//! Counted at start-up, after every rules reload and every minute (so codes imported by the
//! CLI or claimed on another instance show up), and updated by every claim made here.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::pools::remaining;
use crate::db::Db;
use crate::rules::{CodeSource, Offer, Rules};

#[derive(Clone, Default)]
pub struct PoolLevels(Arc<RwLock<HashMap<String, u64>>>);

impl PoolLevels {
    /// Counts every pool the rules name.
    pub async fn refresh(&self, db: &Db, rules: &Rules) {
        for pool in rules.pools.keys() {
            match remaining(db, pool).await {
                Ok(n) => self.set(pool, n),
                Err(e) => tracing::warn!(pool = %pool, error = %e, "could not count pool codes"),
            }
        }
    }

    pub fn set(&self, pool: &str, left: u64) {
        // A poisoned lock only means a panic elsewhere mid-insert: the map is still usable.
        let mut levels = self.0.write().unwrap_or_else(|e| e.into_inner());
        levels.insert(pool.to_owned(), left);
    }

    /// Whether this offer draws from a pool known to be empty (unknown counts as not empty).
    pub fn ran_out(&self, offer: &Offer) -> bool {
        let CodeSource::Pool(pool) = &offer.code else {
            return false;
        };
        let levels = self.0.read().unwrap_or_else(|e| e.into_inner());
        levels.get(pool) == Some(&0)
    }
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
