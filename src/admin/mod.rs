//! The merchant console's domain: accounts and roles, passwords, the second factor, console
//! sessions, sign-in throttling and the audit log. HTTP lives in `web::admin`; the command
//! line in `cli`.

pub mod accounts;
pub mod api_keys;
pub mod audit;
pub mod dashboard;
pub mod password;
pub mod session;
// Also the console's support queries on the ledger (`rewards::support`).
pub(crate) mod store;
pub mod throttle;
pub mod totp;

pub use accounts::{Account, AccountError, Role};

use crate::db::{Db, Error};

/// On a database where no console account can sign in yet: makes sure the first owner
/// (`PERKGATE_ADMIN_EMAIL`) exists and returns a new one-time link for it, which start-up
/// logs. Nothing else can make the first account: there is no sign-up page.
pub async fn bootstrap(
    db: &Db,
    email: &str,
    public_url: &url::Url,
    now: i64,
) -> Result<Option<String>, Error> {
    let all = accounts::list(db).await?;
    if all.iter().any(|a| a.password_hash.is_some()) {
        return Ok(None);
    }
    if all.is_empty() {
        match accounts::create(db, email, Role::Owner, now).await {
            Ok(_) | Err(AccountError::Exists) => {}
            Err(AccountError::Db(e)) => return Err(e),
            Err(e) => return Err(Error::Other(format!("PERKGATE_ADMIN_EMAIL: {e}"))),
        }
        audit::record(
            db,
            audit::START_UP,
            "",
            "account added",
            &format!("{email} (owner)"),
            now,
        )
        .await?;
    }
    // Accounts made with `perkgate admin add` have links of their own: only the first owner's
    // is issued here.
    match accounts::by_email(db, email).await? {
        Some(owner) if owner.role == Role::Owner && owner.password_hash.is_none() => {
            let token = accounts::issue_link(db, owner.id, now).await?;
            Ok(Some(accounts::link_url(public_url, &token)))
        }
        _ => Ok(None),
    }
}

/// What checking an e-mail and password came to.
#[derive(Debug)]
pub enum SignIn {
    /// The password is right (a second factor may still be due).
    Passed(Account),
    /// Wrong e-mail or wrong password: the caller must not say which.
    Refused { known: Option<Account> },
    /// Too many failures: try again in this many seconds.
    Wait(i64),
}

/// Checks a sign-in, throttled per account and per address. An unknown e-mail costs an
/// Argon2 verification too, so the time taken does not tell whether the account exists.
pub async fn check_password(
    db: &Db,
    email: &str,
    password: &str,
    address: std::net::IpAddr,
    now_ms: i64,
) -> Result<SignIn, Error> {
    let keys = throttle::Keys::new(email, address);
    if let Err(wait) = throttle::check(db, &keys, now_ms).await? {
        return Ok(SignIn::Wait(wait));
    }
    throttle::failed(db, &keys, now_ms).await?;
    let account = match accounts::normalise_email(email) {
        Ok(email) => accounts::by_email(db, &email).await?,
        Err(_) => None,
    };
    let stored = account.as_ref().and_then(|a| a.password_hash.clone());
    let matched = password::verify(password.to_owned(), stored).await;
    match account {
        Some(account) if matched => {
            throttle::succeeded(db, &keys).await?;
            Ok(SignIn::Passed(account))
        }
        known => Ok(SignIn::Refused { known }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bootstrap_makes_the_first_owner_once_and_stops_when_one_can_sign_in() {
        let db = crate::db::connect("sqlite::memory:").await.unwrap();
        let url = url::Url::parse("http://127.0.0.1:3000").unwrap();
        let link = bootstrap(&db, "admin@localhost", &url, 0)
            .await
            .unwrap()
            .unwrap();
        assert!(
            link.starts_with("http://127.0.0.1:3000/admin/password/"),
            "{link}"
        );
        // Unused: a new link at the next start, the same single account.
        let again = bootstrap(&db, "admin@localhost", &url, 1)
            .await
            .unwrap()
            .unwrap();
        assert_ne!(link, again);
        assert_eq!(accounts::list(&db).await.unwrap().len(), 1);
        let owner = accounts::by_email(&db, "admin@localhost")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(owner.role, Role::Owner);
        accounts::set_password(&db, owner.id, "x").await.unwrap();
        assert!(
            bootstrap(&db, "admin@localhost", &url, 2)
                .await
                .unwrap()
                .is_none()
        );
    }
}
