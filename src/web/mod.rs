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
    let mut limits = limits::Limits::new(&state.config.rate_limit);
    let limited = Router::new()
        .merge(limits.apply(verify::start_router()))
        .merge(limits.apply_callback(verify::callback_router()));
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
        .merge(health::router())
        .merge(pages::static_router());
    if let Some(sandbox) = &state.sandbox {
        app = app.nest(crate::sandbox::PATH, sandbox.clone().router());
    }
    let csp = middleware::content_security_policy(&state.idme_origin);
    let app = app
        .fallback(|| async { AppError::NotFound })
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
        .route_layer(axum::middleware::from_fn(middleware::label_route))
        .layer(axum::middleware::from_fn_with_state(
            middleware::Edge {
                state: state.clone(),
                csp,
            },
            middleware::edge,
        ))
        .with_state(state);
    (app, limits.pruner())
}
