//! Where a webhook may be sent: https URLs of public addresses only (SSRF), unless the operator
//! allows http (`PERKGATE_WEBHOOKS_ALLOW_HTTP`) or non-public addresses
//! (`PERKGATE_WEBHOOKS_ALLOW_PRIVATE`). Checked when an endpoint is registered, and again at
//! every attempt by the deliverer's resolver ([`Resolver`]), which hands the HTTP client only
//! addresses that pass: the address checked is the address connected to, so a name that
//! resolves elsewhere later (DNS rebinding) gains nothing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use url::{Host, Url};

use crate::config::WebhookSettings;

/// Why a target was refused. The text is shown to whoever registered it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refused {
    Malformed(String),
    Scheme(String),
    /// Credentials in the URL would be sent to the receiver and shown in the console.
    Credentials,
    NotPublic(IpAddr),
    /// The name resolved to nothing (or nothing public).
    Unresolved(String),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Malformed(why) => write!(f, "not a URL: {why}"),
            Self::Scheme(s) => write!(f, "must be an https:// URL, not {s}://"),
            Self::Credentials => f.write_str("must not carry a user name or password"),
            Self::NotPublic(ip) => write!(
                f,
                "{ip} is not a public address (loopback, private, link-local and similar \
                 addresses are refused)"
            ),
            Self::Unresolved(host) => write!(f, "{host} does not resolve to a public address"),
        }
    }
}

impl std::error::Error for Refused {}

/// What the settings allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    pub allow_http: bool,
    pub allow_private: bool,
}

impl Policy {
    pub fn of(settings: &WebhookSettings) -> Self {
        Self {
            allow_http: settings.allow_http,
            allow_private: settings.allow_private,
        }
    }

    fn allows(self, ip: IpAddr) -> bool {
        self.allow_private || is_public(ip)
    }
}

/// Checks a URL's form (scheme, no credentials, an address literal's class). A name is
/// resolved later: [`resolves`] at registration, the [`Resolver`] at every attempt.
pub fn check(raw: &str, policy: Policy) -> Result<Url, Refused> {
    let url = Url::parse(raw.trim()).map_err(|e| Refused::Malformed(e.to_string()))?;
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_http => {}
        other => return Err(Refused::Scheme(other.to_owned())),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Refused::Credentials);
    }
    let ip = match url.host() {
        Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        Some(Host::Domain(_)) => None,
        None => return Err(Refused::Malformed("no host".to_owned())),
    };
    if let Some(ip) = ip.filter(|ip| !policy.allows(*ip)) {
        return Err(Refused::NotPublic(ip));
    }
    Ok(url)
}

/// At registration: the name resolves, and to public addresses only (one private address is
/// enough to refuse: the deliverer would skip it, but the intent is suspect).
pub async fn resolves(url: &Url, policy: Policy) -> Result<(), Refused> {
    let Some(Host::Domain(host)) = url.host() else {
        return Ok(());
    };
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|_| Refused::Unresolved(host.to_owned()))?
        .collect();
    if addrs.is_empty() {
        return Err(Refused::Unresolved(host.to_owned()));
    }
    match addrs.iter().find(|a| !policy.allows(a.ip())) {
        Some(a) => Err(Refused::NotPublic(a.ip())),
        None => Ok(()),
    }
}

/// The deliverer's DNS: the system's, less every address the policy refuses.
#[derive(Clone, Copy, Debug)]
pub struct Resolver(pub Policy);

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let allowed: Vec<SocketAddr> = found.filter(|a| policy.allows(a.ip())).collect();
            if allowed.is_empty() {
                return Err(Box::new(Refused::Unresolved(host)) as Box<_>);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// A globally routable unicast address: not loopback, private (RFC 1918), shared (CGNAT,
/// 100.64/10), link-local, unique-local, unspecified, multicast, broadcast, documentation,
/// benchmarking or reserved; IPv4 inside IPv6 (mapped, compatible, NAT64) is judged as IPv4.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let refused = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (b & 0xc0) == 64) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b & 0xfe) == 18) // benchmarking
        || a >= 240; // reserved
    !refused
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    // NAT64 (64:ff9b::/96) and the deprecated IPv4-compatible form (::a.b.c.d) carry IPv4.
    if (s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4]) || s[0..6] == [0; 6] {
        let v4 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
        return !ip.is_loopback() && !ip.is_unspecified() && is_public_v4(v4);
    }
    let refused = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0100 && s[1..4] == [0; 3]) // discard-only
        || (s[0] == 0x2002); // 6to4: an IPv4 relay of unknown class
    !refused
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: Policy = Policy {
        allow_http: false,
        allow_private: false,
    };

    #[test]
    fn addresses_are_classified() {
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.32.0.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
        for private in [
            "127.0.0.1",
            "127.1.2.3",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "224.0.0.1",
            "240.0.0.1",
            "192.0.2.1",
            "198.51.100.1",
            "203.0.113.1",
            "198.18.0.1",
            "192.0.0.8",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "100::1",
            "2002:7f00:1::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
    }

    #[test]
    fn urls_are_checked() {
        assert!(check("https://hooks.example.com/perkgate", STRICT).is_ok());
        assert!(check("https://93.184.216.34/x", STRICT).is_ok());
        assert_eq!(
            check("http://hooks.example.com/", STRICT),
            Err(Refused::Scheme("http".to_owned()))
        );
        assert!(matches!(
            check("ftp://hooks.example.com/", STRICT),
            Err(Refused::Scheme(_))
        ));
        assert_eq!(
            check("https://user:pw@hooks.example.com/", STRICT),
            Err(Refused::Credentials)
        );
        for private in [
            "https://127.0.0.1/",
            "https://[::1]:8443/",
            "https://169.254.169.254/latest/meta-data",
            "https://[::ffff:192.168.0.1]/",
            "https://0x7f000001/",
        ] {
            assert!(
                matches!(check(private, STRICT), Err(Refused::NotPublic(_))),
                "{private}"
            );
        }
        assert!(matches!(
            check("not a url", STRICT),
            Err(Refused::Malformed(_))
        ));
        let open = Policy {
            allow_http: true,
            allow_private: true,
        };
        assert!(check("http://127.0.0.1:8080/hook", open).is_ok());
    }

    #[tokio::test]
    async fn names_are_resolved_and_judged() {
        let url = check("https://localhost/", STRICT).unwrap();
        assert!(matches!(
            resolves(&url, STRICT).await,
            Err(Refused::NotPublic(_))
        ));
        let open = Policy {
            allow_http: false,
            allow_private: true,
        };
        assert!(resolves(&url, open).await.is_ok());
        // The deliverer's resolver hands out nothing for a loopback name.
        use reqwest::dns::Resolve;
        let name = || "localhost".parse::<reqwest::dns::Name>().unwrap();
        assert!(Resolver(STRICT).resolve(name()).await.is_err());
        assert!(Resolver(open).resolve(name()).await.unwrap().count() > 0);
    }
}
