//! ID.me's callback with a code, as the domain answers it: [`Verifier::complete`].
//!
//! The order, and why:
//! 1. The session is read, not written: it must hold the pending authorization for this state.
//!    A request whose session does not (a link scanner, another device, a GET without the
//!    cookie) is refused before the state is touched, so the shopper's own request still works.
//! 2. The state is begun in the database: one winner however many duplicates race, on however
//!    many instances. Only the winner writes the session, so a loser's stale copy can never
//!    overwrite (or its cookie clear) the verified one the winner stores.
//! 3. The winner's work (ID.me, rules, rewards, the session) runs to the end in a task of its
//!    own: axum drops a handler's future when its client goes away, and a callback cancelled
//!    halfway would leave its state running and its code spent. The task writes the session
//!    itself (the session layer, which would write it after the response, is gone with the
//!    request), then settles the state, noting whether its answer reached the shopper.
//! 4. Any other request for the state sees how the first ended ([`retry`]): the browser that
//!    began it waits for it and is sent where its outcome shows, handed its new session if it
//!    never got the response; anyone else is refused at once. Nobody redeems the code again.

use std::sync::Arc;

use tokio::sync::oneshot;
use tower_sessions::session::Id;
use tracing::Instrument;

use super::callback_state::{self, Begin, Guard, Seen, Settled};
use super::handover::Caller;
use super::{Completed, Verifier};
use crate::error::{Error, StateProblem};
use crate::session::{Notice, Shopper};

/// A callback with a code, as the handler hands it over.
pub struct Callback {
    /// The session the request's cookie names, if any.
    pub session: Option<Id>,
    pub code: String,
    pub state: String,
    /// The request id, for the notice of a failure (the log line carries it).
    pub reference: String,
}

/// What a callback came to.
#[derive(Debug, PartialEq, Eq)]
pub struct Answered {
    pub completed: Completed,
    /// Set this session's cookie: the session was rotated, created, or handed over.
    pub session: Option<Id>,
}

/// The first request's work: its guard and the session it read.
enum Triage {
    First(Guard, Box<Shopper>),
    Answered(Answered),
}

impl Verifier {
    /// Answers the callback in a task of its own, which finishes even if the request does not.
    pub async fn complete(self: &Arc<Self>, callback: Callback) -> Result<Answered, Error> {
        let (reply, answer) = oneshot::channel();
        self.tasks
            .spawn(Arc::clone(self).run(callback, reply).in_current_span());
        answer.await.unwrap_or_else(|_| {
            Err(Error::Internal(
                "the callback's task ended without an answer".to_owned(),
            ))
        })
    }

    async fn run(
        self: Arc<Self>,
        callback: Callback,
        reply: oneshot::Sender<Result<Answered, Error>>,
    ) {
        let (guard, mut shopper) = match self.triage(&callback).await {
            Ok(Triage::First(guard, shopper)) => (guard, shopper),
            Ok(Triage::Answered(answered)) => {
                let _ = reply.send(Ok(answered));
                return;
            }
            Err(e) => {
                crate::metrics::verification(e.label(), "unknown");
                let _ = reply.send(Err(e));
                return;
            }
        };
        let result = self.first(&mut shopper, &callback).await;
        let ending = Ending::of(&result);
        let handover = match &result {
            Ok(Answered {
                completed: Completed::Verified,
                session,
            }) => *session,
            _ => None,
        };
        if let Err(e) = &result {
            crate::metrics::verification(e.label(), "unknown");
        }
        // Answer first, then settle: whether the answer could be handed over decides what a
        // retry gets. (A response lost after this point is not seen; the window is tiny.)
        let delivered = match reply.send(result) {
            Ok(()) => true,
            Err(result) => {
                tracing::info!("the shopper left before the callback's answer; it is kept");
                if let Err(e) = result {
                    e.log();
                }
                false
            }
        };
        if let Err(e) = guard.settle(ending.settled(delivered), handover).await {
            tracing::warn!(error = %e, "could not settle a callback state");
        }
    }

