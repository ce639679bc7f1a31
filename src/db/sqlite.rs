//! The embedded database: one SQLite connection on a thread of its own, with group commit.
//!
//! SQLite has one writer at a time, so a pool of connections only adds lock waits (busy-handler
//! sleeps) and a thread hop per statement. Here every request's work is a closure sent to the
//! database thread, which runs whatever has queued up in one transaction, each closure under
//! its own savepoint, commits once, and only then answers: a request never sees a result that
//! is not on disk, a failing closure rolls back only its own writes, and under load one commit
//! (one write of the log) serves a whole batch.

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use rusqlite::Connection;
use rusqlite_migration::{M, Migrations};
use tokio::sync::{mpsc, oneshot};

use super::Error;

/// The schema, in order; applied at start-up and tracked in `PRAGMA user_version`.
const MIGRATIONS: [&str; 5] = [
    include_str!("../../migrations/sqlite/0001_init.sql"),
    include_str!("../../migrations/sqlite/0002_ledger.sql"),
    include_str!("../../migrations/sqlite/0003_sessions.sql"),
    include_str!("../../migrations/sqlite/0004_callback_states.sql"),
    include_str!("../../migrations/sqlite/0005_callback_retries.sql"),
];
/// Then the session ids hashed, rows carried over by a hook in Rust (SQL has no SHA-256).
const HASHED_SESSION_IDS: &str =
    include_str!("../../migrations/sqlite/0006_hashed_session_ids.sql");
/// The schema's version once the session ids are hashed (see `migrate`).
const HASHED_VERSION: usize = MIGRATIONS.len() + 1;
/// Then the rest, in order.
const LATER: [&str; 2] = [
    include_str!("../../migrations/sqlite/0007_admin.sql"),
    include_str!("../../migrations/sqlite/0008_rules_versions.sql"),
];
/// Then the console's codes columns, added by a hook when missing (see [`add_claim_columns`]).
/// Positions, not numbers, are versions here.
const CONSOLE_CODES: &str = include_str!("../../migrations/sqlite/0009_console_codes.sql");
/// Then the rest, in order.
const AFTER_CODES: [&str; 5] = [
    include_str!("../../migrations/sqlite/0011_daily_counts.sql"),
    include_str!("../../migrations/sqlite/0012_daily_counts_by_day.sql"),
    include_str!("../../migrations/sqlite/0013_merchant_api.sql"),
    include_str!("../../migrations/sqlite/0014_webhooks.sql"),
    include_str!("../../migrations/sqlite/0015_pool_levels.sql"),
];
/// The schema's version once migrated.
#[cfg(test)]
const VERSION: usize = HASHED_VERSION + LATER.len() + 1 + AFTER_CODES.len();

/// At most this many closures share one transaction.
const MAX_BATCH: usize = 256;
/// Closures waiting beyond this make callers wait to enqueue (back-pressure, not memory).
const QUEUE: usize = 4_096;

/// A handle on the database thread; cheap to clone.
#[derive(Clone, Debug)]
pub struct Sqlite {
    jobs: mpsc::Sender<Box<dyn Job>>,
}

impl Sqlite {
    /// Opens (creating file and folder when missing) and migrates the database named by
    /// `sqlite://FILE`, `sqlite:FILE` or `sqlite::memory:`, and starts its thread.
    pub fn open(url: &str) -> Result<Self, String> {
        let path = file_of(url)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create database folder {}: {e}", dir.display()))?;
        }
        let cannot =
            |e: &dyn std::fmt::Display| format!("cannot open database {}: {e}", path.display());
        let mut conn = Connection::open(&path).map_err(|e| cannot(&e))?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(|e| cannot(&e))?;
        // WAL: readers never wait for the writer; NORMAL: a commit is safe from a crash of
        // the process (not of the machine) without an fsync per commit.
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))
            .map_err(|e| cannot(&e))?;
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
            .map_err(|e| cannot(&e))?;
        conn.set_prepared_statement_cache_capacity(64);
        migrate(&mut conn)?;

        let (jobs, queue) = mpsc::channel(QUEUE);
        std::thread::Builder::new()
            .name("perkgate-db".to_owned())
            .spawn(move || serve(conn, queue))
            .map_err(|e| format!("cannot start the database thread: {e}"))?;
        Ok(Self { jobs })
    }

    /// Runs `f` on the database thread inside a transaction and returns its result once that
    /// transaction is committed. An error from `f` rolls back what `f` wrote, and only that.
    /// `f` must not open a transaction itself (a savepoint is fine).
    pub async fn call<R, F>(&self, f: F) -> Result<R, Error>
    where
        F: FnOnce(&mut Connection) -> Result<R, Error> + Send + 'static,
        R: Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Call {
            f: Some(f),
            out: None,
            reply,
        });
        self.jobs.send(job).await.map_err(|_| Error::Stopped)?;
        answer.await.map_err(|_| Error::Stopped)?
    }
}

