//! Compact JWE decryption: `RSA-OAEP` (SHA-1, MGF1-SHA-1; RFC 7518 §4.3) for the content key,
//! `A256CBC-HS512` (RFC 7518 §5.2.5) for the content. Everything else is refused.

use aws_lc_rs::cipher::{AES_256, DecryptionContext, PaddedBlockDecryptingKey, UnboundCipherKey};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::hmac;
use aws_lc_rs::iv::FixedLength;
use aws_lc_rs::rsa::{KeySize, OAEP_SHA1_MGF1SHA1, OaepPrivateDecryptingKey, PrivateDecryptingKey};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::{JoseError, b64};

/// The merchant's RSA private key (`PERKGATE_IDME_DECRYPTION_KEY`). Cheap to clone.
#[derive(Clone)]
pub struct DecryptionKey {
    key: std::sync::Arc<OaepPrivateDecryptingKey>,
    /// The public half (SubjectPublicKeyInfo DER), so the sandbox and tests can encrypt to it.
    public_der: std::sync::Arc<[u8]>,
}

impl std::fmt::Debug for DecryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DecryptionKey([redacted])")
    }
}

impl DecryptionKey {
    /// Reads a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`) RSA key of 2048 to 8192 bits. The
    /// error says what is wrong with the file, never what it contains.
    pub fn from_pem(text: &str) -> Result<Self, String> {
        const BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
        const END: &str = "-----END PRIVATE KEY-----";
        let Some(start) = text.find(BEGIN) else {
            return Err(if text.contains("-----BEGIN RSA PRIVATE KEY-----") {
                "a PKCS#1 key (BEGIN RSA PRIVATE KEY): convert it to PKCS#8 with \
                 `openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pk8`"
                    .to_owned()
            } else if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
                "an encrypted PKCS#8 key: perkgate needs it unencrypted (protect the file instead)"
                    .to_owned()
            } else {
                "not a PEM file with a `BEGIN PRIVATE KEY` (PKCS#8) block".to_owned()
            });
        };
        let body = &text[start + BEGIN.len()..];
        let Some(end) = body.find(END) else {
            return Err("the PEM block has no `END PRIVATE KEY` line".to_owned());
        };
        let base64: String = body[..end]
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        use base64::Engine;
        let der = base64::engine::general_purpose::STANDARD
            .decode(base64.as_bytes())
            .map_err(|_| "the PEM block is not valid base64".to_owned())?;
        Self::from_pkcs8_der(&der)
    }

    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, String> {
        let key = PrivateDecryptingKey::from_pkcs8(der)
            .map_err(|e| format!("not a PKCS#8 RSA private key of 2048 to 8192 bits ({e})"))?;
        Self::new(key)
    }

    /// A fresh RSA-2048 key (the sandbox's, when no key file is configured).
    pub fn generate() -> Result<Self, String> {
        let key = PrivateDecryptingKey::generate(KeySize::Rsa2048)
            .map_err(|_| "RSA key generation failed".to_owned())?;
        Self::new(key)
    }

    fn new(key: PrivateDecryptingKey) -> Result<Self, String> {
        let public_der = key
            .public_key()
            .as_der()
            .map_err(|_| "cannot encode the public key".to_owned())?
            .as_ref()
            .into();
        let key = OaepPrivateDecryptingKey::new(key)
            .map_err(|_| "the key cannot be used for RSA-OAEP".to_owned())?;
        Ok(Self {
            key: std::sync::Arc::new(key),
            public_der,
        })
    }

    /// The public key as X.509 SubjectPublicKeyInfo DER: what ID.me encrypts to.
    pub fn public_key_der(&self) -> &[u8] {
        &self.public_der
    }

    /// The 64-byte content key, or a random one when RSA-OAEP fails or yields another length
    /// (RFC 7516 §11.5): every failure then surfaces at the tag check, alike in time and
    /// outcome, so no padding oracle is offered.
    fn content_key(&self, encrypted_key: &[u8]) -> [u8; CEK_LEN] {
        let mut out = vec![0u8; self.key.min_output_size()];
        let mut cek = [0u8; CEK_LEN];
        let decrypted = self
            .key
            .decrypt(&OAEP_SHA1_MGF1SHA1, encrypted_key, &mut out, None)
            .ok()
            .filter(|p| p.len() == CEK_LEN)
            .map(|p| cek.copy_from_slice(p))
            .is_some();
        if !decrypted && aws_lc_rs::rand::fill(&mut cek).is_err() {
            // No randomness: a fixed key still fails the tag check.
            cek = [0u8; CEK_LEN];
        }
        cek
    }
}

