//! The shopper's server-side session, typed.
//!
//! Everything lives under one key so a request reads the store once. The session holds the
//! pending authorizations (keyed by state), the verification (groups and subgroup names, when,
//! and a keyed hash of the ID.me uuid) and the unlocked benefit: never a token, a name, an
//! email or the raw uuid.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use tower_sessions::cookie::{Cookie, SameSite};
use tower_sessions::session::{Id, Record};
use tower_sessions::{Expiry, Session, SessionManagerLayer};

use crate::clock::now;
use crate::crypto::random_token;
use crate::error::Error;
use crate::rules::{Benefit, Verification};
use crate::session_store::{CachedSessions, Shown};
use crate::verification::NoBenefit;

const KEY: &str = "shopper";
/// At most this many authorizations wait at once (one per tab is plenty).
pub const MAX_PENDING: usize = 5;

/// An authorization sent to ID.me and not yet answered.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Pending {
    pub state: String,
    pub pkce_verifier: String,
    pub group: String,
    pub created_at: i64,
}

impl Pending {
    pub fn expired(&self, now: i64, ttl_secs: i64) -> bool {
        now - self.created_at > ttl_secs
    }
}

/// A message for the next storefront view, shown once: what came of the shopper's last
/// verification. Everything that happened at ID.me ends on the store with one of these.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Notice {
    /// ID.me answered, but did not confirm the group.
    NotVerified,
    /// Verified, but no benefit, for this reason.
    NoBenefit(NoBenefit),
    /// The shopper declined to share their status at ID.me.
    Declined,
    /// ID.me failed, or its answer could not be used. `reference` is the request id that the
    /// log line carries.
    Failed { reference: String },
    /// The shopper came back after the authorization had expired.
    Expired,
    /// Unlocked, but not the best offer: that one could not be claimed, for this reason.
    PassedOver { offer: String, reason: NoBenefit },
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ShopperState {
    pub created_at: i64,
    /// Last write; reads refresh the idle timer only now and then (see `load`).
    pub touched_at: i64,
    pub csrf: String,
    pub pending: Vec<Pending>,
    pub verification: Option<Verification>,
    pub benefit: Option<Benefit>,
    pub notice: Option<Notice>,
    /// What the notice's "Try again" starts: the group (or groups, comma-separated) of the
    /// attempt it is about.
    #[serde(default)]
    pub retry: Option<String>,
    /// The shop page to go back to (`return_to`), as checked against the listed origins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_to: Option<String>,
    /// The page that opened this verification in a popup (the embedded button): the benefit
    /// is handed to exactly this origin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embed_origin: Option<String>,
}

/// How long a session lives: idle and absolute lifetimes, in seconds.
#[derive(Clone, Copy, Debug)]
pub struct Lifetimes {
    pub idle_secs: i64,
    pub absolute_secs: i64,
}

/// The session cookie: the session layer sets it, and so does the callback, whose work runs
/// apart from its request (see `verification::callback`).
#[derive(Clone, Copy, Debug)]
pub struct SessionCookie {
    pub name: &'static str,
    pub secure: bool,
    pub idle: Duration,
}

impl SessionCookie {
    pub fn new(https: bool, idle: Duration) -> Self {
        Self {
            // `__Host-` binds the cookie to this host and path `/`, and requires Secure.
            name: if https { "__Host-perkgate" } else { "perkgate" },
            secure: https,
            idle,
        }
    }

    fn expiry(&self) -> Expiry {
        Expiry::OnInactivity(time::Duration::seconds(self.idle.as_secs() as i64))
    }

    pub fn layer(&self, store: CachedSessions) -> SessionManagerLayer<CachedSessions> {
        SessionManagerLayer::new(store)
            .with_name(self.name)
            .with_secure(self.secure)
            .with_http_only(true)
            // Strict would drop the cookie on the redirect back from ID.me.
            .with_same_site(SameSite::Lax)
            .with_path("/")
            .with_expiry(self.expiry())
    }

    /// The `Set-Cookie` value for session `id`, with the layer's attributes.
    pub fn set_cookie(&self, id: Id) -> String {
        let max_age = time::Duration::seconds(self.idle.as_secs() as i64);
        Cookie::build((self.name, id.to_string()))
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure)
            .path("/")
            .max_age(max_age)
            .build()
            .to_string()
    }
}

/// Sessions opened apart from the session layer, by work that must not depend on its request
/// living on: such work writes its session itself ([`Shopper::persist`]).
#[derive(Clone)]
pub struct Jar {
    store: Arc<CachedSessions>,
    pub cookie: SessionCookie,
}

impl Jar {
    pub fn new(store: CachedSessions, cookie: SessionCookie) -> Self {
        Self {
            store: Arc::new(store),
            cookie,
        }
    }

    /// The store, with its read cache.
    pub fn store(&self) -> &CachedSessions {
        &self.store
    }

