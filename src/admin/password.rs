//! Console passwords: the policy (length, common passwords) and Argon2id hashing.
//!
//! Hashing costs ~19 MiB and tens of milliseconds of CPU on purpose: callers on the async
//! runtime go through [`hash`] and [`verify`], which run it on the blocking pool.

use std::collections::HashSet;
use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

pub const MIN_LEN: usize = 12;
/// Beyond this a "password" is a way to make the server hash megabytes.
pub const MAX_LEN: usize = 256;

/// Why a new password was refused; the text is shown next to the field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Weak {
    TooShort,
    TooLong,
    Common,
    /// One character, or a short run, repeated.
    Repetitive,
    /// The account's own e-mail address, or its name part.
    LikeEmail,
}

impl Weak {
    pub fn message(self) -> &'static str {
        match self {
            Self::TooShort => "Use at least 12 characters.",
            Self::TooLong => "Use at most 256 characters.",
            Self::Common => {
                "This password is too common (or a common one with a few changes): choose another."
            }
            Self::Repetitive => "This password repeats itself: choose another.",
            Self::LikeEmail => "Do not use your e-mail address as your password.",
        }
    }
}

const COMMON: &str = include_str!("common-passwords.txt");

fn common() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        COMMON
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    })
}

/// The forms of a password checked against the list: lower case; with the digits and symbols
/// around it stripped ("Password123!" is "password"); with common letter swaps undone
/// ("p@ssw0rd").
fn normalised(password: &str) -> Vec<String> {
    let lower = password.to_lowercase();
    let stripped = lower.trim_matches(|c: char| !c.is_alphabetic()).to_owned();
    let unleet = |s: &str| -> String {
        s.chars()
            .map(|c| match c {
                '0' => 'o',
                '1' | '!' => 'i',
                '3' => 'e',
                '4' | '@' => 'a',
                '5' | '$' => 's',
                '7' => 't',
                _ => c,
            })
            .collect()
    };
    let mut forms = vec![unleet(&lower), unleet(&stripped), lower, stripped];
    forms.retain(|f| !f.is_empty());
    forms
}

/// A password made of one short unit said again and again ("abcabcabcabc", "aaaaaaaaaaaa").
fn repetitive(password: &str) -> bool {
    let chars: Vec<char> = password.chars().collect();
    (1..=chars.len() / 3).any(|unit| {
        chars.len().is_multiple_of(unit) && chars.chunks(unit).all(|c| c == &chars[..unit])
    })
}

/// Checks a new password; `email` is the account's.
pub fn check(password: &str, email: &str) -> Result<(), Weak> {
    let len = password.chars().count();
    if len < MIN_LEN {
        return Err(Weak::TooShort);
    }
    if len > MAX_LEN {
        return Err(Weak::TooLong);
    }
    if repetitive(password) {
        return Err(Weak::Repetitive);
    }
    let list = common();
    let forms = normalised(password);
    if forms.iter().any(|f| list.contains(f.as_str())) {
        return Err(Weak::Common);
    }
    // A common password said twice ("dragondragon") is no better than once.
    if forms.iter().any(|f| {
        let half = f.len() / 2;
        f.len() % 2 == 0
            && f.is_char_boundary(half)
            && f[..half] == f[half..]
            && list.contains(&f[..half])
    }) {
        return Err(Weak::Common);
    }
    let email = email.to_lowercase();
    let name = email.split('@').next().unwrap_or_default();
    if forms
        .iter()
        .any(|f| *f == email || (name.len() >= 4 && f.contains(name)))
    {
        return Err(Weak::LikeEmail);
    }
    Ok(())
}

/// OWASP's Argon2id parameters: m = 19 MiB, t = 2, p = 1.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The PHC string of a password (salt and parameters included). Blocking: see [`hash`].
pub fn hash_blocking(password: &str) -> Result<String, String> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>()).map_err(|e| e.to_string())?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` matches the stored hash; `None` checks against a dummy hash, so that an
/// unknown e-mail costs the same time as a wrong password. Blocking: see [`verify`].
pub fn verify_blocking(password: &str, stored: Option<&str>) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash_blocking("perkgate dummy password").unwrap_or_default());
    let known = stored.is_some();
    let stored = stored.unwrap_or(dummy);
    let matched = PasswordHash::new(stored)
        .map(|parsed| {
            argon2()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false);
    known && matched
}

/// Hashings at once: each holds 19 MiB, and a flood of sign-ins must queue, not exhaust memory.
static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);

pub async fn hash(password: String) -> Result<String, String> {
    let _permit = HASHING.acquire().await.map_err(|e| e.to_string())?;
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .map_err(|e| format!("hashing task: {e}"))?
}

pub async fn verify(password: String, stored: Option<String>) -> bool {
    let Ok(_permit) = HASHING.acquire().await else {
        return false;
    };
    tokio::task::spawn_blocking(move || verify_blocking(&password, stored.as_deref()))
        .await
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_common_repetitive_and_email_passwords_are_refused() {
        let e = "ann.lee@example.com";
        assert_eq!(check("short-pass1", e), Err(Weak::TooShort));
        assert_eq!(check(&"x".repeat(257), e), Err(Weak::TooLong));
        assert_eq!(check("aaaaaaaaaaaa", e), Err(Weak::Repetitive));
        assert_eq!(check("abcabcabcabc", e), Err(Weak::Repetitive));
        // On the list as it is, and in its usual disguises.
        assert_eq!(check("qwerty123456", e), Err(Weak::Common));
        assert_eq!(check("1qaz2wsx3edc", e), Err(Weak::Common));
        assert_eq!(check("Password123456!", e), Err(Weak::Common));
        assert_eq!(check("P@ssw0rdP@ssw0rd", e), Err(Weak::Common));
        assert_eq!(check("!!Sunshine2024!!", e), Err(Weak::Common));
        assert_eq!(check("dragondragon", e), Err(Weak::Common));
        assert_eq!(check("ann.lee@example.com", e), Err(Weak::LikeEmail));
        assert_eq!(check("my-ann.lee-password-x", e), Err(Weak::LikeEmail));
        assert_eq!(check("correct horse battery staple", e), Ok(()));
        assert_eq!(check("tulip-Harbour-93-kettle", e), Ok(()));
    }

    #[test]
    fn the_list_is_loaded_whole() {
        assert!(common().len() > 29_000);
        assert!(common().contains("password") && common().contains("123qweasdzxc"));
    }

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let h = hash_blocking("tulip-Harbour-93-kettle").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_blocking("tulip-Harbour-93-kettle", Some(&h)));
        assert!(!verify_blocking("tulip-Harbour-93-kettlf", Some(&h)));
        assert_ne!(
            h,
            hash_blocking("tulip-Harbour-93-kettle").unwrap(),
            "salted"
        );
        // The dummy never matches, whatever is typed.
        assert!(!verify_blocking("perkgate dummy password", None));
        assert!(!verify_blocking("x", Some("not a hash")));
    }
}
