//! Codes: generating one, reading a codes file, importing codes into a pool, and marking codes
//! redeemed at checkout.

use std::collections::BTreeSet;

use rand::Rng;

use crate::db::{Db, Error};

/// Unambiguous characters (no 0/O, 1/I/L) for codes people type.
const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

pub(super) fn generate(prefix: &str, length: u8) -> String {
    let mut rng = rand::thread_rng();
    let random: String = (0..length)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{prefix}{random}")
}

/// Whether `s` can be a code: 3 to 64 letters, digits, '-' or '_'.
pub fn is_code(s: &str) -> bool {
    (3..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
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
        if is_code(first) {
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

/// Rows written per database call: the SQLite thread runs one call at a time, so a large file
/// goes in slices and the shoppers' requests queued meanwhile run between them (a slice of
/// 5,000 takes milliseconds).
const CHUNK: usize = 5_000;

/// Adds codes to a pool; returns (added, skipped as duplicates). On PostgreSQL one transaction;
/// on SQLite one per slice of [`CHUNK`] codes, so a failure half-way keeps the slices written
/// (a retry with the same file skips them as duplicates).
pub async fn import(db: &Db, pool: &str, codes: &[String], at: i64) -> Result<(u64, u64), Error> {
    const SQL: &str = "INSERT INTO pool_codes (pool, code, imported_at) VALUES ($1, $2, $3) \
                       ON CONFLICT DO NOTHING";
    // One statement per slice: a round trip per code would take minutes for 100,000.
    const PG: &str = "INSERT INTO pool_codes (pool, code, imported_at) \
                      SELECT $1, code, $3 FROM unnest($2::text[]) AS t(code) ON CONFLICT DO NOTHING";
    let mut seen = BTreeSet::new();
    let fresh: Vec<String> = codes.iter().filter(|c| seen.insert(*c)).cloned().collect();
    let mut added = 0;
    match db {
        Db::Sqlite(s) => {
            for chunk in fresh.chunks(CHUNK) {
                let (pool, chunk) = (pool.to_owned(), chunk.to_vec());
                added += s
                    .call(move |c| {
                        let mut stmt = c.prepare_cached(SQL)?;
                        let mut added = 0;
                        for code in &chunk {
                            added += stmt.execute(rusqlite::params![pool, code, at])? as u64;
                        }
                        Ok(added)
                    })
                    .await?;
            }
        }
        Db::Postgres(p) => {
            let mut tx = p.begin().await?;
            for chunk in fresh.chunks(CHUNK) {
                added += sqlx::query(PG)
                    .bind(pool)
                    .bind(chunk)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            tx.commit().await?;
        }
    };
    Ok((added, codes.len() as u64 - added))
}

/// Marks codes as used at checkout, so a limit counts them and they are not shown again. A
/// revoked code is not marked. Returns the claims marked.
pub async fn mark_redeemed(db: &Db, codes: &[String], at: i64) -> Result<u64, Error> {
    const SQL: &str = "UPDATE claims SET redeemed_at = $1 WHERE code = $2 \
                       AND redeemed_at IS NULL AND revoked_at IS NULL RETURNING offer_id";
    const PG: &str = "UPDATE claims SET redeemed_at = $1 WHERE code = ANY($2) \
                      AND redeemed_at IS NULL AND revoked_at IS NULL RETURNING offer_id, code";
    // The dashboard's count and the `code.redeemed` webhooks go in the same transaction as the
    // redemptions they tell of.
    let day = crate::stats::day_of(at);
    let mut n = 0;
    match db {
        Db::Sqlite(s) => {
            for chunk in codes.chunks(CHUNK) {
                let chunk = chunk.to_vec();
                n += s
                    .call(move |c| {
                        let mut offers = std::collections::BTreeMap::<String, i64>::new();
                        let mut marked = Vec::new();
                        let mut stmt = c.prepare_cached(SQL)?;
                        for code in &chunk {
                            let mut rows = stmt.query(rusqlite::params![at, code])?;
                            while let Some(row) = rows.next()? {
                                let offer: String = row.get(0)?;
                                *offers.entry(offer.clone()).or_insert(0) += 1;
                                marked.push((offer, code.clone()));
                            }
                        }
                        let mut count = c.prepare_cached(COUNT_REDEEMED)?;
                        for (offer, k) in &offers {
                            count.execute(rusqlite::params![day, offer, k])?;
                        }
                        let mut on = crate::admin::store::OnSqlite(c);
                        crate::db::sqlite::run_now(tell(&mut on, &marked, at)).unwrap_or_else(
                            || Err(Error::Other("a SQLite transaction waited".to_owned())),
                        )?;
                        Ok(offers.values().sum::<i64>() as u64)
                    })
                    .await?;
            }
        }
        Db::Postgres(p) => {
            let mut tx = p.begin().await?;
            let mut offers = std::collections::BTreeMap::<String, i64>::new();
            let mut marked = Vec::new();
            for chunk in codes.chunks(CHUNK) {
                let redeemed: Vec<(String, String)> = sqlx::query_as(PG)
                    .bind(at)
                    .bind(chunk)
                    .fetch_all(&mut *tx)
                    .await?;
                for (offer, code) in redeemed {
                    *offers.entry(offer.clone()).or_insert(0) += 1;
                    marked.push((offer, code));
                }
            }
            for (offer, k) in &offers {
                sqlx::query(COUNT_REDEEMED)
                    .bind(day)
                    .bind(offer)
                    .bind(k)
                    .execute(&mut *tx)
                    .await?;
                n += *k as u64;
            }
            tell(&mut *tx, &marked, at).await?;
            tx.commit().await?;
            crate::webhooks::wake();
        }
    }
    Ok(n)
}

/// A `code.redeemed` webhook per code marked, `(offer, code)`, in the caller's transaction
/// (nothing when no endpoint subscribes).
async fn tell<E: crate::admin::store::Exec>(
    tx: &mut E,
    marked: &[(String, String)],
    at: i64,
) -> Result<(), Error> {
    use crate::webhooks::{Event, EventType, outbox};
    if marked.is_empty() || !outbox::subscribed(tx, &[EventType::CodeRedeemed]).await? {
        return Ok(());
    }
    for (offer, code) in marked {
        outbox::enqueue(tx, &Event::code_marked_redeemed(code, offer, at)).await?;
    }
    Ok(())
}

/// Adds redemptions of an offer to the day's count (see `stats`).
pub(super) const COUNT_REDEEMED: &str = "INSERT INTO daily_counts (day, event, offer_id, grp, n) \
     VALUES ($1, 'redeemed', $2, '', $3) \
     ON CONFLICT (day, event, offer_id, grp) DO UPDATE SET n = daily_counts.n + excluded.n";

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
