//! Pools and reports: codes left in a pool, claims of an offer, the low-pool warning, seeding
//! pools from their files, and the counts the merchant reads.

use super::codes::{import, parse_codes};
use super::ledger::TOTAL;
use super::levels::PoolLevels;
use crate::db::{Db, Error};
use crate::rules::{CodeSource, Offer, Rules};

/// Codes left in a pool.
pub async fn remaining(db: &Db, pool: &str) -> Result<u64, Error> {
    const SQL: &str = "SELECT count(*) FROM pool_codes WHERE pool = $1 AND claim_id IS NULL";
    let n: i64 = match db {
        Db::Sqlite(s) => {
            let pool = pool.to_owned();
            s.call(move |c| Ok(c.prepare_cached(SQL)?.query_row([pool], |r| r.get(0))?))
                .await?
        }
        Db::Postgres(p) => sqlx::query_scalar(SQL).bind(pool).fetch_one(p).await?,
    };
    Ok(n as u64)
}

/// Claims ever made for an offer (a claim that ran out leaves none).
pub async fn claim_count(db: &Db, offer_id: &str) -> Result<u64, Error> {
    let n: i64 = match db {
        Db::Sqlite(s) => {
            let offer = offer_id.to_owned();
            s.call(move |c| Ok(c.prepare_cached(TOTAL)?.query_row([offer], |r| r.get(0))?))
                .await?
        }
        Db::Postgres(p) => {
            sqlx::query_scalar(TOTAL)
                .bind(offer_id)
                .fetch_one(p)
                .await?
        }
    };
    Ok(n as u64)
}

/// Logs a warning when the pool behind this offer runs low; records what is left.
pub async fn check_low(db: &Db, rules: &Rules, offer: &Offer, levels: &PoolLevels) {
    let CodeSource::Pool(pool) = &offer.code else {
        return;
    };
    let Some(threshold) = rules.pools.get(pool).map(|p| p.low_threshold) else {
        return;
    };
    let left = remaining(db, pool).await;
    if let Ok(n) = &left {
        crate::metrics::pool_remaining(pool, *n);
        levels.set(pool, *n);
    }
    match left {
        Ok(left) if left <= threshold => {
            tracing::warn!(pool = %pool, remaining = left, threshold, "code pool is running low")
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "could not count pool codes"),
    }
}

/// Imports each pool's seed file, if it names one. Missing files are reported, not fatal.
pub async fn seed_pools(db: &Db, rules: &Rules) {
    for pool in rules.pools.values() {
        let Some(path) = &pool.seed else { continue };
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(pool = %pool.id, file = %path.display(), error = %e, "cannot read pool seed file");
                continue;
            }
        };
        let parsed = parse_codes(&text);
        for (line, why) in &parsed.rejected {
            tracing::warn!(pool = %pool.id, file = %path.display(), line, "{why}");
        }
        match import(db, &pool.id, &parsed.codes, crate::clock::now()).await {
            Ok((added, _)) if added > 0 => tracing::info!(pool = %pool.id, added, "pool seeded"),
            Ok(_) => {}
            Err(e) => tracing::warn!(pool = %pool.id, error = %e, "cannot seed pool"),
        }
    }
    for pool in rules.pools.keys() {
        if let Ok(n) = remaining(db, pool).await {
            crate::metrics::pool_remaining(pool, n);
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct PoolStatus {
    pub pool: String,
    pub remaining: u64,
    pub issued: u64,
}

/// Every pool in the database with its counts.
pub async fn pool_status(db: &Db) -> Result<Vec<PoolStatus>, Error> {
    const SQL: &str = "SELECT pool, count(*) FILTER (WHERE claim_id IS NULL), \
                       count(*) FILTER (WHERE claim_id IS NOT NULL) \
                       FROM pool_codes GROUP BY pool ORDER BY pool";
    let rows = triples(db, SQL).await?;
    Ok(rows
        .into_iter()
        .map(|(pool, remaining, issued)| PoolStatus {
            pool,
            remaining: remaining as u64,
            issued: issued as u64,
        })
        .collect())
}

/// Claims per offer (new claims and re-shown codes), for the merchant.
pub async fn unlock_counts(db: &Db) -> Result<Vec<(String, i64, i64)>, Error> {
    const SQL: &str = "SELECT offer_id, count(*) FILTER (WHERE kind = 'claimed'), \
                       count(*) FILTER (WHERE kind = 'reshown') \
                       FROM unlock_events GROUP BY offer_id ORDER BY offer_id";
    triples(db, SQL).await
}

/// The rows of a (text, count, count) report.
async fn triples(db: &Db, sql: &'static str) -> Result<Vec<(String, i64, i64)>, Error> {
    Ok(match db {
        Db::Sqlite(s) => {
            s.call(move |c| {
                let mut stmt = c.prepare(sql)?;
                let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await?
        }
        Db::Postgres(p) => sqlx::query_as(sql).fetch_all(p).await?,
    })
}
