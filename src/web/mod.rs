//! HTTP: one `router()` per area, merged here with the cross-cutting layers.

pub mod admin;
mod api;
pub mod csrf;
pub mod error;
mod extract;
mod health;
mod lang;
pub mod limits;
pub mod look;
pub mod merchant;
mod middleware;
mod pages;
mod state;
mod storefront;
pub mod templates;
mod verify;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use tower_sessions::SessionManagerLayer;

pub use api::valid_callback_name;
pub use error::AppError;
pub use middleware::RequestId;
pub use state::{AppState, Inner};
pub use storefront::OfferCards;

/// The value of the request's cookie `name` (the first, when sent twice).
pub fn cookie<'h>(headers: &'h axum::http::HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value)
}

/// The largest request body read (forms here carry a token and a word or two; axum's default
/// is 2 MB). A larger one is refused with 413 before it is buffered.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

pub fn router(
    state: AppState,
    sessions: SessionManagerLayer<crate::session_store::CachedSessions>,
) -> (Router, Option<limits::Pruner>) {
    let mut limits = limits::Limits::new(&state.config.rate_limit);
    let mut limited = Router::new()
        .merge(limits.apply(verify::start_router()))
        .merge(limits.apply_callback(verify::callback_router()));
    // The sandbox's pages (groups, sign-in, consent) get the callback's treatment: a flood
    // ceiling per address, so a flood of sign-in pages is throttled while shoppers behind one
    // address still get through. Its back channel is perkgate calling itself from loopback:
    // limited, it would throttle every shopper at once.
    if let Some(sandbox) = &state.sandbox {
        crate::sandbox::guard::warn_at_start(state.config.listen, state.config.public_url.as_ref());
        let pages = Router::new().nest(crate::sandbox::PATH, sandbox.clone().pages());
        limited = limited.merge(limits.apply_callback(pages));
    }
    // Pages that read or change the shopper's session: the session layer (`edge` makes every
    // answer without a Cache-Control of its own no-store). The pages that only show state
    // read through the short cache: see `cached_reads`.
    let session_routes = Router::new()
        .merge(storefront::router())
        .merge(api::router())
        .merge(verify::router())
        .merge(limited)
        .layer(sessions);

    let mut app = Router::new()
        .merge(session_routes)
        .merge(health::router(state.config.ops_listen.is_some()))
        .merge(lang::router())
        // The console: its own cookie and sessions, outside the shoppers' session layer.
        .merge(admin::router())
        // The merchant API: API keys, no cookies.
        .merge(merchant::router(&state))
        .merge(pages::static_router());
    if let Some(sandbox) = &state.sandbox {
        app = app.nest(crate::sandbox::PATH, sandbox.clone().back_channel());
    }
    let hsts = middleware::strict_transport_security(&state.public_url, state.config.hsts);
    let app = app
        .fallback(|| async { AppError::NotFound })
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            middleware::Edge {
                state: state.clone(),
                hsts,
            },
            middleware::edge,
        ))
        .with_state(state);
    (app, limits.pruner())
}

/// What the ops listener serves (`PERKGATE_OPS_LISTEN`): `/metrics`, `/readyz` with its
/// details, `/healthz`.
pub fn ops_router(state: AppState) -> Router {
    health::ops_router()
        .fallback(|| async { axum::http::StatusCode::NOT_FOUND })
        .with_state(state)
}
