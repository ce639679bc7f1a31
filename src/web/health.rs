//! `/healthz` (the process answers) and `/readyz` (it can serve shoppers), and `/metrics`.
//!
//! With an ops listener (`PERKGATE_OPS_LISTEN`) the details go there: the main listener keeps
//! `/healthz` and a `/readyz` that answers the same status code with only `{"status": …}`,
//! so a load balancer's check still works, while backends, offer counts, reload errors and
//! the metrics (pool levels, claims) are no longer for anyone who can reach the store.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::json;

use super::state::AppState;
use crate::db;

/// The main listener's: everything, or with `ops_apart` the bare status only.
pub fn router(ops_apart: bool) -> Router<AppState> {
    let router = Router::new().route("/healthz", get(|| async { "ok" }));
    if ops_apart {
        router.route("/readyz", get(ready_status))
    } else {
        ops_router()
    }
}

/// The ops listener's.
pub fn ops_router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
}

async fn ready_status(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    let (code, detail) = ready(State(state)).await;
    (code, Json(json!({ "status": detail.0["status"] })))
}

/// Prometheus text format. Counts and latencies only: no label carries personal data.
async fn metrics() -> impl axum::response::IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::metrics::render(),
    )
}

async fn ready(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    let database = match db::ping(&state.db).await {
        Ok(()) => "ok".to_owned(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: database unreachable");
            "unreachable".to_owned()
        }
    };
    let sessions = match state.sessions.ping().await {
        Ok(()) => "ok".to_owned(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: session store unreachable");
            "unreachable".to_owned()
        }
    };
    let ready = database == "ok" && sessions == "ok";
    let rules = state.rules();
    let rejected = state.rules.rejected();
    (
        if ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        Json(json!({
            "status": if ready { "ready" } else { "unavailable" },
            "database": database,
            "database_backend": state.db.backend(),
            "sessions": sessions,
            "sessions_backend": state.sessions.backend(),
            "rules": {
                "source": state.rules.source.name(),
                "offers": rules.offers.len(),
                "active_offers": rules.active(crate::clock::now()).count(),
                // A rejected reload keeps the previous rules; the errors show here until fixed.
                "reload_errors": rejected,
            },
            "idme": if state.sandbox.is_some() { "sandbox" } else { "configured" },
        })),
    )
}
