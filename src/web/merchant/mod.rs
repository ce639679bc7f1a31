//! The merchant API, `/api/v1/merchant/`: the shop's backend looks codes up, redeems them for
//! orders and reads the feed of unlocks and redemptions, with an API key as a bearer token
//! (`admin::api_keys`). JSON in and out; every error is problem details ([`problem`]). The
//! OpenAPI 3.1 document ([`openapi`]) is generated from the handlers and types here and served
//! at `/api/openapi.json`.

mod auth;
pub mod openapi;
pub mod problem;
mod types;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, Extension, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use self::problem::Problem;
use self::types::{CodeInfo, EventsPage, RedeemRequest, RedemptionInfo};
use super::state::AppState;
use crate::admin::api_keys::{ApiKey, Scope};
use crate::rewards::redemptions::{self, Answer, Cursor, Idempotency, Order, Redeem};

/// Where the API's routes are (and its errors are problem details).
pub const PREFIX: &str = "/api/v1/merchant/";
/// The largest redemption body read: an order id, an amount and a currency.
pub const MAX_BODY: usize = 4 * 1024;
/// Events per page: 100 unless `limit` says otherwise, at most this many.
pub const MAX_LIMIT: usize = 500;
const DEFAULT_LIMIT: usize = 100;
/// The longest `Idempotency-Key` kept.
const MAX_IDEMPOTENCY_KEY: usize = 255;

pub fn router(state: &AppState) -> Router<AppState> {
    let gate = Arc::new(auth::Gate::new(state.clone()));
    let keyed = Router::new()
        .route("/api/v1/merchant/codes/{code}", get(lookup))
        .route(
            "/api/v1/merchant/codes/{code}/redeem",
            post(redeem).layer(DefaultBodyLimit::max(MAX_BODY)),
        )
        .route("/api/v1/merchant/events", get(events))
        .route_layer(axum::middleware::from_fn_with_state(
            gate,
            auth::require_key,
        ));
    Router::new()
        .route("/api/openapi.json", get(openapi::serve))
        .merge(keyed)
}

/// The code in the path: what `rewards::is_code` accepts.
fn code_of(path: Result<Path<String>, PathRejection>) -> Result<String, Problem> {
    match path {
        Ok(Path(code)) if crate::rewards::is_code(&code) => Ok(code),
        _ => Err(Problem::bad_request(
            "A code is 3 to 64 letters, digits, '-' or '_'.",
        )),
    }
}

fn require(key: &ApiKey, needed: Scope) -> Result<(), Problem> {
    if key.scope.allows(needed) {
        return Ok(());
    }
    Err(Problem::new(
        StatusCode::FORBIDDEN,
        "insufficient-scope",
        "The API key's scope does not allow this",
        format!(
            "This needs a key with scope '{needed}'; this key's scope is '{}'.",
            key.scope
        ),
    ))
}

fn json(status: StatusCode, value: &impl serde::Serialize) -> Result<Response, Problem> {
    let body = serde_json::to_string(value).map_err(|e| {
        tracing::error!(error = %e, "merchant API: could not encode an answer");
        Problem::unavailable()
    })?;
    Ok(problem::respond(status, body))
}

