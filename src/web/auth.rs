//! Starting and finishing a verification, and forgetting one.
//!
//! The callback runs in the order the design requires: a prefetch consumes nothing; an
//! `error=` answer gets a friendly page; the state is claimed in the database (one winner
//! however many duplicates race) before the session is even read and before any call to
//! ID.me; then one token call, one attributes call, the offer, a new session id, 303 to `/`.

use std::time::Instant;

use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tower_sessions::Session;

use super::csrf;
use crate::app::AppState;
use crate::db::{self, ClaimOutcome};
use crate::error::{AppError, StateProblem};
use crate::flow::{self, Outcome};
use crate::idme::IdmeError;
use crate::session::{Notice, Pending};

/// The routes that start or finish a verification (rate limited by the caller).
pub fn limited_router() -> Router<AppState> {
    Router::new()
        .route("/verify/{group}", post(start))
        .route("/auth/idme/callback", get(callback))
}

pub fn router() -> Router<AppState> {
    Router::new().route("/reset", post(reset))
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

fn csrf_field(form: Result<Form<CsrfForm>, FormRejection>) -> String {
    form.map(|Form(f)| f.csrf).unwrap_or_default()
}

/// `POST /verify/{group}`: remember a fresh authorization and send the browser to ID.me.
async fn start(
    State(state): State<AppState>,
    Path(group): Path<String>,
    headers: HeaderMap,
    session: Session,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, AppError> {
    let mut shopper = state.shopper(session).await?;
    csrf::check(&state.forms, &mut shopper, &headers, &csrf_field(form))?;
    // Only groups with an offer: the path segment becomes the scope, so it must be one of ours.
    if !state
        .rules()
        .active_groups(db::now())
        .contains(&group.as_str())
    {
        return Err(AppError::NotFound);
    }
    if shopper.state.benefit.is_some() {
        return Ok(Redirect::to("/").into_response());
    }
    // A new attempt replaces the message about the previous one.
    shopper.state.notice = None;
    let authorization = state.idme.authorize(&[group.as_str()]);
    shopper.add_pending(
        Pending {
            state: authorization.state,
            pkce_verifier: authorization.pkce_verifier,
            group,
            created_at: db::now(),
        },
        state.auth_timeout_secs(),
    );
    shopper.save().await?;
    Ok(Redirect::to(authorization.url.as_str()).into_response())
}

#[derive(Deserialize)]
struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

fn is_prefetch(headers: &HeaderMap) -> bool {
    ["sec-purpose", "purpose", "x-purpose", "x-moz"]
        .iter()
        .any(|name| {
            headers
                .get(*name)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| {
                    let v = v.to_ascii_lowercase();
                    v.contains("prefetch") || v.contains("preview")
                })
        })
}

/// States we issue are 43 URL-safe characters; anything else cannot be ours.
fn plausible_state(state: &str) -> bool {
    (16..=128).contains(&state.len())
        && state
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `GET /auth/idme/callback`.
async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: Session,
    params: Result<Query<CallbackParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    if is_prefetch(&headers) {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let Ok(Query(params)) = params else {
        return Err(AppError::State(StateProblem::Missing));
    };
    if let Some(error) = params.error {
        crate::metrics::verification(
            if error == "access_denied" {
                "declined"
            } else {
                "idme_refused"
            },
            "unknown",
        );
        return Err(match error.as_str() {
            "access_denied" => AppError::Declined,
            // Only documented codes reach the log; anything else is labelled, not echoed.
            known @ ("invalid_request"
            | "invalid_client"
            | "invalid_scope"
            | "invalid_redirect_uri"
            | "unsupported_response_type"
            | "server_error"
            | "temporarily_unavailable") => AppError::ProviderRefused(known.to_owned()),
            _ => AppError::ProviderRefused("unrecognised".to_owned()),
        });
    }
    let (Some(code), Some(oauth_state)) = (params.code, params.state) else {
        return Err(AppError::State(StateProblem::Missing));
    };
    if !plausible_state(&oauth_state) || code.is_empty() || code.len() > 2048 {
        return Err(AppError::State(StateProblem::Unknown));
    }

    // The atomic claim comes before reading the session: a duplicate that lost must not touch
    // the session at all, or its stale copy could overwrite (or its cookie clear) the verified
    // one the winner is about to store.
    if !db::claim_state(&state.db, &oauth_state).await? {
        return duplicate(&state, &oauth_state).await;
    }
    let result = finish(&state, session, &code, &oauth_state).await;
    let outcome = match &result {
        Ok((_, verified)) if *verified => ClaimOutcome::Verified,
        _ => ClaimOutcome::Failed,
    };
    if let Err(e) = &result {
        crate::metrics::verification(e.page().code, "unknown");
    }
    db::finish_claim(&state.db, &oauth_state, outcome).await?;
    result.map(|(response, _)| response)
}

/// A callback whose state another request already claimed: wait for that one to finish,
/// then send the shopper home if it verified them. Never calls ID.me, never touches the session.
async fn duplicate(state: &AppState, oauth_state: &str) -> Result<Response, AppError> {
    let deadline = Instant::now() + state.claim_wait();
    loop {
        match db::claim_outcome(&state.db, oauth_state).await? {
            ClaimOutcome::Verified => {
                tracing::info!("duplicate callback after a successful verification");
                return Ok(Redirect::to("/").into_response());
            }
            ClaimOutcome::Failed => return Err(AppError::State(StateProblem::Used)),
            ClaimOutcome::Running if Instant::now() >= deadline => {
                return Err(AppError::State(StateProblem::Used));
            }
            ClaimOutcome::Running => tokio::time::sleep(std::time::Duration::from_millis(25)).await,
        }
    }
}

/// The winner's path. Returns the response and whether the shopper ends verified.
async fn finish(
    state: &AppState,
    session: Session,
    code: &str,
    oauth_state: &str,
) -> Result<(Response, bool), AppError> {
    let mut shopper = state.shopper(session).await?;
    let Some(pending) = shopper.take_pending(oauth_state) else {
        // Not started by this session. A verified shopper replaying an old link just goes home.
        if shopper.state.verification.is_some() {
            return Ok((Redirect::to("/").into_response(), true));
        }
        return Err(AppError::State(StateProblem::Unknown));
    };
    shopper.save().await?;
    if pending.expired(db::now(), state.auth_timeout_secs()) {
        return Err(AppError::State(StateProblem::Expired));
    }
    if shopper.state.benefit.is_some() {
        // Another tab finished first: nothing more to unlock, no call to ID.me.
        return Ok((Redirect::to("/").into_response(), true));
    }

    let payload = state.idme.verify(code, &pending.pkce_verifier).await?;
    let now = db::now();
    let read = flow::read(&payload, &state.keyer, now)
        .map_err(|e| AppError::Provider(IdmeError::Payload(e)))?;
    // The payload (names, email, uuid) goes no further than this function.
    drop(payload);

    let verified = match read {
        Some((verification, facts)) => {
            let rules = state.rules();
            let outcome = flow::unlock(&state.db, &rules, verification, &facts, now).await?;
            shopper.rotate().await?;
            match outcome {
                Outcome::Unlocked(verification, benefit) => {
                    crate::metrics::verification("unlocked", &pending.group);
                    shopper.verify(verification, Ok(benefit))
                }
                Outcome::Verified(verification, reason) => {
                    crate::metrics::verification("no_benefit", &pending.group);
                    shopper.verify(verification, Err(reason))
                }
            }
            true
        }
        None => {
            tracing::info!(group = %pending.group, "ID.me did not confirm the group");
            crate::metrics::verification("not_verified", &pending.group);
            shopper.notify(Notice::NotVerified);
            false
        }
    };
    shopper.save().await?;
    Ok((Redirect::to("/").into_response(), verified))
}

/// `POST /reset`: forget the verification and benefit, under a new session id.
async fn reset(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: Session,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, AppError> {
    let mut shopper = state.shopper(session).await?;
    csrf::check(&state.forms, &mut shopper, &headers, &csrf_field(form))?;
    if !shopper.is_stored() {
        // Nothing to forget.
        return Ok(Redirect::to("/").into_response());
    }
    shopper.forget();
    shopper.rotate().await?;
    shopper.save().await?;
    Ok(Redirect::to("/").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefetch_headers_are_recognised() {
        let mut h = HeaderMap::new();
        assert!(!is_prefetch(&h));
        h.insert("sec-purpose", "prefetch;prerender".parse().unwrap());
        assert!(is_prefetch(&h));
        let mut h = HeaderMap::new();
        h.insert("purpose", "prefetch".parse().unwrap());
        assert!(is_prefetch(&h));
    }

    #[test]
    fn only_plausible_states_are_looked_up() {
        assert!(plausible_state(&crate::session::random_token()));
        assert!(!plausible_state("short"));
        assert!(!plausible_state(&"a".repeat(129)));
        assert!(!plausible_state("abcdefghijklmnop'; DROP TABLE x"));
    }
}
