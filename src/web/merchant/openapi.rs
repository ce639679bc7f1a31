//! The merchant API's OpenAPI 3.1 document, generated from its handlers and types, served at
//! `/api/openapi.json` (public: it holds no secret).

use std::sync::LazyLock;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use super::types;

/// RFC 9457 problem details, as every error of this API is (`application/problem+json`).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // only its schema is used: problems are built as JSON (`problem`)
pub struct ProblemDetails {
    /// `urn:perkgate:problem:KIND`, one per kind of problem (`code-redeemed`, `unauthorized`,
    /// `insufficient-scope`, `idempotency-key-reused`, ...).
    #[serde(rename = "type")]
    #[schema(example = "urn:perkgate:problem:code-redeemed")]
    kind: String,
    /// The same for every problem of its type.
    title: String,
    /// The HTTP status.
    #[schema(minimum = 400, maximum = 599)]
    status: u16,
    /// This occurrence, in words.
    detail: String,
    /// For a 400: the field that is not valid.
    #[schema(nullable = false)]
    field: Option<String>,
    /// For a 409: the offer of the code.
    #[schema(nullable = false)]
    offer_id: Option<String>,
    /// For a 409 `code-redeemed`: the order the code was redeemed for first (null: marked
    /// redeemed by CSV or the command line).
    order_id: Option<String>,
    /// For a 409 `code-redeemed`: when.
    #[schema(nullable = false)]
    redeemed_at: Option<String>,
    /// The request id (also in `X-Request-Id`), for errors the service itself raised.
    #[schema(nullable = false)]
    correlation_id: Option<String>,
}

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("pk_live_…")
                    .description(Some(
                        "An API key from `perkgate keys add NAME --scope read|redeem` or the \
                         console's API keys page (owners).",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "perkgate merchant API",
        description = "Look up and redeem the codes perkgate issued, and follow unlocks and \
            redemptions. Authenticate with an API key as a bearer token. Errors are RFC 9457 \
            problem details.",
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0"),
    ),
    paths(super::lookup, super::redeem, super::events),
    components(schemas(
        ProblemDetails,
        types::CodeInfo,
        types::DiscountInfo,
        types::DiscountKind,
        types::InvalidReason,
        types::RedeemRequest,
        types::RedemptionInfo,
        types::EventsPage,
        types::EventInfo,
        types::EventType,
    )),
    modifiers(&Security),
    tags(
        (name = "codes", description = "The codes shoppers unlocked"),
        (name = "events", description = "Unlocks and redemptions, in order"),
    )
)]
pub struct ApiDoc;

/// The document as served.
pub fn document() -> &'static str {
    static JSON: LazyLock<String> = LazyLock::new(|| {
        let mut doc = ApiDoc::openapi();
        doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
        doc.to_pretty_json().unwrap_or_else(|e| {
            tracing::error!(error = %e, "the OpenAPI document does not encode");
            "{}".to_owned()
        })
    });
    &JSON
}

pub async fn serve() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        document(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_openapi_3_1_with_every_route_and_the_bearer_scheme() {
        let doc: serde_json::Value = serde_json::from_str(document()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."));
        let paths = doc["paths"].as_object().unwrap();
        for (path, method) in [
            ("/api/v1/merchant/codes/{code}", "get"),
            ("/api/v1/merchant/codes/{code}/redeem", "post"),
            ("/api/v1/merchant/events", "get"),
        ] {
            let op = &paths[path][method];
            assert!(op.is_object(), "{method} {path}");
            assert_eq!(op["security"][0]["bearer"], serde_json::json!([]));
            assert_eq!(
                op["responses"]["401"]["content"]["application/problem+json"]["schema"]["$ref"],
                "#/components/schemas/ProblemDetails"
            );
        }
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
    }
}