    /// Reads the session; begins the state if this request may, else sees how it went.
    async fn triage(&self, callback: &Callback) -> Result<Triage, Error> {
        let Callback {
            session,
            code,
            state,
            ..
        } = callback;
        let shopper = self.jar.load(*session, self.lifetimes).await?;
        let caller = session.map(|id| Caller::new(id, state, code));
        if let Some(caller) = caller.as_ref().filter(|_| shopper.holds(state))
            && let Begin::First(guard) = callback_state::begin(&self.db, state, caller).await?
        {
            return Ok(Triage::First(guard, Box::new(shopper)));
        }
        let seen =
            callback_state::wait(&self.db, state, caller.as_ref(), self.stale_after()).await?;
        let verified = shopper.state.verification.is_some();
        Ok(Triage::Answered(
            match retry(seen.as_ref(), verified).map_err(Error::State)? {
                Retry::Home => Answered {
                    completed: Completed::Unchanged,
                    session: None,
                },
                Retry::HandOver(id) => {
                    tracing::info!("a retry gets the session its first attempt verified");
                    Answered {
                        completed: Completed::Verified,
                        session: Some(id),
                    }
                }
                Retry::Notify => self.abandoned(shopper, callback).await?,
            },
        ))
    }

    /// The first request's answer, written to the store before the state is settled (so a
    /// duplicate that sees it settled finds the session).
    async fn first(&self, shopper: &mut Shopper, callback: &Callback) -> Result<Answered, Error> {
        let Callback {
            code,
            state,
            reference,
            ..
        } = callback;
        let completed = self.answer(shopper, code, state, reference).await?;
        shopper.persist().await?;
        Ok(Answered {
            completed,
            session: changed(shopper.id(), callback.session),
        })
    }

    /// The shopper's own retry of a callback whose first answer never finished (the process
    /// died, or it ran out of time): the code may be spent, so it is not tried again; the
    /// store says it failed, with a way to try again.
    async fn abandoned(
        &self,
        mut shopper: Shopper,
        callback: &Callback,
    ) -> Result<Answered, Error> {
        tracing::warn!("the first answer to this callback never finished");
        crate::metrics::verification("abandoned", "unknown");
        let retry = shopper.take_pending(&callback.state).map(|p| p.group);
        // A notice the first answer got as far as writing stays.
        if shopper.state.notice.is_none() {
            let reference = callback.reference.clone();
            shopper.notify(Notice::Failed { reference }, retry);
        }
        shopper.save().await?;
        shopper.persist().await?;
        Ok(Answered {
            completed: Completed::Noted,
            session: changed(shopper.id(), callback.session),
        })
    }
}

/// The session's id, if it is not the one the cookie already names.
fn changed(now: Option<Id>, before: Option<Id>) -> Option<Id> {
    now.filter(|id| Some(*id) != before)
}

/// How the first request's work ended, before it is known whether the shopper got the answer.
#[derive(Clone, Copy, Debug)]
enum Ending {
    Verified,
    Noted,
    Error,
}

impl Ending {
    fn of(result: &Result<Answered, Error>) -> Self {
        match result {
            Ok(Answered {
                completed: Completed::Noted,
                ..
            }) => Self::Noted,
            Ok(_) => Self::Verified,
            Err(_) => Self::Error,
        }
    }

    /// What the table records. A notice or an error page the shopper got makes a replay
    /// "already used"; one the shopper never got sends the retry to the store, or tells it
    /// the attempt failed.
    fn settled(self, delivered: bool) -> Settled {
        match (self, delivered) {
            (Self::Verified, _) => Settled::Verified,
            (Self::Noted | Self::Error, true) => Settled::Failed,
            (Self::Noted, false) => Settled::Noted,
            (Self::Error, false) => Settled::Abandoned,
        }
    }
}

