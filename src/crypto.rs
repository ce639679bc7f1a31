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

/// Encrypts small secrets the server must read back (a console account's TOTP key), so that a
/// copy of the database alone does not yield them: AES-256-GCM under a key derived from the
/// server secret, a random nonce per value. A new server secret makes them unreadable: the
/// accounts enrol again.
#[derive(Clone)]
pub struct Sealer {
    key: [u8; 32],
}

/// Marks a sealed value (and its format) in the database.
const SEALED: &str = "v1.";

impl Sealer {
    pub fn new(secret: &[u8], purpose: &[u8]) -> Self {
        Self {
            key: hmac_sha256(secret, purpose),
        }
    }

    fn key(&self) -> Option<aws_lc_rs::aead::LessSafeKey> {
        use aws_lc_rs::aead::{AES_256_GCM, LessSafeKey, UnboundKey};
        UnboundKey::new(&AES_256_GCM, &self.key)
            .ok()
            .map(LessSafeKey::new)
    }

    /// `v1.` and base64 of nonce, ciphertext and tag; `None` only if the cipher fails.
    pub fn seal(&self, plain: &str) -> Option<String> {
        use aws_lc_rs::aead::{Aad, NONCE_LEN, Nonce};
        let nonce = rand::random::<[u8; NONCE_LEN]>();
        let mut data = plain.as_bytes().to_vec();
        self.key()?
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut data)
            .ok()?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Some(format!("{SEALED}{}", URL_SAFE_NO_PAD.encode(out)))
    }

    /// The plain value, or `None` when it was not sealed by this key (or was altered).
    pub fn open(&self, sealed: &str) -> Option<String> {
        use aws_lc_rs::aead::{Aad, NONCE_LEN, Nonce};
        let raw = URL_SAFE_NO_PAD.decode(sealed.strip_prefix(SEALED)?).ok()?;
        if raw.len() < NONCE_LEN {
            return None;
        }
        let (nonce, data) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut data = data.to_vec();
        let plain = self
            .key()?
            .open_in_place(nonce, Aad::empty(), &mut data)
            .ok()?;
        String::from_utf8(plain.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_under_their_key_and_unaltered() {
        let sealer = Sealer::new(b"server secret", b"purpose");
        let sealed = sealer.seal("JBSWY3DPEHPK3PXP").unwrap();
        assert!(sealed.starts_with("v1.") && !sealed.contains("JBSWY3DP"));
        assert_ne!(
            sealer.seal("JBSWY3DPEHPK3PXP").unwrap(),
            sealed,
            "a nonce per value"
        );
        assert_eq!(sealer.open(&sealed).as_deref(), Some("JBSWY3DPEHPK3PXP"));
        let other = Sealer::new(b"another secret", b"purpose");
        assert_eq!(other.open(&sealed), None);
        let mut altered = sealed.clone().into_bytes();
        let last = altered.len() - 1;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(sealer.open(&String::from_utf8(altered).unwrap()), None);
        assert_eq!(
            sealer.open("JBSWY3DPEHPK3PXP"),
            None,
            "plain text is not sealed"
        );
        assert_eq!(sealer.open("v1."), None);
    }

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
