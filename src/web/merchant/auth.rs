//! The merchant API's door: `Authorization: Bearer pk_live_…`, checked before anything else
//! of the request is read. Failed attempts are counted per address; past [`MAX_FAILURES`] in a
//! minute the address is refused before any lookup, so keys cannot be guessed at speed (they
//! are 256 random bits anyway).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::problem::Problem;
use crate::address::address_key;
use crate::web::state::AppState;

/// Failed attempts an address may make per [`WINDOW`] seconds.
pub const MAX_FAILURES: u32 = 20;
const WINDOW: i64 = 60;
/// Addresses remembered at most; old windows are forgotten first.
const REMEMBERED: usize = 10_000;

pub struct Gate {
    state: AppState,
    failures: Failures,
}

impl Gate {
    pub fn new(state: AppState) -> Self {
        Self {
            state,
            failures: Failures::default(),
        }
    }
}

/// Failures per address in fixed one-minute windows.
#[derive(Default)]
pub struct Failures(Mutex<HashMap<IpAddr, (i64, u32)>>);

impl Failures {
    /// Seconds to wait when `ip` is over its failures, else `None`.
    pub fn refused(&self, ip: IpAddr, now: i64) -> Option<u64> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(&ip) {
            Some(&(start, n)) if now < start + WINDOW && n >= MAX_FAILURES => {
                Some((start + WINDOW - now).max(1) as u64)
            }
            _ => None,
        }
    }

    pub fn fail(&self, ip: IpAddr, now: i64) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= REMEMBERED {
            map.retain(|_, (start, _)| now < *start + WINDOW);
        }
        let entry = map.entry(ip).or_insert((now, 0));
        if now >= entry.0 + WINDOW {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }
}

/// The bearer token of a request, if it has one.
fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Lets a request with a live key through, with the key in its extensions.
pub async fn require_key(State(gate): State<Arc<Gate>>, mut req: Request, next: Next) -> Response {
    let Some(ip) = gate.state.console.client_ip.of(&req).map(address_key) else {
        return Problem::bad_request("The client address is unavailable.").into_response();
    };
    let now = crate::clock::now();
    if let Some(wait) = gate.failures.refused(ip, now) {
        return Problem::too_many(wait).into_response();
    }
    let Some(token) = bearer(&req) else {
        return Problem::unauthorized(
            "Send an API key as `Authorization: Bearer pk_live_…` (see `perkgate keys add`).",
        )
        .into_response();
    };
    match crate::admin::api_keys::authenticate(&gate.state.db, token, now).await {
        Ok(Some(key)) => {
            req.extensions_mut().insert(key);
            next.run(req).await
        }
        Ok(None) => {
            gate.failures.fail(ip, now);
            Problem::unauthorized("This API key is not valid, or was revoked.").into_response()
        }
        Err(e) => Problem::from(e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_refused_after_its_failures_until_the_minute_is_over() {
        let f = Failures::default();
        let (ip, other): (IpAddr, IpAddr) =
            ("198.51.100.1".parse().unwrap(), "::1".parse().unwrap());
        for _ in 0..MAX_FAILURES - 1 {
            f.fail(ip, 1_000);
        }
        assert_eq!(f.refused(ip, 1_000), None);
        f.fail(ip, 1_010);
        assert_eq!(f.refused(ip, 1_010), Some(50));
        assert_eq!(f.refused(other, 1_010), None);
        assert_eq!(f.refused(ip, 1_060), None);
        f.fail(ip, 1_060);
        assert_eq!(f.refused(ip, 1_060), None, "a new window");
    }
}
