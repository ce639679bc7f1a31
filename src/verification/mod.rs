//! A verification, as the domain sees it: [`Verifier::start`] sends the shopper to ID.me,
//! [`Verifier::complete`] answers ID.me's callback. No HTTP here: the handlers in `web`
//! translate requests into these calls and their results into responses.

pub mod callback_state;
mod unlock;

use std::sync::Arc;
use std::time::Duration;

use tower_sessions::Session;
use url::Url;

pub use callback_state::{Begin, Settled};
pub use unlock::{NoBenefit, Outcome, read, unlock, why_none};

use crate::clock::now;
use crate::crypto::PersonKeyer;
use crate::db::Db;
use crate::error::{Error, StateProblem};
use crate::idme::{IdmeClient, IdmeError};
use crate::rules::watch::RuleSet;
use crate::session::{Lifetimes, Notice, Pending, Shopper};

/// What starting a verification came to.
pub enum Start {
    /// Send the browser here; the session now holds the pending authorization.
    ToIdme(Url),
    /// The shopper already has a benefit: nothing to verify.
    AlreadyUnlocked,
    /// No running offer for this group: it cannot become a scope.
    UnknownGroup,
}

/// Everything a verification needs, built once at start-up.
pub struct Verifier {
    pub idme: IdmeClient,
    pub db: Db,
    pub rules: Arc<RuleSet>,
    pub keyer: PersonKeyer,
    pub lifetimes: Lifetimes,
    /// How long an authorization stays pending.
    pub auth_timeout: Duration,
    /// How long a duplicate callback waits for the first one: both ID.me calls.
    pub duplicate_wait: Duration,
}

impl Verifier {
    /// `POST /verify/{group}`: a fresh authorization (state, PKCE) for exactly that group.
    pub async fn start(&self, shopper: &mut Shopper, group: &str) -> Result<Start, Error> {
        // Only groups with an offer: the group becomes the scope, so it must be one of ours.
        if !self.rules.get().active_groups(now()).contains(&group) {
            return Ok(Start::UnknownGroup);
        }
        if shopper.state.benefit.is_some() {
            return Ok(Start::AlreadyUnlocked);
        }
        // A new attempt replaces the message about the previous one.
        shopper.state.notice = None;
        let authorization = self.idme.authorize(&[group]);
        shopper.add_pending(
            Pending {
                state: authorization.state,
                pkce_verifier: authorization.pkce_verifier,
                group: group.to_owned(),
                created_at: now(),
            },
            self.auth_timeout_secs(),
        );
        shopper.save().await?;
        Ok(Start::ToIdme(authorization.url))
    }

    /// ID.me's callback with a code. `Ok` sends the shopper back to the store.
    ///
    /// The state is begun in the database (one winner however many duplicates race) before
    /// the session is even read: a duplicate that lost must not touch the session at all, or
    /// its stale copy could overwrite (or its cookie clear) the verified one the winner is
    /// about to store.
    pub async fn complete(&self, session: Session, code: &str, state: &str) -> Result<(), Error> {
        let guard = match callback_state::begin(&self.db, state, self.duplicate_wait).await? {
            Begin::First(guard) => guard,
            Begin::Duplicate(Settled::Verified) => {
                tracing::info!("duplicate callback after a successful verification");
                return Ok(());
            }
            Begin::Duplicate(Settled::Failed) => return Err(Error::State(StateProblem::Used)),
        };
        let result = self.answer(session, code, state).await;
        let settled = match &result {
            Ok(true) => Settled::Verified,
            Ok(false) => Settled::Failed,
            Err(e) => {
                crate::metrics::verification(e.label(), "unknown");
                Settled::Failed
            }
        };
        guard.settle(settled).await?;
        result.map(|_| ())
    }

    /// The first request's answer, in the order it happens: pending → ID.me → payload →
    /// rules → rewards → session. `Ok(true)` when the shopper ends verified.
    async fn answer(&self, session: Session, code: &str, state: &str) -> Result<bool, Error> {
        // Pending: this session must have started the authorization, and recently.
        let mut shopper = Shopper::load(session, self.lifetimes).await?;
        let Some(pending) = shopper.take_pending(state) else {
            // A verified shopper replaying an old link just goes home.
            if shopper.state.verification.is_some() {
                return Ok(true);
            }
            return Err(Error::State(StateProblem::Unknown));
        };
        shopper.save().await?;
        if pending.expired(now(), self.auth_timeout_secs()) {
            return Err(Error::State(StateProblem::Expired));
        }
        if shopper.state.benefit.is_some() {
            // Another tab finished first: nothing more to unlock, no call to ID.me.
            return Ok(true);
        }

        // ID.me: one token call, one attributes call.
        let payload = self.idme.verify(code, &pending.pkce_verifier).await?;

        // Payload: the groups and a keyed hash of the uuid; names, email and uuid go no
        // further than this function.
        let at = now();
        let read = read(&payload, &self.keyer, at).map_err(IdmeError::Payload)?;
        drop(payload);
        let Some((verification, facts)) = read else {
            tracing::info!(group = %pending.group, "ID.me did not confirm the group");
            crate::metrics::verification("not_verified", &pending.group);
            shopper.notify(Notice::NotVerified);
            shopper.save().await?;
            return Ok(false);
        };

        // Rules and rewards: the best offer that can be claimed, or why none.
        let outcome = unlock(&self.db, &self.rules.get(), verification, &facts, at).await?;

        // Session: a new id for the new privilege, then the result.
        shopper.rotate().await?;
        match outcome {
            Outcome::Unlocked(verification, benefit) => {
                crate::metrics::verification("unlocked", &pending.group);
                shopper.verify(verification, Ok(benefit));
            }
            Outcome::Verified(verification, reason) => {
                crate::metrics::verification("no_benefit", &pending.group);
                shopper.verify(verification, Err(reason));
            }
        }
        shopper.save().await?;
        Ok(true)
    }

    fn auth_timeout_secs(&self) -> i64 {
        self.auth_timeout.as_secs() as i64
    }
}
