//! Who a request counts against: its address, and its browser.
//!
//! `X-Forwarded-For` is believed only from the proxies the operator lists: from anyone else it
//! would let a client pick its own address.

use std::hash::BuildHasher;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, header};
use ipnet::IpNet;

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
        self.of_head(req.extensions(), req.headers())
    }

    /// The same, from a request's parts (for extractors).
    pub fn of_head(
        &self,
        extensions: &axum::http::Extensions,
        headers: &HeaderMap,
    ) -> Option<IpAddr> {
        let peer = extensions.get::<ConnectInfo<SocketAddr>>()?.0.ip();
        if !self.is_trusted(peer) {
            return Some(peer);
        }
        let forwarded: Vec<IpAddr> = headers
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

/// A browser as the start limit counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BrowserKey {
    /// A keyed hash of its cookie: fixed size, and no session id held in the limiter.
    Cookie(u64),
    /// Neither cookie (no real form can be posted without one): the address stands in.
    Address(IpAddr),
}

/// The cookies that tell browsers apart, the steadiest first: the form-token nonce
/// (`web::csrf`, set on a first look at the store and kept until a change of privilege),
/// then the session id (`App::build`). Both names are read over http and https: a name only
/// picks the budget a client spends, it is never trusted for anything else; the per-address
/// ceiling bounds a client that makes up cookies.
const BROWSER_COOKIES: [&str; 4] = [
    "__Host-perkgate-csrf",
    "perkgate-csrf",
    "__Host-perkgate",
    "perkgate",
];

pub fn browser_key(headers: &HeaderMap, address: IpAddr, hasher: &impl BuildHasher) -> BrowserKey {
    let pairs: Vec<(&str, &str)> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(_, value)| (1..=128).contains(&value.len()))
        .collect();
    BROWSER_COOKIES
        .iter()
        .find_map(|name| pairs.iter().find(|(n, _)| n == name))
        .map_or(BrowserKey::Address(address), |pair| {
            BrowserKey::Cookie(hasher.hash_one(pair))
        })
}

#[cfg(test)]
mod tests {
    use std::hash::RandomState;

    use axum::http::HeaderValue;

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

    fn cookies(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn a_browser_is_its_form_cookie_then_its_session_then_its_address() {
        let hasher = RandomState::new();
        let address: IpAddr = "198.51.100.9".parse().unwrap();
        let of = |c: &str| browser_key(&cookies(c), address, &hasher);
        let nonce = "perkgate-csrf=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        // The nonce, wherever it sits and whatever else is sent: it outlives the first session.
        assert_eq!(of(nonce), of(&format!("perkgate=s1; other=1; {nonce}")));
        assert_eq!(of(&format!("{nonce}; perkgate=s2")), of(nonce));
        assert!(matches!(of(nonce), BrowserKey::Cookie(_)));
        // Without it, the session id; another browser's is another key.
        assert_eq!(of("perkgate=s1"), of("x=1; perkgate=s1"));
        assert_ne!(of("perkgate=s1"), of("perkgate=s2"));
        assert_ne!(of("perkgate=s1"), of("perkgate-csrf=s1"));
        assert_ne!(of("__Host-perkgate=s1"), of("perkgate=s3"));
        // Neither (or an empty or outsized one): the address.
        assert_eq!(of("other=1"), BrowserKey::Address(address));
        assert_eq!(of("perkgate="), BrowserKey::Address(address));
        assert_eq!(
            of(&format!("perkgate={}", "a".repeat(129))),
            BrowserKey::Address(address)
        );
        assert_eq!(
            browser_key(&HeaderMap::new(), address, &hasher),
            BrowserKey::Address(address)
        );
    }
}
