//! The issuer's side of signed and encrypted payloads, for the embedded sandbox and the tests'
//! fake ID.me: signing keys with their JWKS, compact JWS signing, compact JWE encryption
//! (`RSA-OAEP` + `A256CBC-HS512`) to a recipient's public key.

use aws_lc_rs::cipher::{AES_256, EncryptionContext, PaddedBlockEncryptingKey, UnboundCipherKey};
use aws_lc_rs::iv::FixedLength;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeySize, OAEP_SHA1_MGF1SHA1, OaepPublicEncryptingKey, PublicEncryptingKey};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
    RsaPublicKeyComponents,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

pub use crate::idme::jose::JwsAlg;

/// Why a key could not be made or used. Only ever a label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError(pub &'static str);

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for KeyError {}

/// base64url without padding, as JOSE writes every part.
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `b64(header).b64(payload).b64(signature)`: for tests that build odd tokens by hand.
pub fn compact(header: &Value, payload: &[u8], signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64(header.to_string().as_bytes()),
        b64(payload),
        b64(signature)
    )
}

/// One RS256 and one ES256 key, with key ids `{prefix}-rs256` and `{prefix}-es256`.
pub struct SigningKeys {
    rsa: RsaKeyPair,
    ec: EcdsaKeyPair,
    prefix: String,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeys")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl SigningKeys {
    pub fn generate(prefix: &str) -> Result<Self, KeyError> {
        Ok(Self {
            rsa: RsaKeyPair::generate(KeySize::Rsa2048)
                .map_err(|_| KeyError("RSA key generation failed"))?,
            ec: EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                .map_err(|_| KeyError("EC key generation failed"))?,
            prefix: prefix.to_owned(),
        })
    }

    pub fn kid(&self, alg: JwsAlg) -> String {
        match alg {
            JwsAlg::Rs256 => format!("{}-rs256", self.prefix),
            JwsAlg::Es256 => format!("{}-es256", self.prefix),
        }
    }

    /// The public keys as JWKs (`use: sig`, with `alg` and `kid`).
    pub fn jwks_keys(&self) -> Vec<Value> {
        let rsa = RsaPublicKeyComponents::<Vec<u8>>::from(self.rsa.public_key());
        // An uncompressed P-256 point: 0x04 ‖ x (32 bytes) ‖ y (32 bytes).
        let xy = self.ec.public_key().as_ref().get(1..).unwrap_or_default();
        let (x, y) = xy.split_at(xy.len() / 2);
        vec![
            json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid(JwsAlg::Rs256),
                   "n": b64(&rsa.n), "e": b64(&rsa.e)}),
            json!({"kty": "EC", "use": "sig", "alg": "ES256", "kid": self.kid(JwsAlg::Es256),
                   "crv": "P-256", "x": b64(x), "y": b64(y)}),
        ]
    }

    /// `{"keys": [...]}` for this set alone.
    pub fn jwks_json(&self) -> String {
        json!({ "keys": self.jwks_keys() }).to_string()
    }

    /// The RSA public key's SubjectPublicKeyInfo DER (for the HS256 key-confusion test).
    pub fn rsa_public_der(&self) -> Vec<u8> {
        use aws_lc_rs::encoding::AsDer;
        self.rsa
            .public_key()
            .as_der()
            .map(|d| d.as_ref().to_vec())
            .unwrap_or_default()
    }

    /// A compact JWS of `claims_json` with `alg` and the matching `kid`.
    pub fn sign(&self, alg: JwsAlg, claims_json: &[u8]) -> Result<String, KeyError> {
        let header = json!({"alg": alg.as_str(), "typ": "JWT", "kid": self.kid(alg)});
        self.sign_with_header(alg, &header, claims_json)
    }

    /// Signs with `alg`'s key under any header (tests: a wrong `kid`, extra headers).
    pub fn sign_with_header(
        &self,
        alg: JwsAlg,
        header: &Value,
        payload: &[u8],
    ) -> Result<String, KeyError> {
        let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(payload));
        let rng = SystemRandom::new();
        let signature = match alg {
            JwsAlg::Rs256 => {
                let mut sig = vec![0u8; self.rsa.public_modulus_len()];
                self.rsa
                    .sign(&RSA_PKCS1_SHA256, &rng, input.as_bytes(), &mut sig)
                    .map_err(|_| KeyError("RSA signing failed"))?;
                sig
            }
            JwsAlg::Es256 => self
                .ec
                .sign(&rng, input.as_bytes())
                .map_err(|_| KeyError("EC signing failed"))?
                .as_ref()
                .to_vec(),
        };
        Ok(format!("{input}.{}", b64(&signature)))
    }
}

