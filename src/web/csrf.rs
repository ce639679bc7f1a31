//! CSRF tokens for every form.
//!
//! Once the shopper has a session, a form carries the session's own random token. Before that,
//! a storefront view stores nothing anywhere (no session row for every visitor who only looks):
//! its forms carry a *signed double-submit* token, the HMAC of a random nonce that travels in a
//! cookie of its own. Another site cannot read that cookie, and cannot forge the HMAC of a
//! nonce it managed to plant without the key, which is shared by every instance through the
//! database.

use axum::http::{HeaderMap, HeaderValue};
use subtle::ConstantTimeEq;

use super::error::AppError;
use crate::crypto::{hmac_sha256, random_token};
use crate::session::Shopper;

/// Signs and checks the tokens of visitors without a session.
pub struct AnonymousForms {
    key: Vec<u8>,
    cookie: &'static str,
    secure: bool,
}

impl AnonymousForms {
    /// `secret`: the server secret; the key is derived from it for this use only.
    pub fn new(secret: &[u8], https: bool) -> Self {
        Self {
            key: hmac_sha256(secret, b"perkgate anonymous form token v1").to_vec(),
            // `__Host-` binds the cookie to this host and path `/`, and requires Secure.
            cookie: if https {
                "__Host-perkgate-csrf"
            } else {
                "perkgate-csrf"
            },
            secure: https,
        }
    }

    /// The token for a page's forms, and the cookie to set when the visitor has no nonce yet.
    pub fn token(&self, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
        if let Some(nonce) = self.nonce(headers) {
            return (self.sign(nonce), None);
        }
        let nonce = random_token();
        let cookie = format!(
            "{}={nonce}; Path=/; HttpOnly; SameSite=Lax{}",
            self.cookie,
            if self.secure { "; Secure" } else { "" }
        );
        // A random token is URL-safe base64: always a valid header value.
        (self.sign(&nonce), HeaderValue::from_str(&cookie).ok())
    }

    /// A cookie with a new nonce, replacing the visitor's: after a change of privilege no
    /// token signed for the old nonce matches.
    pub fn fresh_cookie(&self) -> Option<HeaderValue> {
        self.token(&HeaderMap::new()).1
    }

    fn check(&self, headers: &HeaderMap, token: &str) -> Result<(), AppError> {
        let expected = self.nonce(headers).map(|n| self.sign(n));
        match expected {
            Some(expected) if bool::from(expected.as_bytes().ct_eq(token.as_bytes())) => Ok(()),
            _ => Err(AppError::Csrf),
        }
    }

    fn nonce<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        token_cookie(headers, self.cookie)
    }

    fn sign(&self, nonce: &str) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(hmac_sha256(&self.key, nonce.as_bytes()))
    }
}

/// Checks a form's token: the session's when there is a session, else the signed cookie's.
/// A session this form creates keeps that token, so the same page's other forms (a double
/// submit, a second tab opened before) still work.
pub fn check(
    forms: &AnonymousForms,
    shopper: &mut Shopper,
    headers: &HeaderMap,
    token: &str,
) -> Result<(), AppError> {
    if shopper.is_stored() {
        let expected = shopper.csrf_token().as_bytes();
        if !expected.is_empty() && bool::from(expected.ct_eq(token.as_bytes())) {
            Ok(())
        } else {
            Err(AppError::Csrf)
        }
    } else {
        forms.check(headers, token)?;
        shopper.state.csrf = token.to_owned();
        Ok(())
    }
}

/// The value of cookie `name` if it is one of our tokens (43 URL-safe base64 characters: a
/// random nonce or a session id); anything else is as good as no cookie.
pub fn token_cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    super::cookie(headers, name).filter(|v| {
        v.len() == 43
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header;

    fn with_cookie(cookie: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_str(cookie).unwrap());
        h
    }

    #[test]
    fn a_token_matches_only_its_own_cookie_and_key() {
        let forms = AnonymousForms::new(b"secret", false);
        let (token, cookie) = forms.token(&HeaderMap::new());
        let cookie = cookie.unwrap();
        let cookie = cookie.to_str().unwrap();
        assert!(cookie.starts_with("perkgate-csrf="));
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
        assert!(!cookie.contains("Secure"));
        let pair = cookie.split(';').next().unwrap();
        let headers = with_cookie(&format!("other=1; {pair}"));

        assert!(forms.check(&headers, &token).is_ok());
        // The same page again: the same token, no new cookie.
        assert_eq!(forms.token(&headers), (token.clone(), None));
        assert!(forms.check(&headers, "").is_err());
        assert!(forms.check(&HeaderMap::new(), &token).is_err());
        // A planted nonce is useless without the key.
        let planted = with_cookie(&format!("perkgate-csrf={}", random_token()));
        assert!(forms.check(&planted, &token).is_err());
        assert!(
            AnonymousForms::new(b"other", false)
                .check(&headers, &token)
                .is_err()
        );
        // The token is not the nonce itself.
        let nonce = pair.split_once('=').unwrap().1;
        assert!(forms.check(&headers, nonce).is_err());
    }

    #[test]
    fn over_https_the_cookie_is_host_only_and_secure() {
        let forms = AnonymousForms::new(b"secret", true);
        let (_, cookie) = forms.token(&HeaderMap::new());
        let cookie = cookie.unwrap();
        let cookie = cookie.to_str().unwrap();
        assert!(cookie.starts_with("__Host-perkgate-csrf=") && cookie.contains("; Secure"));
        // The plain name is not accepted in its place.
        let plain = cookie
            .split(';')
            .next()
            .unwrap()
            .replace("__Host-perkgate-csrf", "perkgate-csrf");
        assert!(forms.token(&with_cookie(&plain)).1.is_some());
    }
}