/// A256CBC-HS512: 32 bytes of MAC key, then 32 bytes of AES-256 key.
const CEK_LEN: usize = 64;
const IV_LEN: usize = 16;
const TAG_LEN: usize = 32;

#[derive(Deserialize)]
struct RawHeader {
    alg: Option<String>,
    enc: Option<String>,
    zip: Option<serde_json::Value>,
    crit: Option<serde_json::Value>,
}

/// Decrypts a compact JWE with `key`; returns the plaintext (a JWS or JSON).
pub(super) fn decrypt(token: &str, key: &DecryptionKey) -> Result<Vec<u8>, JoseError> {
    let mut parts = token.split('.');
    let (Some(header), Some(encrypted_key), Some(iv), Some(ciphertext), Some(tag), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(JoseError::Malformed("wrong number of parts"));
    };
    let raw: RawHeader = serde_json::from_slice(&b64(header, "JWE header")?)
        .map_err(|_| JoseError::Malformed("JWE header"))?;
    if raw.zip.is_some() {
        return Err(JoseError::Compressed);
    }
    if raw.crit.is_some() {
        return Err(JoseError::UnsupportedHeader("crit"));
    }
    if raw.alg.as_deref() != Some("RSA-OAEP") || raw.enc.as_deref() != Some("A256CBC-HS512") {
        return Err(JoseError::UnsupportedEncryption);
    }
    let encrypted_key = b64(encrypted_key, "JWE encrypted key")?;
    let iv: [u8; IV_LEN] = b64(iv, "JWE IV")?
        .try_into()
        .map_err(|_| JoseError::Malformed("JWE IV"))?;
    let ciphertext = b64(ciphertext, "JWE ciphertext")?;
    let tag = b64(tag, "JWE tag")?;
    if tag.len() != TAG_LEN {
        return Err(JoseError::Malformed("JWE tag"));
    }
    if ciphertext.is_empty() || ciphertext.len() % 16 != 0 {
        return Err(JoseError::Malformed("JWE ciphertext"));
    }
    let cek = key.content_key(&encrypted_key);
    // The additional authenticated data is the protected header as it was sent.
    a256cbc_hs512_decrypt(&cek, header.as_bytes(), &iv, ciphertext, &tag)
}

/// RFC 7518 §5.2.2.2: the tag is checked (in constant time) before anything is decrypted.
pub(super) fn a256cbc_hs512_decrypt(
    cek: &[u8; CEK_LEN],
    aad: &[u8],
    iv: &[u8; IV_LEN],
    mut ciphertext: Vec<u8>,
    tag: &[u8],
) -> Result<Vec<u8>, JoseError> {
    let (mac_key, enc_key) = cek.split_at(CEK_LEN / 2);
    let expected = tag_of(mac_key, aad, iv, &ciphertext);
    if !bool::from(expected.as_slice().ct_eq(tag)) {
        return Err(JoseError::Undecryptable);
    }
    let key = UnboundCipherKey::new(&AES_256, enc_key)
        .and_then(PaddedBlockDecryptingKey::cbc_pkcs7)
        .map_err(|_| JoseError::Undecryptable)?;
    let plaintext = key
        .decrypt(
            &mut ciphertext,
            DecryptionContext::Iv128(FixedLength::from(iv)),
        )
        .map_err(|_| JoseError::Undecryptable)?;
    Ok(plaintext.to_vec())
}

/// The first half of HMAC-SHA-512 over AAD ‖ IV ‖ ciphertext ‖ AL (the AAD's length in bits,
/// 64-bit big-endian).
pub(crate) fn tag_of(mac_key: &[u8], aad: &[u8], iv: &[u8], ciphertext: &[u8]) -> [u8; TAG_LEN] {
    let key = hmac::Key::new(hmac::HMAC_SHA512, mac_key);
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(aad);
    ctx.update(iv);
    ctx.update(ciphertext);
    ctx.update(&((aad.len() as u64) * 8).to_be_bytes());
    let full = ctx.sign();
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(&full.as_ref()[..TAG_LEN]);
    tag
}