/// An RSA public key to encrypt to (what ID.me holds of the merchant's key).
#[derive(Clone, Debug)]
pub struct RecipientKey(PublicEncryptingKey);

impl RecipientKey {
    /// From X.509 SubjectPublicKeyInfo DER (`DecryptionKey::public_key_der`).
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        PublicEncryptingKey::from_der(der)
            .map(Self)
            .map_err(|_| KeyError("not an RSA public key"))
    }
}

/// A compact JWE (`RSA-OAEP`, `A256CBC-HS512`) of `plaintext` to `recipient`; `cty: "JWT"`
/// marks a nested JWS.
pub fn encrypt(
    plaintext: &[u8],
    recipient: &RecipientKey,
    cty: Option<&str>,
) -> Result<String, KeyError> {
    let mut header = json!({"alg": "RSA-OAEP", "enc": "A256CBC-HS512"});
    if let Some(cty) = cty {
        header["cty"] = Value::from(cty);
    }
    encrypt_with_header(plaintext, recipient, &header)
}

/// As [`encrypt`], under any header (tests: `zip`, other algorithms). The content is always
/// A256CBC-HS512 and the key always RSA-OAEP, whatever the header claims.
pub fn encrypt_with_header(
    plaintext: &[u8],
    recipient: &RecipientKey,
    header: &Value,
) -> Result<String, KeyError> {
    let mut cek = [0u8; 64];
    let mut iv = [0u8; 16];
    aws_lc_rs::rand::fill(&mut cek).map_err(|_| KeyError("no randomness"))?;
    aws_lc_rs::rand::fill(&mut iv).map_err(|_| KeyError("no randomness"))?;
    let oaep = OaepPublicEncryptingKey::new(recipient.0.clone())
        .map_err(|_| KeyError("not an RSA-OAEP key"))?;
    let mut encrypted_key = vec![0u8; oaep.ciphertext_size()];
    let encrypted_key = oaep
        .encrypt(&OAEP_SHA1_MGF1SHA1, &cek, &mut encrypted_key, None)
        .map_err(|_| KeyError("RSA-OAEP encryption failed"))?
        .to_vec();
    let protected = b64(header.to_string().as_bytes());
    let (ciphertext, tag) = a256cbc_hs512_encrypt(&cek, protected.as_bytes(), &iv, plaintext)?;
    Ok(format!(
        "{protected}.{}.{}.{}.{}",
        b64(&encrypted_key),
        b64(&iv),
        b64(&ciphertext),
        b64(&tag)
    ))
}

/// RFC 7518 §5.2.2.1: AES-256-CBC with PKCS#7 under the CEK's second half, then the tag.
pub fn a256cbc_hs512_encrypt(
    cek: &[u8; 64],
    aad: &[u8],
    iv: &[u8; 16],
    plaintext: &[u8],
) -> Result<(Vec<u8>, [u8; 32]), KeyError> {
    let (mac_key, enc_key) = cek.split_at(32);
    let key = UnboundCipherKey::new(&AES_256, enc_key)
        .and_then(PaddedBlockEncryptingKey::cbc_pkcs7)
        .map_err(|_| KeyError("AES key setup failed"))?;
    let mut ciphertext = plaintext.to_vec();
    key.less_safe_encrypt(
        &mut ciphertext,
        EncryptionContext::Iv128(FixedLength::from(iv)),
    )
    .map_err(|_| KeyError("AES-CBC encryption failed"))?;
    let tag = crate::idme::jose::tag_of(mac_key, aad, iv, &ciphertext);
    Ok((ciphertext, tag))
}
