//! What a client address counts as, for the connection caps (`serve`) and the rate limits
//! (`web::limits`) alike.

use std::net::{IpAddr, Ipv6Addr};

/// IPv4 as it is (also when it arrives IPv4-mapped through a dual-stack socket, or every IPv4
/// client would share `::ffff:0:0/96`), IPv6 by its /64: a provider hands a subscriber a /64 or
/// more, so the client picks the low 64 bits and counting each address apart would leave it
/// uncapped.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ip: &str) -> IpAddr {
        address_key(ip.parse().unwrap())
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv6_counts_by_its_64_and_ipv4_by_the_address() {
        // The client picks the low 64 bits: all of them are one key.
        assert_eq!(key("2001:db8:1:2:aaaa::1"), ip("2001:db8:1:2::"));
        assert_eq!(
            key("2001:db8:1:2:ffff:ffff:ffff:ffff"),
            ip("2001:db8:1:2::")
        );
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:abcd::9"));
        // The neighbouring /64 is another subscriber.
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db9:1:2::1"));
        // IPv4 is never grouped: the neighbour at .10 is another household.
        assert_ne!(key("198.51.100.9"), key("198.51.100.10"));
        assert_eq!(key("192.0.2.7"), ip("192.0.2.7"));
        // IPv4 through a dual-stack socket is that IPv4 address, not the shared ::ffff:0:0/96.
        assert_eq!(key("::ffff:198.51.100.9"), ip("198.51.100.9"));
        assert_ne!(key("::ffff:198.51.100.9"), key("::ffff:203.0.113.1"));
    }
}
