//! What the sandbox answers when it refuses: its own page for the browser, OAuth's JSON error
//! (`{"error", "error_description"}`, which clients parse) for the back channel, both with the
//! request id as correlation id.
//!
//! Handlers and extractor rejections return a [`Refusal`], which leaves itself in the response
//! extensions; the layer [`render`] writes the body, since only a layer holds the request's id
//! (the store's `AppError` and `web::middleware::edge` work the same way). Extractors here wrap
//! axum's with a `Refusal` rejection, so a malformed, oversized or wrongly typed form never gets
//! axum's plain text.

use std::borrow::Cow;

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::pages::Shown;
use crate::i18n::{Catalog, Msg, Texts};
use crate::web::RequestId;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Refusal {
    /// The sandbox's error page.
    Page { status: StatusCode, message: Said },
    /// OAuth's JSON error answer (RFC 6749 §5.2).
    OAuth {
        status: StatusCode,
        error: &'static str,
        description: Cow<'static, str>,
    },
}

/// What the refusal page says: a shopper's message in their language, or a note for the
/// developer whose request broke the protocol (English, like OAuth's error descriptions).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Said {
    Msg(Msg),
    Text(Cow<'static, str>),
}

impl Said {
    pub(super) fn text(&self, cat: &'static Catalog) -> Cow<'static, str> {
        match self {
            Self::Msg(msg) => cat.text(*msg),
            Self::Text(text) => text.clone(),
        }
    }
}

impl Refusal {
    /// A 400 page saying `message` (a developer's note).
    pub(super) fn page(message: impl Into<Cow<'static, str>>) -> Self {
        Self::Page {
            status: StatusCode::BAD_REQUEST,
            message: Said::Text(message.into()),
        }
    }

    /// A 400 page saying `msg` in the shopper's language.
    pub(super) fn said(msg: Msg) -> Self {
        Self::Page {
            status: StatusCode::BAD_REQUEST,
            message: Said::Msg(msg),
        }
    }

    pub(super) fn oauth(
        status: StatusCode,
        error: &'static str,
        description: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::OAuth {
            status,
            error,
            description: description.into(),
        }
    }

    /// The status a form rejection deserves (too large, not a form, or malformed: 400, not
    /// axum's 422) and what to say about it.
    fn of_form(rejection: &FormRejection) -> (StatusCode, String) {
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "The request body is larger than the sandbox accepts.".to_owned(),
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "The sandbox takes a form (Content-Type: application/x-www-form-urlencoded)."
                    .to_owned(),
            ),
            _ => {
                // serde's words name our own fields (`missing field `persona``), not values.
                let text = rejection.body_text();
                let detail = text.rsplit(": ").next().unwrap_or("malformed");
                (
                    StatusCode::BAD_REQUEST,
                    format!("The form is incomplete or malformed: {detail}."),
                )
            }
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::Page { status, .. } | Self::OAuth { status, .. } => *status,
        };
        let mut response = status.into_response();
        response.extensions_mut().insert(self);
        response
    }
}

#[derive(Template)]
#[template(path = "sandbox_error.html", whitespace = "minimize")]
struct ErrorPage<'a> {
    t: &'static Texts,
    next: &'a str,
    message: &'a str,
    correlation_id: &'a str,
}

/// Writes the body of a [`Refusal`] with this request's id; other responses pass untouched.
pub(super) async fn render(req: Request, next: Next) -> Response {
    let id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let shown = Shown::of(req.method(), req.uri(), req.headers());
    let res = next.run(req).await;
    let Some(refusal) = res.extensions().get::<Refusal>().cloned() else {
        return res;
    };
    let mut out = match refusal {
        Refusal::Page { status, message } => {
            let message = message.text(shown.cat);
            tracing::info!(status = status.as_u16(), reason = %message, "sandbox refused");
            let page = ErrorPage {
                t: &shown.cat.t,
                next: &shown.next,
                message: &message,
                correlation_id: &id,
            };
            match page.render() {
                Ok(html) => (status, Html(html)).into_response(),
                Err(e) => {
                    tracing::error!(error = %e, "sandbox template failed");
                    StatusCode::INTERNAL_SERVER_ERROR.into_response()
                }
            }
        }
        Refusal::OAuth {
            status,
            error,
            description,
        } => {
            tracing::info!(status = status.as_u16(), error, "sandbox OAuth error");
            (
                status,
                axum::Json(serde_json::json!({
                    "error": error,
                    "error_description": description,
                    "correlation_id": id,
                })),
            )
                .into_response()
        }
    };
    out.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    out
}

/// A form for the sandbox's pages: a rejection is the sandbox's page with the right status.
pub(super) struct PageForm<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for PageForm<T> {
    type Rejection = Refusal;

    async fn from_request(req: Request, state: &S) -> Result<Self, Refusal> {
        match Form::<T>::from_request(req, state).await {
            Ok(Form(value)) => Ok(Self(value)),
            Err(e) => {
                let (status, message) = Refusal::of_form(&e);
                Err(Refusal::Page {
                    status,
                    message: Said::Text(message.into()),
                })
            }
        }
    }
}

/// A form for the back channel: a rejection is OAuth's `invalid_request`, as JSON.
pub(super) struct OAuthForm<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OAuthForm<T> {
    type Rejection = Refusal;

    async fn from_request(req: Request, state: &S) -> Result<Self, Refusal> {
        match Form::<T>::from_request(req, state).await {
            Ok(Form(value)) => Ok(Self(value)),
            Err(e) => {
                let (status, description) = Refusal::of_form(&e);
                Err(Refusal::oauth(status, "invalid_request", description))
            }
        }
    }
}
