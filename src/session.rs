//! The shopper's server-side session, typed.
//!
//! Everything lives under one key so a request reads the store once. The session holds the
//! pending authorizations (keyed by state), the verification (groups and subgroup names, when,
//! and a keyed hash of the ID.me uuid) and the unlocked benefit: never a token, a name, an
//! email or the raw uuid.

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use tower_sessions::Session;

use crate::clock::now;
use crate::crypto::random_token;
use crate::error::Error;
use crate::rules::{Benefit, Verification};
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
}

/// How long a session lives: idle and absolute lifetimes, in seconds.
#[derive(Clone, Copy, Debug)]
pub struct Lifetimes {
    pub idle_secs: i64,
    pub absolute_secs: i64,
}

/// The typed session of one request.
pub struct Shopper {
    session: Session,
    pub state: ShopperState,
}

impl Shopper {
    /// Loads the session. Nothing is stored for a visitor until a form changes something
    /// (`save`): a page view alone writes nothing. A session past its absolute lifetime is
    /// dropped and starts over; one whose idle timer is more than a quarter used is written
    /// back, so the idle expiry slides without a store write on every page view.
    pub async fn load(session: Session, lifetimes: Lifetimes) -> Result<Self, Error> {
        let Lifetimes {
            idle_secs,
            absolute_secs,
        } = lifetimes;
        let now = now();
        let stored = read(&session).await?;
        let mut shopper = Self {
            session,
            state: stored.unwrap_or_default(),
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
        absolute_secs: i64,
    ) -> Result<Option<ShopperState>, Error> {
        let state = read(session).await?;
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
        self.session.cycle_id().await?;
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

/// The state is kept as one JSON string rather than a tree of JSON values: every read clones
/// what the store (or the read cache) holds, and one string clones far cheaper than a tree.
async fn read(session: &Session) -> Result<Option<ShopperState>, Error> {
    let decoded = match session.get_value(KEY).await? {
        Some(serde_json::Value::String(text)) => serde_json::from_str(&text),
        // Sessions written before the state became a string.
        Some(tree) => serde_json::from_value(tree),
        None => return Ok(None),
    };
    // A state this version cannot read (written by another) starts over rather than failing
    // every request until the cookie expires.
    Ok(decoded
        .inspect_err(|e| tracing::warn!(error = %e, "unreadable session state; starting over"))
        .ok())
}
