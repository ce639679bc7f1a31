//! Signed (JWS) and encrypted (JWE) attribute payloads, as the relying party reads them.
//!
//! ID.me may answer `attributes.json` with plain JSON, a compact JWS (`RS256` or `ES256`, keys
//! from its JWKS) or a compact JWE (`RSA-OAEP` + `A256CBC-HS512`, to the merchant's public
//! key) whose plaintext is a JWS or JSON, possibly wrapped in quotes. [`Opener::open`] reads
//! any of them, top to bottom: detect → decrypt (if JWE) → verify (if JWS) → policy check.
//!
//! Whatever the policy, a JWS is always verified and a JWE always needs the key: a payload is
//! never read past a check it failed. Errors say what failed, never what the payload, the
//! token or a key contained.

mod jwe;
mod jwks;
mod jws;

use std::str::FromStr;
use std::sync::Arc;

pub use jwe::DecryptionKey;
pub(crate) use jwe::tag_of;
pub use jwks::Jwks;

/// How long past `exp` (or before `nbf`) a token is still accepted: clock skew, not policy.
pub const LEEWAY_SECS: u64 = 60;

/// The signature algorithms accepted, each tied to one key type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JwsAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256; RSA keys of 2048 to 8192 bits.
    Rs256,
    /// ECDSA on P-256 with SHA-256.
    Es256,
}

impl JwsAlg {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
        }
    }

    /// Only these two names: never `none`, `HS*` (a public key used as an HMAC secret) or
    /// anything the JWKS keys are not meant for.
    fn from_name(name: &str) -> Option<Self> {
        match name {
            "RS256" => Some(Self::Rs256),
            "ES256" => Some(Self::Es256),
            _ => None,
        }
    }
}

/// What arrived from ID.me.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadFormat {
    /// Plain JSON.
    Json,
    /// A JWS whose signature was verified.
    Signed,
    /// A JWE; `signed` when its plaintext was a JWS (nested, verified), not bare JSON.
    Encrypted { signed: bool },
}

impl PayloadFormat {
    /// A label for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Signed => "signed",
            Self::Encrypted { signed: false } => "encrypted",
            Self::Encrypted { signed: true } => "encrypted_signed",
        }
    }

    pub fn is_signed(self) -> bool {
        matches!(self, Self::Signed | Self::Encrypted { signed: true })
    }

    pub fn is_encrypted(self) -> bool {
        matches!(self, Self::Encrypted { .. })
    }
}

/// The weakest payload accepted (`PERKGATE_IDME_PAYLOAD`): what the merchant's app at ID.me
/// is set to send.
///
/// Signing and encryption protect different things, so the levels are requirements, not a
/// ladder: `signed` needs a verified signature (a JWS, or a JWE around one) because only that
/// proves ID.me wrote the payload; `encrypted` needs a JWE, which keeps the payload private
/// but proves nothing about its author (anyone can encrypt to a public key), so a JWE around
/// plain JSON passes `encrypted` but not `signed`. `any` and `json` accept everything; `json`
/// only documents that the app sends plain JSON.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PayloadPolicy {
    #[default]
    Any,
    Json,
    Signed,
    Encrypted,
}

impl PayloadPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Any => "any",
            Self::Json => "json",
            Self::Signed => "signed",
            Self::Encrypted => "encrypted",
        }
    }

    pub fn admits(self, format: PayloadFormat) -> bool {
        match self {
            Self::Any | Self::Json => true,
            Self::Signed => format.is_signed(),
            Self::Encrypted => format.is_encrypted(),
        }
    }
}

impl FromStr for PayloadPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "any" => Ok(Self::Any),
            "json" => Ok(Self::Json),
            "signed" => Ok(Self::Signed),
            "encrypted" => Ok(Self::Encrypted),
            _ => Err(format!(
                "expected \"any\", \"json\", \"signed\" or \"encrypted\", got {s:?}"
            )),
        }
    }
}

