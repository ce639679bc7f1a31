//! The sandbox lets anyone verify as any persona, so it must never answer real shoppers by
//! accident. Start-up refuses it unless everything it can be reached on is this machine (see
//! [`exposure`], used by `Config::check`), or `PERKGATE_ALLOW_SANDBOX` says it is on purpose.
//! Then it warns: at start-up, and once per distinct outside peer or `Host` it answers.
//!
//! Both the public URL and the listen address count. A loopback public URL on a wildcard
//! listen (`0.0.0.0`, a container's) still answers anyone who reaches the port: they need only
//! rewrite the host of the sandbox's redirects to reach it, and the verification is theirs.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use url::{Host, Url};

use super::Sandbox;
use crate::clock::now;

/// 127.0.0.0/8 or ::1 (also as an IPv4-mapped IPv6 address).
pub fn is_loopback_ip(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// `localhost`, 127.0.0.0/8 or `[::1]`, with or without a port: a `Host` header's value.
pub fn is_loopback_host(host: &str) -> bool {
    if let Some(rest) = host.strip_prefix('[') {
        return rest
            .split_once(']')
            .and_then(|(ip, _)| ip.parse::<Ipv6Addr>().ok())
            .is_some_and(|ip| is_loopback_ip(ip.into()));
    }
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

fn is_loopback_url(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => is_loopback_ip(ip.into()),
        None => false,
    }
}

/// Why a sandbox on these settings would serve more than this machine, naming the setting;
/// `None` when the public URL (if set) and the listen address are both loopback.
pub fn exposure(listen: SocketAddr, public_url: Option<&Url>) -> Option<String> {
    if let Some(url) = public_url.filter(|u| !is_loopback_url(u)) {
        return Some(format!(
            "PERKGATE_PUBLIC_URL is {url}, not a loopback address"
        ));
    }
    if !is_loopback_ip(listen.ip()) {
        let what = if listen.ip().is_unspecified() {
            "every interface"
        } else {
            "not a loopback address"
        };
        return Some(format!("PERKGATE_LISTEN is {listen}, {what}"));
    }
    None
}

/// The start-up warning for a sandbox allowed beyond loopback.
pub fn warn_at_start(listen: SocketAddr, public_url: Option<&Url>) {
    if let Some(why) = exposure(listen, public_url) {
        tracing::warn!(
            "the embedded ID.me sandbox serves beyond this machine ({why}; \
             PERKGATE_ALLOW_SANDBOX is set): anyone who reaches it can verify as any persona"
        );
    }
}

/// Distinct outside peers and hosts remembered (and warned about once each); beyond that, one
/// summary a minute, so neither the log nor this set grows with a flood.
const MAX_NOTED: usize = 64;

#[derive(Default)]
pub(super) struct Watch(Mutex<Seen>);

#[derive(Default)]
struct Seen {
    noted: HashSet<String>,
    unnoted: u64,
    summarized: Option<i64>,
}

#[derive(Debug, PartialEq, Eq)]
enum Note {
    /// The first request from this outsider: warn.
    First,
    /// Requests from outsiders past the cap since the last summary: warn with the count.
    Summary(u64),
    Quiet,
}

impl Watch {
    fn note(&self, who: &str, now: i64) -> Note {
        let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if seen.noted.contains(who) {
            return Note::Quiet;
        }
        if seen.noted.len() < MAX_NOTED {
            seen.noted.insert(who.to_owned());
            return Note::First;
        }
        seen.unnoted += 1;
        if seen.summarized.is_some_and(|at| now - at < 60) {
            return Note::Quiet;
        }
        seen.summarized = Some(now);
        Note::Summary(std::mem::take(&mut seen.unnoted))
    }
}

/// Who, outside this machine, this request came from or was addressed to.
fn outsider<B>(req: &Request<B>) -> Option<String> {
    if let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>()
        && !is_loopback_ip(peer.ip())
    {
        return Some(format!("peer {}", peer.ip()));
    }
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or(req.uri().host())?;
    // Shown in the log: a bounded, printable excerpt of what the client sent.
    let shown: String = host
        .chars()
        .take(64)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect();
    (!is_loopback_host(host)).then(|| format!("Host {shown}"))
}

/// The layer on every sandbox route: warns when the sandbox answers beyond this machine.
pub(super) async fn watch(
    State(sandbox): State<Arc<Sandbox>>,
    req: Request,
    next: Next,
) -> Response {
    if let Some(who) = outsider(&req) {
        match sandbox.watch.note(&who, now()) {
            Note::First => tracing::warn!(
                from = %who,
                "the embedded ID.me sandbox answered a request from beyond this machine: \
                 anyone who reaches it can verify as any persona"
            ),
            Note::Summary(more) => tracing::warn!(
                more,
                "the embedded ID.me sandbox answered more requests from beyond this machine"
            ),
            Note::Quiet => {}
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_and_addresses() {
        for host in [
            "localhost",
            "LOCALHOST:3000",
            "127.0.0.1",
            "127.8.9.10:80",
            "[::1]",
            "[::1]:3000",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "shop.example",
            "localhost.shop.example",
            "10.0.0.1:3000",
            "0.0.0.0",
            "[::]:3000",
            "[::ffff:8.8.8.8]",
            "128.0.0.1",
            "",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
        assert!(is_loopback_ip("::ffff:127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn exposure_names_the_setting() {
        let lo: SocketAddr = "127.0.0.1:3000".parse().unwrap();
        let url = |s: &str| Url::parse(s).unwrap();
        assert_eq!(exposure(lo, None), None);
        for ok in [
            "http://localhost:8080",
            "https://127.0.0.2",
            "http://[::1]:3000",
        ] {
            assert_eq!(exposure(lo, Some(&url(ok))), None, "{ok}");
        }
        assert_eq!(
            exposure(lo, Some(&url("https://shop.example"))).unwrap(),
            "PERKGATE_PUBLIC_URL is https://shop.example/, not a loopback address"
        );
        assert_eq!(
            exposure(
                "0.0.0.0:3000".parse().unwrap(),
                Some(&url("http://localhost:8080"))
            )
            .unwrap(),
            "PERKGATE_LISTEN is 0.0.0.0:3000, every interface"
        );
        assert_eq!(
            exposure("192.168.1.5:3000".parse().unwrap(), None).unwrap(),
            "PERKGATE_LISTEN is 192.168.1.5:3000, not a loopback address"
        );
        assert_eq!(exposure("[::1]:3000".parse().unwrap(), None), None);
    }

    #[test]
    fn each_outsider_is_warned_about_once_and_a_flood_in_a_summary_a_minute() {
        let watch = Watch::default();
        assert_eq!(watch.note("peer 10.0.0.1", 0), Note::First);
        assert_eq!(watch.note("peer 10.0.0.1", 0), Note::Quiet);
        for i in 1..MAX_NOTED {
            assert_eq!(watch.note(&format!("peer 10.0.1.{i}"), 0), Note::First);
        }
        assert_eq!(watch.note("peer 10.0.2.1", 0), Note::Summary(1));
        for i in 2..100 {
            assert_eq!(watch.note(&format!("peer 10.0.2.{i}"), 30), Note::Quiet);
        }
        assert_eq!(watch.note("peer 10.0.3.1", 61), Note::Summary(99));
        assert_eq!(watch.0.lock().unwrap().noted.len(), MAX_NOTED);
    }
}
