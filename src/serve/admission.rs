//! Which connections are let in: at most `max` open in all and `per_address` from one client
//! address. Over either cap a connection is closed at once: left in the accept queue it would
//! wait for nothing, and accepted without a cap it would take one of the process's open files.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use ipnet::IpNet;

use crate::address::address_key;

/// Why a connection was closed unserved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// The listener has `max` connections open.
    Total,
    /// This client address has `per_address` open.
    PerAddress,
}

impl Refused {
    pub fn label(self) -> &'static str {
        match self {
            Self::Total => "total",
            Self::PerAddress => "per_address",
        }
    }
}

#[derive(Debug)]
pub struct Admission {
    max: usize,
    per_address: usize,
    /// Proxies carry many clients on one address: they count towards `max` only.
    trusted: Vec<IpNet>,
    open: Mutex<Open>,
    gauge: metrics::Gauge,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

/// One admitted connection; dropping it gives its place back.
#[derive(Debug)]
pub struct Permit {
    admission: Arc<Admission>,
    /// `None` for a trusted proxy (not counted per address).
    key: Option<IpAddr>,
}

impl Admission {
    pub fn new(
        max: usize,
        per_address: usize,
        trusted: Vec<IpNet>,
        gauge: metrics::Gauge,
    ) -> Arc<Self> {
        Arc::new(Self {
            max,
            per_address,
            trusted,
            open: Mutex::new(Open::default()),
            gauge,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn admit(self: &Arc<Self>, peer: IpAddr) -> Result<Permit, Refused> {
        let key = (!self.trusted.iter().any(|net| net.contains(&peer))).then(|| address_key(peer));
        let mut open = self.lock();
        if open.total >= self.max {
            return Err(Refused::Total);
        }
        if let Some(key) = key {
            let count = open.by_address.entry(key).or_insert(0);
            if *count >= self.per_address {
                return Err(Refused::PerAddress);
            }
            *count += 1;
        }
        open.total += 1;
        self.gauge.increment(1.0);
        Ok(Permit {
            admission: self.clone(),
            key,
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.lock().total
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut open = self.admission.lock();
        open.total = open.total.saturating_sub(1);
        if let Some(key) = self.key
            && let Some(count) = open.by_address.get_mut(&key)
        {
            *count -= 1;
            if *count == 0 {
                open.by_address.remove(&key);
            }
        }
        self.admission.gauge.decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admission(max: usize, per_address: usize, trusted: &[&str]) -> Arc<Admission> {
        Admission::new(
            max,
            per_address,
            trusted.iter().map(|t| t.parse().unwrap()).collect(),
            metrics::Gauge::noop(),
        )
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_per_address_cap_refuses_one_address_and_not_another() {
        let a = admission(100, 2, &[]);
        let held: Vec<Permit> = (0..2).map(|_| a.admit(ip("127.0.0.1")).unwrap()).collect();
        assert_eq!(a.admit(ip("127.0.0.1")).unwrap_err(), Refused::PerAddress);
        let other = a.admit(ip("127.0.0.2")).unwrap();
        assert_eq!(a.open(), 3);
        drop(held);
        assert_eq!(a.open(), 1);
        // The places are given back.
        let _again = a.admit(ip("127.0.0.1")).unwrap();
        drop(other);
        assert_eq!(
            a.lock().by_address.len(),
            1,
            "an address without connections is forgotten"
        );
    }

    #[test]
    fn the_total_cap_refuses_everyone_until_a_connection_closes() {
        let a = admission(3, 10, &[]);
        let mut held: Vec<Permit> = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
            .iter()
            .map(|s| a.admit(ip(s)).unwrap())
            .collect();
        assert_eq!(a.admit(ip("10.0.0.4")).unwrap_err(), Refused::Total);
        held.pop();
        assert!(a.admit(ip("10.0.0.4")).is_ok());
    }

    #[test]
    fn trusted_proxies_count_towards_the_total_only() {
        let a = admission(5, 1, &["172.30.89.10/32"]);
        let held: Vec<Permit> = (0..4)
            .map(|_| a.admit(ip("172.30.89.10")).unwrap())
            .collect();
        assert_eq!(a.open(), 4);
        let _one = a.admit(ip("172.30.89.11")).unwrap();
        assert_eq!(a.admit(ip("172.30.89.10")).unwrap_err(), Refused::Total);
        drop(held);
        assert!(a.lock().by_address.len() == 1);
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let a = admission(100, 1, &[]);
        let _first = a.admit(ip("2001:db8::1")).unwrap();
        assert_eq!(a.admit(ip("2001:db8::2")).unwrap_err(), Refused::PerAddress);
        assert!(a.admit(ip("2001:db8:0:1::1")).is_ok());
    }
}
