//! The merchant API's keys: made by an owner (console or `perkgate keys add`), shown once,
//! kept only as a SHA-256 hash, found by that hash, revocable. A key's scope says what it may
//! do: `read` looks codes up and lists events, `redeem` also redeems.

use subtle::ConstantTimeEq;

use super::store::{self, Row, Val};
use crate::db::{Db, Error};

/// Every key starts so: secret scanners (and people) recognise it.
pub const KEY_PREFIX: &str = "pk_live_";
/// The characters of a key shown in lists: the prefix and four more.
const SHOWN: usize = KEY_PREFIX.len() + 4;
/// `last_used_at` is written at most this often per key: not a write per request.
pub const TOUCH_EVERY: i64 = 60;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Read,
    Redeem,
}

impl Scope {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "read" => Some(Self::Read),
            "redeem" => Some(Self::Redeem),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Redeem => "redeem",
        }
    }

    /// Whether a key of this scope may do what `needed` allows (redeem includes read).
    pub fn allows(self, needed: Scope) -> bool {
        self == Self::Redeem || needed == Self::Read
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key as listed: never the key itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    pub id: i64,
    pub name: String,
    pub scope: Scope,
    /// Its first characters, for telling keys apart ("pk_live_Ab3x").
    pub prefix: String,
    pub created_at: i64,
    pub created_by: String,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

#[derive(Debug)]
pub enum KeyError {
    BadName,
    /// A live key has this name already.
    Exists,
    NotFound,
    Db(Error),
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BadName => {
                f.write_str("a key's name is 1 to 64 letters, digits, spaces, '.', '-' or '_'")
            }
            Self::Exists => f.write_str("a key with this name exists already"),
            Self::NotFound => f.write_str("no such key (or it is revoked already)"),
            Self::Db(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for KeyError {}

impl From<Error> for KeyError {
    fn from(e: Error) -> Self {
        Self::Db(e)
    }
}

pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.chars().count())
        && name.trim() == name
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | '-' | '_'))
}

