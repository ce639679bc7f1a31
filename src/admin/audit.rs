//! The audit log: who did what to the console, when, from where. Details are our own words
//! and account e-mails; never a password, a link token, a session id or a TOTP secret.

use super::store::{self, Val};
use crate::db::{Db, Error};

/// The actor of the command line's changes.
pub const CLI: &str = "cli";
/// The actor of the first owner's account, made at start-up.
pub const START_UP: &str = "start-up";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub at: i64,
    pub actor: String,
    pub address: String,
    pub action: String,
    pub details: String,
}

pub async fn record(
    db: &Db,
    actor: &str,
    address: &str,
    action: &str,
    details: &str,
    now: i64,
) -> Result<(), Error> {
    store::exec(
        db,
        "INSERT INTO audit_log (at, actor, address, action, details) VALUES ($1, $2, $3, $4, $5)",
        vec![
            Val::Int(now),
            actor.into(),
            address.into(),
            action.into(),
            details.into(),
        ],
    )
    .await
    .map(|_| ())
}

/// The latest entries, newest first.
pub async fn recent(db: &Db, limit: i64) -> Result<Vec<Entry>, Error> {
    Ok(store::rows(
        db,
        "SELECT at, actor, address, action, details FROM audit_log ORDER BY id DESC LIMIT $1",
        vec![Val::Int(limit)],
    )
    .await?
    .iter()
    .map(|r| Entry {
        at: r[0].int(),
        actor: r[1].string(),
        address: r[2].string(),
        action: r[3].string(),
        details: r[4].string(),
    })
    .collect())
}
