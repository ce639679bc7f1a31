//! The database: SQLite (embedded, the default) or PostgreSQL (many instances), chosen by
//! `PERKGATE_DATABASE_URL`. Both run the same SQL text (`$1` placeholders, `ON CONFLICT`,
//! `RETURNING`, `FILTER` work in both). SQLite runs on a thread of its own with group commit
//! ([`sqlite`]); PostgreSQL through a sqlx pool.

pub mod sqlite;

use std::str::FromStr;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
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

pub async fn ping(db: &Db) -> Result<(), Error> {
    match db {
        Db::Sqlite(s) => s.call(|c| Ok(c.execute_batch("SELECT 1")?)).await,
        Db::Postgres(p) => Ok(sqlx::query("SELECT 1").execute(p).await.map(|_| ())?),
    }
}
