//! The database: connection, migrations, and perkgate's few statements.

use std::str::FromStr;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

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

/// Opens (creating the file and its folder if needed) and migrates the database.
pub async fn connect(url: &str) -> Result<SqlitePool, String> {
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
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
        .map_err(|e| format!("cannot open database {}: {e}", file.display()))?;
    sqlx::migrate!()
        .run(&pool)
        .await
        .map_err(|e| format!("database migration failed: {e}"))?;
    Ok(pool)
}

/// The key behind person keys: generated on first start and kept in the database, so every
/// instance on the same database derives the same key for the same person.
pub async fn person_key_secret(pool: &SqlitePool) -> Result<Vec<u8>, sqlx::Error> {
    let fresh = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    sqlx::query("INSERT OR IGNORE INTO settings (key, value) VALUES ('person_key_secret', ?)")
        .bind(&fresh)
        .execute(pool)
        .await?;
    let stored: String =
        sqlx::query_scalar("SELECT value FROM settings WHERE key = 'person_key_secret'")
            .fetch_one(pool)
            .await?;
    URL_SAFE_NO_PAD
        .decode(stored)
        .map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn state_hash(state: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(state.as_bytes()))
}

/// Claims a callback state. True for exactly one caller per state, however many race.
pub async fn claim_state(pool: &SqlitePool, state: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO callback_claims (state_hash, claimed_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
    )
    .bind(state_hash(state))
    .bind(now())
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn finish_claim(
    pool: &SqlitePool,
    state: &str,
    outcome: ClaimOutcome,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE callback_claims SET outcome = ? WHERE state_hash = ?")
        .bind(outcome.as_str())
        .bind(state_hash(state))
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn claim_outcome(pool: &SqlitePool, state: &str) -> Result<ClaimOutcome, sqlx::Error> {
    let outcome: Option<String> =
        sqlx::query_scalar("SELECT outcome FROM callback_claims WHERE state_hash = ?")
            .bind(state_hash(state))
            .fetch_optional(pool)
            .await?;
    Ok(match outcome.as_deref() {
        Some("running") => ClaimOutcome::Running,
        Some("verified") => ClaimOutcome::Verified,
        _ => ClaimOutcome::Failed,
    })
}

/// Forgets claims older than an hour: pending authorizations live ten minutes, so an older
/// state can no longer match anything.
pub async fn prune(pool: &SqlitePool) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM callback_claims WHERE claimed_at < ?")
        .bind(now() - 3600)
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}

pub async fn ping(pool: &SqlitePool) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(pool).await.map(|_| ())
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
