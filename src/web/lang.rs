//! `GET /lang/{locale}?next=/`: the language switch. Remembers the choice in the
//! `perkgate-lang` cookie and goes back to `next`, a path on this site only (else the store).

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;

use super::error::AppError;
use super::state::AppState;
use crate::i18n::{self, Locale};

pub fn router() -> Router<AppState> {
    Router::new().route("/lang/{locale}", get(switch))
}

#[derive(Deserialize)]
struct Params {
    next: Option<String>,
}

async fn switch(
    State(state): State<AppState>,
    Path(tag): Path<String>,
    Query(params): Query<Params>,
) -> Result<Response, AppError> {
    let locale = Locale::from_tag(&tag).ok_or(AppError::NotFound)?;
    // Never another site: `//evil`, `/\evil` and absolute URLs go to the store instead.
    let next = params
        .next
        .as_deref()
        .and_then(i18n::safe_next)
        .unwrap_or("/");
    let mut res = Redirect::to(next).into_response();
    if let Some(cookie) = i18n::cookie(locale, state.public_url.scheme() == "https") {
        res.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(res)
}