/// Looks a code up: whether it is valid now, its offer and discount, when it was issued and
/// when it expires, whether it was redeemed (and for which order). Nothing about the person.
#[utoipa::path(
    get,
    path = "/api/v1/merchant/codes/{code}",
    tag = "codes",
    operation_id = "lookupCode",
    params(("code" = String, Path, description = "The code, as the shopper has it.",
        min_length = 3, max_length = 64, pattern = r"^[A-Za-z0-9_-]{3,64}$", example = "VET-7KQ2M9")),
    responses(
        (status = 200, description = "The code and its state.", body = CodeInfo),
        (status = 400, description = "Not a code.", body = openapi::ProblemDetails, content_type = "application/problem+json"),
        (status = 401, description = "No API key, or not a live one.", body = openapi::ProblemDetails, content_type = "application/problem+json",
            headers(("WWW-Authenticate" = String, description = "Bearer realm=\"perkgate\""))),
        (status = 404, description = "No such code was issued.", body = openapi::ProblemDetails, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts from this address.", body = openapi::ProblemDetails, content_type = "application/problem+json"),
        (status = 503, description = "The database is briefly unavailable.", body = openapi::ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn lookup(
    State(state): State<AppState>,
    Extension(key): Extension<ApiKey>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, Problem> {
    require(&key, Scope::Read)?;
    let code = code_of(path)?;
    let found = redemptions::lookup(&state.db, &code).await?;
    let info = CodeInfo::of(&code, found, &state.rules(), crate::clock::now())
        .ok_or_else(|| not_found(&code))?;
    json(StatusCode::OK, &info)
}

fn not_found(code: &str) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "code-not-found",
        "No such code",
        format!("No code {code} was issued."),
    )
}

/// Redeems a code for an order, exactly once: a second redemption of the code is refused with
/// the first order's id. With an `Idempotency-Key`, a repeat of the same request gets the first
/// answer again (for 24 hours); the same key with another request is refused.
#[utoipa::path(
    post,
    path = "/api/v1/merchant/codes/{code}/redeem",
    tag = "codes",
    operation_id = "redeemCode",
    params(
        ("code" = String, Path, description = "The code the shopper applied.",
            min_length = 3, max_length = 64, pattern = r"^[A-Za-z0-9_-]{3,64}$", example = "VET-7KQ2M9"),
        ("Idempotency-Key" = Option<String>, Header, description = "Any unique string per \
            request (a UUID); a retry with the same key and body replays the first answer.",
            min_length = 1, max_length = 255, pattern = r"^[\x21-\x7E]{1,255}$"),
    ),
    request_body(content = RedeemRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Redeemed for this order (or, with an Idempotency-Key, the replay of that answer).", body = RedemptionInfo,
            headers(("Idempotent-Replayed" = String, description = "\"true\" on a replayed answer"))),
        (status = 400, description = "The body or a header is not valid.", body = openapi::ProblemDetails, content_type = "application/problem+json"),
        (status = 401, description = "No API key, or not a live one.", body = openapi::ProblemDetails, content_type = "application/problem+json",
            headers(("WWW-Authenticate" = String, description = "Bearer realm=\"perkgate\""))),
        (status = 403, description = "The key's scope is `read`.", body = openapi::ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "No such code was issued.", body = openapi::ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "Redeemed before (`order_id` names the first order; null when it was marked redeemed by CSV) or revoked.", body = openapi::ProblemDetails, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 4 KiB.", body = openapi::ProblemDetails, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON.", body = openapi::ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "The Idempotency-Key was used for another request, or the code is shared by many shoppers.", body = openapi::ProblemDetails, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts from this address.", body = openapi::ProblemDetails, content_type = "application/problem+json"),
        (status = 503, description = "The database is briefly unavailable.", body = openapi::ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn redeem(
    State(state): State<AppState>,
    Extension(key): Extension<ApiKey>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    require(&key, Scope::Redeem)?;
    let code = code_of(path)?;
    let idempotency_key = idempotency_key(&headers)?;
    let order = order_of(&headers, body)?;
    let idempotency = idempotency_key.map(|k| Idempotency::new(k, &code, &order));
    let now = crate::clock::now();
    let answer =
        redemptions::redeem(&state.db, &code, &order, key.id, now, idempotency, render).await?;
    Ok(match answer {
        Answer::Fresh { status, body } => problem::respond(status_of(status), body),
        Answer::Replay { status, body } => {
            let mut res = problem::respond(status_of(status), body);
            res.headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            res
        }
        Answer::KeyReused => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency-key-reused",
            "The Idempotency-Key was used for another request",
            "This Idempotency-Key came with another code or body; use a new key for a new request.",
        )
        .into_response(),
    })
}

fn status_of(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<&str>, Problem> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(k)
            if (1..=MAX_IDEMPOTENCY_KEY).contains(&k.len())
                && k.bytes().all(|b| (0x21..0x7f).contains(&b)) =>
        {
            Ok(Some(k))
        }
        _ => Err(Problem::bad_request(
            "Idempotency-Key is 1 to 255 visible ASCII characters.",
        )),
    }
}

fn order_of(headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<Order, Problem> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| {
            let t = t.trim().to_ascii_lowercase();
            t == "application/json" || (t.starts_with("application/") && t.ends_with("+json"))
        });
    let body = body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "The body is too large",
            format!("A redemption's body is at most {MAX_BODY} bytes."),
        ),
        _ => Problem::bad_request("The body could not be read."),
    })?;
    if !is_json {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "The body is not JSON",
            "Send the order as application/json.",
        ));
    }
    let request: RedeemRequest = serde_json::from_slice(&body).map_err(|e| {
        Problem::bad_request(format!(
            "The body is not a redemption (order_id, amount, currency): {}",
            // serde's own words, without an echo of what was sent beyond its position.
            match e.classify() {
                serde_json::error::Category::Data => "a field is missing or of the wrong type",
                _ => "not valid JSON",
            }
        ))
    })?;
    request.order().map_err(|(field, why)| {
        Problem::bad_request(format!("{field}: {why}")).with("field", field)
    })
}

