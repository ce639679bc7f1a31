//! The HTTP error: a domain [`Error`] or one of HTTP's own, and the page each one shows.
//!
//! A handler returns `AppError`; its `IntoResponse` logs the cause (inside the request's span,
//! so the line carries the request id) and leaves an [`ErrorPage`] in the response extensions.
//! The outermost middleware (`web::middleware::edge`) turns that into the HTML page, or JSON under
//! `/api`, showing the same request id as the correlation id.

use std::borrow::Cow;
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::{Error, StateProblem};
use crate::i18n::{Catalog, Msg};

/// What a request can fail with: a domain error, or one of HTTP's own.
#[derive(Debug)]
pub enum AppError {
    Domain(Error),
    /// The shopper declined at ID.me (`error=access_denied`) and has no session to note it in.
    Declined,
    Csrf,
    /// Signed in, but the account's role does not allow this (the merchant console).
    Forbidden,
    NotFound,
    MethodNotAllowed,
    /// A rate limit: which one, and how long to wait (`web::limits`).
    TooManyRequests(super::limits::Refusal),
    BadRequest(&'static str),
    /// A body over `web::MAX_BODY_BYTES`.
    PayloadTooLarge,
    /// A body that is not the form the route takes (JSON to a form route, no content type).
    UnsupportedMediaType,
}

/// What an error page says: a fixed text, or one that names a setting's value or a wait.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    Fixed(Msg),
    /// "Please wait N seconds": the wait `Retry-After` says.
    RateLimited(super::limits::Refusal),
    /// "Verifications expire after N minutes": from `PERKGATE_AUTH_TIMEOUT_SECS`.
    AuthExpired,
}

impl Message {
    pub fn text(&self, auth_timeout: Duration, cat: &'static Catalog) -> Cow<'static, str> {
        match self {
            Self::Fixed(msg) => cat.text(*msg),
            Self::RateLimited(refusal) => Cow::Owned(refusal.message(cat)),
            Self::AuthExpired => Cow::Owned(cat.say(
                Msg::ErrStateExpired,
                &[("duration", cat.duration(auth_timeout).into())],
            )),
        }
    }
}

/// What the error page shows; the middleware adds the correlation id and the language.
#[derive(Clone, Debug)]
pub struct ErrorPage {
    pub status: StatusCode,
    /// Stable machine-readable code for the JSON form.
    pub code: &'static str,
    pub title: Msg,
    pub message: Message,
    /// `alert` for failures, `status` for outcomes the shopper chose.
    pub role: &'static str,
}

impl AppError {
    /// The error a rejected request deserves, by the status axum's rejection (or a layer) gave
    /// it: 413 and 415 as such, 404 and 405 as ours, any other 4xx "not understood"
    /// (axum's 422 for a malformed form included: the request is bad, 400).
    pub fn for_status(status: StatusCode) -> Self {
        match status {
            StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::UnsupportedMediaType,
            StatusCode::NOT_FOUND => Self::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => Self::MethodNotAllowed,
            _ => Self::BadRequest("rejected request"),
        }
    }

