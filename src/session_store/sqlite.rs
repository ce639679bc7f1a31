//! perkgate's own session store in SQLite, on the database thread; and the migration that
//! hashed the ids it kept before.

use async_trait::async_trait;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use crate::db::Sqlite;

/// Sessions in the SQLite database, one row each: the data as JSON and the expiry in Unix
/// seconds. Each call is one closure on the database thread (see `db::sqlite`).
#[derive(Clone, Debug)]
pub struct SqliteSessions(pub(super) Sqlite);

/// A new session; an id already taken inserts nothing.
const INSERT_NEW: &str =
    "INSERT INTO sessions (id, data, expiry_date) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";

/// A record's data as the table keeps it.
fn encoded(record: &Record) -> session_store::Result<Vec<u8>> {
    serde_json::to_vec(&record.data).map_err(|e| session_store::Error::Encode(e.to_string()))
}

fn store_error(e: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

impl SqliteSessions {
    pub(super) async fn delete_expired(&self) -> session_store::Result<()> {
        let now = crate::clock::now();
        self.0
            .call(move |c| Ok(c.execute("DELETE FROM sessions WHERE expiry_date < $1", [now])?))
            .await
            .map_err(store_error)?;
        Ok(())
    }
}

impl SqliteSessions {
    /// Deletes `old` and inserts `record` in one transaction; `false` (and nothing done) when
    /// the record's id is taken.
    pub(super) async fn replace(&self, old: Id, record: &Record) -> session_store::Result<bool> {
        let data = encoded(record)?;
        let (id, expiry) = (record.id.to_string(), record.expiry_date.unix_timestamp());
        self.0
            .call(move |c| {
                let inserted = c
                    .prepare_cached(INSERT_NEW)?
                    .execute(rusqlite::params![id, data, expiry])?;
                if inserted == 0 {
                    return Ok(false);
                }
                c.prepare_cached("DELETE FROM sessions WHERE id = $1")?
                    .execute([old.to_string()])?;
                Ok(true)
            })
            .await
            .map_err(store_error)
    }
}

#[async_trait]
impl SessionStore for SqliteSessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let data = encoded(record)?;
        let (mut id, expiry) = (record.id, record.expiry_date.unix_timestamp());
        record.id = self
            .0
            .call(move |c| {
                let mut insert = c.prepare_cached(INSERT_NEW)?;
                // A new id must not take over an existing session: draw again on a collision.
                while insert.execute(rusqlite::params![id.to_string(), data, expiry])? == 0 {
                    id = Id::default();
                }
                Ok(id)
            })
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let data = encoded(record)?;
        let (id, expiry) = (record.id.to_string(), record.expiry_date.unix_timestamp());
        self.0
            .call(move |c| {
                Ok(c.prepare_cached(
                    "INSERT INTO sessions (id, data, expiry_date) VALUES ($1, $2, $3) \
                     ON CONFLICT (id) DO UPDATE SET data = excluded.data, \
                     expiry_date = excluded.expiry_date",
                )?
                .execute(rusqlite::params![id, data, expiry])?)
            })
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let (key, now) = (id.to_string(), crate::clock::now());
        let row: Option<(Vec<u8>, i64)> = self
            .0
            .call(move |c| {
                use rusqlite::OptionalExtension;
                Ok(c.prepare_cached(
                    "SELECT data, expiry_date FROM sessions WHERE id = $1 AND expiry_date > $2",
                )?
                .query_row(rusqlite::params![key, now], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?)
            })
            .await
            .map_err(store_error)?;
        let Some((data, expiry)) = row else {
            return Ok(None);
        };
        Ok(Some(Record {
            id: *id,
            data: serde_json::from_slice(&data)
                .map_err(|e| session_store::Error::Decode(e.to_string()))?,
            expiry_date: time::OffsetDateTime::from_unix_timestamp(expiry)
                .map_err(|e| session_store::Error::Decode(e.to_string()))?,
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let key = id.to_string();
        self.0
            .call(move |c| {
                Ok(c.prepare_cached("DELETE FROM sessions WHERE id = $1")?
                    .execute([key])?)
            })
            .await
            .map_err(store_error)?;
        Ok(())
    }
}

/// The migration hook that moves the rows written before ids were hashed under their
/// [`stored_id`](super::stored_id), so their shoppers stay signed in. (The database then
/// rebuilds its file once: see `db::sqlite::migrate`.)
pub(crate) fn hash_existing_ids(tx: &rusqlite::Transaction) -> rusqlite_migration::HookResult {
    let ids: Vec<String> = tx
        .prepare("SELECT id FROM sessions")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for id in ids {
        match id.parse::<Id>() {
            Ok(raw) => tx.execute(
                "UPDATE sessions SET id = $1 WHERE id = $2",
                [super::stored_id(&raw).to_string(), id],
            )?,
            // Not an id tower-sessions made: no cookie can name it.
            Err(_) => tx.execute("DELETE FROM sessions WHERE id = $1", [id])?,
        };
    }
    Ok(())
}
