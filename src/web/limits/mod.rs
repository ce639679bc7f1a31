//! Rate limits on the routes that start or finish a verification.
//!
//! - **Starts** (`POST /verify`, `POST /verify/{group}`) are counted per browser (its form
//!   cookie or session, see [`key`]) and, against floods, per address with a ceiling ten
//!   times higher: a campus or a base behind one address is many shoppers, not one.
//! - **The callback** has only a per-address ceiling against floods, far above what starts can
//!   lead to: its shopper already consented at ID.me, its state can be claimed once anyway, and
//!   implausible states are refused before any lookup. A refused callback is refused before its
//!   state is begun, so a reload after `Retry-After` finishes the verification. Prefetches pass
//!   without spending anything (the handler answers them 204).
//!
//! Built on `governor`'s keyed limiters from a middleware of our own rather than
//! `tower_governor`'s layer, which takes one key per layer, spends its budget before the
//! route could skip a prefetch, and rounds `Retry-After` down (a reload at that time is
//! refused again).

mod key;

use std::hash::RandomState;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};

pub use key::{BrowserKey, ClientIp, browser_key};

use crate::address::address_key;

use super::error::AppError;
use crate::config::RateLimit;

/// Which limit refused a request: it decides what the shopper is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    Browser,
    Address,
    Callback,
}

impl Limit {
    pub fn label(self) -> &'static str {
        match self {
            Self::Browser => "browser",
            Self::Address => "address",
            Self::Callback => "callback",
        }
    }
}

/// A refused request: which limit, and the whole seconds until it would pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub limit: Limit,
    /// Sent as `Retry-After`, and said in the message.
    pub retry_after: u64,
}

impl Refusal {
    /// The page's text, naming the same wait as `Retry-After`.
    pub fn message(&self, cat: &'static crate::i18n::Catalog) -> String {
        use crate::i18n::Msg;
        let wait = cat.say(Msg::Seconds, &[("n", self.retry_after.into())]);
        let msg = match self.limit {
            Limit::Browser => Msg::WaitBrowser,
            Limit::Address => Msg::WaitAddress,
            // Going back to the store would start over: this page's state is still good.
            Limit::Callback => Msg::WaitCallback,
        };
        cat.say(msg, &[("wait", wait.into())])
    }
}

type Keyed<K> = DefaultKeyedRateLimiter<K>;

/// One route's limits, checked in order.
struct Limiter {
    client_ip: ClientIp,
    /// Per browser, with the hasher for its cookie (random per process).
    browser: Option<(Keyed<BrowserKey>, RandomState)>,
    /// Per address, and which limit that is.
    address: Option<(Keyed<std::net::IpAddr>, Limit)>,
    /// A prefetch passes without spending anything.
    prefetch_free: bool,
}

impl Limiter {
    fn check<B>(&self, req: &Request<B>) -> Result<(), AppError> {
        if self.prefetch_free && super::verify::is_prefetch(req.headers()) {
            return Ok(());
        }
        let ip = self
            .client_ip
            .of(req)
            .ok_or(AppError::BadRequest("client address unavailable"))?;
        let address = address_key(ip);
        // The browser first: a browser over its own limit spends nothing of its address's,
        // so it cannot use up its neighbours' share.
        if let Some((limiter, hasher)) = &self.browser {
            spend(
                limiter,
                &browser_key(req.headers(), address, hasher),
                Limit::Browser,
            )?;
        }
        if let Some((limiter, limit)) = &self.address {
            spend(limiter, &address, *limit)?;
        }
        Ok(())
    }

    fn prune(&self) {
        if let Some((limiter, _)) = &self.browser {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        if let Some((limiter, _)) = &self.address {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

fn spend<K: Clone + Eq + std::hash::Hash>(
    limiter: &Keyed<K>,
    key: &K,
    limit: Limit,
) -> Result<(), AppError> {
    limiter.check_key(key).map_err(|not_until| {
        let wait = not_until.wait_time_from(limiter.clock().now());
        AppError::TooManyRequests(Refusal {
            limit,
            retry_after: whole_seconds(wait),
        })
    })
}

/// Rounded up, and at least 1: a client that waits `Retry-After` seconds must get through.
fn whole_seconds(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// `per_minute` a minute, all of them at once if they come at once; 0: none.
fn per_minute<K: Clone + Eq + std::hash::Hash>(per_minute: u32) -> Option<Keyed<K>> {
    NonZeroU32::new(per_minute).map(|n| Keyed::keyed(Quota::per_minute(n)))
}

async fn limit(State(limiter): State<Arc<Limiter>>, req: Request, next: Next) -> Response {
    match limiter.check(&req) {
        Ok(()) => next.run(req).await,
        Err(refused) => refused.into_response(),
    }
}

/// Builds the limits for routers, from the configuration; every router gets limiters of its
/// own. `pruner` then forgets clients not seen for a while, so memory stays flat.
pub struct Limits {
    config: RateLimit,
    client_ip: ClientIp,
    limiters: Vec<Arc<Limiter>>,
}

impl Limits {
    pub fn new(config: &RateLimit) -> Self {
        Self {
            config: config.clone(),
            client_ip: ClientIp::new(config.trusted_proxies.clone()),
            limiters: Vec::new(),
        }
    }

    /// `PERKGATE_RATE_LIMIT_PER_MINUTE=0` turns every limit off.
    fn off(&self) -> bool {
        self.config.per_minute == 0
    }

    /// The limits of a route that starts something: per browser, then per address.
    pub fn apply<S: Clone + Send + Sync + 'static>(&mut self, router: Router<S>) -> Router<S> {
        if self.off() {
            return router;
        }
        let period = Duration::from_secs(60) / self.config.per_minute;
        let browser = Quota::with_period(period).map(|quota| {
            let burst = NonZeroU32::new(self.config.burst).unwrap_or(NonZeroU32::MIN);
            (Keyed::keyed(quota.allow_burst(burst)), RandomState::new())
        });
        let address = per_minute(self.config.address_per_minute()).map(|l| (l, Limit::Address));
        self.layer(router, browser, address, false)
    }

    /// The callback's: a per-address ceiling against floods; prefetches spend nothing.
    pub fn apply_callback<S: Clone + Send + Sync + 'static>(
        &mut self,
        router: Router<S>,
    ) -> Router<S> {
        if self.off() {
            return router;
        }
        let address = per_minute(self.config.callback_per_minute()).map(|l| (l, Limit::Callback));
        self.layer(router, None, address, true)
    }

    fn layer<S: Clone + Send + Sync + 'static>(
        &mut self,
        router: Router<S>,
        browser: Option<(Keyed<BrowserKey>, RandomState)>,
        address: Option<(Keyed<std::net::IpAddr>, Limit)>,
        prefetch_free: bool,
    ) -> Router<S> {
        if browser.is_none() && address.is_none() {
            return router;
        }
        let limiter = Arc::new(Limiter {
            client_ip: self.client_ip.clone(),
            browser,
            address,
            prefetch_free,
        });
        self.limiters.push(limiter.clone());
        router.route_layer(axum::middleware::from_fn_with_state(limiter, limit))
    }

    /// Prunes every limiter made here; `None` when limits are off.
    pub fn pruner(self) -> Option<Pruner> {
        (!self.limiters.is_empty()).then(|| Pruner(self.limiters.into()))
    }
}

#[derive(Clone)]
pub struct Pruner(Arc<[Arc<Limiter>]>);

impl Pruner {
    pub fn prune(&self) {
        for limiter in self.0.iter() {
            limiter.prune();
        }
    }
}

#[cfg(test)]
mod tests;
