//! The rules document's versions in the database: each publish adds one, numbered from 1 with
//! no gaps, and nothing is ever changed or removed. A publish names the version it was based
//! on; the insert succeeds only if that is still the latest (the check and the insert are one
//! statement, and the primary key settles two racing publishes), so an editor never
//! overwrites a change they did not see. Also the console's drafts, one per account.

use crate::admin::store::{self, Exec, Row, Val};
use crate::db::{Db, Error};

/// A version's metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    pub version: i64,
    pub author: String,
    pub at: i64,
    pub note: String,
}

/// A version with its document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    pub summary: Summary,
    pub document: String,
}

/// Why a publish did not happen.
#[derive(Debug)]
pub enum PublishError {
    /// The live version moved on since `based_on`: this is the latest now.
    Stale(Summary),
    Db(Error),
}

impl From<Error> for PublishError {
    fn from(e: Error) -> Self {
        Self::Db(e)
    }
}

impl std::fmt::Display for PublishError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Stale(s) => write!(
                f,
                "the rules changed since you started editing (version {} by {})",
                s.version, s.author
            ),
            Self::Db(e) => write!(f, "{e}"),
        }
    }
}

fn summary(r: &Row) -> Summary {
    Summary {
        version: r[0].int(),
        author: r[1].string(),
        at: r[2].int(),
        note: r[3].string(),
    }
}

/// The latest version's number; 0 when none was published yet. Cheap: what every instance
/// polls.
pub async fn latest_number(db: &Db) -> Result<i64, Error> {
    Ok(
        store::one(db, "SELECT max(version) FROM rules_versions", vec![])
            .await?
            .map_or(0, |r| r[0].int()),
    )
}

/// One version, with its document.
pub async fn get(db: &Db, version: i64) -> Result<Option<Version>, Error> {
    Ok(store::one(
        db,
        "SELECT version, author, at, note, document FROM rules_versions WHERE version = $1",
        vec![Val::Int(version)],
    )
    .await?
    .map(|r| Version {
        summary: summary(&r),
        document: r[4].string(),
    }))
}

pub async fn latest(db: &Db) -> Result<Option<Version>, Error> {
    match latest_number(db).await? {
        0 => Ok(None),
        n => get(db, n).await,
    }
}

/// Every version, newest first.
pub async fn list(db: &Db) -> Result<Vec<Summary>, Error> {
    Ok(store::rows(
        db,
        "SELECT version, author, at, note FROM rules_versions ORDER BY version DESC",
        vec![],
    )
    .await?
    .iter()
    .map(summary)
    .collect())
}

/// Publishes `document` as the version after `based_on`, if `based_on` is still the latest
/// (0: none yet). The caller has validated the document. Returns the new version's number.
pub async fn publish(
    db: &Db,
    based_on: i64,
    document: &str,
    author: &str,
    note: &str,
    at: i64,
) -> Result<i64, PublishError> {
    let inserted = insert_version(db, based_on + 1, document, author, note, at).await?;
    match inserted {
        Some(r) => Ok(r[0].int()),
        None => match latest(db).await? {
            Some(v) => Err(PublishError::Stale(v.summary)),
            None => Err(PublishError::Db(Error::Other(
                "the version could not be recorded".to_owned(),
            ))),
        },
    }
}

/// Records version `version` if it is the next one, with its `rules.published` webhook event
/// in the same transaction. `None` when another publish took the number.
async fn insert_version(
    db: &Db,
    version: i64,
    document: &str,
    author: &str,
    note: &str,
    at: i64,
) -> Result<Option<Row>, Error> {
    let params = vec![
        Val::Int(version),
        document.into(),
        author.into(),
        Val::Int(at),
        note.into(),
    ];
    let inserted = crate::webhooks::transaction!(db, |tx| async move {
        // `$1 = max + 1` refuses a gap (a forged or stale base), and the primary key refuses a
        // version another publish took between our read and our write.
        let row = tx
            .one(
                "INSERT INTO rules_versions (version, document, author, at, note) \
                 SELECT $1, $2, $3, $4, $5 \
                 WHERE $1 = (SELECT coalesce(max(version), 0) + 1 FROM rules_versions) \
                 ON CONFLICT DO NOTHING RETURNING version",
                params,
            )
            .await?;
        if let Some(r) = &row {
            let event = crate::webhooks::Event::rules_published(r[0].int(), at);
            crate::webhooks::outbox::enqueue(tx, &event).await?;
        }
        Ok::<_, Error>(row)
    })?;
    crate::webhooks::wake();
    Ok(inserted)
}

