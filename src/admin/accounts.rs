//! Console accounts, their roles, and the one-time links that set a password.

use super::store::{self, Row, Val};
use crate::crypto::{random_token, sha256_b64};
use crate::db::{Db, Error};

/// A set-password link is good for this long, once.
pub const LINK_TTL_SECS: i64 = 30 * 60;

/// What an account may do; each role includes the ones below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Reads the console.
    Viewer,
    /// Also changes offers, pools and codes.
    Editor,
    /// Also manages accounts (and, later, API keys).
    Owner,
}

impl Role {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "viewer" => Some(Self::Viewer),
            "editor" => Some(Self::Editor),
            "owner" => Some(Self::Owner),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Editor => "editor",
            Self::Owner => "owner",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug)]
pub struct Account {
    pub id: i64,
    pub email: String,
    pub role: Role,
    pub password_hash: Option<String>,
    pub totp_secret: Option<String>,
    pub totp_pending: Option<String>,
    pub totp_last_step: i64,
    pub created_at: i64,
}

impl Account {
    pub fn has_2fa(&self) -> bool {
        self.totp_secret.is_some()
    }
}

fn account(row: &Row) -> Account {
    Account {
        id: row[0].int(),
        email: row[1].string(),
        role: Role::parse(row[2].text().unwrap_or_default()).unwrap_or(Role::Viewer),
        password_hash: row[3].text().map(str::to_owned),
        totp_secret: row[4].text().map(str::to_owned),
        totp_pending: row[5].text().map(str::to_owned),
        totp_last_step: row[6].int(),
        created_at: row[7].int(),
    }
}

/// Why an account change was refused.
#[derive(Debug)]
pub enum AccountError {
    BadEmail(&'static str),
    Exists,
    NotFound,
    /// The console must keep an owner who can sign in.
    LastOwner,
    Db(Error),
}

impl std::fmt::Display for AccountError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BadEmail(why) => f.write_str(why),
            Self::Exists => f.write_str("an account with this e-mail address already exists"),
            Self::NotFound => f.write_str("no account with this e-mail address"),
            Self::LastOwner => f.write_str(
                "this is the last owner: add another owner first, so that someone can still manage accounts",
            ),
            Self::Db(e) => write!(f, "{e}"),
        }
    }
}

impl From<Error> for AccountError {
    fn from(e: Error) -> Self {
        Self::Db(e)
    }
}

/// An e-mail address as accounts are keyed: trimmed, lower case, one `@`, no spaces.
pub fn normalise_email(raw: &str) -> Result<String, &'static str> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split('@').count() == 2
        && email.split('@').all(|part| !part.is_empty())
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(email)
    } else {
        Err("expected an e-mail address like name@example.com")
    }
}

pub async fn by_email(db: &Db, email: &str) -> Result<Option<Account>, Error> {
    const SQL: &str = "SELECT id, email, role, password_hash, totp_secret, totp_pending, totp_last_step, created_at FROM admin_accounts WHERE email = $1";
    Ok(store::one(db, SQL, vec![email.into()])
        .await?
        .as_ref()
        .map(account))
}

pub async fn by_id(db: &Db, id: i64) -> Result<Option<Account>, Error> {
    const SQL: &str = "SELECT id, email, role, password_hash, totp_secret, totp_pending, totp_last_step, created_at FROM admin_accounts WHERE id = $1";
    Ok(store::one(db, SQL, vec![Val::Int(id)])
        .await?
        .as_ref()
        .map(account))
}

pub async fn list(db: &Db) -> Result<Vec<Account>, Error> {
    const SQL: &str = "SELECT id, email, role, password_hash, totp_secret, totp_pending, totp_last_step, created_at FROM admin_accounts ORDER BY email";
    Ok(store::rows(db, SQL, vec![])
        .await?
        .iter()
        .map(account)
        .collect())
}

/// Creates an account without a password; [`issue_link`] then lets its owner set one.
pub async fn create(db: &Db, email: &str, role: Role, now: i64) -> Result<Account, AccountError> {
    let email = normalise_email(email).map_err(AccountError::BadEmail)?;
    let inserted = store::exec(
        db,
        "INSERT INTO admin_accounts (email, role, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (email) DO NOTHING RETURNING id",
        vec![email.as_str().into(), role.as_str().into(), Val::Int(now)],
    )
    .await?;
    if inserted == 0 {
        return Err(AccountError::Exists);
    }
    by_email(db, &email).await?.ok_or(AccountError::NotFound)
}

