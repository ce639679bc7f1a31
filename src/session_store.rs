//! Where sessions live: the database by default (SQLite or PostgreSQL), or Redis with
//! `PERKGATE_SESSION_URL=redis://…` for many instances. One enum so the session layer has one
//! concrete type whatever the backend.

use std::time::Duration;

use async_trait::async_trait;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};
use tower_sessions_redis_store::RedisStore;
use tower_sessions_redis_store::fred::prelude::{
    ClientLike, Config as RedisConfig, Pool, ReconnectPolicy,
};
use tower_sessions_redis_store::fred::types::Builder;
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

use crate::db::Db;

#[derive(Clone, Debug)]
pub enum Sessions {
    Sqlite(SqliteStore),
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
                Db::Sqlite(p) => {
                    let store = SqliteStore::new(p.clone());
                    store
                        .migrate()
                        .await
                        .map_err(|e| format!("session store migration failed: {e}"))?;
                    Ok(Self::Sqlite(store))
                }
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
