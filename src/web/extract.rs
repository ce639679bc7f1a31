//! Extractors: the typed shopper session, and a form whose CSRF token has been checked.
//! Handlers take these instead of repeating the session and CSRF preamble.

use axum::extract::{Form, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::Deserialize;
use tower_sessions::Session;

use super::csrf;
use super::error::AppError;
use super::state::AppState;
use crate::session::Shopper;

impl FromRequestParts<AppState> for Shopper {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let session = session(parts, state).await?;
        Ok(Shopper::load(session, state.verifier.lifetimes).await?)
    }
}

/// The request's session, from the session layer.
async fn session(parts: &mut Parts, state: &AppState) -> Result<Session, AppError> {
    Session::from_request_parts(parts, state)
        .await
        .map_err(|(_, why)| AppError::Domain(crate::error::Error::Internal(why.to_owned())))
}

/// The shopper's session read through the short read cache: for pages that only show state.
pub struct CachedShopper(pub Shopper);

impl FromRequestParts<AppState> for CachedShopper {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let session = session(parts, state).await?;
        let verifier = &state.verifier;
        let load = Shopper::load_shown(session, verifier.jar.store(), verifier.lifetimes);
        Ok(Self(crate::session_store::cached_reads(load).await?))
    }
}

/// A form post from the shopper whose CSRF token matched: the shopper's session or, before
/// there is one, the signed cookie token (see `csrf`), and what else the form carried.
pub struct CsrfForm(pub Shopper, pub ShopperForm);

/// The fields of the shopper's forms besides the token.
#[derive(Default, Deserialize)]
pub struct ShopperForm {
    /// The shop page the verification started from (unchecked: see `shop::Returns`).
    #[serde(default)]
    pub return_to: Option<String>,
    /// The embedding page's origin, when the store runs in the button's popup (unchecked).
    #[serde(default)]
    pub embed: Option<String>,
}

#[derive(Deserialize)]
struct Token {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    form: ShopperForm,
}

impl FromRequest<AppState> for CsrfForm {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, AppError> {
        let (mut parts, body) = req.into_parts();
        let mut shopper = Shopper::from_request_parts(&mut parts, state).await?;
        let headers = parts.headers.clone();
        let (token, form) =
            match Form::<Token>::from_request(Request::from_parts(parts, body), state).await {
                Ok(Form(t)) => (t.csrf, t.form),
                // Too large, or not a form at all: say that, rather than blame the token.
                Err(e)
                    if matches!(
                        e.status(),
                        StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNSUPPORTED_MEDIA_TYPE
                    ) =>
                {
                    return Err(AppError::for_status(e.status()));
                }
                // A malformed form has no token: refused like a wrong one.
                Err(_) => (String::new(), ShopperForm::default()),
            };
        csrf::check(&state.forms, &mut shopper, &headers, &token)?;
        Ok(Self(shopper, form))
    }
}
