//! The audit log: who did what to the console, when, from where. Details are our own words
//! and account e-mails; never a password, a link token, a session id or a TOTP secret.

use super::store::{self, Val};
use crate::db::{Db, Error};

/// The actor of the command line's changes.
pub const CLI: &str = "cli";
/// The actor of the first owner's account, made at start-up.
pub const START_UP: &str = "start-up";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub address: String,
    pub action: String,
    pub details: String,
}

pub async fn record(
    db: &Db,
    actor: &str,
    address: &str,
    action: &str,
    details: &str,
    now: i64,
) -> Result<(), Error> {
    store::exec(
        db,
        "INSERT INTO audit_log (at, actor, address, action, details) VALUES ($1, $2, $3, $4, $5)",
        vec![
            Val::Int(now),
            actor.into(),
            address.into(),
            action.into(),
            details.into(),
        ],
    )
    .await
    .map(|_| ())
}

/// Which entries to show: exact action and actor when not empty, ids below `before` when
/// not 0 (the next page).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    pub action: String,
    pub actor: String,
    pub before: i64,
}

const SELECT: &str = "SELECT id, at, actor, address, action, details FROM audit_log \
     WHERE ($1 = '' OR action = $1) AND ($2 = '' OR actor = $2) AND ($3 = 0 OR id < $3) \
     ORDER BY id DESC LIMIT $4";

/// Entries matching `filter`, newest first, at most `limit`.
pub async fn page(db: &Db, filter: &Filter, limit: i64) -> Result<Vec<Entry>, Error> {
    let params = vec![
        filter.action.as_str().into(),
        filter.actor.as_str().into(),
        Val::Int(filter.before),
        Val::Int(limit),
    ];
    Ok(store::rows(db, SELECT, params)
        .await?
        .iter()
        .map(|r| Entry {
            id: r[0].int(),
            at: r[1].int(),
            actor: r[2].string(),
            address: r[3].string(),
            action: r[4].string(),
            details: r[5].string(),
        })
        .collect())
}

/// The latest entries, newest first.
pub async fn recent(db: &Db, limit: i64) -> Result<Vec<Entry>, Error> {
    page(db, &Filter::default(), limit).await
}

/// The actions the log holds, for the page's filter.
pub async fn actions(db: &Db) -> Result<Vec<String>, Error> {
    Ok(store::rows(
        db,
        "SELECT DISTINCT action FROM audit_log ORDER BY action",
        vec![],
    )
    .await?
    .iter()
    .map(|r| r[0].string())
    .collect())
}

/// The oldest time an entry may have and be kept, `retention_days` before `now`.
pub fn cutoff(now: i64, retention_days: u64) -> i64 {
    now.saturating_sub((retention_days as i64).saturating_mul(86_400))
}

/// Deletes the entries older than the retention period (housekeeping); how many.
pub async fn prune(db: &Db, now: i64, retention_days: u64) -> Result<usize, Error> {
    store::exec(
        db,
        "DELETE FROM audit_log WHERE at < $1 RETURNING id",
        vec![Val::Int(cutoff(now, retention_days))],
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn entries_past_the_retention_period_are_deleted() {
        let db = crate::db::connect("sqlite::memory:").await.unwrap();
        let now = 1_800_000_000;
        let day = 86_400;
        for (age, what) in [(400, "old"), (366, "just past"), (364, "kept"), (0, "new")] {
            record(&db, "a@example.com", "", what, "", now - age * day)
                .await
                .unwrap();
        }
        assert_eq!(cutoff(now, 365), now - 365 * day);
        assert_eq!(prune(&db, now, 365).await.unwrap(), 2);
        let left: Vec<String> = recent(&db, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(left, ["new", "kept"]);
        // A shorter period, a week later.
        assert_eq!(prune(&db, now + 7 * day, 7).await.unwrap(), 1);
        assert_eq!(recent(&db, 10).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn pages_and_filters() {
        let db = crate::db::connect("sqlite::memory:").await.unwrap();
        for i in 0..5 {
            let actor = if i % 2 == 0 {
                "a@x.example"
            } else {
                "b@x.example"
            };
            record(&db, actor, "", if i < 3 { "one" } else { "two" }, "", i)
                .await
                .unwrap();
        }
        let first = page(&db, &Filter::default(), 2).await.unwrap();
        assert_eq!(first.iter().map(|e| e.at).collect::<Vec<_>>(), [4, 3]);
        let next = Filter {
            before: first[1].id,
            ..Filter::default()
        };
        let second = page(&db, &next, 2).await.unwrap();
        assert_eq!(second.iter().map(|e| e.at).collect::<Vec<_>>(), [2, 1]);
        let only = Filter {
            action: "one".to_owned(),
            actor: "a@x.example".to_owned(),
            before: 0,
        };
        let hits = page(&db, &only, 10).await.unwrap();
        assert_eq!(hits.iter().map(|e| e.at).collect::<Vec<_>>(), [2, 0]);
        assert_eq!(actions(&db).await.unwrap(), ["one", "two"]);
    }
}
