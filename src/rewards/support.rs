//! The console's view of the ledger: pool counts, the issued codes for reconciliation, and
//! support's actions on one claim found by its code: look it up, revoke the code, reset the
//! person's limit. The person key never leaves the database: queries compare it in SQL and
//! answer counts only.

use crate::admin::store::{self, Row, Val};
use crate::db::{Db, Error};

/// A pool's codes as the database has them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PoolCounts {
    pub pool: String,
    pub remaining: u64,
    pub issued: u64,
    pub redeemed: u64,
    pub revoked: u64,
}

/// Every pool that has codes, by name.
pub async fn pool_counts(db: &Db) -> Result<Vec<PoolCounts>, Error> {
    const SQL: &str = "SELECT p.pool, count(*) FILTER (WHERE p.claim_id IS NULL), \
         count(*) FILTER (WHERE p.claim_id IS NOT NULL), count(c.redeemed_at), \
         count(c.revoked_at) \
         FROM pool_codes p LEFT JOIN claims c ON c.id = p.claim_id \
         GROUP BY p.pool ORDER BY p.pool";
    Ok(store::rows(db, SQL, vec![])
        .await?
        .iter()
        .map(|r| PoolCounts {
            pool: r[0].string(),
            remaining: count(&r[1]),
            issued: count(&r[2]),
            redeemed: count(&r[3]),
            revoked: count(&r[4]),
        })
        .collect())
}

fn count(v: &Val) -> u64 {
    v.int().max(0) as u64
}

fn opt(v: &Val) -> Option<i64> {
    matches!(v, Val::Int(_)).then(|| v.int())
}

/// How full a pool is, said in words on the page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Ok,
    Low,
    Empty,
}

/// The count at or below which a pool is low: its `low_threshold`, or without one (0) 10% of
/// the codes it ever had (also what `pool.low` webhooks are sent at).
pub fn threshold(remaining: u64, issued: u64, low_threshold: u64) -> u64 {
    if low_threshold > 0 {
        low_threshold
    } else {
        (remaining + issued) / 10
    }
}

/// A pool is low at or below its `low_threshold` (as `codes status` and the log warning
/// say); a pool without one (0, the default) is low below 10% of the codes it ever had.
pub fn level(remaining: u64, issued: u64, low_threshold: u64) -> Level {
    let threshold = threshold(remaining, issued, low_threshold);
    match remaining {
        0 => Level::Empty,
        n if n <= threshold => Level::Low,
        _ => Level::Ok,
    }
}

/// One issued code, for the reconciliation download: no person key, nothing personal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issued {
    pub id: i64,
    pub code: String,
    /// Empty for a code that did not come from a pool (static or generated).
    pub pool: String,
    pub offer: String,
    pub issued_at: i64,
    pub redeemed_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// Issued codes after claim `after`, oldest first, at most `limit`: the download reads in
/// pages so no one database call holds the SQLite thread for long.
pub async fn issued_page(db: &Db, after: i64, limit: i64) -> Result<Vec<Issued>, Error> {
    const SQL: &str = "SELECT c.id, c.code, coalesce(p.pool, ''), c.offer_id, c.claimed_at, \
         c.redeemed_at, c.revoked_at FROM claims c LEFT JOIN pool_codes p ON p.claim_id = c.id \
         WHERE c.code IS NOT NULL AND c.id > $1 ORDER BY c.id LIMIT $2";
    Ok(store::rows(db, SQL, vec![Val::Int(after), Val::Int(limit)])
        .await?
        .iter()
        .map(|r| Issued {
            id: r[0].int(),
            code: r[1].string(),
            pool: r[2].string(),
            offer: r[3].string(),
            issued_at: r[4].int(),
            redeemed_at: opt(&r[5]),
            revoked_at: opt(&r[6]),
        })
        .collect())
}

/// A claim found by its code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub code: String,
    pub offer: String,
    pub pool: String,
    pub issued_at: i64,
    pub redeemed_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub limit_reset_at: Option<i64>,
    /// Claims the same person has, of every offer and of this one.
    pub person_claims: u64,
    pub person_claims_of_offer: u64,
}

