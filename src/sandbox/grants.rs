//! The sandbox's bounded in-memory grants: pending authorization requests, codes and access
//! tokens, each pruned once it outlives its time and each capped in number.
//!
//! When a kind is full the oldest entry is evicted rather than the new one refused. Anyone can
//! load an authorize page, so a refusal would let one flood lock every shopper out for the ten
//! minutes a page lives; evicting keeps the newest request (the page someone is looking at)
//! working, and whoever held the oldest gets "expired, start again". The per-address flood
//! ceiling on the sandbox's pages (`web::limits`, the callback's) slows one address filling a
//! cap; the caps, not the limit, are what bound memory.

use std::collections::{BTreeMap, HashMap};

use super::{GRANT_TTL_SECS, REQUEST_TTL_SECS, personas};

/// How many of each the sandbox keeps at most. A flow holds each for moments (a request until
/// the persona is picked, a code until perkgate redeems it, a token until the attributes
/// call), so these are far above what concurrent shoppers need; each entry is at most a few
/// hundred bytes because the fields are capped (`pages::Caps`).
pub const CAPS: Stored = Stored {
    requests: 1024,
    codes: 1024,
    tokens: 1024,
};

/// How many of each the sandbox holds now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stored {
    pub requests: usize,
    pub codes: usize,
    pub tokens: usize,
}

pub(super) struct AuthRequest {
    pub(super) redirect_uri: String,
    pub(super) state: Option<String>,
    pub(super) scopes: Vec<String>,
    pub(super) code_challenge: String,
    pub(super) created_at: i64,
}

pub(super) struct CodeGrant {
    pub(super) redirect_uri: String,
    pub(super) scopes: Vec<String>,
    pub(super) code_challenge: String,
    pub(super) persona: &'static personas::Persona,
    pub(super) created_at: i64,
    /// Set on first redemption; a second redemption revokes it.
    pub(super) issued_token: Option<String>,
}

pub(super) struct TokenGrant {
    pub(super) scopes: Vec<String>,
    pub(super) persona: &'static personas::Persona,
    pub(super) created_at: i64,
}

pub(super) struct Grants {
    pub(super) requests: Capped<AuthRequest>,
    pub(super) codes: Capped<CodeGrant>,
    pub(super) tokens: Capped<TokenGrant>,
    /// When a full store was last reported: at most once a minute, not once per eviction.
    reported_full: Option<i64>,
}

impl Default for Grants {
    fn default() -> Self {
        Self {
            requests: Capped::new(CAPS.requests),
            codes: Capped::new(CAPS.codes),
            tokens: Capped::new(CAPS.tokens),
            reported_full: None,
        }
    }
}

impl Grants {
    pub(super) fn prune(&mut self, now: i64) {
        self.requests
            .expire(|r| now - r.created_at > REQUEST_TTL_SECS);
        self.codes.expire(|c| now - c.created_at > GRANT_TTL_SECS);
        self.tokens.expire(|t| now - t.created_at > GRANT_TTL_SECS);
    }

    pub(super) fn stored(&self) -> Stored {
        Stored {
            requests: self.requests.len(),
            codes: self.codes.len(),
            tokens: self.tokens.len(),
        }
    }

    /// Logs that `kind` is full and its oldest entries are being evicted, once a minute.
    pub(super) fn evicted(&mut self, kind: &'static str, evicted: usize, now: i64) {
        if evicted == 0 || self.reported_full.is_some_and(|at| now - at < 60) {
            return;
        }
        self.reported_full = Some(now);
        tracing::warn!(
            kind,
            "sandbox store full: evicting the oldest {kind} (a flood of sign-in pages?)"
        );
    }
}

/// A map of at most `cap` entries that remembers insertion order: inserting into a full map
/// evicts the oldest entry.
pub(super) struct Capped<V> {
    cap: usize,
    next: u64,
    entries: HashMap<String, (u64, V)>,
    /// Insertion sequence number to key, oldest first.
    order: BTreeMap<u64, String>,
}

impl<V> Capped<V> {
    pub(super) fn new(cap: usize) -> Self {
        Self {
            cap: cap.max(1),
            next: 0,
            entries: HashMap::new(),
            order: BTreeMap::new(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Inserts `value` as the newest entry; returns how many old entries made room for it.
    pub(super) fn insert(&mut self, key: String, value: V) -> usize {
        let _ = self.remove(&key);
        let mut evicted = 0;
        while self.entries.len() >= self.cap {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            self.entries.remove(&oldest);
            evicted += 1;
        }
        let seq = self.next;
        self.next += 1;
        self.order.insert(seq, key.clone());
        self.entries.insert(key, (seq, value));
        evicted
    }

    pub(super) fn remove(&mut self, key: &str) -> Option<V> {
        let (seq, value) = self.entries.remove(key)?;
        self.order.remove(&seq);
        Some(value)
    }

    pub(super) fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        self.entries.get_mut(key).map(|(_, v)| v)
    }

    /// Drops expired entries from the oldest end: entries are inserted in time order, so this
    /// stops at the first live one instead of scanning the map on every request.
    pub(super) fn expire(&mut self, expired: impl Fn(&V) -> bool) {
        while let Some((&seq, key)) = self.order.first_key_value() {
            match self.entries.get(key) {
                Some((_, v)) if !expired(v) => break,
                _ => {
                    if let Some(key) = self.order.remove(&seq) {
                        self.entries.remove(&key);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_map_evicts_the_oldest_entry() {
        let mut m = Capped::new(3);
        for (i, k) in ["a", "b", "c"].iter().enumerate() {
            assert_eq!(m.insert((*k).to_owned(), i), 0);
        }
        assert_eq!(m.insert("d".to_owned(), 3), 1);
        assert_eq!(m.len(), 3);
        assert!(m.remove("a").is_none(), "the oldest went");
        assert_eq!(m.remove("b"), Some(1));
        // Room again: no eviction; re-inserting a key replaces it and makes it the newest.
        assert_eq!(m.insert("e".to_owned(), 4), 0);
        assert_eq!(m.insert("c".to_owned(), 5), 0);
        assert_eq!(m.insert("f".to_owned(), 6), 1);
        assert!(
            m.get_mut("d").is_none(),
            "d was the oldest after c was re-inserted"
        );
        assert_eq!(m.get_mut("c").copied(), Some(5));
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn many_inserts_stay_at_the_cap_with_the_newest_kept() {
        let mut m = Capped::new(100);
        let evicted: usize = (0..10_000).map(|i| m.insert(format!("k{i}"), i)).sum();
        assert_eq!((m.len(), evicted), (100, 9_900));
        assert_eq!(m.order.len(), 100, "the order index is bounded too");
        assert!(m.get_mut("k9999").is_some() && m.get_mut("k9899").is_none());
        assert!(m.get_mut("k9900").is_some());
    }

    #[test]
    fn expiry_drops_old_entries_from_the_front_only() {
        let mut m = Capped::new(10);
        for t in [1, 2, 3, 10, 11] {
            m.insert(format!("t{t}"), t);
        }
        m.remove("t2");
        m.expire(|t| *t < 5);
        assert_eq!(m.len(), 2);
        assert_eq!(m.order.len(), 2);
        assert!(m.get_mut("t10").is_some() && m.get_mut("t11").is_some());
    }
}