/// Why a payload was refused. The texts are fixed or carry labels (an algorithm name, an HTTP
/// status), never token text, payload content or key material.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JoseError {
    /// Looks like a compact JWS or JWE but is not one; says which part.
    Malformed(&'static str),
    /// A signature algorithm other than RS256/ES256 (`none`, `HS256`, …), or none at all.
    DisallowedAlgorithm,
    /// The key named by `kid` is not of the type the algorithm needs (an EC key for RS256…).
    AlgorithmKeyMismatch,
    /// A header we do not implement and must not ignore (`crit`).
    UnsupportedHeader(&'static str),
    /// No key in ID.me's JWKS matches the token's `kid`, even after a refetch.
    UnknownKey,
    BadSignature,
    Expired,
    NotYetValid,
    /// `iss` absent or not the configured issuer.
    WrongIssuer,
    /// `aud` absent or not the configured audience, or present when none is configured.
    WrongAudience,
    /// ID.me's JWKS could not be fetched; the reason is a label (`timeout`, `HTTP 500`…).
    JwksUnavailable(String),
    /// The JWKS answered but is not a JWK set.
    JwksInvalid,
    /// A JWE `alg`/`enc` other than RSA-OAEP/A256CBC-HS512.
    UnsupportedEncryption,
    /// A compressed JWE (`zip`): refused rather than inflated.
    Compressed,
    /// A JWE arrived and no `PERKGATE_IDME_DECRYPTION_KEY` is configured.
    NoDecryptionKey,
    /// The JWE did not decrypt with our key (wrong key, tampered ciphertext or tag).
    Undecryptable,
    /// Valid, but weaker than `PERKGATE_IDME_PAYLOAD` requires.
    WeakerThanRequired {
        required: PayloadPolicy,
        got: PayloadFormat,
    },
}

impl JoseError {
    /// A short stable label for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed_token",
            Self::DisallowedAlgorithm => "disallowed_alg",
            Self::AlgorithmKeyMismatch => "alg_key_mismatch",
            Self::UnsupportedHeader(_) => "unsupported_header",
            Self::UnknownKey => "unknown_key",
            Self::BadSignature => "bad_signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
            Self::JwksUnavailable(_) => "jwks_unavailable",
            Self::JwksInvalid => "jwks_invalid",
            Self::UnsupportedEncryption => "unsupported_encryption",
            Self::Compressed => "compressed",
            Self::NoDecryptionKey => "no_decryption_key",
            Self::Undecryptable => "undecryptable",
            Self::WeakerThanRequired { .. } => "weaker_than_required",
        }
    }
}

impl std::fmt::Display for JoseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Malformed(part) => write!(f, "the attributes token is malformed ({part})"),
            Self::DisallowedAlgorithm => {
                f.write_str("the attributes JWS uses an algorithm other than RS256 or ES256")
            }
            Self::AlgorithmKeyMismatch => {
                f.write_str("the attributes JWS algorithm does not match its key's type")
            }
            Self::UnsupportedHeader(name) => {
                write!(f, "the attributes token has an unsupported `{name}` header")
            }
            Self::UnknownKey => f.write_str("no key in ID.me's JWKS matches the attributes JWS"),
            Self::BadSignature => f.write_str("the attributes JWS signature does not verify"),
            Self::Expired => f.write_str("the attributes JWS has expired"),
            Self::NotYetValid => f.write_str("the attributes JWS is not valid yet (nbf)"),
            Self::WrongIssuer => {
                f.write_str("the attributes JWS is not from PERKGATE_IDME_ISSUER (iss)")
            }
            Self::WrongAudience => {
                f.write_str("the attributes JWS is not for PERKGATE_IDME_AUDIENCE (aud)")
            }
            Self::JwksUnavailable(why) => write!(f, "ID.me's JWKS is unavailable: {why}"),
            Self::JwksInvalid => f.write_str("ID.me's JWKS is not a JWK set"),
            Self::UnsupportedEncryption => {
                f.write_str("the attributes JWE is not RSA-OAEP with A256CBC-HS512")
            }
            Self::Compressed => f.write_str("the attributes JWE is compressed (zip), refused"),
            Self::NoDecryptionKey => f.write_str(
                "the attributes payload is encrypted and PERKGATE_IDME_DECRYPTION_KEY is not set",
            ),
            Self::Undecryptable => {
                f.write_str("the attributes JWE does not decrypt with PERKGATE_IDME_DECRYPTION_KEY")
            }
            Self::WeakerThanRequired { required, got } => write!(
                f,
                "the attributes payload is {}, weaker than PERKGATE_IDME_PAYLOAD={}",
                got.as_str(),
                required.as_str()
            ),
        }
    }
}

impl std::error::Error for JoseError {}

/// Claims checked beyond the signature, when configured.
#[derive(Clone, Debug, Default)]
pub struct ClaimChecks {
    pub issuer: Option<String>,
    pub audience: Option<String>,
}

