//! The HTTP error: a domain [`Error`] or one of HTTP's own, and the page each one shows.
//!
//! A handler returns `AppError`; its `IntoResponse` logs the cause (inside the request's span,
//! so the line carries the request id) and leaves an [`ErrorPage`] in the response extensions.
//! The outermost middleware (`web::middleware::edge`) turns that into the HTML page, or JSON under
//! `/api`, showing the same request id as the correlation id.

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::{Error, StateProblem};

/// What a request can fail with: a domain error, or one of HTTP's own.
#[derive(Debug)]
pub enum AppError {
    Domain(Error),
    /// The shopper declined at ID.me (`error=access_denied`) and has no session to note it in.
    Declined,
    Csrf,
    NotFound,
    MethodNotAllowed,
    /// A rate limit: which one, and how long to wait (`web::limits`).
    TooManyRequests(super::limits::Refusal),
    BadRequest(&'static str),
}

/// What the error page shows; the middleware adds the correlation id.
#[derive(Clone, Debug)]
pub struct ErrorPage {
    pub status: StatusCode,
    /// Stable machine-readable code for the JSON form.
    pub code: &'static str,
    pub title: &'static str,
    pub message: Cow<'static, str>,
    /// `alert` for failures, `status` for outcomes the shopper chose.
    pub role: &'static str,
}

impl AppError {
    pub fn page(&self) -> ErrorPage {
        use AppError::*;
        let (status, code, title, message, role) = match self {
            Domain(Error::State(StateProblem::Missing)) => (
                StatusCode::BAD_REQUEST,
                "state_missing",
                "This sign-in link is incomplete",
                "The answer from ID.me was missing its details. Start the verification again from the store.",
                "alert",
            ),
            Domain(Error::State(StateProblem::Unknown)) => (
                StatusCode::BAD_REQUEST,
                "state_unknown",
                "This sign-in link does not belong to this browser",
                "We could not match this answer from ID.me to a verification started here. Start again from the store.",
                "alert",
            ),
            Domain(Error::State(StateProblem::Used)) => (
                StatusCode::BAD_REQUEST,
                "state_used",
                "This sign-in link was already used",
                "Each verification can be completed once. Start a new one from the store.",
                "alert",
            ),
            Domain(Error::State(StateProblem::Expired)) => (
                StatusCode::BAD_REQUEST,
                "state_expired",
                "This verification took too long",
                "Verifications expire after ten minutes. Start a new one from the store.",
                "alert",
            ),
            Csrf => (
                StatusCode::FORBIDDEN,
                "csrf",
                "This form has expired",
                "Reload the store and try again.",
                "alert",
            ),
            NotFound => (
                StatusCode::NOT_FOUND,
                "not_found",
                "Page not found",
                "There is nothing here. The store is one click away.",
                "alert",
            ),
            MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "That action is not available here",
                "Go back to the store and try again.",
                "alert",
            ),
            TooManyRequests(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                "Too many attempts",
                "Please wait a moment, then try again from the store.",
                "alert",
            ),
            Declined => (
                StatusCode::OK,
                "declined",
                "You chose not to share your status",
                "Nothing was shared with us. You can verify any time to unlock your discount.",
                "status",
            ),
            Domain(Error::ProviderRefused(_)) => (
                StatusCode::BAD_GATEWAY,
                "idme_refused",
                "ID.me could not complete the verification",
                "Nothing was unlocked and nothing was shared. Please try again.",
                "alert",
            ),
            Domain(Error::Provider(_)) => (
                StatusCode::BAD_GATEWAY,
                "idme_unavailable",
                "We could not reach ID.me just now",
                "Your verification did not go through, and nothing was unlocked. Please try again in a moment.",
                "alert",
            ),
            Domain(Error::Store(_)) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                "We are having a short technical problem",
                "Please try again shortly. Nothing you already unlocked is lost.",
                "alert",
            ),
            Domain(Error::Internal(_)) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Something went wrong on our side",
                "Please try again. If it keeps happening, quote the reference below.",
                "alert",
            ),
            BadRequest(_) => (
                StatusCode::BAD_REQUEST,
                "bad_request",
                "That request could not be understood",
                "Go back to the store and try again.",
                "alert",
            ),
        };
        // The wait is the one `Retry-After` says.
        let message = match self {
            TooManyRequests(refusal) => refusal.message().into(),
            _ => message.into(),
        };
        ErrorPage {
            status,
            code,
            title,
            message,
            role,
        }
    }

    /// The log line. Causes are our own texts or labels: never a token, a payload or a name.
    fn log(&self) {
        match self {
            Self::Domain(e) => e.log(),
            Self::BadRequest(why) => tracing::info!(reason = why, "bad request"),
            Self::Csrf => tracing::info!("CSRF token rejected"),
            Self::Declined => tracing::info!("shopper declined at ID.me"),
            Self::TooManyRequests(r) => tracing::info!(
                limit = r.limit.label(),
                retry_after = r.retry_after,
                "rate limit reached"
            ),
            Self::NotFound | Self::MethodNotAllowed => {}
        }
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.page().code)
    }
}

impl std::error::Error for AppError {}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.log();
        let page = self.page();
        let mut response = page.status.into_response();
        if let Self::TooManyRequests(refusal) = &self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(refusal.retry_after));
        }
        response.extensions_mut().insert(page);
        response
    }
}

impl From<Error> for AppError {
    fn from(e: Error) -> Self {
        Self::Domain(e)
    }
}

impl From<tower_sessions::session::Error> for AppError {
    fn from(e: tower_sessions::session::Error) -> Self {
        Self::Domain(e.into())
    }
}

impl From<crate::db::Error> for AppError {
    fn from(e: crate::db::Error) -> Self {
        Self::Domain(e.into())
    }
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> Self {
        Self::Domain(Error::Internal(format!("template: {e}")))
    }
}
