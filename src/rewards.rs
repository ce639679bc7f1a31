//! The ledger: hands out codes (static, pooled, generated or none), enforces per-person limits
//! and total caps, and shows a returning shopper their earlier unused code.
//!
//! Each claim runs in one `BEGIN IMMEDIATE` transaction: SQLite then serializes claims, so a
//! pool code goes to exactly one claim and two sessions of one person cannot both slip under
//! a limit, however many requests race.

use std::collections::BTreeSet;

use rand::Rng;

use crate::db::Db;
use crate::on_db;

use crate::rules::{CodeSource, Offer, Rules};

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

pub async fn claim(
    db: &Db,
    offer: &Offer,
    person_key: &str,
    at: i64,
) -> Result<Claim, sqlx::Error> {
    // The same statements on both databases; only how the claim is serialized differs.
    macro_rules! claim_in {
        ($tx:ident, $skip_locked:expr) => {{
            // A returning shopper sees their earlier unused code: within the limit's period,
            // or at any time when the offer has no limit.
            let since = offer.limit.map_or(i64::MIN, |l| at - l.period_secs());
            let group = offer.groups.first().map_or("", String::as_str);
            let earlier: Option<Option<String>> = sqlx::query_scalar(
                "SELECT code FROM claims WHERE offer_id = $1 AND person_key = $2 \
                 AND redeemed_at IS NULL AND claimed_at > $3 ORDER BY claimed_at DESC, id DESC LIMIT 1",
            )
            .bind(&offer.id)
            .bind(person_key)
            .bind(since)
            .fetch_optional(&mut *$tx)
            .await?;
            if let Some(code) = earlier {
                event!($tx, group, "reshown");
                $tx.commit().await?;
                return Ok(Claim::Issued { code, reused: true });
            }
            if let Some(limit) = offer.limit {
                let recent: Vec<i64> = sqlx::query_scalar(
                    "SELECT claimed_at FROM claims WHERE offer_id = $1 AND person_key = $2 \
                     AND claimed_at > $3 ORDER BY claimed_at ASC",
                )
                .bind(&offer.id)
                .bind(person_key)
                .bind(since)
                .fetch_all(&mut *$tx)
                .await?;
                if recent.len() >= limit.claims as usize {
                    return Ok(Claim::LimitReached {
                        until: recent[0] + limit.period_secs(),
                    });
                }
            }
            if let Some(cap) = offer.total_cap {
                let n: i64 = sqlx::query_scalar("SELECT count(*) FROM claims WHERE offer_id = $1")
                    .bind(&offer.id)
                    .fetch_one(&mut *$tx)
                    .await?;
                if n as u64 >= cap {
                    return Ok(Claim::CapReached);
                }
            }
            let claim_id: i64 = sqlx::query_scalar(
                "INSERT INTO claims (offer_id, person_key, claimed_at) VALUES ($1, $2, $3) RETURNING id",
            )
            .bind(&offer.id)
            .bind(person_key)
            .bind(at)
            .fetch_one(&mut *$tx)
            .await?;
            let code = match &offer.code {
                CodeSource::Static(code) => Some(code.clone()),
                CodeSource::None => None,
                CodeSource::Pool(pool) => {
                    let sql = format!(
                        "UPDATE pool_codes SET claim_id = $1 WHERE pool = $2 AND code = \
                         (SELECT code FROM pool_codes WHERE pool = $2 AND claim_id IS NULL \
                          ORDER BY imported_at, code LIMIT 1{}) RETURNING code",
                        $skip_locked
                    );
                    let code: Option<String> = sqlx::query_scalar(&sql)
                        .bind(claim_id)
                        .bind(pool)
                        .fetch_optional(&mut *$tx)
                        .await?;
                    match code {
                        Some(code) => Some(code),
                        // Dropping the transaction rolls the claim row back.
                        None => return Ok(Claim::RanOut),
                    }
                }
                CodeSource::Generated { prefix, length } => loop {
                    let candidate = generate(prefix, *length);
                    let taken: Option<String> =
                        sqlx::query_scalar("SELECT code FROM claims WHERE code = $1 LIMIT 1")
                            .bind(&candidate)
                            .fetch_optional(&mut *$tx)
                            .await?;
                    if taken.is_none() {
                        break Some(candidate);
                    }
                },
            };
            sqlx::query("UPDATE claims SET code = $1 WHERE id = $2")
                .bind(&code)
                .bind(claim_id)
                .execute(&mut *$tx)
                .await?;
            event!($tx, group, "claimed");
            $tx.commit().await?;
            Ok(Claim::Issued { code, reused: false })
        }};
    }
    macro_rules! event {
        ($tx:ident, $group:expr, $kind:expr) => {
            sqlx::query(
                "INSERT INTO unlock_events (offer_id, grp, at, kind) VALUES ($1, $2, $3, $4)",
            )
            .bind(&offer.id)
            .bind($group)
            .bind(at)
            .bind($kind)
            .execute(&mut *$tx)
            .await?;
        };
    }
    match db {
        // SQLite: one writer at a time; IMMEDIATE takes the write lock up front, so two
        // claims never interleave (a deferred transaction could fail to upgrade instead).
        Db::Sqlite(p) => {
            let mut tx = p.begin_with("BEGIN IMMEDIATE").await?;
            claim_in!(tx, "")
        }
        // PostgreSQL: claims of one offer take turns through a transaction-scoped advisory
        // lock (limits and caps count, then insert); pool rows are also taken with SKIP LOCKED.
        Db::Postgres(p) => {
            let mut tx = p.begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
                .bind(&offer.id)
                .execute(&mut *tx)
                .await?;
            claim_in!(tx, " FOR UPDATE SKIP LOCKED")
        }
    }
}