/// Reads an attributes answer, whatever its form, into the JSON of the attributes object.
#[derive(Clone)]
pub struct Opener {
    inner: Arc<OpenerInner>,
}

struct OpenerInner {
    policy: PayloadPolicy,
    decryption_key: Option<DecryptionKey>,
    jwks: Jwks,
    claims: ClaimChecks,
}

impl std::fmt::Debug for Opener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opener")
            .field("policy", &self.inner.policy)
            .field("decryption_key", &self.inner.decryption_key)
            .field("jwks", &self.inner.jwks)
            .field("claims", &self.inner.claims)
            .finish()
    }
}

/// What a body is, by its shape.
enum Detected<'a> {
    Json(&'a [u8]),
    Jws(&'a str),
    Jwe(&'a str),
}

impl Opener {
    pub fn new(
        policy: PayloadPolicy,
        decryption_key: Option<DecryptionKey>,
        jwks: Jwks,
        claims: ClaimChecks,
    ) -> Self {
        Self {
            inner: Arc::new(OpenerInner {
                policy,
                decryption_key,
                jwks,
                claims,
            }),
        }
    }

    pub fn jwks(&self) -> &Jwks {
        &self.inner.jwks
    }

    /// The JSON bytes of the attributes object and the form they came in.
    pub async fn open(&self, body: &[u8]) -> Result<(Vec<u8>, PayloadFormat), JoseError> {
        let (json, format) = match detect(body)? {
            Detected::Json(json) => (json.to_vec(), PayloadFormat::Json),
            Detected::Jws(token) => (self.verify(token).await?, PayloadFormat::Signed),
            Detected::Jwe(token) => {
                let key = self
                    .inner
                    .decryption_key
                    .as_ref()
                    .ok_or(JoseError::NoDecryptionKey)?;
                let plaintext = jwe::decrypt(token, key)?;
                // By content rather than `cty`: a JWS inside is verified whatever the header says.
                match detect(&plaintext)? {
                    Detected::Json(json) => {
                        (json.to_vec(), PayloadFormat::Encrypted { signed: false })
                    }
                    Detected::Jws(inner) => (
                        self.verify(inner).await?,
                        PayloadFormat::Encrypted { signed: true },
                    ),
                    Detected::Jwe(_) => return Err(JoseError::Malformed("a JWE inside a JWE")),
                }
            }
        };
        let required = self.inner.policy;
        if !required.admits(format) {
            return Err(JoseError::WeakerThanRequired {
                required,
                got: format,
            });
        }
        Ok((json, format))
    }

    /// Verifies a compact JWS with the JWKS key its header names; returns the claims' JSON.
    async fn verify(&self, token: &str) -> Result<Vec<u8>, JoseError> {
        let header = jws::Header::read(token)?;
        let key = self
            .inner
            .jwks
            .key(header.kid.as_deref(), header.alg)
            .await?;
        jws::verify(token, &key, &self.inner.claims)
    }
}

fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// Plain JSON, a compact JWS (3 parts) or a compact JWE (5 parts). Whitespace and one pair of
/// surrounding quotes are dropped first (ID.me's OIDC samples saw quoted bodies).
fn detect(body: &[u8]) -> Result<Detected<'_>, JoseError> {
    let trimmed = body.trim_ascii();
    let unquoted = trimmed
        .strip_prefix(b"\"")
        .and_then(|b| b.strip_suffix(b"\""))
        .map_or(trimmed, <[u8]>::trim_ascii);
    // `eyJ` is base64url for `{"`: a JOSE header. JSON itself never starts with `e`.
    let compact =
        unquoted.contains(&b'.') && unquoted.iter().all(|&b| is_base64url(b) || b == b'.');
    if !compact && !unquoted.starts_with(b"eyJ") {
        return Ok(Detected::Json(trimmed));
    }
    let token = std::str::from_utf8(unquoted)
        .ok()
        .filter(|_| compact)
        .ok_or(JoseError::Malformed("not a compact serialization"))?;
    match token.split('.').count() {
        3 => Ok(Detected::Jws(token)),
        5 => Ok(Detected::Jwe(token)),
        _ => Err(JoseError::Malformed("wrong number of parts")),
    }
}

/// Decodes one base64url part (no padding, as RFC 7515 requires).
fn b64(part: &str, what: &'static str) -> Result<Vec<u8>, JoseError> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JoseError::Malformed(what))
}

#[cfg(test)]
mod tests;
