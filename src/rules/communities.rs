//! What a shopper reads for a group handle: "Military", not `military`.

use std::borrow::Cow;

use crate::i18n::{self, Locale};

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
/// English: the console's words.
pub fn community_name(handle: &str) -> Cow<'static, str> {
    community_name_in(handle, Locale::En)
}

/// The community's name in `locale` (the catalogs' `community-<handle>`); any other handle (an
/// app's custom policy) is shown with its underscores as spaces.
pub fn community_name_in(handle: &str, locale: Locale) -> Cow<'static, str> {
    match i18n::catalog(locale).community(handle) {
        Some(name) => Cow::Borrowed(name),
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
        assert_eq!(community_name_in("military", Locale::FrCa), "Militaires");
        assert_eq!(
            community_name_in("state_alumni", Locale::Es),
            "State alumni"
        );
    }
}