/// Whether removing (or resetting) this account would leave no other owner able to sign in.
async fn is_last_owner(db: &Db, account: &Account) -> Result<bool, Error> {
    if account.role != Role::Owner {
        return Ok(false);
    }
    let others = store::one(
        db,
        "SELECT count(*) FROM admin_accounts \
         WHERE role = 'owner' AND password_hash IS NOT NULL AND id <> $1",
        vec![Val::Int(account.id)],
    )
    .await?
    .map_or(0, |r| r[0].int());
    Ok(others == 0)
}

/// Removes an account; its sessions and links go with it.
pub async fn remove(db: &Db, account: &Account) -> Result<(), AccountError> {
    if is_last_owner(db, account).await? {
        return Err(AccountError::LastOwner);
    }
    for sql in [
        "DELETE FROM admin_sessions WHERE account_id = $1",
        "DELETE FROM admin_links WHERE account_id = $1",
        "DELETE FROM admin_accounts WHERE id = $1",
    ] {
        store::exec(db, sql, vec![Val::Int(account.id)]).await?;
    }
    Ok(())
}

/// Clears the password and the second factor and ends every session of the account; a new
/// link (from [`issue_link`]) lets its owner in again. `allow_last_owner`: the command line
/// may reset the last owner (that is how a locked-out owner gets back in); the console may
/// not, or the owner doing it would lock everyone out.
pub async fn reset(db: &Db, account: &Account, allow_last_owner: bool) -> Result<(), AccountError> {
    if !allow_last_owner && is_last_owner(db, account).await? {
        return Err(AccountError::LastOwner);
    }
    store::exec(
        db,
        "UPDATE admin_accounts SET password_hash = NULL, totp_secret = NULL, totp_pending = NULL \
         WHERE id = $1",
        vec![Val::Int(account.id)],
    )
    .await?;
    super::session::end_all(db, account.id).await?;
    Ok(())
}

/// A new one-time link token for the account (earlier links stop working). Only its hash is
/// stored; the token itself is shown once.
pub async fn issue_link(db: &Db, account_id: i64, now: i64) -> Result<String, Error> {
    let token = random_token();
    store::exec(
        db,
        "DELETE FROM admin_links WHERE account_id = $1",
        vec![Val::Int(account_id)],
    )
    .await?;
    store::exec(
        db,
        "INSERT INTO admin_links (token_hash, account_id, expires_at) VALUES ($1, $2, $3)",
        vec![
            sha256_b64(&token).into(),
            Val::Int(account_id),
            Val::Int(now + LINK_TTL_SECS),
        ],
    )
    .await?;
    Ok(token)
}

/// The link's URL as it is handed out.
pub fn link_url(public_url: &url::Url, token: &str) -> String {
    format!(
        "{}/admin/password/{token}",
        public_url.as_str().trim_end_matches('/')
    )
}

/// The account a link is for, if the link is unused and unexpired (the link stays usable).
pub async fn peek_link(db: &Db, token: &str, now: i64) -> Result<Option<Account>, Error> {
    let row = store::one(
        db,
        "SELECT account_id FROM admin_links WHERE token_hash = $1 AND expires_at > $2",
        vec![sha256_b64(token).into(), Val::Int(now)],
    )
    .await?;
    match row {
        Some(r) => by_id(db, r[0].int()).await,
        None => Ok(None),
    }
}

/// Uses up a link: at most one caller ever gets its account, and only before it expires.
pub async fn take_link(db: &Db, token: &str, now: i64) -> Result<Option<Account>, Error> {
    let row = store::one(
        db,
        "DELETE FROM admin_links WHERE token_hash = $1 RETURNING account_id, expires_at",
        vec![sha256_b64(token).into()],
    )
    .await?;
    match row {
        Some(r) if r[1].int() > now => by_id(db, r[0].int()).await,
        _ => Ok(None),
    }
}

/// Stores a new password hash and ends every session of the account.
pub async fn set_password(db: &Db, account_id: i64, hash: &str) -> Result<(), Error> {
    store::exec(
        db,
        "UPDATE admin_accounts SET password_hash = $1 WHERE id = $2",
        vec![hash.into(), Val::Int(account_id)],
    )
    .await?;
    super::session::end_all(db, account_id).await
}

