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
use crate::rewards::PoolLevels;
use crate::rules::watch::RuleSet;
use crate::session::{Lifetimes, Notice, Pending, Shopper};

/// Which verification the shopper asked for.
#[derive(Clone, Copy, Debug)]
pub enum Choice<'a> {
    /// One community's button (`POST /verify/{group}`).
    Group(&'a str),
    /// The one "Verify with ID.me" button: every community with a running offer; the
    /// shopper picks theirs at ID.me (`POST /verify`).
    Any,
}

/// What starting a verification came to.
pub enum Start {
    /// Send the browser here; the session now holds the pending authorization.
    ToIdme(Url),
    /// The shopper already has a benefit: nothing to verify.
    AlreadyUnlocked,
    /// No running offer for this group (or none at all): it cannot become a scope.
    UnknownGroup,
}

/// What answering a callback came to; every case sends the shopper back to the store.
#[derive(Debug, PartialEq, Eq)]
pub enum Completed {
    /// Verified now: the session has a new id and a new form token.
    Verified,
    /// Not verified this time: the session holds a notice saying why, with a way to retry.
    Noted,
    /// A duplicate, or a replay from a shopper already verified: nothing changed.
    Unchanged,
}

/// Why ID.me sent the shopper back with `error=` instead of a code.
#[derive(Clone, Debug)]
pub enum Refusal {
    /// `access_denied`: the shopper chose not to share.
    Declined,
    /// Another documented code (or "unrecognised").
    Refused(String),
}

/// Everything a verification needs, built once at start-up.
pub struct Verifier {
    pub idme: IdmeClient,
    pub db: Db,
    pub rules: Arc<RuleSet>,
    pub keyer: PersonKeyer,
    /// Codes left per pool, for the storefront's "run out" notes.
    pub levels: PoolLevels,
    pub lifetimes: Lifetimes,
    /// How long an authorization stays pending.
    pub auth_timeout: Duration,
    /// How long a duplicate callback waits for the first one: both ID.me calls.
    pub duplicate_wait: Duration,
}

impl Verifier {
    /// A fresh authorization (state, PKCE) for exactly the groups asked for.
    pub async fn start(&self, shopper: &mut Shopper, choice: Choice<'_>) -> Result<Start, Error> {
        // Only groups with an offer: they become the scopes, so they must be ours.
        let rules = self.rules.get();
        let active = rules.active_groups(now());
        let groups: Vec<&str> = match choice {
            Choice::Group(group) if active.contains(&group) => vec![group],
            Choice::Group(_) => Vec::new(),
            Choice::Any => active,
        };
        if groups.is_empty() {
            return Ok(Start::UnknownGroup);
        }
        if shopper.state.benefit.is_some() {
            return Ok(Start::AlreadyUnlocked);
        }
        // A new attempt replaces the message about the previous one.
        shopper.state.notice = None;
        let authorization = match choice {
            Choice::Group(_) => self.idme.authorize(&groups),
            Choice::Any => self.idme.authorize_any(&groups),
        };
        shopper.add_pending(
            Pending {
                state: authorization.state,
                pkce_verifier: authorization.pkce_verifier,
                group: groups.join(","),
                created_at: now(),
            },
            self.auth_timeout_secs(),
        );
        shopper.save().await?;
        Ok(Start::ToIdme(authorization.url))
    }

    /// ID.me's callback with a code. `reference` (the request id) goes into the notice of a
    /// failure, so the shopper can quote what the log line carries.
    ///
    /// The state is begun in the database (one winner however many duplicates race) before
    /// the session is even read: a duplicate that lost must not touch the session at all, or
    /// its stale copy could overwrite (or its cookie clear) the verified one the winner is
    /// about to store.
    pub async fn complete(
        &self,
        session: Session,
        code: &str,
        state: &str,
        reference: &str,
    ) -> Result<Completed, Error> {
        let guard = match callback_state::begin(&self.db, state, self.duplicate_wait).await? {
            Begin::First(guard) => guard,
            Begin::Duplicate(Settled::Verified) => {
                tracing::info!("duplicate callback after a successful verification");
                return Ok(Completed::Unchanged);
            }
            Begin::Duplicate(Settled::Failed) => return Err(Error::State(StateProblem::Used)),
        };
        let result = self.answer(session, code, state, reference).await;
        let settled = match &result {
            Ok(Completed::Verified | Completed::Unchanged) => Settled::Verified,
            Ok(Completed::Noted) => Settled::Failed,
            Err(e) => {
                crate::metrics::verification(e.label(), "unknown");
                Settled::Failed
            }
        };
        guard.settle(settled).await?;
        result
    }

