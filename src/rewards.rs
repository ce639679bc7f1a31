//! The ledger: hands out codes (static, pooled, generated or none), enforces per-person limits
//! and total caps, and shows a returning shopper their earlier unused code.
//!
//! A claim's logic ([`claim_in`]) is written once over the [`Ledger`] statements, which each
//! database implements. Claims are serialized so a pool code goes to exactly one claim and two
//! sessions of one person cannot both slip under a limit, however many requests race: on
//! SQLite by its single database thread, on PostgreSQL by a per-offer advisory lock.

use std::collections::BTreeSet;

use rand::Rng;
use rusqlite::OptionalExtension;
use sqlx::PgConnection;

use crate::db::{Db, Error, sqlite};
use crate::rules::{CodeSource, Limit, Offer, Rules};

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
}

impl Terms {
    fn of(offer: &Offer) -> Self {
        Self {
            offer_id: offer.id.clone(),
            group: offer.groups.first().cloned().unwrap_or_default(),
            limit: offer.limit,
            total_cap: offer.total_cap,
            code: offer.code.clone(),
        }
    }
}

/// Claims `offer` for a person: their earlier unused code, a new one, or why not.
pub async fn claim(db: &Db, offer: &Offer, person_key: &str, at: i64) -> Result<Claim, Error> {
    let terms = Terms::of(offer);
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
            Some(code) => Some(code),
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
    Ok(Claim::Issued {
        code,
        reused: false,
    })
}

// The statements of a claim, the same text on both databases.
const EARLIER_CODE: &str = "SELECT code FROM claims WHERE offer_id = $1 AND person_key = $2 \
     AND redeemed_at IS NULL AND claimed_at > $3 ORDER BY claimed_at DESC, id DESC LIMIT 1";
const RECENT: &str = "SELECT claimed_at FROM claims WHERE offer_id = $1 AND person_key = $2 \
     AND claimed_at > $3 ORDER BY claimed_at ASC";
const TOTAL: &str = "SELECT count(*) FROM claims WHERE offer_id = $1";
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
trait Ledger {
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
}

/// On the SQLite database thread: nothing here ever waits.
struct OnSqlite<'c>(&'c rusqlite::Connection);

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
pub async fn import(db: &Db, pool: &str, codes: &[String], at: i64) -> Result<(u64, u64), Error> {
    const SQL: &str = "INSERT INTO pool_codes (pool, code, imported_at) VALUES ($1, $2, $3) \
                       ON CONFLICT DO NOTHING";
    let mut seen = BTreeSet::new();
    let fresh: Vec<String> = codes.iter().filter(|c| seen.insert(*c)).cloned().collect();
    let added = match db {
        Db::Sqlite(s) => {
            let pool = pool.to_owned();
            s.call(move |c| {
                let mut stmt = c.prepare_cached(SQL)?;
                let mut added = 0;
                for code in &fresh {
                    added += stmt.execute(rusqlite::params![pool, code, at])? as u64;
                }
                Ok(added)
            })
            .await?
        }
        Db::Postgres(p) => {
            let mut tx = p.begin().await?;
            let mut added = 0;
            for code in &fresh {
                added += sqlx::query(SQL)
                    .bind(pool)
                    .bind(code)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            tx.commit().await?;
            added
        }
    };
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

/// Marks codes as used at checkout, so a limit counts them and they are not shown again.
pub async fn mark_redeemed(db: &Db, codes: &[String], at: i64) -> Result<u64, Error> {
    const SQL: &str = "UPDATE claims SET redeemed_at = $1 WHERE code = $2 AND redeemed_at IS NULL";
    Ok(match db {
        Db::Sqlite(s) => {
            let codes = codes.to_vec();
            s.call(move |c| {
                let mut stmt = c.prepare_cached(SQL)?;
                let mut n = 0;
                for code in &codes {
                    n += stmt.execute(rusqlite::params![at, code])? as u64;
                }
                Ok(n)
            })
            .await?
        }
        Db::Postgres(p) => {
            let mut tx = p.begin().await?;
            let mut n = 0;
            for code in codes {
                n += sqlx::query(SQL)
                    .bind(at)
                    .bind(code)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            tx.commit().await?;
            n
        }
    })
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
