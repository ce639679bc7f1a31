//! Where sessions live: the database by default (SQLite or PostgreSQL), or Redis with
//! `PERKGATE_SESSION_URL=redis://…` for many instances. One enum so the session layer has one
//! concrete type whatever the backend. SQLite's store is our own, on the database thread
//! ([`SqliteSessions`]); the others are tower-sessions' stores.
//!
//! No backend sees a session's id, the value of its cookie: each keeps [`stored_id`], a hash
//! of it, so reading a store (a backup, a replica, `KEYS *`) yields no session anyone could
//! present. The hash is applied here, in front of all three.

mod cache;
pub(crate) mod sqlite;

use std::time::Duration;

use async_trait::async_trait;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};
use tower_sessions_redis_store::RedisStore;
use tower_sessions_redis_store::fred::prelude::{
    ClientLike, Config as RedisConfig, Pool, ReconnectPolicy,
};
use tower_sessions_redis_store::fred::types::Builder;
use tower_sessions_sqlx_store::PostgresStore;

use crate::db::Db;

pub use cache::{CachedSessions, Shown, cached_reads};
pub use sqlite::SqliteSessions;

/// The id a backend keeps for a session: SHA-256 of the cookie's id, cut to the 128 bits an
/// `Id` holds. No key is needed (unlike person keys): the id is 128 random bits, so its hash
/// can be neither reversed nor guessed at, and it stays the same whatever the server secret.
pub fn stored_id(id: &Id) -> Id {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(b"perkgate session id\0")
        .chain_update(id.0.to_le_bytes())
        .finalize();
    let mut half = [0u8; 16];
    half.copy_from_slice(&digest[..16]);
    Id(i128::from_le_bytes(half))
}

/// `record` as a backend keeps it: under its [`stored_id`].
fn stored(record: &Record) -> Record {
    Record {
        id: stored_id(&record.id),
        data: record.data.clone(),
        expiry_date: record.expiry_date,
    }
}

#[derive(Clone, Debug)]
pub enum Sessions {
    Sqlite(SqliteSessions),
    Postgres(PostgresStore),
    Redis(RedisStore<Pool>, Pool),
}

impl Sessions {
    /// Opens the session store: Redis when `url` is given, else tables in the database.
    /// Fails fast, with the reason, when the store cannot be reached.
    pub async fn open(url: Option<&str>, db: &Db) -> Result<Self, String> {
        match url {
            Some(url) => {
                let config =
                    RedisConfig::from_url(url).map_err(|e| format!("PERKGATE_SESSION_URL: {e}"))?;
                let pool = Builder::from_config(config)
                    .with_connection_config(|c| {
                        c.connection_timeout = Duration::from_secs(2);
                        c.internal_command_timeout = Duration::from_secs(2);
                    })
                    .with_performance_config(|p| {
                        // A request waits at most this long for Redis, then gets the
                        // "try again shortly" page instead of hanging.
                        p.default_command_timeout = Duration::from_secs(2);
                    })
                    // Reconnect for ever, backing off to 5 s: service resumes by itself.
                    .set_policy(ReconnectPolicy::new_exponential(0, 100, 5_000, 2))
                    // Two connections: fred pipelines on each, so two carry thousands of
                    // flows a second; each more costs a task, a socket and (fred resolves
                    // addresses on the blocking pool) a thread at start-up.
                    .build_pool(2)
                    .map_err(|e| format!("PERKGATE_SESSION_URL: {e}"))?;
                match tokio::time::timeout(Duration::from_secs(5), pool.init()).await {
                    Ok(Ok(_task)) => {}
                    Ok(Err(e)) => return Err(format!("cannot connect to Redis: {e}")),
                    Err(_) => {
                        return Err("cannot connect to Redis: no answer within 5 s".to_owned());
                    }
                }
                Ok(Self::Redis(RedisStore::new(pool.clone()), pool))
            }
            None => match db {
                // The table comes with the database's migrations.
                Db::Sqlite(s) => Ok(Self::Sqlite(SqliteSessions(s.clone()))),
                Db::Postgres(p) => {
                    let store = PostgresStore::new(p.clone());
                    store
                        .migrate()
                        .await
                        .map_err(|e| format!("session store migration failed: {e}"))?;
                    Ok(Self::Postgres(store))
                }
            },
        }
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
            Self::Redis(..) => "redis",
        }
    }

    /// Removes expired sessions (Redis expires its keys itself).
    pub async fn delete_expired(&self) -> session_store::Result<()> {
        match self {
            Self::Sqlite(s) => s.delete_expired().await,
            Self::Postgres(s) => s.delete_expired().await,
            Self::Redis(..) => Ok(()),
        }
    }

    /// For readiness: Redis answers (the database stores are checked with the database).
    pub async fn ping(&self) -> Result<(), String> {
        match self {
            Self::Redis(_, pool) => pool.ping::<()>(None).await.map_err(|e| e.to_string()),
            _ => Ok(()),
        }
    }
}

