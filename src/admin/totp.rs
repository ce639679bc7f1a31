//! The optional second factor: RFC 6238 TOTP (SHA-1, 6 digits, 30 s), what every
//! authenticator app speaks. `totp-rs` computes the codes; the window and the replay rule are
//! ours, because a code must be refused once it was accepted (the crate's `check` says only
//! whether a code fits the window).

use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Secret, TOTP};

pub const STEP: u64 = 30;
/// Steps accepted either side of now: a phone's clock may be 30 s off.
pub const SKEW: u64 = 1;

/// A new secret, 160 random bits (RFC 4226's recommendation), in base32 as apps take it.
pub fn new_secret() -> String {
    Secret::Raw(rand::random::<[u8; 20]>().to_vec())
        .to_encoded()
        .to_string()
}

fn totp(secret: &str) -> Option<TOTP> {
    let bytes = Secret::Encoded(secret.to_owned()).to_bytes().ok()?;
    TOTP::new(Algorithm::SHA1, 6, 0, STEP, bytes).ok()
}

/// The code for the time `at` (Unix seconds); tests use it as an authenticator would.
pub fn code_at(secret: &str, at: i64) -> Option<String> {
    totp(secret).map(|t| t.generate(at.max(0) as u64))
}

/// The time step that `code` belongs to, if it fits the window around `now` and comes after
/// `last_step` (the last one accepted: a code is good once).
pub fn accept(secret: &str, code: &str, now: i64, last_step: i64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let totp = totp(secret)?;
    let current = now.max(0) as u64 / STEP;
    let mut found = None;
    // Every step of the window is computed, matched or not: the time taken says nothing.
    for step in current.saturating_sub(SKEW)..=current + SKEW {
        let expected = totp.generate(step * STEP);
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) && step as i64 > last_step {
            found = Some(step as i64);
        }
    }
    found
}

/// The `otpauth://` URI an app imports (as a link or typed in), for `email` at this service.
pub fn uri(secret: &str, email: &str, issuer: &str) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "otpauth://totp/{}:{}?secret={secret}&issuer={}&algorithm=SHA1&digits=6&period={STEP}",
        enc(issuer).replace('+', "%20"),
        enc(email).replace('+', "%20"),
        enc(issuer).replace('+', "%20")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 6238's test secret, "12345678901234567890".
    const RFC: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    #[test]
    fn secrets_are_160_bits_of_base32() {
        let s = new_secret();
        assert_eq!(s.len(), 32);
        assert!(
            s.bytes()
                .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
        );
        assert_ne!(s, new_secret());
        assert!(code_at("not base32!", 0).is_none());
    }

    #[test]
    fn codes_match_rfc_6238() {
        // RFC 6238 appendix B, SHA-1, last 6 of the 8 digits.
        assert_eq!(code_at(RFC, 59).unwrap(), "287082");
        assert_eq!(code_at(RFC, 1_111_111_109).unwrap(), "081804");
        assert_eq!(code_at(RFC, 2_000_000_000).unwrap(), "279037");
    }

    #[test]
    fn the_window_is_one_step_either_side_and_a_code_is_good_once() {
        let now = 1_111_111_109;
        let step = now / STEP as i64;
        let code = code_at(RFC, now).unwrap();
        assert_eq!(accept(RFC, &code, now, 0), Some(step));
        assert_eq!(accept(RFC, &code, now + 30, 0), Some(step), "30 s late");
        assert_eq!(accept(RFC, &code, now - 30, 0), Some(step), "30 s early");
        assert_eq!(accept(RFC, &code, now + 60, 0), None, "too late");
        // Once accepted, neither it nor an earlier one is accepted again.
        assert_eq!(accept(RFC, &code, now, step), None);
        let earlier = code_at(RFC, now - 30).unwrap();
        assert_eq!(accept(RFC, &earlier, now, step), None);
        let next = code_at(RFC, now + 30).unwrap();
        assert_eq!(accept(RFC, &next, now, step), Some(step + 1));
        assert_eq!(
            accept(RFC, " 081 804 ", now, 0),
            Some(step),
            "spaces ignored"
        );
        assert_eq!(accept(RFC, "12345", now, 0), None);
        assert_eq!(accept(RFC, "abcdef", now, 0), None);
    }

    #[test]
    fn the_uri_names_the_account_and_issuer() {
        assert_eq!(
            uri(RFC, "ann@example.com", "perkgate"),
            format!(
                "otpauth://totp/perkgate:ann%40example.com?secret={RFC}&issuer=perkgate&algorithm=SHA1&digits=6&period=30"
            )
        );
    }
}
