//! Where sessions live: the database by default (SQLite or PostgreSQL), or Redis with
//! `PERKGATE_SESSION_URL=redis://…` for many instances. One enum so the session layer has one
//! concrete type whatever the backend. SQLite's store is our own, on the database thread
//! ([`SqliteSessions`]); the others are tower-sessions' stores.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};
use tower_sessions_redis_store::RedisStore;
use tower_sessions_redis_store::fred::prelude::{
    ClientLike, Config as RedisConfig, Pool, ReconnectPolicy,
};
use tower_sessions_redis_store::fred::types::Builder;
use tower_sessions_sqlx_store::PostgresStore;

use crate::db::{Db, Sqlite};

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
                    .build_pool(4)
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

#[async_trait]
impl SessionStore for Sessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            Self::Sqlite(s) => s.create(record).await,
            Self::Postgres(s) => s.create(record).await,
            Self::Redis(s, _) => s.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            Self::Sqlite(s) => s.save(record).await,
            Self::Postgres(s) => s.save(record).await,
            Self::Redis(s, _) => s.save(record).await,
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            Self::Sqlite(s) => s.load(id).await,
            Self::Postgres(s) => s.load(id).await,
            Self::Redis(s, _) => s.load(id).await,
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match self {
            Self::Sqlite(s) => s.delete(id).await,
            Self::Postgres(s) => s.delete(id).await,
            Self::Redis(s, _) => s.delete(id).await,
        }
    }
}

/// Sessions in the SQLite database, one row each: the data as JSON and the expiry in Unix
/// seconds. Each call is one closure on the database thread (see `db::sqlite`).
#[derive(Clone, Debug)]
pub struct SqliteSessions(Sqlite);

fn store_error(e: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

impl SqliteSessions {
    async fn delete_expired(&self) -> session_store::Result<()> {
        let now = crate::clock::now();
        self.0
            .call(move |c| Ok(c.execute("DELETE FROM sessions WHERE expiry_date < $1", [now])?))
            .await
            .map_err(store_error)?;
        Ok(())
    }
}

#[async_trait]
impl SessionStore for SqliteSessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let data = serde_json::to_vec(&record.data)
            .map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let (mut id, expiry) = (record.id, record.expiry_date.unix_timestamp());
        record.id = self
            .0
            .call(move |c| {
                let mut insert = c.prepare_cached(
                    "INSERT INTO sessions (id, data, expiry_date) VALUES ($1, $2, $3) \
                     ON CONFLICT DO NOTHING",
                )?;
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
        let data = serde_json::to_vec(&record.data)
            .map_err(|e| session_store::Error::Encode(e.to_string()))?;
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

tokio::task_local! {
    /// Set while a read-only page is being served: only then may a session come from the cache.
    static READ_ONLY: ();
}

/// Serves `f` with cached session reads allowed. For pages that only show state (`GET /`,
/// `GET /api/v1/benefit`); the callback and every form read the store itself.
pub async fn cached_reads<F: std::future::Future>(f: F) -> F::Output {
    READ_ONLY.scope((), f).await
}

/// The session store with a short read-through cache in front, for the read path.
///
/// Correct across instances because every change of privilege (verification, reset) gives
/// the shopper a new session id, which no cache has seen; what can be stale for at most `ttl`
/// on another instance is only what changes under the same id (a pending authorization, which
/// read-only pages do not use). Writes go through and refresh this instance's entry.
#[derive(Clone, Debug)]
pub struct CachedSessions {
    inner: Sessions,
    cache: Option<std::sync::Arc<ReadCache>>,
}

#[derive(Debug)]
struct ReadCache {
    ttl: Duration,
    entries: std::sync::Mutex<Entries>,
}

#[derive(Debug)]
struct Entries {
    map: std::collections::HashMap<Id, (Record, Instant)>,
    /// When stale entries were last dropped.
    pruned: Instant,
}

/// Past this many entries, those older than the TTL (useless anyway) are dropped, at most
/// once per TTL: under a stream of new sessions, pruning on every insert would scan the whole
/// map each time.
const CACHE_PRUNE_AT: usize = 2_048;
/// A hard cap on memory: past it the cache starts over.
const CACHE_CAPACITY: usize = 4_096;

impl CachedSessions {
    /// `ttl` zero turns the cache off.
    pub fn new(inner: Sessions, ttl: Duration) -> Self {
        Self {
            inner,
            cache: (!ttl.is_zero()).then(|| {
                std::sync::Arc::new(ReadCache {
                    ttl,
                    entries: std::sync::Mutex::new(Entries {
                        map: std::collections::HashMap::new(),
                        pruned: Instant::now(),
                    }),
                })
            }),
        }
    }

    fn entries(cache: &ReadCache) -> std::sync::MutexGuard<'_, Entries> {
        cache.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn remember(&self, record: &Record) {
        let Some(cache) = &self.cache else { return };
        let now = Instant::now();
        let mut entries = Self::entries(cache);
        if entries.map.len() >= CACHE_PRUNE_AT && now.duration_since(entries.pruned) >= cache.ttl {
            entries
                .map
                .retain(|_, (_, at)| now.duration_since(*at) < cache.ttl);
            entries.pruned = now;
        }
        if entries.map.len() >= CACHE_CAPACITY {
            entries.map.clear();
        }
        entries.map.insert(record.id, (record.clone(), now));
    }

    fn forget(&self, id: &Id) {
        if let Some(cache) = &self.cache {
            Self::entries(cache).map.remove(id);
        }
    }

    fn cached(&self, id: &Id) -> Option<Record> {
        let cache = self.cache.as_ref()?;
        READ_ONLY.try_with(|_| ()).ok()?;
        let entries = Self::entries(cache);
        let (record, at) = entries.map.get(id)?;
        (at.elapsed() < cache.ttl && record.expiry_date > time::OffsetDateTime::now_utc())
            .then(|| record.clone())
    }

    pub fn inner(&self) -> &Sessions {
        &self.inner
    }
}

#[async_trait]
impl SessionStore for CachedSessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.inner.create(record).await?;
        self.remember(record);
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.inner.save(record).await?;
        self.remember(record);
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        if let Some(record) = self.cached(id) {
            return Ok(Some(record));
        }
        let record = self.inner.load(id).await?;
        match &record {
            Some(r) => self.remember(r),
            None => self.forget(id),
        }
        Ok(record)
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.forget(id);
        self.inner.delete(id).await
    }
}