/// The stored (and replayed) answer for each outcome.
fn render(outcome: &Redeem) -> (u16, String) {
    let problem = match outcome {
        Redeem::Redeemed(r) => {
            return match serde_json::to_string(&RedemptionInfo::of(r)) {
                Ok(body) => (200, body),
                Err(_) => (503, Problem::unavailable().body()),
            };
        }
        Redeem::NotFound => Problem::new(
            StatusCode::NOT_FOUND,
            "code-not-found",
            "No such code",
            "No code like this was issued.",
        ),
        Redeem::Shared => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "code-shared",
            "This code is shared by many shoppers",
            "A code many shoppers got (an offer's static code) names no one claim: it is not redeemed per order.",
        ),
        Redeem::Revoked { offer_id } => Problem::new(
            StatusCode::CONFLICT,
            "code-revoked",
            "This code was revoked",
            "Support revoked this code: it cannot be redeemed.",
        )
        .with("offer_id", offer_id.as_str()),
        Redeem::Already {
            offer_id,
            redeemed_at,
            first,
        } => {
            let order = first.as_ref().map(|f| f.order_id.clone());
            Problem::new(
                StatusCode::CONFLICT,
                "code-redeemed",
                "This code was redeemed already",
                match &order {
                    Some(o) => format!("This code was redeemed for order {o}."),
                    None => {
                        "This code was marked redeemed (by CSV or the command line).".to_owned()
                    }
                },
            )
            .with("offer_id", offer_id.as_str())
            .with("order_id", order)
            .with("redeemed_at", types::rfc3339(*redeemed_at))
        }
    };
    (problem.status.as_u16(), problem.body())
}

/// Unlocks and redemptions since a cursor, oldest first. Start without `since`; pass each
/// answer's `next` as the next `since` (also to poll for new events: `next` stays put when
/// nothing is new).
#[utoipa::path(
    get,
    path = "/api/v1/merchant/events",
    tag = "events",
    operation_id = "listEvents",
    params(
        ("since" = Option<String>, Query, description = "A `next` cursor from an earlier answer; from the first event without it.",
            max_length = 64, pattern = r"^[A-Za-z0-9_-]{1,64}$"),
        ("limit" = Option<i64>, Query, description = "Events per page, 1 to 500 (100 by default).",
            minimum = 1, maximum = 500),
    ),
    responses(
        (status = 200, description = "A page of events.", body = EventsPage),
        (status = 400, description = "`since` is not a cursor of ours, or `limit` is out of range.", body = openapi::ProblemDetails, content_type = "application/problem+json"),
        (status = 401, description = "No API key, or not a live one.", body = openapi::ProblemDetails, content_type = "application/problem+json",
            headers(("WWW-Authenticate" = String, description = "Bearer realm=\"perkgate\""))),
        (status = 429, description = "Too many failed attempts from this address.", body = openapi::ProblemDetails, content_type = "application/problem+json"),
        (status = 503, description = "The database is briefly unavailable.", body = openapi::ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn events(
    State(state): State<AppState>,
    Extension(key): Extension<ApiKey>,
    RawQuery(query): RawQuery,
) -> Result<Response, Problem> {
    require(&key, Scope::Read)?;
    let (since, limit) = page_params(query.as_deref().unwrap_or_default())?;
    let page = redemptions::events(&state.db, since, limit).await?;
    json(StatusCode::OK, &EventsPage::of(&page))
}

fn page_params(query: &str) -> Result<(Cursor, usize), Problem> {
    let (mut since, mut limit) = (Cursor::default(), DEFAULT_LIMIT);
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match name.as_ref() {
            "since" => {
                since = Cursor::decode(&value).ok_or_else(|| {
                    Problem::bad_request("since: not a cursor from this API").with("field", "since")
                })?;
            }
            "limit" => {
                limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| {
                        Problem::bad_request(format!("limit: a whole number from 1 to {MAX_LIMIT}"))
                            .with("field", "limit")
                    })?;
            }
            _ => {}
        }
    }
    Ok((since, limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_parameters_are_checked() {
        assert_eq!(page_params("").unwrap(), (Cursor::default(), DEFAULT_LIMIT));
        let c = Cursor {
            claim: 3,
            redemption: 1,
        };
        let q = format!("since={}&limit=500", c.encode());
        assert_eq!(page_params(&q).unwrap(), (c, 500));
        for bad in [
            "limit=0",
            "limit=501",
            "limit=x",
            "limit=-1",
            "since=nope",
            "since=",
        ] {
            assert_eq!(page_params(bad).unwrap_err().status, 400, "{bad}");
        }
    }

    #[test]
    fn idempotency_keys_are_visible_ascii_up_to_255() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert("idempotency-key", HeaderValue::from_str(v).unwrap());
            h
        };
        assert_eq!(idempotency_key(&HeaderMap::new()).unwrap(), None);
        assert_eq!(idempotency_key(&with("abc-1")).unwrap(), Some("abc-1"));
        assert!(idempotency_key(&with(&"a".repeat(256))).is_err());
        assert!(idempotency_key(&with("a b")).is_err());
        assert!(idempotency_key(&with("")).is_err());
    }
}
