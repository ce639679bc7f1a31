//! What ties a begun callback state to the browser that began it, and how that browser, and
//! only it, gets its verified session back when the first response never reached it.
//!
//! A verification rotates the session id. If the connection dropped before the response (with
//! the new id's cookie) arrived, the browser still holds the old id, which no longer exists; a
//! retry must not redeem the code again (it is single-use at ID.me), so it is handed the new id
//! instead. Only a retry of the very same request qualifies: the same session cookie, state
//! and code. The table keeps an HMAC of those (the binding) and the new id XORed with another
//! HMAC of them (the seal); the old session id is a 128-bit secret that is gone from the store
//! once rotated, so neither reveals anything to someone reading the database. The code matters
//! too: someone who planted their own session id in the shopper's browser (session fixation)
//! knows the old id and the state, but not the code ID.me gave the shopper.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;
use tower_sessions::session::Id;

use crate::crypto::hmac_sha256;

/// The browser answering a state: its session id (from the cookie), the state and the code.
#[derive(Clone)]
pub struct Caller {
    session: Id,
    message: Vec<u8>,
}

impl Caller {
    pub fn new(session: Id, state: &str, code: &str) -> Self {
        // Length-prefixed, so no two (state, code) pairs give the same message.
        let mut message = Vec::with_capacity(state.len() + code.len() + 8);
        message.extend_from_slice(&(state.len() as u64).to_be_bytes());
        message.extend_from_slice(state.as_bytes());
        message.extend_from_slice(code.as_bytes());
        Self { session, message }
    }

    fn mac(&self, purpose: &[u8]) -> [u8; 32] {
        let mut message = purpose.to_vec();
        message.extend_from_slice(&self.message);
        hmac_sha256(&self.session.0.to_le_bytes(), &message)
    }

    /// Stored with the state when this caller begins it.
    pub fn binding(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(b"perkgate callback binding\0"))
    }

    /// Whether this caller is the one that began the state (compared in constant time).
    pub fn began(&self, binding: &str) -> bool {
        bool::from(self.binding().as_bytes().ct_eq(binding.as_bytes()))
    }

    /// The new session id, sealed so that only this caller can open it.
    pub fn seal(&self, id: Id) -> String {
        let pad = self.mac(b"perkgate callback handover\0");
        let mut sealed = id.0.to_le_bytes();
        sealed.iter_mut().zip(pad).for_each(|(b, p)| *b ^= p);
        URL_SAFE_NO_PAD.encode(sealed)
    }

    pub fn open(&self, sealed: &str) -> Option<Id> {
        let bytes: [u8; 16] = URL_SAFE_NO_PAD.decode(sealed).ok()?.try_into().ok()?;
        let pad = self.mac(b"perkgate callback handover\0");
        let mut id = bytes;
        id.iter_mut().zip(pad).for_each(|(b, p)| *b ^= p);
        Some(Id(i128::from_le_bytes(id)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_session_state_and_code_match_and_open_the_seal() {
        let (old, new) = (Id::default(), Id::default());
        let caller = Caller::new(old, "state-1", "code-1");
        let binding = caller.binding();
        let sealed = caller.seal(new);
        assert!(caller.began(&binding));
        assert_eq!(caller.open(&sealed), Some(new));
        // The retry of the same request, rebuilt from its parts.
        assert!(Caller::new(old, "state-1", "code-1").began(&binding));

        for other in [
            Caller::new(Id::default(), "state-1", "code-1"),
            Caller::new(old, "state-2", "code-1"),
            Caller::new(old, "state-1", "code-2"),
            // The same bytes, split differently between state and code.
            Caller::new(old, "state-1c", "ode-1"),
        ] {
            assert!(!other.began(&binding));
            assert_ne!(other.open(&sealed), Some(new));
        }
    }

    #[test]
    fn the_stored_values_do_not_show_either_id() {
        let (old, new) = (Id::default(), Id::default());
        let caller = Caller::new(old, "s", "c");
        for stored in [caller.binding(), caller.seal(new)] {
            assert!(!stored.contains(&old.to_string()) && !stored.contains(&new.to_string()));
        }
        assert_ne!(
            caller.seal(new),
            URL_SAFE_NO_PAD.encode(new.0.to_le_bytes())
        );
    }

    #[test]
    fn a_damaged_seal_opens_to_nothing_usable() {
        let caller = Caller::new(Id::default(), "s", "c");
        assert_eq!(caller.open("not base64 !"), None);
        assert_eq!(caller.open("c2hvcnQ"), None);
    }
}
