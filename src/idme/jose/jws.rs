//! Compact JWS verification: our own header checks, then `jsonwebtoken` for the signature and
//! the registered claims.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;

use super::jwks::VerifyingKey;
use super::{ClaimChecks, JoseError, JwsAlg, LEEWAY_SECS, b64};

/// The parts of a JWS header that choose the key. `jwk`, `jku`, `x5u` and `x5c` are never
/// read: a token must not bring its own key.
pub(super) struct Header {
    pub alg: JwsAlg,
    pub kid: Option<String>,
}

#[derive(Deserialize)]
struct RawHeader {
    alg: Option<String>,
    kid: Option<String>,
    crit: Option<serde_json::Value>,
}

impl Header {
    pub fn read(token: &str) -> Result<Self, JoseError> {
        let encoded = token.split('.').next().unwrap_or_default();
        let raw: RawHeader = serde_json::from_slice(&b64(encoded, "JWS header")?)
            .map_err(|_| JoseError::Malformed("JWS header"))?;
        // RFC 7515 §4.1.11: extensions listed in `crit` must be understood; we implement none.
        if raw.crit.is_some() {
            return Err(JoseError::UnsupportedHeader("crit"));
        }
        let alg = raw
            .alg
            .as_deref()
            .and_then(JwsAlg::from_name)
            .ok_or(JoseError::DisallowedAlgorithm)?;
        Ok(Self { alg, kid: raw.kid })
    }
}

/// Checks the signature with `key` (whose type fixes the one algorithm allowed), then `exp`
/// and `nbf` when present, `iss` and `aud` when configured. Returns the claims' JSON bytes.
pub(super) fn verify(
    token: &str,
    key: &VerifyingKey,
    checks: &ClaimChecks,
) -> Result<Vec<u8>, JoseError> {
    let mut validation = Validation::new(match key.alg {
        JwsAlg::Rs256 => Algorithm::RS256,
        JwsAlg::Es256 => Algorithm::ES256,
    });
    validation.leeway = LEEWAY_SECS;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    let mut required = Vec::new();
    if let Some(issuer) = &checks.issuer {
        validation.set_issuer(&[issuer]);
        required.push("iss");
    }
    match &checks.audience {
        Some(audience) => {
            validation.set_audience(&[audience]);
            required.push("aud");
        }
        // Unconfigured: ID.me's `aud` (probably our client id) is not checked.
        None => validation.validate_aud = false,
    }
    // `exp` is checked when present but not required: ID.me's claims are undocumented.
    validation.set_required_spec_claims(&required);
    jsonwebtoken::decode::<serde::de::IgnoredAny>(token, &key.key, &validation).map_err(
        |e| match e.kind() {
            ErrorKind::InvalidSignature => JoseError::BadSignature,
            ErrorKind::ExpiredSignature => JoseError::Expired,
            ErrorKind::ImmatureSignature => JoseError::NotYetValid,
            ErrorKind::InvalidIssuer => JoseError::WrongIssuer,
            ErrorKind::InvalidAudience => JoseError::WrongAudience,
            ErrorKind::MissingRequiredClaim(claim) if claim == "iss" => JoseError::WrongIssuer,
            ErrorKind::MissingRequiredClaim(claim) if claim == "aud" => JoseError::WrongAudience,
            ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => {
                JoseError::AlgorithmKeyMismatch
            }
            // A key that does not parse cannot have signed anything.
            ErrorKind::InvalidRsaKey(_)
            | ErrorKind::InvalidEcdsaKey
            | ErrorKind::InvalidKeyFormat => JoseError::BadSignature,
            ErrorKind::InvalidClaimFormat(_) => JoseError::Malformed("JWS claims"),
            _ => JoseError::Malformed("JWS"),
        },
    )?;
    b64(token.split('.').nth(1).unwrap_or_default(), "JWS payload")
}
