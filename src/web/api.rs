//! `GET /api/v1/benefit`: the shopper's status as JSON, or JSONP for a safe callback name.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use super::error::AppError;
use super::state::AppState;
use crate::rules::{Benefit, VerifiedGroup};
use crate::session_store::cached_reads;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/benefit", get(benefit))
}

#[derive(Deserialize)]
struct Params {
    callback: Option<String>,
}

#[derive(Serialize)]
struct Status<'a> {
    verified: bool,
    groups: &'a [VerifiedGroup],
    benefit: Option<&'a Benefit>,
}

async fn benefit(
    State(state): State<AppState>,
    session: Session,
    Query(params): Query<Params>,
) -> Result<Response, AppError> {
    // Check the callback first: a bad one is refused before any session work.
    if let Some(cb) = &params.callback
        && !valid_callback_name(cb)
    {
        return Err(AppError::BadRequest("invalid JSONP callback name"));
    }
    // Read-only: an API call never creates or extends a session, and may use the read cache.
    let absolute = state.verifier.lifetimes.absolute_secs;
    let store = state.verifier.jar.store();
    let shopper = cached_reads(crate::session::Shopper::peek(&session, store, absolute)).await?;
    let verification = shopper.as_ref().and_then(|s| s.verification.as_ref());
    let body = serde_json::to_string(&Status {
        verified: verification.is_some(),
        groups: verification.map(|v| v.groups.as_slice()).unwrap_or(&[]),
        benefit: shopper.as_ref().and_then(|s| s.benefit.as_ref()),
    })
    .map_err(|e| crate::error::Error::Internal(format!("json: {e}")))?;
    Ok(match params.callback {
        Some(cb) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/javascript; charset=utf-8"),
            )],
            // The leading comment defuses content-sniffing tricks (Rosetta Flash and kin).
            format!("/**/{cb}({body});"),
        )
            .into_response(),
        None => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response(),
    })
}

/// `^[A-Za-z_$][A-Za-z0-9_$]{0,63}(\.[A-Za-z_$][A-Za-z0-9_$]{0,63})*$`, with a total cap.
pub fn valid_callback_name(name: &str) -> bool {
    name.len() <= 256
        && name.split('.').all(|part| {
            let mut bytes = part.bytes();
            let first_ok = bytes
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_' || b == b'$');
            first_ok
                && part.len() <= 64
                && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$')
        })
}

#[cfg(test)]
mod tests {
    use super::valid_callback_name;

    #[test]
    fn accepts_identifiers_and_dotted_paths() {
        for ok in [
            "cb",
            "_cb",
            "$",
            "jQuery123_456",
            "a.b.c",
            "window.$x.y_1",
            &"a".repeat(64),
        ] {
            assert!(valid_callback_name(ok), "{ok}");
        }
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "",
            "1cb",
            "a..b",
            ".a",
            "a.",
            "a-b",
            "alert(1)",
            "a;b",
            "a b",
            "<script>",
            "a[0]",
            "é",
            "a\u{2028}",
            &"a".repeat(65),
            &format!("{}.b", "a".repeat(65)),
        ] {
            assert!(!valid_callback_name(bad), "{bad:?}");
        }
    }
}