impl Sessions {
    async fn create_stored(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            Self::Sqlite(s) => s.create(record).await,
            Self::Postgres(s) => s.create(record).await,
            Self::Redis(s, _) => s.create(record).await,
        }
    }

    async fn delete_stored(&self, id: &Id) -> session_store::Result<()> {
        match self {
            Self::Sqlite(s) => s.delete(id).await,
            Self::Postgres(s) => s.delete(id).await,
            Self::Redis(s, _) => s.delete(id).await,
        }
    }
    /// Deletes session `old` and creates `record` (drawing its id as `create` does): one
    /// transaction on SQLite, where a flow's store calls are its largest cost.
    pub async fn replace(&self, old: &Id, record: &mut Record) -> session_store::Result<()> {
        if let Self::Sqlite(s) = self
            && s.replace(stored_id(old), &stored(record)).await?
        {
            return Ok(());
        }
        // Elsewhere (or when the drawn id was taken, odds of 2^-128) two calls, at once: the
        // keys are unrelated, and Redis gets both in one round trip.
        let (deleted, created) = tokio::join!(self.delete(old), self.create(record));
        deleted.and(created)
    }
}

/// Every call hashes the id on the way in and gives the caller's id back on the way out.
#[async_trait]
impl SessionStore for Sessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // A backend that finds an id taken draws another at random, whose cookie value we
        // could not know: then we give that one back and draw the cookie's id ourselves.
        for _ in 0..8 {
            let mut kept = stored(record);
            let wanted = kept.id;
            self.create_stored(&mut kept).await?;
            if kept.id == wanted {
                return Ok(());
            }
            self.delete_stored(&kept.id).await?;
            record.id = Id::default();
        }
        Err(session_store::Error::Backend(
            "no free session id after 8 draws".to_owned(),
        ))
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let kept = stored(record);
        match self {
            Self::Sqlite(s) => s.save(&kept).await,
            Self::Postgres(s) => s.save(&kept).await,
            Self::Redis(s, _) => s.save(&kept).await,
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let key = stored_id(id);
        let found = match self {
            Self::Sqlite(s) => s.load(&key).await,
            Self::Postgres(s) => s.load(&key).await,
            Self::Redis(s, _) => s.load(&key).await,
        }?;
        Ok(found.map(|record| Record { id: *id, ..record }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.delete_stored(&stored_id(id)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_id_is_a_fixed_hash_of_the_cookie_id() {
        let id: Id = "AAECAwQFBgcICQoLDA0ODw".parse().unwrap();
        assert_eq!(stored_id(&id), stored_id(&id));
        assert_ne!(stored_id(&id), id);
        // Pinned: the SQLite migration and every store already written rely on this value.
        assert_eq!(stored_id(&id).to_string(), PINNED);
        assert_ne!(stored_id(&stored_id(&id)), stored_id(&id));
        let other = Id(id.0 ^ 1);
        assert_ne!(stored_id(&other), stored_id(&id));
    }

    // Computed apart (Python): the first 16 bytes of
    // sha256(b"perkgate session id\0" + bytes(range(16))), base64url without padding.
    const PINNED: &str = "fcuqUQh9PaNm7Ijm4oyGaA";
}