/// Starts (or restarts) a 2FA enrolment: the secret waits for a code before it counts.
pub async fn begin_totp(db: &Db, account_id: i64, secret: &str) -> Result<(), Error> {
    store::exec(
        db,
        "UPDATE admin_accounts SET totp_pending = $1 WHERE id = $2",
        vec![secret.into(), Val::Int(account_id)],
    )
    .await
    .map(|_| ())
}

/// The pending secret becomes the account's second factor; `step` is the code's time step.
pub async fn confirm_totp(db: &Db, account_id: i64, step: i64) -> Result<(), Error> {
    store::exec(
        db,
        "UPDATE admin_accounts SET totp_secret = totp_pending, totp_pending = NULL, \
         totp_last_step = $1 WHERE id = $2 AND totp_pending IS NOT NULL",
        vec![Val::Int(step), Val::Int(account_id)],
    )
    .await
    .map(|_| ())
}

pub async fn disable_totp(db: &Db, account_id: i64) -> Result<(), Error> {
    store::exec(
        db,
        "UPDATE admin_accounts SET totp_secret = NULL, totp_pending = NULL WHERE id = $1",
        vec![Val::Int(account_id)],
    )
    .await
    .map(|_| ())
}

/// Records an accepted code's step, if it is later than the last one: `false` when another
/// request used a code of this step (or a later one) first.
pub async fn use_totp_step(db: &Db, account_id: i64, step: i64) -> Result<bool, Error> {
    Ok(store::exec(
        db,
        "UPDATE admin_accounts SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1 \
         RETURNING id",
        vec![Val::Int(step), Val::Int(account_id)],
    )
    .await?
        == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            normalise_email("  Ann@Example.COM ").unwrap(),
            "ann@example.com"
        );
        for bad in ["", "ann", "@x", "ann@", "a@b@c", "an n@x.com"] {
            assert!(normalise_email(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Owner > Role::Editor && Role::Editor > Role::Viewer);
        for r in [Role::Viewer, Role::Editor, Role::Owner] {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("admin"), None);
    }

    async fn memory() -> Db {
        crate::db::connect("sqlite::memory:").await.unwrap()
    }

    #[tokio::test]
    async fn a_link_is_good_once_and_only_before_it_expires() {
        let db = memory().await;
        let a = create(&db, "ann@example.com", Role::Owner, 1000)
            .await
            .unwrap();
        let token = issue_link(&db, a.id, 1000).await.unwrap();
        assert!(peek_link(&db, &token, 1000).await.unwrap().is_some());
        assert!(
            peek_link(&db, &token, 1000 + LINK_TTL_SECS)
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(
            take_link(&db, &token, 1001).await.unwrap().unwrap().id,
            a.id
        );
        assert!(
            take_link(&db, &token, 1001).await.unwrap().is_none(),
            "used"
        );

        let late = issue_link(&db, a.id, 1000).await.unwrap();
        assert!(
            take_link(&db, &late, 1000 + LINK_TTL_SECS)
                .await
                .unwrap()
                .is_none()
        );
        // A new link retires the one before.
        let first = issue_link(&db, a.id, 1000).await.unwrap();
        let second = issue_link(&db, a.id, 1000).await.unwrap();
        assert!(take_link(&db, &first, 1001).await.unwrap().is_none());
        assert!(take_link(&db, &second, 1001).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn the_last_owner_stays() {
        let db = memory().await;
        let a = create(&db, "ann@example.com", Role::Owner, 1)
            .await
            .unwrap();
        assert!(matches!(
            create(&db, "ANN@example.com", Role::Viewer, 1).await,
            Err(AccountError::Exists)
        ));
        set_password(&db, a.id, "hash").await.unwrap();
        let a = by_id(&db, a.id).await.unwrap().unwrap();
        assert!(matches!(
            remove(&db, &a).await,
            Err(AccountError::LastOwner)
        ));
        assert!(matches!(
            reset(&db, &a, false).await,
            Err(AccountError::LastOwner)
        ));
        reset(&db, &a, true).await.unwrap();
        let b = create(&db, "bob@example.com", Role::Owner, 1)
            .await
            .unwrap();
        set_password(&db, b.id, "hash").await.unwrap();
        remove(&db, &a).await.unwrap();
        assert!(by_email(&db, "ann@example.com").await.unwrap().is_none());
    }
}
