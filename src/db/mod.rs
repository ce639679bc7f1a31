//! The database: SQLite (embedded, the default) or PostgreSQL (many instances), chosen by
//! `PERKGATE_DATABASE_URL`. Both run the same SQL text (`$1` placeholders, `ON CONFLICT`,
//! `RETURNING`, `FILTER` work in both). SQLite runs on a thread of its own with group commit
//! ([`sqlite`]); PostgreSQL through a sqlx pool.

pub mod sqlite;

use std::str::FromStr;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rusqlite::OptionalExtension;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

pub use sqlite::Sqlite;

/// One of the two supported databases.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(Sqlite),
    Postgres(PgPool),
}

impl Db {
    pub fn is_postgres(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }
}

/// A database error, from either backend.
#[derive(Debug)]
pub enum Error {
    Sqlite(rusqlite::Error),
    Postgres(sqlx::Error),
    /// The database thread is gone (the process is shutting down).
    Stopped,
    Other(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(e) => write!(f, "sqlite: {e}"),
            Self::Postgres(e) => write!(f, "postgres: {e}"),
            Self::Stopped => f.write_str("the database thread has stopped"),
            Self::Other(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for Error {}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sqlite(e)
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Self::Postgres(e)
    }
}

/// How a claimed callback ended, as other requests for the same state see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimOutcome {
    Running,
    Verified,
    Failed,
}

impl ClaimOutcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Verified => "verified",
            Self::Failed => "failed",
        }
    }
}

/// Opens and migrates the database: `sqlite://FILE` (file and folder created when missing) or
/// `postgres://…`. Fails fast, with the reason, when it cannot.
pub async fn connect(url: &str) -> Result<Db, String> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let options =
            PgConnectOptions::from_str(url).map_err(|e| format!("PERKGATE_DATABASE_URL: {e}"))?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(3))
            .connect_with(options)
            .await
            .map_err(|e| format!("cannot connect to PostgreSQL: {e}"))?;
        sqlx::migrate!("migrations/postgres")
            .run(&pool)
            .await
            .map_err(|e| format!("database migration failed: {e}"))?;
        return Ok(Db::Postgres(pool));
    }
    // Opening a local file and migrating it takes milliseconds: not worth a blocking task.
    Sqlite::open(url).map(Db::Sqlite)
}

/// The key behind person keys: generated on first start and kept in the database, so every
/// instance on the same database derives the same key for the same person.
pub async fn person_key_secret(db: &Db) -> Result<Vec<u8>, Error> {
    const INSERT: &str =
        "INSERT INTO settings (key, value) VALUES ('person_key_secret', $1) ON CONFLICT DO NOTHING";
    const SELECT: &str = "SELECT value FROM settings WHERE key = 'person_key_secret'";
    let fresh = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let stored: String = match db {
        Db::Sqlite(s) => {
            s.call(move |c| {
                c.execute(INSERT, [&fresh])?;
                Ok(c.query_row(SELECT, [], |r| r.get(0))?)
            })
            .await?
        }
        Db::Postgres(p) => {
            sqlx::query(INSERT).bind(&fresh).execute(p).await?;
            sqlx::query_scalar(SELECT).fetch_one(p).await?
        }
    };
    URL_SAFE_NO_PAD
        .decode(stored)
        .map_err(|e| Error::Other(format!("stored person key secret: {e}")))
}

fn state_hash(state: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(state.as_bytes()))
}

/// Claims a callback state. True for exactly one caller per state, however many race, on
/// however many instances.
pub async fn claim_state(db: &Db, state: &str) -> Result<bool, Error> {
    const SQL: &str = "INSERT INTO callback_claims (state_hash, claimed_at) VALUES ($1, $2) \
                       ON CONFLICT DO NOTHING";
    let (hash, now) = (state_hash(state), now());
    let inserted = match db {
        Db::Sqlite(s) => {
            s.call(move |c| {
                Ok(c.prepare_cached(SQL)?
                    .execute(rusqlite::params![hash, now])?)
            })
            .await? as u64
        }
        Db::Postgres(p) => sqlx::query(SQL)
            .bind(hash)
            .bind(now)
            .execute(p)
            .await?
            .rows_affected(),
    };
    Ok(inserted == 1)
}

pub async fn finish_claim(db: &Db, state: &str, outcome: ClaimOutcome) -> Result<(), Error> {
    const SQL: &str = "UPDATE callback_claims SET outcome = $1 WHERE state_hash = $2";
    let (outcome, hash) = (outcome.as_str(), state_hash(state));
    match db {
        Db::Sqlite(s) => {
            s.call(move |c| Ok(c.prepare_cached(SQL)?.execute([outcome, hash.as_str()])?))
                .await?;
        }
        Db::Postgres(p) => {
            sqlx::query(SQL).bind(outcome).bind(hash).execute(p).await?;
        }
    }
    Ok(())
}

pub async fn claim_outcome(db: &Db, state: &str) -> Result<ClaimOutcome, Error> {
    const SQL: &str = "SELECT outcome FROM callback_claims WHERE state_hash = $1";
    let hash = state_hash(state);
    let outcome: Option<String> = match db {
        Db::Sqlite(s) => {
            s.call(move |c| {
                Ok(c.prepare_cached(SQL)?
                    .query_row([&hash], |r| r.get(0))
                    .optional()?)
            })
            .await?
        }
        Db::Postgres(p) => sqlx::query_scalar(SQL).bind(hash).fetch_optional(p).await?,
    };
    Ok(match outcome.as_deref() {
        Some("running") => ClaimOutcome::Running,
        Some("verified") => ClaimOutcome::Verified,
        _ => ClaimOutcome::Failed,
    })
}

/// Forgets claims older than an hour: pending authorizations live ten minutes, so an older
/// state can no longer match anything.
pub async fn prune(db: &Db) -> Result<u64, Error> {
    const SQL: &str = "DELETE FROM callback_claims WHERE claimed_at < $1";
    let before = now() - 3600;
    Ok(match db {
        Db::Sqlite(s) => s.call(move |c| Ok(c.execute(SQL, [before])?)).await? as u64,
        Db::Postgres(p) => sqlx::query(SQL)
            .bind(before)
            .execute(p)
            .await?
            .rows_affected(),
    })
}

pub async fn ping(db: &Db) -> Result<(), Error> {
    match db {
        Db::Sqlite(s) => s.call(|c| Ok(c.execute_batch("SELECT 1")?)).await,
        Db::Postgres(p) => Ok(sqlx::query("SELECT 1").execute(p).await.map(|_| ())?),
    }
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