    /// The first request's answer, in the order it happens: pending → ID.me → payload →
    /// rules → rewards → session.
    async fn answer(
        &self,
        session: Session,
        code: &str,
        state: &str,
        reference: &str,
    ) -> Result<Completed, Error> {
        // Pending: this session must have started the authorization, and recently.
        let mut shopper = Shopper::load(session, self.lifetimes).await?;
        let Some(pending) = shopper.take_pending(state) else {
            // A verified shopper replaying an old link just goes home.
            if shopper.state.verification.is_some() {
                return Ok(Completed::Unchanged);
            }
            return Err(Error::State(StateProblem::Unknown));
        };
        let retry = Some(pending.group.clone());
        if pending.expired(now(), self.auth_timeout_secs()) {
            tracing::info!("callback after the authorization expired");
            crate::metrics::verification("state_expired", "unknown");
            shopper.notify(Notice::Expired, retry);
            shopper.save().await?;
            return Ok(Completed::Noted);
        }
        shopper.save().await?;
        if shopper.state.benefit.is_some() {
            // Another tab finished first: nothing more to unlock, no call to ID.me.
            return Ok(Completed::Unchanged);
        }

        // ID.me: one token call, one attributes call. A failure ends on the store, with the
        // reference the log line carries.
        let payload = match self.idme.verify(code, &pending.pkce_verifier).await {
            Ok(payload) => payload,
            Err(e) => return self.failed(shopper, e, reference, retry).await,
        };

        // Payload: the groups and a keyed hash of the uuid; names, email and uuid go no
        // further than this function.
        let at = now();
        let read = match read(&payload, &self.keyer, at) {
            Ok(read) => read,
            Err(e) => {
                return self
                    .failed(shopper, IdmeError::Payload(e), reference, retry)
                    .await;
            }
        };
        drop(payload);
        let Some((verification, facts)) = read else {
            tracing::info!(asked = %pending.group, "ID.me did not confirm the group");
            crate::metrics::verification("not_verified", metric_group(&pending.group));
            shopper.notify(Notice::NotVerified, retry);
            shopper.save().await?;
            return Ok(Completed::Noted);
        };
        // With the one button, ID.me's answer says which community was verified.
        let group = verification.groups[0].group.clone();

        // Rules and rewards: the best offer that can be claimed, or why none.
        let rules = self.rules.get();
        let outcome = unlock(&self.db, &rules, verification, &facts, at, &self.levels).await?;

        // Session: a new id for the new privilege, then the result.
        shopper.rotate().await?;
        match outcome {
            Outcome::Unlocked {
                verification,
                benefit,
                passed_over,
            } => {
                crate::metrics::verification("unlocked", &group);
                shopper.verify(verification, Ok(benefit));
                if let Some((offer, reason)) = passed_over {
                    shopper.notify(Notice::PassedOver { offer, reason }, None);
                }
            }
            Outcome::Verified(verification, reason) => {
                crate::metrics::verification("no_benefit", &group);
                shopper.verify(verification, Err(reason));
                shopper.state.retry = retry;
            }
        }
        shopper.save().await?;
        Ok(Completed::Verified)
    }

    /// ID.me failed: the log line (in the request's span, so it carries the reference) and a
    /// notice on the store; the session stays as it was.
    async fn failed(
        &self,
        mut shopper: Shopper,
        e: IdmeError,
        reference: &str,
        retry: Option<String>,
    ) -> Result<Completed, Error> {
        let e = Error::Provider(e);
        e.log();
        crate::metrics::verification(e.label(), "unknown");
        shopper.notify(
            Notice::Failed {
                reference: reference.to_owned(),
            },
            retry,
        );
        shopper.save().await?;
        Ok(Completed::Noted)
    }

    /// ID.me's callback with `error=`, for a shopper with a session: the pending
    /// authorization it answers (when ID.me echoed its state) is used up, and the store says
    /// what happened.
    pub async fn refused(
        &self,
        shopper: &mut Shopper,
        refusal: Refusal,
        state: Option<&str>,
        reference: &str,
    ) -> Result<Completed, Error> {
        let pending = match state {
            Some(state) => shopper.take_pending(state),
            // ID.me may not echo the state on errors: the latest attempt is the one answered.
            None => shopper.state.pending.last().cloned(),
        };
        let retry = pending.map(|p| p.group);
        let notice = match refusal {
            Refusal::Declined => {
                tracing::info!("shopper declined at ID.me");
                Notice::Declined
            }
            Refusal::Refused(code) => {
                Error::ProviderRefused(code).log();
                Notice::Failed {
                    reference: reference.to_owned(),
                }
            }
        };
        shopper.notify(notice, retry);
        shopper.save().await?;
        Ok(Completed::Noted)
    }

    fn auth_timeout_secs(&self) -> i64 {
        self.auth_timeout.as_secs() as i64
    }
}

/// The metrics label for what was asked: one group, or "any" for the one button.
fn metric_group(asked: &str) -> &str {
    if asked.contains(',') { "any" } else { asked }
}