    /// Session `id` (or a new one) in this jar's store, not loaded yet.
    fn session(&self, id: Option<Id>) -> Session {
        Session::new(id, self.store.clone(), Some(self.cookie.expiry()))
    }

    /// The session the cookie `id` names (or a new one), loaded as [`Shopper::load`] does.
    pub async fn load(&self, id: Option<Id>, lifetimes: Lifetimes) -> Result<Shopper, Error> {
        let session = self.session(id);
        let mut shopper = Shopper::load(session, lifetimes).await?;
        shopper.own = Some(Own {
            jar: self.clone(),
            rotated_from: None,
        });
        Ok(shopper)
    }
}

/// The typed session of one request.
pub struct Shopper {
    session: Session,
    pub state: ShopperState,
    /// Set for a session from a [`Jar`], which writes itself ([`Shopper::persist`]).
    own: Option<Own>,
}

/// A [`Jar`]'s session: its rotation is written with the new state, in one store call.
struct Own {
    jar: Jar,
    /// The id a rotation retired, deleted when the new session is written.
    rotated_from: Option<Id>,
}

impl Shopper {
    /// Loads the session. Nothing is stored for a visitor until a form changes something
    /// (`save`): a page view alone writes nothing. A session past its absolute lifetime is
    /// dropped and starts over; one whose idle timer is more than a quarter used is written
    /// back, so the idle expiry slides without a store write on every page view.
    pub async fn load(session: Session, lifetimes: Lifetimes) -> Result<Self, Error> {
        let stored = read(&session).await?;
        Self::loaded(session, stored, lifetimes).await
    }

    /// [`load`](Self::load) for a page that only shows the state: inside
    /// [`cached_reads`](crate::session_store::cached_reads), the state comes decoded from
    /// `store`'s read cache.
    pub async fn load_shown(
        session: Session,
        store: &CachedSessions,
        lifetimes: Lifetimes,
    ) -> Result<Self, Error> {
        let stored = read_shown(&session, store).await?;
        Self::loaded(session, stored, lifetimes).await
    }

    async fn loaded(
        session: Session,
        stored: Option<ShopperState>,
        lifetimes: Lifetimes,
    ) -> Result<Self, Error> {
        let Lifetimes {
            idle_secs,
            absolute_secs,
        } = lifetimes;
        let now = now();
        let mut shopper = Self {
            session,
            state: stored.unwrap_or_default(),
            own: None,
        };
        if shopper.is_stored() && now - shopper.state.created_at > absolute_secs {
            shopper.session.flush().await?;
            shopper.state = ShopperState::default();
        } else if shopper.is_stored() && now - shopper.state.touched_at > idle_secs / 4 {
            shopper.save().await?;
        }
        Ok(shopper)
    }

    /// Whether this shopper has a stored session (else forms use the signed cookie token).
    pub fn is_stored(&self) -> bool {
        self.state.created_at != 0
    }

    /// Reads the state without creating, extending or writing anything (the read-only API).
    pub async fn peek(
        session: &Session,
        store: &CachedSessions,
        absolute_secs: i64,
    ) -> Result<Option<ShopperState>, Error> {
        let state = read_shown(session, store).await?;
        Ok(state.filter(|s| now() - s.created_at <= absolute_secs))
    }

    /// Writes the state back (the session layer stores it after the response); the first
    /// write creates the session, with its own CSRF token.
    pub async fn save(&mut self) -> Result<(), Error> {
        let now = now();
        if !self.is_stored() {
            self.state.created_at = now;
            if self.state.csrf.is_empty() {
                self.state.csrf = random_token();
            }
        }
        self.state.touched_at = now;
        let text = serde_json::to_string(&self.state)
            .map_err(|e| Error::Internal(format!("session state: {e}")))?;
        self.session.insert(KEY, text).await?;
        Ok(())
    }

    /// Writes the session to the store now, if anything changed. The session layer does this
    /// after the response for a request's own session; a [`Jar`]'s session must do it itself.
    pub async fn persist(&mut self) -> Result<(), Error> {
        // An emptied session (past its absolute lifetime) is not written back, as in the layer.
        if !self.session.is_modified() || self.session.is_empty().await {
            return Ok(());
        }
        let Some(Own {
            jar,
            rotated_from: Some(old),
        }) = &self.own
        else {
            return Ok(self.session.save().await?);
        };
        // Rotated: the old id goes and the new session comes in one call (on SQLite one
        // transaction), not a delete at the rotation and a create here. The record is what
        // the session holds (`save` wrote it), under a new id.
        let mut record = Record {
            id: Id::default(),
            data: std::collections::HashMap::from_iter(
                (self.session.get_value(KEY).await?).map(|v| (KEY.to_owned(), v)),
            ),
            expiry_date: self.session.expiry_date(),
        };
        jar.store.replace(old, &mut record).await?;
        self.session = jar.session(Some(record.id));
        if let Some(own) = &mut self.own {
            own.rotated_from = None;
        }
        Ok(())
    }

