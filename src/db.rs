//! The database: SQLite (embedded, the default) or PostgreSQL (many instances), chosen by
//! `PERKGATE_DATABASE_URL`. Both run the same SQL text (`$1` placeholders, `ON CONFLICT`,
//! `RETURNING`, `FILTER` work in both); [`on_db!`] compiles each statement once per backend.

use std::str::FromStr;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

/// A connection pool on one of the two supported databases.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same code against whichever pool `db` holds: `on_db!(db, p => query.fetch_one(p))`.
#[macro_export]
macro_rules! on_db {
    ($db:expr, $p:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite($p) => $body,
            $crate::db::Db::Postgres($p) => $body,
        }
    };
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
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| format!("PERKGATE_DATABASE_URL: {e}"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true);
    let file = options.get_filename().to_path_buf();
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create database folder {}: {e}", dir.display()))?;
    }
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        // An embedded file's connection does not go stale; the default ping before every
        // checkout is a round trip through the connection's worker thread for nothing.
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
        .map_err(|e| format!("cannot open database {}: {e}", file.display()))?;
    sqlx::migrate!("migrations/sqlite")
        .run(&pool)
        .await
        .map_err(|e| format!("database migration failed: {e}"))?;
    Ok(Db::Sqlite(pool))
}

/// The key behind person keys: generated on first start and kept in the database, so every
/// instance on the same database derives the same key for the same person.
pub async fn person_key_secret(db: &Db) -> Result<Vec<u8>, sqlx::Error> {
    let fresh = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let stored: String = on_db!(db, p => {
        sqlx::query("INSERT INTO settings (key, value) VALUES ('person_key_secret', $1) ON CONFLICT DO NOTHING")
            .bind(&fresh)
            .execute(p)
            .await?;
        sqlx::query_scalar("SELECT value FROM settings WHERE key = 'person_key_secret'")
            .fetch_one(p)
            .await?
    });
    URL_SAFE_NO_PAD
        .decode(stored)
        .map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn state_hash(state: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(state.as_bytes()))
}

/// Claims a callback state. True for exactly one caller per state, however many race, on
/// however many instances.
pub async fn claim_state(db: &Db, state: &str) -> Result<bool, sqlx::Error> {
    let done = on_db!(db, p => sqlx::query(
        "INSERT INTO callback_claims (state_hash, claimed_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(state_hash(state))
    .bind(now())
    .execute(p)
    .await?
    .rows_affected());
    Ok(done == 1)
}

pub async fn finish_claim(db: &Db, state: &str, outcome: ClaimOutcome) -> Result<(), sqlx::Error> {
    on_db!(db, p => sqlx::query("UPDATE callback_claims SET outcome = $1 WHERE state_hash = $2")
        .bind(outcome.as_str())
        .bind(state_hash(state))
        .execute(p)
        .await
        .map(|_| ())?);
    Ok(())
}

pub async fn claim_outcome(db: &Db, state: &str) -> Result<ClaimOutcome, sqlx::Error> {
    let outcome: Option<String> = on_db!(db, p => sqlx::query_scalar(
        "SELECT outcome FROM callback_claims WHERE state_hash = $1",
    )
    .bind(state_hash(state))
    .fetch_optional(p)
    .await?);
    Ok(match outcome.as_deref() {
        Some("running") => ClaimOutcome::Running,
        Some("verified") => ClaimOutcome::Verified,
        _ => ClaimOutcome::Failed,
    })
}

/// Forgets claims older than an hour: pending authorizations live ten minutes, so an older
/// state can no longer match anything.
pub async fn prune(db: &Db) -> Result<u64, sqlx::Error> {
    Ok(
        on_db!(db, p => sqlx::query("DELETE FROM callback_claims WHERE claimed_at < $1")
        .bind(now() - 3600)
        .execute(p)
        .await?
        .rows_affected()),
    )
}

pub async fn ping(db: &Db) -> Result<(), sqlx::Error> {
    on_db!(db, p => sqlx::query("SELECT 1").execute(p).await.map(|_| ()))
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
