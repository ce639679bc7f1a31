//! The console's SQL, written once for both databases: statements take `$n` parameters and
//! answer rows of plain values, so each query is one string and one mapping.

use crate::db::{Db, Error};

/// A parameter or a column's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Val {
    Int(i64),
    Text(String),
    Null,
}

impl Val {
    pub fn int(&self) -> i64 {
        match self {
            Self::Int(n) => *n,
            _ => 0,
        }
    }

    pub fn text(&self) -> Option<&str> {
        match self {
            Self::Text(s) => Some(s),
            _ => None,
        }
    }

    pub fn string(&self) -> String {
        self.text().unwrap_or_default().to_owned()
    }
}

impl From<i64> for Val {
    fn from(n: i64) -> Self {
        Self::Int(n)
    }
}

impl From<&str> for Val {
    fn from(s: &str) -> Self {
        Self::Text(s.to_owned())
    }
}

impl From<String> for Val {
    fn from(s: String) -> Self {
        Self::Text(s)
    }
}

impl From<Option<String>> for Val {
    fn from(s: Option<String>) -> Self {
        s.map_or(Self::Null, Self::Text)
    }
}

pub type Row = Vec<Val>;

/// Runs one statement and returns the rows it answers (none for most writes).
pub async fn rows(db: &Db, sql: &'static str, params: Vec<Val>) -> Result<Vec<Row>, Error> {
    match db {
        Db::Sqlite(s) => s.call(move |c| sqlite_rows(c, sql, &params)).await,
        Db::Postgres(p) => pg_rows(p, sql, params).await,
    }
}

fn sqlite_rows(c: &rusqlite::Connection, sql: &str, params: &[Val]) -> Result<Vec<Row>, Error> {
    let mut stmt = c.prepare_cached(sql)?;
    let width = stmt.column_count();
    let bound = params.iter().map(|p| match p {
        Val::Int(n) => rusqlite::types::Value::Integer(*n),
        Val::Text(t) => rusqlite::types::Value::Text(t.clone()),
        Val::Null => rusqlite::types::Value::Null,
    });
    let mut rows = stmt.query(rusqlite::params_from_iter(bound))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let mut vals = Vec::with_capacity(width);
        for i in 0..width {
            vals.push(match row.get_ref(i)? {
                rusqlite::types::ValueRef::Integer(n) => Val::Int(n),
                rusqlite::types::ValueRef::Text(t) => {
                    Val::Text(String::from_utf8_lossy(t).into_owned())
                }
                _ => Val::Null,
            });
        }
        out.push(vals);
    }
    Ok(out)
}

async fn pg_rows<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    sql: &'e str,
    params: Vec<Val>,
) -> Result<Vec<Row>, Error> {
    use sqlx::Row as _;
    let mut query = sqlx::query(sql);
    for param in params {
        query = match param {
            Val::Int(n) => query.bind(n),
            Val::Text(t) => query.bind(t),
            Val::Null => query.bind(None::<String>),
        };
    }
    let fetched = query.fetch_all(executor).await?;
    Ok(fetched
        .iter()
        .map(|row| {
            (0..row.columns().len())
                .map(|i| {
                    if let Ok(Some(n)) = row.try_get::<Option<i64>, _>(i) {
                        Val::Int(n)
                    } else if let Ok(Some(t)) = row.try_get::<Option<String>, _>(i) {
                        Val::Text(t)
                    } else {
                        Val::Null
                    }
                })
                .collect()
        })
        .collect())
}

/// Statements inside one transaction, for logic written once over both databases (as the
/// ledger's): on SQLite the connection of a `call` (it never waits: run it with
/// `db::sqlite::run_now`), on PostgreSQL a transaction's connection.
pub trait Exec {
    async fn rows(&mut self, sql: &'static str, params: Vec<Val>) -> Result<Vec<Row>, Error>;

    async fn one(&mut self, sql: &'static str, params: Vec<Val>) -> Result<Option<Row>, Error> {
        Ok(self.rows(sql, params).await?.into_iter().next())
    }
}

/// The SQLite side of [`Exec`].
pub struct OnSqlite<'c>(pub &'c rusqlite::Connection);

impl Exec for OnSqlite<'_> {
    async fn rows(&mut self, sql: &'static str, params: Vec<Val>) -> Result<Vec<Row>, Error> {
        sqlite_rows(self.0, sql, &params)
    }
}

impl Exec for sqlx::PgConnection {
    async fn rows(&mut self, sql: &'static str, params: Vec<Val>) -> Result<Vec<Row>, Error> {
        pg_rows(self, sql, params).await
    }
}

/// A statement whose rows do not matter; the number of rows it answered (`RETURNING`).
pub async fn exec(db: &Db, sql: &'static str, params: Vec<Val>) -> Result<usize, Error> {
    rows(db, sql, params).await.map(|r| r.len())
}

/// The first row, if any.
pub async fn one(db: &Db, sql: &'static str, params: Vec<Val>) -> Result<Option<Row>, Error> {
    Ok(rows(db, sql, params).await?.into_iter().next())
}
