//! ID.me's v3 attributes payload, read by handle and tolerant of what the docs leave open.

use serde::Deserialize;
use serde_json::Value;

/// The parts of the attributes payload perkgate reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    attributes: Vec<Attribute>,
    pub status: Vec<GroupStatus>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Attribute {
    handle: String,
    value: Value,
}

/// One `status[]` entry: a group handle, its subgroup names and whether it is verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupStatus {
    pub group: String,
    pub subgroups: Vec<String>,
    pub verified: bool,
}

/// Why a body could not be read as a payload. The text never quotes the body: it may carry a
/// name or an email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadError {
    /// Not the JSON shape we know; says where, not what.
    Malformed {
        line: usize,
        column: usize,
        category: &'static str,
    },
    /// A verified status without the `uuid` attribute: nothing to tie the benefit to a person.
    MissingUuid,
}

impl std::fmt::Display for PayloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::MissingUuid => {
                f.write_str("the attributes payload has a verified status but no uuid")
            }
            Self::Malformed {
                line,
                column,
                category,
            } => write!(
                f,
                "the attributes payload is not the JSON ID.me documents ({category} error at line {line}, column {column})"
            ),
        }
    }
}

impl std::error::Error for PayloadError {}

impl Payload {
    /// Reads the attributes object's JSON (what `jose::Opener::open` returns: a signed or
    /// encrypted answer is already verified and unwrapped by then).
    pub fn parse(body: &[u8]) -> Result<Self, PayloadError> {
        let trimmed = body.trim_ascii();
        let raw: RawPayload =
            serde_json::from_slice(trimmed).map_err(|e| PayloadError::Malformed {
                line: e.line(),
                column: e.column(),
                category: match e.classify() {
                    serde_json::error::Category::Io => "read",
                    serde_json::error::Category::Syntax => "syntax",
                    serde_json::error::Category::Data => "shape",
                    serde_json::error::Category::Eof => "truncated",
                },
            })?;
        Ok(Self {
            attributes: raw
                .attributes
                .into_iter()
                .filter_map(|a| {
                    Some(Attribute {
                        handle: a.handle?,
                        value: a.value,
                    })
                })
                .collect(),
            status: raw
                .status
                .into_iter()
                .filter_map(|s| {
                    Some(GroupStatus {
                        group: s.group.filter(|g| !g.is_empty())?,
                        subgroups: strings(s.subgroups),
                        verified: truthy(&s.verified),
                    })
                })
                .collect(),
        })
    }

