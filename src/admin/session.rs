//! The console's own sessions, apart from the shoppers': kept in `admin_sessions` under a
//! hash of their id (the cookie's value), with an idle and an absolute expiry.

use super::accounts::{self, Account};
use super::store::{self, Val};
use crate::crypto::{random_token, sha256_b64};
use crate::db::{Db, Error};

/// How far a session has come through signing in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Signed in.
    Full,
    /// The password was right; the second factor's code is awaited.
    Totp,
}

impl Stage {
    fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Totp => "totp",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "full" => Self::Full,
            // Anything else gives the least.
            _ => Self::Totp,
        }
    }
}

/// Idle and absolute lifetimes, in seconds.
#[derive(Clone, Copy, Debug)]
pub struct Lifetimes {
    pub idle: i64,
    pub absolute: i64,
}

impl Lifetimes {
    pub fn live(&self, created_at: i64, last_seen: i64, now: i64) -> bool {
        now - last_seen < self.idle && now - created_at < self.absolute
    }
}

/// A live session and its account.
#[derive(Clone, Debug)]
pub struct Session {
    pub stage: Stage,
    pub account: Account,
}

/// Starts a session: a new random id, returned for the cookie; only its hash is stored.
pub async fn start(db: &Db, account_id: i64, stage: Stage, now: i64) -> Result<String, Error> {
    let id = random_token();
    store::exec(
        db,
        "INSERT INTO admin_sessions (id_hash, account_id, stage, created_at, last_seen) \
         VALUES ($1, $2, $3, $4, $4)",
        vec![
            sha256_b64(&id).into(),
            Val::Int(account_id),
            stage.as_str().into(),
            Val::Int(now),
        ],
    )
    .await?;
    Ok(id)
}

/// The live session behind a cookie's id; an expired one is deleted. Refreshes `last_seen`
/// (at most once a minute: a write per page view buys nothing).
pub async fn load(
    db: &Db,
    id: &str,
    now: i64,
    lifetimes: Lifetimes,
) -> Result<Option<Session>, Error> {
    let hash = sha256_b64(id);
    let Some(row) = store::one(
        db,
        "SELECT account_id, stage, created_at, last_seen FROM admin_sessions WHERE id_hash = $1",
        vec![hash.as_str().into()],
    )
    .await?
    else {
        return Ok(None);
    };
    let (account_id, created_at, last_seen) = (row[0].int(), row[2].int(), row[3].int());
    if !lifetimes.live(created_at, last_seen, now) {
        end(db, id).await?;
        return Ok(None);
    }
    let Some(account) = accounts::by_id(db, account_id).await? else {
        return Ok(None);
    };
    if now - last_seen >= 60 {
        store::exec(
            db,
            "UPDATE admin_sessions SET last_seen = $1 WHERE id_hash = $2",
            vec![Val::Int(now), hash.into()],
        )
        .await?;
    }
    Ok(Some(Session {
        stage: Stage::parse(row[1].text().unwrap_or_default()),
        account,
    }))
}

/// Ends one session (sign-out, or the id being replaced by a new one).
pub async fn end(db: &Db, id: &str) -> Result<(), Error> {
    store::exec(
        db,
        "DELETE FROM admin_sessions WHERE id_hash = $1",
        vec![sha256_b64(id).into()],
    )
    .await
    .map(|_| ())
}

/// Ends every session of an account (password set or reset, account removed).
pub async fn end_all(db: &Db, account_id: i64) -> Result<(), Error> {
    store::exec(
        db,
        "DELETE FROM admin_sessions WHERE account_id = $1",
        vec![Val::Int(account_id)],
    )
    .await
    .map(|_| ())
}

/// Deletes expired sessions and links (housekeeping).
pub async fn prune(db: &Db, now: i64, lifetimes: Lifetimes) -> Result<(), Error> {
    store::exec(
        db,
        "DELETE FROM admin_sessions WHERE last_seen <= $1 OR created_at <= $2",
        vec![
            Val::Int(now - lifetimes.idle),
            Val::Int(now - lifetimes.absolute),
        ],
    )
    .await?;
    store::exec(
        db,
        "DELETE FROM admin_links WHERE expires_at <= $1",
        vec![Val::Int(now)],
    )
    .await
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::accounts::{Role, create};

    const LIFE: Lifetimes = Lifetimes {
        idle: 1800,
        absolute: 12 * 3600,
    };

    #[test]
    fn sessions_expire_when_idle_or_old() {
        assert!(LIFE.live(0, 0, 1799));
        assert!(!LIFE.live(0, 0, 1800), "idle");
        assert!(LIFE.live(0, 40_000, 41_000));
        assert!(!LIFE.live(0, 43_100, 43_200), "absolute, however active");
    }

    #[tokio::test]
    async fn only_the_hash_is_stored_and_expired_sessions_are_gone() {
        let db = crate::db::connect("sqlite::memory:").await.unwrap();
        let a = create(&db, "ann@example.com", Role::Viewer, 0)
            .await
            .unwrap();
        let id = start(&db, a.id, Stage::Full, 0).await.unwrap();
        let stored = store::rows(&db, "SELECT id_hash FROM admin_sessions", vec![])
            .await
            .unwrap();
        assert_eq!(stored.len(), 1);
        assert_ne!(stored[0][0].string(), id);
        let s = load(&db, &id, 100, LIFE).await.unwrap().unwrap();
        assert_eq!((s.stage, s.account.id), (Stage::Full, a.id));
        // Seen at 100: still live at 100 + idle - 1, not after.
        assert!(load(&db, &id, 1899, LIFE).await.unwrap().is_some());
        assert!(load(&db, &id, 1899 + 1800, LIFE).await.unwrap().is_none());
        assert!(load(&db, &id, 0, LIFE).await.unwrap().is_none(), "deleted");
        let other = start(&db, a.id, Stage::Totp, 0).await.unwrap();
        end_all(&db, a.id).await.unwrap();
        assert!(load(&db, &other, 1, LIFE).await.unwrap().is_none());
    }
}
