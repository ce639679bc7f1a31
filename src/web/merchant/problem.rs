//! RFC 9457 problem details: every error of the merchant API is `application/problem+json`,
//! with a `type` URI per kind of problem (`urn:perkgate:problem:KIND`), a `title` that is
//! the same for every problem of that type, the `status` and a `detail` for this occurrence.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

pub const CONTENT_TYPE: &str = "application/problem+json";

/// The `type` of a problem of kind `kind` ("code-redeemed").
pub fn type_uri(kind: &str) -> String {
    format!("urn:perkgate:problem:{kind}")
}

/// A problem the API answers with; renders itself.
#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    pub kind: &'static str,
    pub title: &'static str,
    pub detail: String,
    /// Extension members ("order_id" of the first redemption, ...).
    pub extra: Map<String, Value>,
    retry_after: Option<u64>,
}

impl Problem {
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            kind,
            title,
            detail: detail.into(),
            extra: Map::new(),
            retry_after: None,
        }
    }

    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(name.to_owned(), value.into());
        self
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid-request",
            "The request is not valid",
            detail,
        )
    }

    pub fn unauthorized(detail: &'static str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "An API key is needed",
            detail,
        )
    }

    pub fn too_many(retry_after: u64) -> Self {
        let mut p = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too-many-requests",
            "Too many requests",
            format!("Too many failed attempts from this address; retry after {retry_after} s."),
        );
        p.retry_after = Some(retry_after);
        p
    }

    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "The service is briefly unavailable",
            "The database did not answer; retry shortly (with the same Idempotency-Key).",
        )
    }

    /// The body, as the document describes it.
    pub fn body(&self) -> String {
        let mut body = body(self.status, self.kind, self.title, &self.detail);
        body.extend(self.extra.clone());
        Value::Object(body).to_string()
    }
}

/// The members every problem has.
pub fn body(status: StatusCode, kind: &str, title: &str, detail: &str) -> Map<String, Value> {
    let Value::Object(map) = json!({
        "type": type_uri(kind),
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
    }) else {
        return Map::new();
    };
    map
}

/// A status and a JSON body as one response: problem details for an error status.
pub fn respond(status: StatusCode, body: String) -> Response {
    let content_type = if status.is_client_error() || status.is_server_error() {
        CONTENT_TYPE
    } else {
        "application/json"
    };
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(kind = self.kind, "merchant API problem");
        } else {
            tracing::info!(
                kind = self.kind,
                status = self.status.as_u16(),
                "merchant API problem"
            );
        }
        let mut res = respond(self.status, self.body());
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"perkgate\""),
            );
        }
        if let Some(secs) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

impl From<crate::db::Error> for Problem {
    fn from(e: crate::db::Error) -> Self {
        tracing::warn!(error = %e, "merchant API: database error");
        Self::unavailable()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_carry_the_rfc_9457_members_and_their_extensions() {
        let p = Problem::new(StatusCode::CONFLICT, "code-redeemed", "Redeemed", "for #1")
            .with("order_id", "#1");
        let v: Value = serde_json::from_str(&p.body()).unwrap();
        assert_eq!(v["type"], "urn:perkgate:problem:code-redeemed");
        assert_eq!(v["status"], 409);
        assert_eq!(v["title"], "Redeemed");
        assert_eq!(v["detail"], "for #1");
        assert_eq!(v["order_id"], "#1");
        let res = Problem::unauthorized("no key").into_response();
        assert_eq!(res.headers()[header::CONTENT_TYPE], CONTENT_TYPE);
        assert!(res.headers().contains_key(header::WWW_AUTHENTICATE));
    }
}
