//! The query of the sandbox's pages, read once and capped: every field the sandbox stores or
//! shows back has a length limit, so a request costs the same few hundred bytes however long
//! its URL is. (`redirect_uri` and `client_id` need none: they must equal the registered ones.)

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::refusal::Refusal;

/// The whole query string. perkgate's own requests are a few hundred bytes.
pub const MAX_QUERY_BYTES: usize = 4096;
/// `state` is echoed to the client and stored; perkgate's are 43 characters.
pub const MAX_STATE_BYTES: usize = 256;
/// `scope` (space-separated) or `scopes` (comma-separated), whole.
pub const MAX_SCOPE_BYTES: usize = 1024;
/// Scopes in one request, and the length of each (ID.me's group handles are short words).
pub const MAX_SCOPES: usize = 32;
pub const MAX_SCOPE_NAME_BYTES: usize = 64;

/// The query's parameters, in order. Refused, with the sandbox's page, when the query is too
/// long or names a parameter twice (RFC 6749 §3.1: parameters must not repeat; which of two
/// `state`s would be the real one?).
pub(super) struct Params(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Refusal> {
        Params::parse(parts.uri.query().unwrap_or(""))
    }
}

impl Params {
    fn parse(query: &str) -> Result<Self, Refusal> {
        if query.len() > MAX_QUERY_BYTES {
            return Err(Refusal::page(format!(
                "This request's query is longer than the sandbox accepts ({MAX_QUERY_BYTES} bytes)."
            )));
        }
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        for (i, (key, _)) in pairs.iter().enumerate() {
            if pairs[..i].iter().any(|(k, _)| k == key) {
                return Err(Refusal::page(format!(
                    "The parameter `{key}` appears more than once: OAuth allows each parameter once."
                )));
            }
        }
        Ok(Self(pairs))
    }

    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The value, or "" when absent.
    pub(super) fn param(&self, key: &str) -> &str {
        self.get(key).unwrap_or("")
    }

    pub(super) fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// `state`, when present and not too long to store and echo.
    pub(super) fn state(&self) -> Result<Option<&str>, Refusal> {
        match self.get("state") {
            Some(s) if s.len() > MAX_STATE_BYTES => Err(Refusal::page(format!(
                "state is longer than the sandbox accepts ({MAX_STATE_BYTES} bytes)."
            ))),
            state => Ok(state),
        }
    }

    /// The scopes in `key`, split on `separator`, within the caps; empty when there are none.
    pub(super) fn scopes(&self, key: &str, separator: char) -> Result<Vec<&str>, Refusal> {
        let raw = self.param(key);
        if raw.len() > MAX_SCOPE_BYTES {
            return Err(Refusal::page(format!(
                "{key} is longer than the sandbox accepts ({MAX_SCOPE_BYTES} bytes)."
            )));
        }
        let scopes: Vec<&str> = raw
            .split(|c: char| c == separator || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .collect();
        if scopes.len() > MAX_SCOPES {
            return Err(Refusal::page(format!(
                "{key} names more scopes than the sandbox accepts ({MAX_SCOPES})."
            )));
        }
        if scopes.iter().any(|s| s.len() > MAX_SCOPE_NAME_BYTES) {
            return Err(Refusal::page(format!(
                "A scope in {key} is longer than the sandbox accepts ({MAX_SCOPE_NAME_BYTES} bytes)."
            )));
        }
        Ok(scopes)
    }
}

/// RFC 7636 §4.2: an S256 challenge is 43 to 128 unreserved characters (perkgate's are 43).
pub(super) fn valid_code_challenge(challenge: &str) -> bool {
    (43..=128).contains(&challenge.len())
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(r: Refusal) -> String {
        match r {
            Refusal::Page { message, .. } => message
                .text(crate::i18n::catalog(crate::i18n::Locale::En))
                .into_owned(),
            other => panic!("not a page: {other:?}"),
        }
    }

    #[test]
    fn the_query_is_capped_and_parameters_may_not_repeat() {
        let ok = Params::parse("a=1&b=%20x&c").unwrap();
        assert_eq!(
            (ok.param("b"), ok.get("c"), ok.get("d")),
            (" x", Some(""), None)
        );
        let long = format!("state={}", "s".repeat(MAX_QUERY_BYTES));
        assert!(message(Params::parse(&long).err().unwrap()).contains("4096 bytes"));
        let twice = Params::parse("state=a&x=1&state=b").err().unwrap();
        assert!(message(twice).contains("`state` appears more than once"));
    }

    #[test]
    fn state_and_scopes_are_capped() {
        let q = |s: String| Params::parse(&s).unwrap();
        assert_eq!(q("state=abc".into()).state().unwrap(), Some("abc"));
        assert!(q(format!("state={}", "s".repeat(256))).state().is_ok());
        let long = q(format!("state={}", "s".repeat(257))).state().unwrap_err();
        assert!(message(long).contains("state is longer"));

        let p = q("scope=military+student&scopes=a,b,,c".into());
        assert_eq!(p.scopes("scope", ' ').unwrap(), ["military", "student"]);
        assert_eq!(p.scopes("scopes", ',').unwrap(), ["a", "b", "c"]);
        assert!(p.scopes("absent", ' ').unwrap().is_empty());
        let many = (0..33)
            .map(|i| format!("g{i}"))
            .collect::<Vec<_>>()
            .join(",");
        let err = q(format!("scopes={many}"))
            .scopes("scopes", ',')
            .unwrap_err();
        assert!(message(err).contains("more scopes"));
        let err = q(format!("scope={}", "g".repeat(65)))
            .scopes("scope", ' ')
            .unwrap_err();
        assert!(message(err).contains("A scope in scope is longer"));
        let err = q(format!("scope={}", "g ".repeat(600)))
            .scopes("scope", ' ')
            .unwrap_err();
        assert!(message(err).contains("1024 bytes"));
    }

    #[test]
    fn code_challenges_follow_rfc_7636() {
        assert!(valid_code_challenge(&"a".repeat(43)));
        assert!(valid_code_challenge(&"A-._~9".repeat(22)[..128]));
        assert!(!valid_code_challenge(&"a".repeat(42)));
        assert!(!valid_code_challenge(&"a".repeat(129)));
        assert!(!valid_code_challenge(&format!("{}+/", "a".repeat(43))));
    }
}
