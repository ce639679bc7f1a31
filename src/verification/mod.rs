//! A verification, as the domain sees it: [`Verifier::start`] sends the shopper to ID.me,
//! [`Verifier::complete`] answers ID.me's callback. No HTTP here: the handlers in `web`
//! translate requests into these calls and their results into responses.

mod callback;
pub mod callback_state;
mod handover;
mod unlock;

use std::sync::Arc;
use std::time::Duration;

use url::Url;

pub use callback::{Answered, Callback};
pub use callback_state::{Begin, Settled};
pub use unlock::{NoBenefit, Outcome, read, unlock, why_none};

use crate::clock::now;
use crate::crypto::PersonKeyer;
use crate::db::Db;
use crate::error::{Error, StateProblem};
use crate::idme::{Endpoint, IdmeClient, IdmeError};
use crate::rewards::PoolLevels;
use crate::rules::watch::RuleSet;
use crate::session::{Jar, Lifetimes, Notice, Pending, Shopper};
use crate::stats::Event;

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
    /// The sessions the callback reads and writes itself (its work outlives its request).
    pub jar: Jar,
    /// How long an authorization stays pending.
    pub auth_timeout: Duration,
    /// The longest a callback's calls to ID.me may take together (both at their timeouts);
    /// past it they are given up. See [`Verifier::stale_after`].
    pub idme_budget: Duration,
    /// The callbacks' own tasks, which outlive their requests: shutdown waits for them.
    pub tasks: tokio_util::task::TaskTracker,
    /// The dashboard's counts of what happened.
    pub counts: crate::stats::Counts,
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
        let asked = match choice {
            Choice::Group(group) => group,
            Choice::Any => "any",
        };
        self.counts.add(now(), Event::Started, "", asked);
        Ok(Start::ToIdme(authorization.url))
    }

    /// The first request's answer, in the order it happens: pending → ID.me → payload →
    /// rules → rewards → session (written to `shopper`; the caller persists it).
    async fn answer(
        &self,
        shopper: &mut Shopper,
        code: &str,
        state: &str,
        reference: &str,
    ) -> Result<Completed, Error> {
        // Pending: this session must have started the authorization, and recently.
        let Some(pending) = shopper.take_pending(state) else {
            // A verified shopper replaying an old link just goes home.
            if shopper.state.verification.is_some() {
                return Ok(Completed::Unchanged);
            }
            return Err(Error::State(StateProblem::Unknown));
        };
        let retry = Some(pending.group.clone());
        let asked = metric_group(&pending.group);
        self.counts.add(now(), Event::Returned, "", asked);
        if pending.expired(now(), self.auth_timeout_secs()) {
            tracing::info!("callback after the authorization expired");
            crate::metrics::verification("state_expired", "unknown");
            self.counts.add(now(), Event::Failed, "", asked);
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
        // reference the log line carries. Each call has its own timeout; the budget bounds
        // them together (with a JWKS fetch), so a running state has a deadline. The token call
        // alone cannot use it up, so past it the attributes call was under way.
        let verify = self.idme.verify(code, &pending.pkce_verifier);
        let payload = match tokio::time::timeout(self.idme_budget, verify).await {
            Ok(Ok(payload)) => payload,
            Ok(Err(e)) => return self.failed(shopper, e, reference, retry).await,
            Err(_) => {
                let e = IdmeError::Timeout(Endpoint::Attributes);
                return self.failed(shopper, e, reference, retry).await;
            }
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
            self.counts.add(at, Event::Failed, "", asked);
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
        self.counts.add(at, Event::Verified, "", &group);
        match outcome {
            Outcome::Unlocked {
                verification,
                benefit,
                passed_over,
            } => {
                crate::metrics::verification("unlocked", &group);
                self.counts
                    .add(at, Event::Unlocked, &benefit.offer_id, &group);
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
        shopper: &mut Shopper,
        e: IdmeError,
        reference: &str,
        retry: Option<String>,
    ) -> Result<Completed, Error> {
        let e = Error::Provider(e);
        e.log();
        crate::metrics::verification(e.label(), "unknown");
        let asked = retry.as_deref().map_or("", metric_group);
        self.counts.add(now(), Event::Failed, "", asked);
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
        // Counted once per attempt: a refresh of this answer finds no pending state.
        if let (Some(asked), Some(_)) = (retry.as_deref().map(metric_group), state) {
            let event = match refusal {
                Refusal::Declined => Event::Declined,
                Refusal::Refused(_) => Event::Failed,
            };
            self.counts.add(now(), Event::Returned, "", asked);
            self.counts.add(now(), event, "", asked);
        }
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

    /// A state running longer than this was abandoned: the ID.me budget, plus a margin for
    /// the claim and the session write after it. Nothing still at work is that old.
    pub fn stale_after(&self) -> Duration {
        self.idme_budget + Duration::from_secs(5)
    }
}

/// The metrics' and the counts' label for what was asked: one group, or "any" for the one
/// button.
fn metric_group(asked: &str) -> &str {
    if asked.contains(',') { "any" } else { asked }
}