fn file_of(url: &str) -> Result<PathBuf, String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| format!("PERKGATE_DATABASE_URL: not an sqlite: URL: {url}"))?;
    // Options in a query string (`?mode=rwc`) are what this module sets anyway.
    let file = rest.split('?').next().unwrap_or_default();
    if file.is_empty() {
        return Err("PERKGATE_DATABASE_URL: sqlite:// needs a file name".to_owned());
    }
    Ok(PathBuf::from(file))
}

fn migrate(conn: &mut Connection) -> Result<(), String> {
    let failed = |e: &dyn std::fmt::Display| format!("database migration failed: {e}");
    adopt_sqlx_history(conn).map_err(|e| failed(&e))?;
    let version: usize = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| failed(&e))?;
    let mut steps: Vec<M> = MIGRATIONS.iter().map(|sql| M::up(sql)).collect();
    steps.push(M::up_with_hook(
        HASHED_SESSION_IDS,
        crate::session_store::sqlite::hash_existing_ids,
    ));
    steps.extend(LATER.iter().map(|sql| M::up(sql)));
    steps.push(M::up_with_hook(CONSOLE_CODES, add_claim_columns));
    steps.extend(AFTER_CODES.iter().map(|sql| M::up(sql)));
    Migrations::new(steps)
        .to_latest(conn)
        .map_err(|e| failed(&e))?;
    if (1..HASHED_VERSION).contains(&version) {
        // Once, after hashing the ids of an existing database: its free space still holds
        // copies of ids of live sessions (left where rows were moved or deleted), so the file
        // is rebuilt from the live rows and the log emptied. Not fatal: the hashing is done.
        let compacted = conn
            .execute_batch("VACUUM")
            .and_then(|()| conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())));
        if let Err(e) = compacted {
            tracing::warn!(
                error = %e,
                "could not rebuild the database file after hashing session ids; old ids may \
                 remain in its free space until `sqlite3 FILE VACUUM` is run"
            );
        }
    }
    Ok(())
}

/// `claims.revoked_at` and `claims.limit_reset_at`, each only when missing: SQLite has no
/// `ADD COLUMN IF NOT EXISTS`, and a database rewound to an earlier version (a test of the 0006
/// hook), or migrated in another order once the branches merge, may have them already.
fn add_claim_columns(tx: &rusqlite::Transaction) -> rusqlite_migration::HookResult {
    for column in ["revoked_at", "limit_reset_at"] {
        let present: bool = tx.query_row(
            "SELECT count(*) > 0 FROM pragma_table_info('claims') WHERE name = $1",
            [column],
            |r| r.get(0),
        )?;
        if !present {
            tx.execute_batch(&format!("ALTER TABLE claims ADD COLUMN {column} INTEGER"))?;
        }
    }
    Ok(())
}

/// Databases made before this module were migrated by sqlx, which kept its own table and left
/// `user_version` at 0: carry their version over so their migrations are not run twice.
fn adopt_sqlx_history(conn: &Connection) -> rusqlite::Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let has_sqlx: bool = conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
        [],
        |r| r.get(0),
    )?;
    if version == 0 && has_sqlx {
        let applied: i64 = conn.query_row(
            "SELECT coalesce(max(version), 0) FROM _sqlx_migrations WHERE success",
            [],
            |r| r.get(0),
        )?;
        conn.pragma_update(None, "user_version", applied)?;
    }
    Ok(())
}

/// The database thread: takes what is queued, runs it in one transaction, answers.
fn serve(mut conn: Connection, mut queue: mpsc::Receiver<Box<dyn Job>>) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = queue.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let committed = run_batch(&mut conn, &mut batch).map_err(|e| {
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            tracing::warn!(error = %e, jobs = batch.len(), "database transaction failed");
            e.to_string()
        });
        for job in batch.drain(..) {
            job.finish(committed.as_ref().map(|_| ()).map_err(String::as_str));
        }
    }
}

fn run_batch(conn: &mut Connection, batch: &mut [Box<dyn Job>]) -> rusqlite::Result<()> {
    // IMMEDIATE takes the write lock up front: another process on the same file (the
    // command line importing codes) makes us wait, never fail half-way.
    conn.execute_batch("BEGIN IMMEDIATE")?;
    if let [job] = batch {
        // Alone in its transaction: a failure rolls back the transaction itself.
        job.run(conn);
        return conn.execute_batch(if job.failed() { "ROLLBACK" } else { "COMMIT" });
    }
    for job in batch.iter_mut() {
        conn.execute_batch("SAVEPOINT job")?;
        job.run(conn);
        if job.failed() {
            conn.execute_batch("ROLLBACK TO job")?;
        }
        conn.execute_batch("RELEASE job")?;
    }
    conn.execute_batch("COMMIT")
}