    /// The session's id in the store (`None` until a new session is first persisted).
    pub fn id(&self) -> Option<Id> {
        self.session.id()
    }

    /// Whether this session started the authorization `state` (and has not used it yet).
    pub fn holds(&self, state: &str) -> bool {
        self.state
            .pending
            .iter()
            .any(|p| bool::from(p.state.as_bytes().ct_eq(state.as_bytes())))
    }

    pub fn csrf_token(&self) -> &str {
        &self.state.csrf
    }

    /// Remembers an authorization; drops expired ones and the oldest past the cap.
    pub fn add_pending(&mut self, pending: Pending, ttl_secs: i64) {
        let now = now();
        self.state.pending.retain(|p| !p.expired(now, ttl_secs));
        self.state.pending.push(pending);
        let excess = self.state.pending.len().saturating_sub(MAX_PENDING);
        self.state.pending.drain(..excess);
    }

    /// Removes and returns the authorization for this state, if this session started it.
    pub fn take_pending(&mut self, state: &str) -> Option<Pending> {
        let i = self
            .state
            .pending
            .iter()
            .position(|p| bool::from(p.state.as_bytes().ct_eq(state.as_bytes())))?;
        Some(self.state.pending.remove(i))
    }

    /// A new session id for a change of privilege: verification or reset. The old id stops
    /// working, so a fixated or leaked pre-verification id is worth nothing.
    pub async fn rotate(&mut self) -> Result<(), Error> {
        match &mut self.own {
            // The old id is deleted when the new session is persisted, in the same call.
            Some(own) => {
                own.rotated_from = own.rotated_from.or(self.session.id());
                self.session = own.jar.session(None);
            }
            None => self.session.cycle_id().await?,
        }
        self.state.csrf = random_token();
        Ok(())
    }

    pub fn verify(&mut self, verification: Verification, result: Result<Benefit, NoBenefit>) {
        self.state.verification = Some(verification);
        match result {
            Ok(benefit) => {
                self.state.benefit = Some(benefit);
                self.state.notice = None;
            }
            Err(reason) => {
                self.state.benefit = None;
                self.state.notice = Some(Notice::NoBenefit(reason));
            }
        }
    }

    /// Takes the notice for showing: it is shown once, so the page that shows it saves the
    /// session without it.
    pub fn take_notice(&mut self) -> Option<(Notice, Option<String>)> {
        let notice = self.state.notice.take()?;
        Some((notice, self.state.retry.take()))
    }

    /// Forgets the verification under a new session id (the shopper's "forget me").
    pub async fn reset(&mut self) -> Result<(), Error> {
        self.forget();
        self.rotate().await?;
        self.save().await
    }

    /// Leaves a notice about the attempt for `retry` (its group or groups).
    pub fn notify(&mut self, notice: Notice, retry: Option<String>) {
        self.state.notice = Some(notice);
        self.state.retry = retry;
    }

    /// Forgets the verification and benefit; pending authorizations go too.
    pub fn forget(&mut self) {
        self.state.verification = None;
        self.state.benefit = None;
        self.state.notice = None;
        self.state.retry = None;
        self.state.pending.clear();
    }
}

/// [`read`], through the read cache's decoded states where it may (see [`Shopper::load_shown`]).
async fn read_shown(
    session: &Session,
    store: &CachedSessions,
) -> Result<Option<ShopperState>, Error> {
    let Some(id) = session.id() else {
        return Ok(None);
    };
    match store.shown(id, decode_record).await? {
        Shown::Found(state) => Ok(Some(ShopperState::clone(&state))),
        Shown::Missing => Ok(None),
        Shown::Uncached => read(session).await,
    }
}

/// A stored record's state, for the read cache; `None` leaves an odd record to [`read`],
/// which logs it.
fn decode_record(record: &Record) -> Option<ShopperState> {
    decode(record.data.get(KEY)?).ok()
}

/// The state from its stored value: one JSON string, or (sessions written before the state
/// became a string) a tree of JSON values.
fn decode(value: &serde_json::Value) -> serde_json::Result<ShopperState> {
    match value {
        serde_json::Value::String(text) => serde_json::from_str(text),
        tree => ShopperState::deserialize(tree),
    }
}

/// The state is kept as one JSON string rather than a tree of JSON values: every read clones
/// what the store (or the read cache) holds, and one string clones far cheaper than a tree.
async fn read(session: &Session) -> Result<Option<ShopperState>, Error> {
    let Some(value) = session.get_value(KEY).await? else {
        return Ok(None);
    };
    let decoded = decode(&value);
    // A state this version cannot read (written by another) starts over rather than failing
    // every request until the cookie expires.
    Ok(decoded
        .inspect_err(|e| tracing::warn!(error = %e, "unreadable session state; starting over"))
        .ok())
}