    pub fn page(&self) -> ErrorPage {
        use AppError::*;
        use Message::{AuthExpired, Fixed};
        let (status, code, title, message, role) = match self {
            Domain(Error::State(StateProblem::Missing)) => (
                StatusCode::BAD_REQUEST,
                "state_missing",
                Msg::ErrStateMissingTitle,
                Fixed(Msg::ErrStateMissing),
                "alert",
            ),
            Domain(Error::State(StateProblem::Unknown)) => (
                StatusCode::BAD_REQUEST,
                "state_unknown",
                Msg::ErrStateUnknownTitle,
                Fixed(Msg::ErrStateUnknown),
                "alert",
            ),
            Domain(Error::State(StateProblem::Used)) => (
                StatusCode::BAD_REQUEST,
                "state_used",
                Msg::ErrStateUsedTitle,
                Fixed(Msg::ErrStateUsed),
                "alert",
            ),
            Domain(Error::State(StateProblem::Expired)) => (
                StatusCode::BAD_REQUEST,
                "state_expired",
                Msg::ErrStateExpiredTitle,
                AuthExpired,
                "alert",
            ),
            Csrf => (
                StatusCode::FORBIDDEN,
                "csrf",
                Msg::ErrCsrfTitle,
                Fixed(Msg::ErrCsrf),
                "alert",
            ),
            Forbidden => (
                StatusCode::FORBIDDEN,
                "forbidden",
                Msg::ErrForbiddenTitle,
                Fixed(Msg::ErrForbidden),
                "alert",
            ),
            NotFound => (
                StatusCode::NOT_FOUND,
                "not_found",
                Msg::ErrNotFoundTitle,
                Fixed(Msg::ErrNotFound),
                "alert",
            ),
            MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                Msg::ErrMethodTitle,
                Fixed(Msg::ErrMethod),
                "alert",
            ),
            TooManyRequests(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                Msg::ErrTooManyTitle,
                // Replaced below by the wait `Retry-After` says.
                Fixed(Msg::ErrTooMany),
                "alert",
            ),
            Declined => (
                StatusCode::OK,
                "declined",
                Msg::ErrDeclinedTitle,
                Fixed(Msg::ErrDeclined),
                "status",
            ),
            Domain(Error::ProviderRefused(_)) => (
                StatusCode::BAD_GATEWAY,
                "idme_refused",
                Msg::ErrIdmeRefusedTitle,
                Fixed(Msg::ErrIdmeRefused),
                "alert",
            ),
            Domain(Error::Provider(_)) => (
                StatusCode::BAD_GATEWAY,
                "idme_unavailable",
                Msg::ErrIdmeDownTitle,
                Fixed(Msg::ErrIdmeDown),
                "alert",
            ),
            Domain(Error::Store(_)) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                Msg::ErrStoreTitle,
                Fixed(Msg::ErrStore),
                "alert",
            ),
            Domain(Error::Internal(_)) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                Msg::ErrInternalTitle,
                Fixed(Msg::ErrInternal),
                "alert",
            ),
            BadRequest(_) => (
                StatusCode::BAD_REQUEST,
                "bad_request",
                Msg::ErrBadRequestTitle,
                Fixed(Msg::ErrBadRequest),
                "alert",
            ),
            PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                Msg::ErrTooLargeTitle,
                Fixed(Msg::ErrTooLarge),
                "alert",
            ),
            UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                Msg::ErrNotFormTitle,
                Fixed(Msg::ErrNotForm),
                "alert",
            ),
        };
        // The wait is the one `Retry-After` says.
        let message = match self {
            TooManyRequests(refusal) => Message::RateLimited(*refusal),
            _ => message,
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
            Self::Forbidden => tracing::info!("console role refused"),
            Self::Declined => tracing::info!("shopper declined at ID.me"),
            Self::TooManyRequests(r) => tracing::info!(
                limit = r.limit.label(),
                retry_after = r.retry_after,
                "rate limit reached"
            ),
            Self::PayloadTooLarge => tracing::info!("request body too large"),
            Self::UnsupportedMediaType => tracing::info!("request body is not a form"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejections_get_our_statuses() {
        for (from, to) in [
            (413, 413),
            (415, 415),
            (400, 400),
            (422, 400),
            (404, 404),
            (405, 405),
            // (A 429 is always ours, with its wait: `web::limits` renders it.)
            (411, 400),
        ] {
            let status = StatusCode::from_u16(from).unwrap();
            assert_eq!(
                AppError::for_status(status).page().status.as_u16(),
                to,
                "{from}"
            );
        }
    }

    #[test]
    fn the_expired_message_names_the_setting() {
        let page = AppError::Domain(Error::State(StateProblem::Expired)).page();
        let en = crate::i18n::catalog(crate::i18n::Locale::En);
        assert_eq!(
            page.message.text(Duration::from_secs(600), en),
            "Verifications expire after 10 minutes. Start a new one from the store."
        );
        assert_eq!(
            page.message.text(Duration::from_secs(90), en),
            "Verifications expire after 90 seconds. Start a new one from the store."
        );
        let fr = crate::i18n::catalog(crate::i18n::Locale::FrCa);
        assert_eq!(
            page.message.text(Duration::from_secs(600), fr),
            "Les vérifications expirent après 10\u{a0}minutes. Commencez-en une nouvelle à partir du magasin."
        );
    }
}