/// Unambiguous characters (no 0/O, 1/I/L) for codes people type.
const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

fn generate(prefix: &str, length: u8) -> String {
    let mut rng = rand::thread_rng();
    let random: String = (0..length)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{prefix}{random}")
}

/// Codes left in a pool.
pub async fn remaining(db: &Db, pool: &str) -> Result<u64, sqlx::Error> {
    let n: i64 = on_db!(db, p => sqlx::query_scalar(
        "SELECT count(*) FROM pool_codes WHERE pool = $1 AND claim_id IS NULL",
    )
    .bind(pool)
    .fetch_one(p)
    .await?);
    Ok(n as u64)
}

/// Logs a warning when the pool behind this offer runs low.
pub async fn check_low(db: &Db, rules: &Rules, offer: &Offer) {
    let CodeSource::Pool(pool) = &offer.code else {
        return;
    };
    let Some(threshold) = rules.pools.get(pool).map(|p| p.low_threshold) else {
        return;
    };
    let left = remaining(db, pool).await;
    if let Ok(n) = &left {
        crate::metrics::pool_remaining(pool, *n);
    }
    match left {
        Ok(left) if left <= threshold => {
            tracing::warn!(pool = %pool, remaining = left, threshold, "code pool is running low")
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "could not count pool codes"),
    }
}

/// A parsed codes file: the codes, and the lines that were not codes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CodesFile {
    pub codes: Vec<String>,
    /// (line number, reason)
    pub rejected: Vec<(usize, String)>,
}

/// Reads a CSV of codes: the first column of each line; blank lines, `#` comments and a
/// `code` header are skipped. A code is 3 to 64 letters, digits, '-' or '_'.
pub fn parse_codes(text: &str) -> CodesFile {
    let mut out = CodesFile::default();
    // Spreadsheet exports often start with a byte-order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let first = line
            .split(',')
            .next()
            .unwrap_or("")
            .trim()
            .trim_matches('"');
        if line_no == 1 && first.eq_ignore_ascii_case("code") {
            continue;
        }
        let ok = (3..=64).contains(&first.len())
            && first
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            out.codes.push(first.to_owned());
        } else {
            out.rejected.push((
                line_no,
                format!("not a code (3 to 64 letters, digits, '-' or '_'): {first:?}"),
            ));
        }
    }
    out
}

/// Adds codes to a pool; returns (added, skipped as duplicates). One transaction.
pub async fn import(
    db: &Db,
    pool: &str,
    codes: &[String],
    at: i64,
) -> Result<(u64, u64), sqlx::Error> {
    let mut seen = BTreeSet::new();
    let fresh: Vec<&String> = codes.iter().filter(|c| seen.insert(*c)).collect();
    let added = on_db!(db, p => {
        let mut tx = p.begin().await?;
        let mut added = 0;
        for code in &fresh {
            added += sqlx::query(
                "INSERT INTO pool_codes (pool, code, imported_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(pool)
            .bind(*code)
            .bind(at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        added
    });
    Ok((added, codes.len() as u64 - added))
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
        match import(db, &pool.id, &parsed.codes, crate::db::now()).await {
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

/// Marks codes as used at checkout, so a limit counts them and they are not shown again.
pub async fn mark_redeemed(db: &Db, codes: &[String], at: i64) -> Result<u64, sqlx::Error> {
    Ok(on_db!(db, p => {
        let mut tx = p.begin().await?;
        let mut n = 0;
        for code in codes {
            n += sqlx::query("UPDATE claims SET redeemed_at = $1 WHERE code = $2 AND redeemed_at IS NULL")
                .bind(at)
                .bind(code)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        n
    }))
}

#[derive(Debug, PartialEq, Eq)]
pub struct PoolStatus {
    pub pool: String,
    pub remaining: u64,
    pub issued: u64,
}

/// Every pool in the database with its counts.
pub async fn pool_status(db: &Db) -> Result<Vec<PoolStatus>, sqlx::Error> {
    let rows: Vec<(String, i64, i64)> = on_db!(db, p => sqlx::query_as(
        "SELECT pool, count(*) FILTER (WHERE claim_id IS NULL), count(*) FILTER (WHERE claim_id IS NOT NULL) \
         FROM pool_codes GROUP BY pool ORDER BY pool",
    )
    .fetch_all(p)
    .await?);
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
pub async fn unlock_counts(db: &Db) -> Result<Vec<(String, i64, i64)>, sqlx::Error> {
    Ok(on_db!(db, p => sqlx::query_as(
        "SELECT offer_id, count(*) FILTER (WHERE kind = 'claimed'), count(*) FILTER (WHERE kind = 'reshown') \
         FROM unlock_events GROUP BY offer_id ORDER BY offer_id",
    )
    .fetch_all(p)
    .await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_files_skip_headers_and_report_bad_lines() {
        let f =
            parse_codes("code,note\nABC-123,first\n\n# comment\n\"XYZ_9\"\nno spaces please\nAB\n");
        assert_eq!(f.codes, ["ABC-123", "XYZ_9"]);
        assert_eq!(
            f.rejected,
            [
                (
                    6,
                    "not a code (3 to 64 letters, digits, '-' or '_'): \"no spaces please\""
                        .to_owned()
                ),
                (
                    7,
                    "not a code (3 to 64 letters, digits, '-' or '_'): \"AB\"".to_owned()
                ),
            ]
        );
    }
}