/// What a lookup came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    NotFound,
    /// A code many claims share (an offer's static code): it names no one claim.
    Shared {
        claims: u64,
    },
    Found(Found),
}

pub async fn lookup(db: &Db, code: &str) -> Result<Lookup, Error> {
    const COUNT: &str = "SELECT count(*) FROM claims WHERE code = $1";
    const SQL: &str = "SELECT c.code, c.offer_id, coalesce(p.pool, ''), c.claimed_at, \
         c.redeemed_at, c.revoked_at, c.limit_reset_at, \
         (SELECT count(*) FROM claims o WHERE o.person_key = c.person_key), \
         (SELECT count(*) FROM claims o WHERE o.person_key = c.person_key \
          AND o.offer_id = c.offer_id) \
         FROM claims c LEFT JOIN pool_codes p ON p.claim_id = c.id WHERE c.code = $1";
    let claims = store::one(db, COUNT, vec![code.into()])
        .await?
        .map_or(0, |r| count(&r[0]));
    if claims > 1 {
        return Ok(Lookup::Shared { claims });
    }
    let Some(r) = store::one(db, SQL, vec![code.into()]).await? else {
        return Ok(Lookup::NotFound);
    };
    Ok(Lookup::Found(found(&r)))
}

fn found(r: &Row) -> Found {
    Found {
        code: r[0].string(),
        offer: r[1].string(),
        pool: r[2].string(),
        issued_at: r[3].int(),
        redeemed_at: opt(&r[4]),
        revoked_at: opt(&r[5]),
        limit_reset_at: opt(&r[6]),
        person_claims: count(&r[7]),
        person_claims_of_offer: count(&r[8]),
    }
}

/// What a support action came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Done: the claim's offer, and how many claims it changed.
    Done { offer: String, claims: u64 },
    /// Nothing to do: already revoked, or no claim left counting towards the limit.
    Already,
    /// No single claim has this code (unknown, or shared).
    NotOne,
}

async fn outcome(db: &Db, code: &str, changed: Vec<Row>) -> Result<Outcome, Error> {
    if let Some(first) = changed.first() {
        return Ok(Outcome::Done {
            offer: first[0].string(),
            claims: changed.len() as u64,
        });
    }
    Ok(match lookup(db, code).await? {
        Lookup::Found(_) => Outcome::Already,
        _ => Outcome::NotOne,
    })
}

/// Revokes a code: it is not shown to its shopper again and not marked redeemed. The claim
/// stays (it still counts towards the person's limit and the offer's cap).
pub async fn revoke(db: &Db, code: &str, at: i64) -> Result<Outcome, Error> {
    // Only a code that names exactly one claim: a shared (static) code names no one.
    const SQL: &str = concat!(
        "UPDATE claims SET revoked_at = $1 WHERE code = $2 AND revoked_at IS NULL AND ",
        "(SELECT count(*) FROM claims WHERE code = $2) = 1",
        " RETURNING offer_id"
    );
    let changed = store::rows(db, SQL, vec![Val::Int(at), code.into()]).await?;
    outcome(db, code, changed).await
}

/// Resets the limit of the person behind a code, for that code's offer: none of their claims
/// of it counts any more, so they can claim again (their earlier codes are not shown again).
pub async fn reset_limit(db: &Db, code: &str, at: i64) -> Result<Outcome, Error> {
    const SQL: &str = concat!(
        "UPDATE claims SET limit_reset_at = $1 WHERE limit_reset_at IS NULL AND ",
        "(offer_id, person_key) IN (SELECT offer_id, person_key FROM claims WHERE code = $2) AND ",
        "(SELECT count(*) FROM claims WHERE code = $2) = 1",
        " RETURNING offer_id"
    );
    let changed = store::rows(db, SQL, vec![Val::Int(at), code.into()]).await?;
    outcome(db, code, changed).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_use_the_pools_threshold_else_a_tenth() {
        assert_eq!(level(0, 10, 5), Level::Empty);
        assert_eq!(level(5, 10, 5), Level::Low);
        assert_eq!(level(6, 10, 5), Level::Ok);
        assert_eq!(level(9, 91, 0), Level::Low);
        assert_eq!(level(11, 89, 0), Level::Ok);
        assert_eq!(level(0, 0, 0), Level::Empty);
    }
}
