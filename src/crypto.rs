//! Small cryptographic helpers: random tokens, keyed hashes, plain hashes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// 256 random bits, URL-safe (43 characters): states, CSRF tokens, session-independent nonces.
pub fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// HMAC-SHA256: person keys, and the form tokens of visitors without a session.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// SHA-256, URL-safe base64: what is stored instead of a value that must not be kept.
pub fn sha256_b64(value: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(value.as_bytes()))
}

/// Keys per-person records without keeping ID.me's uuid: HMAC-SHA256 under a server secret.
#[derive(Clone)]
pub struct PersonKeyer {
    key: Vec<u8>,
}

impl PersonKeyer {
    pub fn new(key: Vec<u8>) -> Self {
        Self { key }
    }

    pub fn key(&self, uuid: &str) -> String {
        URL_SAFE_NO_PAD.encode(hmac_sha256(&self.key, uuid.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn person_keys_are_keyed_and_stable() {
        let k = PersonKeyer::new(b"k".to_vec());
        assert_eq!(k.key("abc123"), k.key("abc123"));
        assert_ne!(k.key("abc123"), "abc123");
        assert_ne!(
            k.key("abc123"),
            PersonKeyer::new(b"other".to_vec()).key("abc123")
        );
    }

    #[test]
    fn random_tokens_are_43_url_safe_characters_and_differ() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }
}
