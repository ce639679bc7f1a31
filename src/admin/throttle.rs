//! Sign-in throttling: failures counted per account and per address, in the database so every
//! instance counts together. After a few free failures each attempt must wait longer (1 s,
//! 2 s, 4 s … up to 5 min) after the last failure; an attempt made too early is refused before
//! any password is checked, and is not counted.
//!
//! The account's key is a hash of the e-mail as typed, known account or not: an unknown
//! address is throttled exactly like a known one, so a refusal tells nothing either.

use super::store::{self, Val};
use crate::db::{Db, Error};

/// Failures allowed before the delays start, per account and per address (an office or a
/// campus behind one address is many people).
pub const FREE_PER_ACCOUNT: i64 = 5;
pub const FREE_PER_ADDRESS: i64 = 20;
pub const MAX_DELAY_SECS: i64 = 300;
/// Failures older than this are forgotten.
pub const FORGET_AFTER_SECS: i64 = 24 * 3600;

/// The keys one attempt counts against.
#[derive(Clone, Debug)]
pub struct Keys {
    pub account: String,
    pub address: String,
}

impl Keys {
    pub fn new(email: &str, address: std::net::IpAddr) -> Self {
        Self {
            account: format!(
                "account:{}",
                crate::crypto::sha256_b64(&email.trim().to_lowercase())
            ),
            address: format!("address:{}", crate::address::address_key(address)),
        }
    }
}

/// The wait imposed after `failures` failures, beyond `free` free ones.
pub fn delay(failures: i64, free: i64) -> i64 {
    if failures < free {
        return 0;
    }
    let doublings = (failures - free).min(20) as u32;
    (1i64 << doublings).min(MAX_DELAY_SECS)
}

/// Whole seconds still to wait (rounded up), from the last failure; times in milliseconds.
pub fn wait(failures: i64, free: i64, last_ms: i64, now_ms: i64) -> i64 {
    if now_ms - last_ms >= FORGET_AFTER_SECS * 1000 {
        return 0;
    }
    let left_ms = (last_ms + delay(failures, free) * 1000 - now_ms).max(0);
    (left_ms + 999) / 1000
}

async fn state(db: &Db, key: &str) -> Result<(i64, i64), Error> {
    let row = store::one(
        db,
        "SELECT failures, last_at FROM admin_throttle WHERE key = $1",
        vec![key.into()],
    )
    .await?;
    Ok(row.map_or((0, 0), |r| (r[0].int(), r[1].int())))
}

/// `Err(seconds)` when an attempt must wait. Times here are Unix milliseconds (`last_at` too):
/// the first delays are a second or two.
pub async fn check(db: &Db, keys: &Keys, now_ms: i64) -> Result<Result<(), i64>, Error> {
    let (af, al) = state(db, &keys.account).await?;
    let (nf, nl) = state(db, &keys.address).await?;
    let wait = wait(af, FREE_PER_ACCOUNT, al, now_ms).max(wait(nf, FREE_PER_ADDRESS, nl, now_ms));
    Ok(if wait > 0 { Err(wait) } else { Ok(()) })
}

/// Counts a failure against both keys. Called before the password is checked (and undone by
/// [`succeeded`]), so that parallel attempts cannot all slip through during the hashing.
pub async fn failed(db: &Db, keys: &Keys, now_ms: i64) -> Result<(), Error> {
    for key in [&keys.account, &keys.address] {
        store::exec(
            db,
            "INSERT INTO admin_throttle (key, failures, last_at) VALUES ($1, 1, $2) \
             ON CONFLICT (key) DO UPDATE SET \
             failures = CASE WHEN admin_throttle.last_at < $3 THEN 1 \
                        ELSE admin_throttle.failures + 1 END, last_at = $2",
            vec![
                key.as_str().into(),
                Val::Int(now_ms),
                Val::Int(now_ms - FORGET_AFTER_SECS * 1000),
            ],
        )
        .await?;
    }
    Ok(())
}

/// A correct password clears the account's failures (not the address's: they decay).
pub async fn succeeded(db: &Db, keys: &Keys) -> Result<(), Error> {
    store::exec(
        db,
        "UPDATE admin_throttle SET failures = 0 WHERE key = $1",
        vec![keys.account.as_str().into()],
    )
    .await?;
    // The address's count for this one attempt is given back too.
    store::exec(
        db,
        "UPDATE admin_throttle SET failures = failures - 1 WHERE key = $1 AND failures > 0",
        vec![keys.address.as_str().into()],
    )
    .await
    .map(|_| ())
}

pub async fn prune(db: &Db, now_ms: i64) -> Result<(), Error> {
    store::exec(
        db,
        "DELETE FROM admin_throttle WHERE last_at < $1",
        vec![Val::Int(now_ms - FORGET_AFTER_SECS * 1000)],
    )
    .await
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_start_after_the_free_failures_double_and_stop_at_the_cap() {
        let d: Vec<i64> = (0..16).map(|n| delay(n, 5)).collect();
        assert_eq!(
            d,
            [0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
        );
        assert_eq!(delay(1_000_000, 5), MAX_DELAY_SECS);
    }

    #[test]
    fn the_wait_runs_from_the_last_failure_and_is_forgotten_after_a_day() {
        let s = 1000;
        assert_eq!(wait(4, 5, 100 * s, 100 * s), 0);
        assert_eq!(wait(5, 5, 100 * s, 100 * s), 1);
        assert_eq!(wait(5, 5, 100 * s, 101 * s), 0);
        assert_eq!(wait(8, 5, 100 * s, 103 * s), 5);
        assert_eq!(wait(50, 5, 100 * s, (100 + FORGET_AFTER_SECS) * s), 0);
        // A failure 0.9 s into a second still waits its whole second, rounded up when told.
        assert_eq!(wait(5, 5, 100_900, 101_000), 1);
        assert_eq!(wait(5, 5, 100_900, 101_899), 1);
        assert_eq!(wait(5, 5, 100_900, 101_900), 0);
    }

    #[test]
    fn an_unknown_and_a_known_email_get_the_same_kind_of_key() {
        let ip = "192.0.2.1".parse().unwrap();
        let a = Keys::new(" Ann@Example.com ", ip);
        assert_eq!(a.account, Keys::new("ann@example.com", ip).account);
        assert!(!a.account.contains("ann"), "no e-mail in the table");
        assert_eq!(a.address, "address:192.0.2.1");
    }
}
