//! Per-client rate limits on the routes that start or finish a verification, keyed on the
//! client's address. `X-Forwarded-For` is believed only from the proxies the operator lists:
//! from anyone else it would let a client pick its own key.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::response::IntoResponse;
use ipnet::IpNet;
use tower_governor::GovernorError;
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::key_extractor::KeyExtractor;

use super::error::AppError;
use crate::config::RateLimit;

#[derive(Clone, Debug)]
pub struct ClientIp {
    trusted: Arc<Vec<IpNet>>,
}

impl ClientIp {
    pub fn new(trusted: Vec<IpNet>) -> Self {
        Self {
            trusted: Arc::new(trusted),
        }
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(&ip))
    }

    /// The peer's address, or, when the peer is a trusted proxy, the last address in
    /// `X-Forwarded-For` that is not itself a trusted proxy.
    pub fn of<T>(&self, req: &Request<T>) -> Option<IpAddr> {
        let peer = req.extensions().get::<ConnectInfo<SocketAddr>>()?.0.ip();
        if !self.is_trusted(peer) {
            return Some(peer);
        }
        let forwarded: Vec<IpAddr> = req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        Some(
            forwarded
                .iter()
                .rev()
                .copied()
                .find(|ip| !self.is_trusted(*ip))
                .or_else(|| forwarded.first().copied())
                .unwrap_or(peer),
        )
    }
}

impl KeyExtractor for ClientIp {
    type Key = IpAddr;

    fn extract<T>(&self, req: &Request<T>) -> Result<IpAddr, GovernorError> {
        self.of(req).ok_or(GovernorError::UnableToExtractKey)
    }
}

/// Wraps `router` in the limit, unless limits are off. Also returns a handle that prunes
/// clients not seen for a while, so the limiter's memory stays flat.
pub fn apply<S: Clone + Send + Sync + 'static>(
    router: axum::Router<S>,
    limit: &RateLimit,
    client_ip: ClientIp,
) -> (axum::Router<S>, Option<Pruner>) {
    if limit.per_minute == 0 {
        return (router, None);
    }
    let Some(config) = GovernorConfigBuilder::default()
        .key_extractor(client_ip)
        .per_millisecond((60_000 / u64::from(limit.per_minute)).max(1))
        .burst_size(limit.burst.max(1))
        .finish()
    else {
        return (router, None);
    };
    let config = Arc::new(config);
    let limiter = config.clone();
    let pruner = Pruner(Arc::new(move || limiter.limiter().retain_recent()));
    let layer = tower_governor::GovernorLayer::new(config).error_handler(|e| match e {
        GovernorError::TooManyRequests { wait_time, .. } => {
            let mut res = AppError::TooManyRequests.into_response();
            if let Ok(v) = wait_time.max(1).to_string().parse() {
                res.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
            }
            res
        }
        _ => AppError::BadRequest("client address unavailable").into_response(),
    });
    (router.layer(layer), Some(pruner))
}

#[derive(Clone)]
pub struct Pruner(Arc<dyn Fn() + Send + Sync>);

impl Pruner {
    pub fn prune(&self) {
        (self.0)();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(peer: &str, xff: Option<&str>) -> Request<()> {
        let mut r = Request::new(());
        r.extensions_mut()
            .insert(ConnectInfo(SocketAddr::new(peer.parse().unwrap(), 1234)));
        if let Some(x) = xff {
            r.headers_mut()
                .insert("x-forwarded-for", x.parse().unwrap());
        }
        r
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let ip = ClientIp::new(vec![
            "10.0.0.0/8".parse().unwrap(),
            "127.0.0.1/32".parse().unwrap(),
        ]);
        // An untrusted peer cannot choose its key.
        assert_eq!(
            ip.of(&req("203.0.113.9", Some("1.2.3.4"))),
            Some("203.0.113.9".parse().unwrap())
        );
        // Through a trusted proxy: the last untrusted hop, not a client-supplied first entry.
        assert_eq!(
            ip.of(&req("10.1.1.1", Some("6.6.6.6, 198.51.100.7, 10.2.2.2"))),
            Some("198.51.100.7".parse().unwrap())
        );
        assert_eq!(
            ip.of(&req("127.0.0.1", None)),
            Some("127.0.0.1".parse().unwrap())
        );
        assert_eq!(
            ip.of(&req("10.1.1.1", Some("garbage"))),
            Some("10.1.1.1".parse().unwrap())
        );
        let none = ClientIp::new(vec![]);
        assert_eq!(
            none.of(&req("10.1.1.1", Some("1.2.3.4"))),
            Some("10.1.1.1".parse().unwrap())
        );
    }
}