/// Publishes on top of whatever is latest (the command line, start-up, a rollback confirmed
/// against a version that moved on is still refused by the caller): retried if another
/// publish wins the race.
pub async fn publish_latest(
    db: &Db,
    document: &str,
    author: &str,
    note: &str,
    at: i64,
) -> Result<i64, Error> {
    for _ in 0..5 {
        let base = latest_number(db).await?;
        match publish(db, base, document, author, note, at).await {
            Ok(n) => return Ok(n),
            Err(PublishError::Stale(_)) => continue,
            Err(PublishError::Db(e)) => return Err(e),
        }
    }
    Err(Error::Other(
        "other publishes kept winning; try again".to_owned(),
    ))
}

/// An account's saved draft.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Draft {
    pub document: String,
    pub based_on: i64,
    pub saved_at: i64,
}

pub async fn draft(db: &Db, account: i64) -> Result<Option<Draft>, Error> {
    Ok(store::one(
        db,
        "SELECT document, based_on, saved_at FROM rules_drafts WHERE account_id = $1",
        vec![Val::Int(account)],
    )
    .await?
    .map(|r| Draft {
        document: r[0].string(),
        based_on: r[1].int(),
        saved_at: r[2].int(),
    }))
}

pub async fn save_draft(db: &Db, account: i64, draft: &Draft) -> Result<(), Error> {
    store::exec(
        db,
        "INSERT INTO rules_drafts (account_id, document, based_on, saved_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (account_id) DO UPDATE \
         SET document = excluded.document, based_on = excluded.based_on, \
         saved_at = excluded.saved_at",
        vec![
            Val::Int(account),
            draft.document.clone().into(),
            Val::Int(draft.based_on),
            Val::Int(draft.saved_at),
        ],
    )
    .await
    .map(|_| ())
}

pub async fn discard_draft(db: &Db, account: i64) -> Result<(), Error> {
    store::exec(
        db,
        "DELETE FROM rules_drafts WHERE account_id = $1",
        vec![Val::Int(account)],
    )
    .await
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn versions_are_numbered_without_gaps_and_a_stale_base_is_refused() {
        let db = crate::db::connect("sqlite::memory:").await.unwrap();
        assert_eq!(latest_number(&db).await.unwrap(), 0);
        assert_eq!(publish(&db, 0, "a", "start-up", "", 1).await.unwrap(), 1);
        assert_eq!(publish(&db, 1, "b", "ann", "two", 2).await.unwrap(), 2);
        match publish(&db, 1, "c", "bob", "late", 3).await {
            Err(PublishError::Stale(s)) => {
                assert_eq!((s.version, s.author.as_str()), (2, "ann"));
            }
            other => panic!("{other:?}"),
        }
        // A base ahead of the latest would leave a gap: refused too.
        assert!(matches!(
            publish(&db, 5, "d", "bob", "", 4).await,
            Err(PublishError::Stale(_))
        ));
        assert_eq!(publish_latest(&db, "e", "cli", "", 5).await.unwrap(), 3);
        let all = list(&db).await.unwrap();
        assert_eq!(all.iter().map(|s| s.version).collect::<Vec<_>>(), [3, 2, 1]);
        let two = get(&db, 2).await.unwrap().unwrap();
        assert_eq!(
            (two.document.as_str(), two.summary.note.as_str()),
            ("b", "two")
        );
        assert_eq!(latest(&db).await.unwrap().unwrap().document, "e");
    }

    #[tokio::test]
    async fn a_draft_is_kept_per_account_until_discarded() {
        let db = crate::db::connect("sqlite::memory:").await.unwrap();
        let a = crate::admin::accounts::create(&db, "e@example.com", crate::admin::Role::Editor, 0)
            .await
            .unwrap();
        assert!(draft(&db, a.id).await.unwrap().is_none());
        let d = Draft {
            document: "x".into(),
            based_on: 1,
            saved_at: 9,
        };
        save_draft(&db, a.id, &d).await.unwrap();
        let d2 = Draft {
            document: "y".into(),
            ..d
        };
        save_draft(&db, a.id, &d2).await.unwrap();
        assert_eq!(draft(&db, a.id).await.unwrap(), Some(d2));
        discard_draft(&db, a.id).await.unwrap();
        assert!(draft(&db, a.id).await.unwrap().is_none());
    }
}
