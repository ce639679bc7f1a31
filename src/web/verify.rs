//! `POST /verify/{group}`, `GET /auth/idme/callback`, `POST /reset`: HTTP in, domain call,
//! HTTP out. The verification itself is `verification::Verifier`.
//!
//! The callback's order: a prefetch consumes nothing; an `error=` answer gets a friendly page;
//! a query that cannot be ours is refused before any lookup; then the domain takes over.

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tower_sessions::Session;

use super::error::AppError;
use super::extract::{CsrfForm, ShopperForm};
use super::middleware::RequestId;
use super::state::AppState;
use crate::error::{Error, StateProblem};
use crate::session::Shopper;
use crate::verification::{Callback, Choice, Completed, Refusal, Start};

/// The routes that start a verification (rate limited by the caller, per browser).
pub fn start_router() -> Router<AppState> {
    Router::new()
        .route("/verify", post(start_any))
        .route("/verify/{group}", post(start))
}

/// ID.me's answer (rate limited by the caller, against floods only).
pub fn callback_router() -> Router<AppState> {
    Router::new().route("/auth/idme/callback", get(callback))
}

pub fn router() -> Router<AppState> {
    Router::new().route("/reset", post(reset))
}

/// `POST /verify/{group}`: remember a fresh authorization and send the browser to ID.me.
async fn start(
    State(state): State<AppState>,
    Path(group): Path<String>,
    CsrfForm(shopper, form): CsrfForm,
) -> Result<Response, AppError> {
    begin(&state, shopper, form, Choice::Group(&group)).await
}

/// `POST /verify`: the one button; the shopper picks their community at ID.me.
async fn start_any(
    State(state): State<AppState>,
    CsrfForm(shopper, form): CsrfForm,
) -> Result<Response, AppError> {
    begin(&state, shopper, form, Choice::Any).await
}

/// Remembers the shop page the shopper came from, if it is one of the merchant's, so the
/// benefit can lead back there after ID.me; then starts.
async fn begin(
    state: &AppState,
    mut shopper: Shopper,
    form: ShopperForm,
    choice: Choice<'_>,
) -> Result<Response, AppError> {
    let shop = state.shop();
    let returns = &shop.shop.returns;
    let back = form
        .return_to
        .and_then(|raw| returns.accept(&raw))
        .map(String::from);
    let embed = form.embed.and_then(|raw| returns.embed_origin(&raw));
    let mut changed = false;
    if back.is_some() && back != shopper.state.return_to {
        shopper.state.return_to = back;
        changed = true;
    }
    // The embedding page is this attempt's: a start from anywhere else hands over to no one.
    if embed != shopper.state.embed_origin {
        shopper.state.embed_origin = embed;
        changed = true;
    }
    match state.verifier.start(&mut shopper, choice).await? {
        Start::ToIdme(url) => Ok(Redirect::to(url.as_str()).into_response()),
        Start::AlreadyUnlocked => {
            if changed {
                shopper.save().await?;
            }
            Ok(Redirect::to("/").into_response())
        }
        Start::UnknownGroup => Err(AppError::NotFound),
    }
}

#[derive(Deserialize)]
struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// Also read by `web::limits`: a prefetch spends no budget.
pub(super) fn is_prefetch(headers: &HeaderMap) -> bool {
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

/// The `error=` ID.me sent back: only documented codes reach the log; anything else is
/// labelled, not echoed.
fn refusal(error: &str) -> Refusal {
    crate::metrics::verification(
        if error == "access_denied" {
            "declined"
        } else {
            "idme_refused"
        },
        "unknown",
    );
    match error {
        "access_denied" => Refusal::Declined,
        known @ ("invalid_request"
        | "invalid_client"
        | "invalid_scope"
        | "invalid_redirect_uri"
        | "unsupported_response_type"
        | "server_error"
        | "temporarily_unavailable") => Refusal::Refused(known.to_owned()),
        _ => Refusal::Refused("unrecognised".to_owned()),
    }
}

/// `GET /auth/idme/callback`. Whatever happened at ID.me, a shopper with a session ends on
/// the store (303 to `/`), where the outcome is shown once; only what cannot be tied to a
/// shopper (no session, a forged or foreign state) gets an error page.
async fn callback(
    State(state): State<AppState>,
    Extension(RequestId(reference)): Extension<RequestId>,
    headers: HeaderMap,
    session: Session,
    params: Result<Query<CallbackParams>, QueryRejection>,
) -> Result<Response, AppError> {
    if is_prefetch(&headers) {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let Ok(Query(params)) = params else {
        return Err(Error::State(StateProblem::Missing).into());
    };
    if let Some(error) = params.error {
        let refusal = refusal(&error);
        let mut shopper = Shopper::load(session, state.verifier.lifetimes).await?;
        if !shopper.is_stored() {
            return Err(match refusal {
                Refusal::Declined => AppError::Declined,
                Refusal::Refused(code) => Error::ProviderRefused(code).into(),
            });
        }
        let echoed = params.state.as_deref().filter(|s| plausible_state(s));
        state
            .verifier
            .refused(&mut shopper, refusal, echoed, &reference)
            .await?;
        return Ok(Redirect::to("/").into_response());
    }
    let (Some(code), Some(oauth_state)) = (params.code, params.state) else {
        return Err(Error::State(StateProblem::Missing).into());
    };
    if !plausible_state(&oauth_state) || code.is_empty() || code.len() > 2048 {
        return Err(Error::State(StateProblem::Unknown).into());
    }
    // The domain reads and writes the session itself (its work outlives this request), so
    // this request's own session is never loaded and the session layer leaves the cookie be:
    // a new session's cookie is set here.
    let answered = state
        .verifier
        .complete(Callback {
            session: session.id(),
            code,
            state: oauth_state,
            reference,
        })
        .await?;
    let mut home = Redirect::to("/").into_response();
    if let Some(id) = answered.session
        && let Ok(cookie) = HeaderValue::try_from(state.verifier.jar.cookie.set_cookie(id))
    {
        home.headers_mut().append(header::SET_COOKIE, cookie);
    }
    if answered.completed == Completed::Verified {
        renew_form_cookie(&state, &mut home);
    }
    Ok(home)
}

/// A change of privilege replaces the pre-session form-token cookie too, so nothing a page
/// carried before it is accepted after it.
fn renew_form_cookie(state: &AppState, response: &mut Response) {
    if let Some(cookie) = state.forms.fresh_cookie() {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
}

/// `POST /reset`: forget the verification and benefit, under a new session id.
async fn reset(
    State(state): State<AppState>,
    CsrfForm(mut shopper, _): CsrfForm,
) -> Result<Response, AppError> {
    let mut home = Redirect::to("/").into_response();
    // Nothing stored, nothing to forget.
    if shopper.is_stored() {
        shopper.reset().await?;
        renew_form_cookie(&state, &mut home);
    }
    Ok(home)
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
        assert!(plausible_state(&crate::crypto::random_token()));
        assert!(!plausible_state("short"));
        assert!(!plausible_state(&"a".repeat(129)));
        assert!(!plausible_state("abcdefghijklmnop'; DROP TABLE x"));
    }
}
