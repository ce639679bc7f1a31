//! What a shopper reads for a group handle: "Military", not `military`.

use std::borrow::Cow;

/// ID.me's documented handles with the name a shopper reads; any other handle (an app's
/// custom policy) is shown with its underscores as spaces.
const NAMES: &[(&str, &str)] = &[
    ("military", "Military"),
    ("student", "Students"),
    ("teacher", "Teachers"),
    ("responder", "First responders"),
    ("nurse", "Nurses"),
    ("alumni", "Alumni"),
    ("government", "Government employees"),
    ("employee", "Employees"),
    ("hospital_employee", "Hospital employees"),
    ("medical", "Medical providers"),
    ("military_canada", "Canadian military"),
    ("responder_canada", "Canadian first responders"),
    ("student_canada", "Canadian students"),
    ("teacher_canada", "Canadian teachers"),
    ("nurse_canada", "Canadian nurses"),
];

/// Subgroup names (human-readable, compared case-insensitively) an offer can be narrowed to:
/// ID.me documents "Veteran" and "Service Member" and is reported to send the other military
/// ones; the rest are those the sandbox's personas carry. The console offers these as
/// checkboxes and takes any other name as text.
pub const SUBGROUPS: &[(&str, &[&str])] = &[
    (
        "military",
        &[
            "Service Member",
            "Veteran",
            "Retiree",
            "Military Spouse",
            "Military Family",
            "Surviving Spouse",
        ],
    ),
    ("student", &["Student"]),
    ("teacher", &["Teacher"]),
    ("responder", &["EMT"]),
    ("nurse", &["Registered Nurse"]),
];

/// Borrowed for the documented handles: the storefront names communities on every view.
pub fn community_name(handle: &str) -> Cow<'static, str> {
    match NAMES.iter().find(|(h, _)| *h == handle) {
        Some((_, name)) => Cow::Borrowed(name),
        None => {
            let spaced = handle.replace(['_', '-'], " ");
            let mut chars = spaced.chars();
            Cow::Owned(match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_handles_read_as_communities_and_others_are_tidied() {
        assert_eq!(community_name("military"), "Military");
        assert_eq!(community_name("responder"), "First responders");
        assert_eq!(community_name("student_canada"), "Canadian students");
        assert_eq!(community_name("state_alumni"), "State alumni");
        assert_eq!(community_name(""), "");
    }
}