/// A queued closure with its answer.
trait Job: Send {
    fn run(&mut self, conn: &mut Connection);
    fn failed(&self) -> bool;
    /// Answers the caller; `committed` is the batch's commit (a failed closure's own error
    /// wins over it).
    fn finish(self: Box<Self>, committed: Result<(), &str>);
}

impl std::fmt::Debug for dyn Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

struct Call<F, R> {
    f: Option<F>,
    out: Option<Result<R, Error>>,
    reply: oneshot::Sender<Result<R, Error>>,
}

impl<F, R> Job for Call<F, R>
where
    F: FnOnce(&mut Connection) -> Result<R, Error> + Send,
    R: Send,
{
    fn run(&mut self, conn: &mut Connection) {
        if let Some(f) = self.f.take() {
            // A bug in one closure must not take the database thread (and every later
            // request) down with it.
            self.out = Some(
                std::panic::catch_unwind(AssertUnwindSafe(|| f(conn)))
                    .unwrap_or_else(|_| Err(Error::Other("a database call panicked".to_owned()))),
            );
        }
    }

    fn failed(&self) -> bool {
        !matches!(self.out, Some(Ok(_)))
    }

    fn finish(self: Box<Self>, committed: Result<(), &str>) {
        let out = match (self.out, committed) {
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(r)), Ok(())) => Ok(r),
            (Some(Ok(_)), Err(why)) => Err(Error::Other(format!("commit failed: {why}"))),
            (None, Err(why)) => Err(Error::Other(format!("transaction failed: {why}"))),
            (None, Ok(())) => Err(Error::Stopped),
        };
        // The caller may have gone (a closed connection); the work is done either way.
        let _ = self.reply.send(out);
    }
}

/// Runs a future that never waits to completion, here and now: how the database thread runs
/// logic written once, as `async`, for both databases (see `rewards`). `None` if it waited.
pub fn run_now<F: std::future::Future>(f: F) -> Option<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    match std::pin::pin!(f).poll(&mut cx) {
        Poll::Ready(out) => Some(out),
        Poll::Pending => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory() -> Sqlite {
        Sqlite::open("sqlite::memory:").unwrap()
    }

    #[test]
    fn urls_name_a_file() {
        assert_eq!(
            file_of("sqlite://data/p.db").unwrap(),
            PathBuf::from("data/p.db")
        );
        assert_eq!(
            file_of("sqlite:///abs/p.db?mode=rwc").unwrap(),
            PathBuf::from("/abs/p.db")
        );
        assert_eq!(file_of("sqlite:p.db").unwrap(), PathBuf::from("p.db"));
        assert!(file_of("sqlite://").is_err());
        assert!(file_of("postgres://x").is_err());
    }

    #[tokio::test]
    async fn a_failing_call_rolls_back_only_its_own_writes() {
        let db = memory();
        let insert = |key: &'static str, fail: bool| {
            db.call(move |c| {
                c.execute("INSERT INTO settings (key, value) VALUES ($1, 'v')", [key])?;
                if fail {
                    return Err(Error::Other("no".to_owned()));
                }
                Ok(())
            })
        };
        // Queued together, so (very likely) one batch: the failure must stay contained.
        let (a, b, c) = tokio::join!(insert("a", false), insert("b", true), insert("c", false));
        assert!(a.is_ok() && b.is_err() && c.is_ok());
        let keys: Vec<String> = db
            .call(|c| {
                let mut s = c.prepare("SELECT key FROM settings ORDER BY key")?;
                let keys = s.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
                Ok(keys)
            })
            .await
            .unwrap();
        assert_eq!(keys, ["a", "c"]);
    }

    #[tokio::test]
    async fn a_panicking_call_is_an_error_and_the_thread_lives_on() {
        let db = memory();
        let panicked = db.call(|_| -> Result<(), Error> { panic!("bug") }).await;
        assert!(matches!(panicked, Err(Error::Other(_))));
        let one: i64 = db
            .call(|c| Ok(c.query_row("SELECT 1", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(one, 1);
    }

    #[test]
    fn databases_migrated_by_sqlx_are_carried_over() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(include_str!("../../migrations/sqlite/0001_init.sql"))
            .unwrap();
        conn.execute_batch(include_str!("../../migrations/sqlite/0002_ledger.sql"))
            .unwrap();
        conn.execute_batch(
            "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, success BOOLEAN NOT NULL);
             INSERT INTO _sqlx_migrations VALUES (1, TRUE), (2, TRUE);",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, VERSION as i64);
    }

    #[test]
    fn now_or_never() {
        assert_eq!(run_now(async { 7 }), Some(7));
        assert_eq!(run_now(std::future::pending::<()>()), None);
    }
}