    /// The first value of an attribute as text: strings as they are, numbers and booleans
    /// printed, the first element of an array; `None` for absent, null, empty or object values.
    pub fn attribute(&self, handle: &str) -> Option<String> {
        let value = &self.attributes.iter().find(|a| a.handle == handle)?.value;
        let value = match value {
            Value::Array(items) => items.iter().find(|v| !v.is_null())?,
            other => other,
        };
        match value {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// Every attribute's values as text (arrays flattened, nulls dropped), for offer
    /// conditions. Transient: never stored or logged.
    pub fn attribute_values(&self) -> std::collections::BTreeMap<String, Vec<String>> {
        let mut out = std::collections::BTreeMap::new();
        for a in &self.attributes {
            let items = match &a.value {
                Value::Array(items) => items.iter().collect(),
                other => vec![other],
            };
            let values: Vec<String> = items
                .into_iter()
                .filter_map(|v| match v {
                    Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
                    Value::Number(n) => Some(n.to_string()),
                    Value::Bool(b) => Some(b.to_string()),
                    _ => None,
                })
                .collect();
            if !values.is_empty() {
                out.insert(a.handle.clone(), values);
            }
        }
        out
    }

    /// ID.me's stable account identifier.
    pub fn uuid(&self) -> Option<String> {
        self.attribute("uuid")
    }

    /// The groups ID.me says are verified, in payload order.
    pub fn verified_groups(&self) -> impl Iterator<Item = &GroupStatus> {
        self.status.iter().filter(|s| s.verified)
    }
}

/// The wire shape, as loose as the documentation is: every field optional, nulls accepted.
#[derive(Deserialize)]
struct RawPayload {
    #[serde(default, deserialize_with = "null_as_default")]
    attributes: Vec<RawAttribute>,
    #[serde(default, deserialize_with = "null_as_default")]
    status: Vec<RawStatus>,
}

#[derive(Deserialize)]
struct RawAttribute {
    #[serde(default)]
    handle: Option<String>,
    #[serde(default)]
    value: Value,
}

#[derive(Deserialize)]
struct RawStatus {
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    subgroups: Value,
    #[serde(default)]
    verified: Value,
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A subgroup list may come as an array, a single string or null.
fn strings(value: Value) -> Vec<String> {
    let items = match value {
        Value::Array(items) => items,
        Value::String(s) => vec![Value::String(s)],
        _ => Vec::new(),
    };
    items
        .into_iter()
        .filter_map(|v| match v {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            _ => None,
        })
        .collect()
}

/// Only an explicit true (or "true") counts as verified.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::String(s) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = include_str!("../../tests/fixtures/attributes-seed.json");

    #[test]
    fn reads_the_documented_sample_by_handle() {
        let p = Payload::parse(SEED.as_bytes()).unwrap();
        assert_eq!(
            p.uuid().as_deref(),
            Some("d733a89e2e634f04ac2fe66c97f71612")
        );
        assert_eq!(p.attribute("zip").as_deref(), Some("76024"));
        let groups: Vec<_> = p.verified_groups().map(|g| g.group.as_str()).collect();
        assert_eq!(groups, ["alumni"]);
    }

    #[test]
    fn tolerates_unknown_fields_nulls_arrays_and_order() {
        let body = br#"{"extra":{"x":1},
            "attributes":[{"handle":"military_branch","value":["Navy",null]},
                          {"name":"no handle"},
                          {"handle":"uuid","value":"u-1","other":true},
                          {"handle":"email","value":null}],
            "status":[{"group":"military","subgroups":null,"verified":true},
                      {"group":"student","subgroups":"Student","verified":"true"},
                      {"group":"teacher","verified":null},
                      {"subgroups":["x"],"verified":true}]}"#;
        let p = Payload::parse(body).unwrap();
        assert_eq!(p.uuid().as_deref(), Some("u-1"));
        assert_eq!(p.attribute("military_branch").as_deref(), Some("Navy"));
        assert_eq!(p.attribute("email"), None);
        assert_eq!(p.status.len(), 3);
        assert_eq!(p.status[0].subgroups, Vec::<String>::new());
        assert_eq!(p.status[1].subgroups, ["Student"]);
        assert!(!p.status[2].verified);
        let verified: Vec<_> = p.verified_groups().map(|g| g.group.as_str()).collect();
        assert_eq!(verified, ["military", "student"]);
    }

    #[test]
    fn unverified_and_empty_status_have_no_verified_group() {
        for body in [
            &br#"{"attributes":[],"status":[{"group":"military","subgroups":[],"verified":false}]}"#[..],
            br#"{"attributes":[],"status":[]}"#,
            br#"{"attributes":null,"status":null}"#,
            br#"{}"#,
        ] {
            let p = Payload::parse(body).unwrap();
            assert_eq!(p.verified_groups().count(), 0);
        }
    }

    #[test]
    fn several_status_entries_keep_their_subgroups() {
        let p = Payload::parse(
            br#"{"status":[{"group":"military","subgroups":["Veteran","Retiree"],"verified":true},
                           {"group":"alumni","subgroups":[],"verified":true}]}"#,
        )
        .unwrap();
        assert_eq!(p.status[0].subgroups, ["Veteran", "Retiree"]);
        assert_eq!(p.verified_groups().count(), 2);
    }

    #[test]
    fn garbage_is_a_clear_error_that_quotes_nothing() {
        // A token reaching this parser was not opened: it is not JSON (jose::Opener unwraps).
        assert!(matches!(
            Payload::parse(b"eyJhbGciOiJSUzI1NiJ9.e30.sig"),
            Err(PayloadError::Malformed {
                category: "syntax",
                ..
            })
        ));
        let err = Payload::parse(b"<html>Sunny Nader</html>").unwrap_err();
        assert!(matches!(
            err,
            PayloadError::Malformed {
                category: "syntax",
                ..
            }
        ));
        assert!(!err.to_string().contains("Sunny"));
        let err = Payload::parse(br#"{"status":"Sunny"}"#).unwrap_err();
        assert!(matches!(
            err,
            PayloadError::Malformed {
                category: "shape",
                ..
            }
        ));
        assert!(!err.to_string().contains("Sunny"), "{err}");
        assert!(matches!(
            Payload::parse(br#"{"status":["#),
            Err(PayloadError::Malformed {
                category: "truncated",
                ..
            })
        ));
        assert!(Payload::parse(b"").is_err());
    }
}