/// Whether `s` looks like a key at all: checked before any lookup.
fn well_formed(s: &str) -> bool {
    s.strip_prefix(KEY_PREFIX).is_some_and(|rest| {
        rest.len() == 43
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

fn of_row(r: &Row) -> ApiKey {
    let opt = |v: &Val| matches!(v, Val::Int(_)).then(|| v.int());
    ApiKey {
        id: r[0].int(),
        name: r[1].string(),
        scope: Scope::parse(r[2].text().unwrap_or_default()).unwrap_or(Scope::Read),
        prefix: r[3].string(),
        created_at: r[4].int(),
        created_by: r[5].string(),
        last_used_at: opt(&r[6]),
        revoked_at: opt(&r[7]),
    }
}

/// Makes a key; returns it as listed and the key itself, which is never seen again.
pub async fn create(
    db: &Db,
    name: &str,
    scope: Scope,
    created_by: &str,
    now: i64,
) -> Result<(ApiKey, String), KeyError> {
    if !valid_name(name) {
        return Err(KeyError::BadName);
    }
    if live_by_name(db, name).await?.is_some() {
        return Err(KeyError::Exists);
    }
    let secret = format!("{KEY_PREFIX}{}", crate::crypto::random_token());
    let row = store::one(
        db,
        "INSERT INTO api_keys (name, scope, hash, prefix, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         RETURNING id, name, scope, prefix, created_at, created_by, last_used_at, revoked_at",
        vec![
            name.into(),
            scope.as_str().into(),
            crate::crypto::sha256_b64(&secret).into(),
            secret[..SHOWN].into(),
            Val::Int(now),
            created_by.into(),
        ],
    )
    .await
    // Two creations of one name at once: the second meets the unique index.
    .map_err(|e| match live_exists_error(&e) {
        true => KeyError::Exists,
        false => KeyError::Db(e),
    })?
    .ok_or(KeyError::Db(Error::Other(
        "the key was not stored".to_owned(),
    )))?;
    Ok((of_row(&row), secret))
}

fn live_exists_error(e: &Error) -> bool {
    let text = e.to_string();
    text.contains("UNIQUE") || text.contains("unique") || text.contains("duplicate key")
}

/// Every key, live ones first, newest first.
pub async fn list(db: &Db) -> Result<Vec<ApiKey>, Error> {
    const SQL: &str = "SELECT id, name, scope, prefix, created_at, created_by, last_used_at, \
         revoked_at FROM api_keys ORDER BY revoked_at IS NOT NULL, id DESC";
    Ok(store::rows(db, SQL, vec![])
        .await?
        .iter()
        .map(of_row)
        .collect())
}

pub async fn by_id(db: &Db, id: i64) -> Result<Option<ApiKey>, Error> {
    const SQL: &str = "SELECT id, name, scope, prefix, created_at, created_by, last_used_at, \
         revoked_at FROM api_keys WHERE id = $1";
    Ok(store::one(db, SQL, vec![Val::Int(id)])
        .await?
        .as_ref()
        .map(of_row))
}

async fn live_by_name(db: &Db, name: &str) -> Result<Option<ApiKey>, Error> {
    const SQL: &str = "SELECT id, name, scope, prefix, created_at, created_by, last_used_at, \
         revoked_at FROM api_keys WHERE name = $1 AND revoked_at IS NULL";
    Ok(store::one(db, SQL, vec![name.into()])
        .await?
        .as_ref()
        .map(of_row))
}

/// The live key named by `id_or_name`: an id when it is a number and such a key is live, else a
/// name.
pub async fn find_live(db: &Db, id_or_name: &str) -> Result<Option<ApiKey>, Error> {
    if let Ok(id) = id_or_name.parse::<i64>()
        && let Some(key) = by_id(db, id).await?.filter(|k| k.revoked_at.is_none())
    {
        return Ok(Some(key));
    }
    live_by_name(db, id_or_name).await
}

/// Revokes a live key: it is refused from now on. The key as it was.
pub async fn revoke(db: &Db, id: i64, now: i64) -> Result<ApiKey, KeyError> {
    const SQL: &str = "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL \
         RETURNING id, name, scope, prefix, created_at, created_by, last_used_at, revoked_at";
    store::one(db, SQL, vec![Val::Int(now), Val::Int(id)])
        .await?
        .as_ref()
        .map(of_row)
        .ok_or(KeyError::NotFound)
}

/// The live key a request presents, if any, noting its use (at most once a [`TOUCH_EVERY`]).
/// Found by its hash, so the lookup learns nothing from a near miss; the hashes are compared
/// again in constant time all the same.
pub async fn authenticate(db: &Db, presented: &str, now: i64) -> Result<Option<ApiKey>, Error> {
    const SQL: &str = "SELECT id, name, scope, prefix, created_at, created_by, last_used_at, \
         revoked_at, hash FROM api_keys WHERE hash = $1 AND revoked_at IS NULL";
    const TOUCH: &str = "UPDATE api_keys SET last_used_at = $1 WHERE id = $2 \
         AND (last_used_at IS NULL OR last_used_at <= $3) RETURNING id";
    if !well_formed(presented) {
        return Ok(None);
    }
    let hash = crate::crypto::sha256_b64(presented);
    let Some(row) = store::one(db, SQL, vec![hash.as_str().into()]).await? else {
        return Ok(None);
    };
    if !bool::from(row[8].string().as_bytes().ct_eq(hash.as_bytes())) {
        return Ok(None);
    }
    let key = of_row(&row);
    if key.last_used_at.is_none_or(|at| at <= now - TOUCH_EVERY) {
        store::exec(
            db,
            TOUCH,
            vec![Val::Int(now), Val::Int(key.id), Val::Int(now - TOUCH_EVERY)],
        )
        .await?;
    }
    Ok(Some(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn db() -> Db {
        crate::db::connect("sqlite::memory:").await.unwrap()
    }

    #[tokio::test]
    async fn a_key_is_shown_once_stored_hashed_and_found_by_its_hash() {
        let db = db().await;
        let (key, secret) = create(&db, "shop backend", Scope::Redeem, "cli", 100)
            .await
            .unwrap();
        assert!(secret.starts_with(KEY_PREFIX) && secret.len() == KEY_PREFIX.len() + 43);
        assert_eq!(key.prefix, &secret[..12]);
        let stored = store::rows(&db, "SELECT hash FROM api_keys", vec![])
            .await
            .unwrap();
        assert_eq!(stored[0][0].string(), crate::crypto::sha256_b64(&secret));
        assert_ne!(stored[0][0].string(), secret);

        let found = authenticate(&db, &secret, 200).await.unwrap().unwrap();
        assert_eq!((found.id, found.scope), (key.id, Scope::Redeem));
        let mut wrong = secret.clone();
        wrong.pop();
        wrong.push(if secret.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(authenticate(&db, &wrong, 200).await.unwrap(), None);
        assert_eq!(authenticate(&db, "pk_live_short", 200).await.unwrap(), None);
        assert_eq!(authenticate(&db, "", 200).await.unwrap(), None);
    }

    #[tokio::test]
    async fn last_use_is_written_at_most_once_a_minute() {
        let db = db().await;
        let (key, secret) = create(&db, "k", Scope::Read, "cli", 0).await.unwrap();
        let last = |db: Db| async move { by_id(&db, key.id).await.unwrap().unwrap().last_used_at };
        authenticate(&db, &secret, 1_000).await.unwrap();
        assert_eq!(last(db.clone()).await, Some(1_000));
        authenticate(&db, &secret, 1_059).await.unwrap();
        assert_eq!(last(db.clone()).await, Some(1_000));
        authenticate(&db, &secret, 1_060).await.unwrap();
        assert_eq!(last(db.clone()).await, Some(1_060));
    }

    #[tokio::test]
    async fn revoked_keys_are_refused_and_their_names_free() {
        let db = db().await;
        let (key, secret) = create(&db, "k", Scope::Read, "cli", 0).await.unwrap();
        assert!(matches!(
            create(&db, "k", Scope::Read, "cli", 0).await,
            Err(KeyError::Exists)
        ));
        assert!(matches!(
            create(&db, " k", Scope::Read, "cli", 0).await,
            Err(KeyError::BadName)
        ));
        assert_eq!(find_live(&db, "k").await.unwrap().unwrap().id, key.id);
        assert_eq!(
            find_live(&db, &key.id.to_string())
                .await
                .unwrap()
                .unwrap()
                .id,
            key.id
        );
        revoke(&db, key.id, 5).await.unwrap();
        assert!(matches!(
            revoke(&db, key.id, 6).await,
            Err(KeyError::NotFound)
        ));
        assert_eq!(authenticate(&db, &secret, 10).await.unwrap(), None);
        assert_eq!(find_live(&db, "k").await.unwrap(), None);
        let (again, _) = create(&db, "k", Scope::Redeem, "cli", 20).await.unwrap();
        assert_ne!(again.id, key.id);
        let all = list(&db).await.unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].id, again.id, "live keys first");
        assert_eq!(all[1].revoked_at, Some(5));
    }

    #[test]
    fn scopes() {
        assert!(Scope::Redeem.allows(Scope::Read) && Scope::Redeem.allows(Scope::Redeem));
        assert!(Scope::Read.allows(Scope::Read) && !Scope::Read.allows(Scope::Redeem));
        assert_eq!(Scope::parse("admin"), None);
    }
}
