//! HTTP: one `router()` per area, merged here with the cross-cutting layers.

mod api;
pub mod csrf;
pub mod error;
mod extract;
mod health;
pub mod limits;
mod middleware;
mod pages;
mod state;
mod storefront;
mod verify;

use axum::Router;
use axum::http::{HeaderValue, header};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_sessions::SessionManagerLayer;

pub use api::valid_callback_name;
pub use error::AppError;
pub use middleware::RequestId;
pub use state::{AppState, Inner};

pub fn router(
    state: AppState,
    sessions: SessionManagerLayer<crate::session_store::CachedSessions>,
) -> (Router, Option<limits::Pruner>) {
    let client_ip = limits::ClientIp::new(state.config.rate_limit.trusted_proxies.clone());
    let (limited, pruner) = limits::apply(
        verify::limited_router(),
        &state.config.rate_limit,
        client_ip,
    );
    // Pages that read or change the shopper's session: the session layer and no-store. (The
    // pages that only show state read through the short cache: see `cached_reads`.)
    let session_routes = Router::new()
        .merge(storefront::router())
        .merge(api::router())
        .merge(verify::router())
        .merge(limited)
        .layer(sessions)
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));

    let mut app = Router::new()
        .merge(session_routes)
        .merge(health::router(state.config.ops_listen.is_some()))
        .merge(pages::static_router());
    if let Some(sandbox) = &state.sandbox {
        app = app.nest(crate::sandbox::PATH, sandbox.clone().router());
    }
    let csp = middleware::content_security_policy(&state.idme_origin);
    let hsts = middleware::strict_transport_security(&state.public_url, state.config.hsts);
    let app = app
        .fallback(|| async { AppError::NotFound })
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
        .route_layer(axum::middleware::from_fn(middleware::label_route))
        .layer(axum::middleware::from_fn_with_state(
            middleware::Edge {
                state: state.clone(),
                csp,
                hsts,
            },
            middleware::edge,
        ))
        .with_state(state);
    (app, pruner)
}

/// What the ops listener serves (`PERKGATE_OPS_LISTEN`): `/metrics`, `/readyz` with its
/// details, `/healthz`.
pub fn ops_router(state: AppState) -> Router {
    health::ops_router()
        .fallback(|| async { axum::http::StatusCode::NOT_FOUND })
        .with_state(state)
}