/// What a request that did not begin the state gets.
#[derive(Debug, PartialEq, Eq)]
enum Retry {
    /// To the store, as it is.
    Home,
    /// To the store, with the session the first attempt verified.
    HandOver(Id),
    /// To the store, told that the attempt failed.
    Notify,
}

/// From the state's row as this request sees it (`None`: never begun) and whether its
/// session is verified. Only the browser that began a state learns anything of its outcome;
/// a verified shopper replaying an old link just goes home.
fn retry(seen: Option<&Seen>, verified: bool) -> Result<Retry, StateProblem> {
    let home_or = |problem| {
        if verified {
            Ok(Retry::Home)
        } else {
            Err(problem)
        }
    };
    let Some(seen) = seen else {
        // Not begun, and this session does not hold it: another browser's, or forged.
        return home_or(StateProblem::Unknown);
    };
    if !seen.began {
        return home_or(StateProblem::Used);
    }
    match seen.settled {
        Some(Settled::Verified) => Ok(seen.handover.map_or(Retry::Home, Retry::HandOver)),
        Some(Settled::Noted) => Ok(Retry::Home),
        Some(Settled::Abandoned) if !verified => Ok(Retry::Notify),
        Some(Settled::Abandoned) => Ok(Retry::Home),
        Some(Settled::Failed) | None => home_or(StateProblem::Used),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(settled: Option<Settled>, began: bool, handover: Option<Id>) -> Seen {
        Seen {
            settled,
            began,
            handover,
        }
    }

    #[test]
    fn only_the_browser_that_began_a_state_learns_its_outcome() {
        let new = Id::default();
        for settled in [
            None,
            Some(Settled::Verified),
            Some(Settled::Noted),
            Some(Settled::Failed),
            Some(Settled::Abandoned),
        ] {
            let other = seen(settled, false, None);
            assert_eq!(retry(Some(&other), false), Err(StateProblem::Used));
            assert_eq!(retry(Some(&other), true), Ok(Retry::Home));
        }
        assert_eq!(retry(None, false), Err(StateProblem::Unknown));
        assert_eq!(retry(None, true), Ok(Retry::Home));

        let mine = |s, h| seen(Some(s), true, h);
        let verified = mine(Settled::Verified, Some(new));
        assert_eq!(retry(Some(&verified), false), Ok(Retry::HandOver(new)));
        let unchanged = mine(Settled::Verified, None);
        assert_eq!(retry(Some(&unchanged), false), Ok(Retry::Home));
        assert_eq!(
            retry(Some(&mine(Settled::Noted, None)), false),
            Ok(Retry::Home)
        );
        let abandoned = mine(Settled::Abandoned, None);
        assert_eq!(retry(Some(&abandoned), false), Ok(Retry::Notify));
        assert_eq!(retry(Some(&abandoned), true), Ok(Retry::Home));
        let failed = mine(Settled::Failed, None);
        assert_eq!(retry(Some(&failed), false), Err(StateProblem::Used));
    }

    #[test]
    fn what_is_recorded_depends_on_whether_the_shopper_got_the_answer() {
        use Ending::*;
        assert_eq!(Verified.settled(true), Settled::Verified);
        assert_eq!(Verified.settled(false), Settled::Verified);
        assert_eq!(Noted.settled(true), Settled::Failed);
        assert_eq!(Noted.settled(false), Settled::Noted);
        assert_eq!(Error.settled(true), Settled::Failed);
        assert_eq!(Error.settled(false), Settled::Abandoned);
    }

    #[test]
    fn a_cookie_is_set_only_for_a_session_the_cookie_does_not_name() {
        let (a, b) = (Id::default(), Id::default());
        assert_eq!(changed(Some(a), Some(a)), None);
        assert_eq!(changed(Some(b), Some(a)), Some(b));
        assert_eq!(changed(Some(a), None), Some(a));
        assert_eq!(changed(None, Some(a)), None);
    }
}
