//! Unit tests of loading a rules file: each validation message, positions and warnings.

use super::*;

const OK: &str = r#"
[[offers]]
id = "a"
title = "A"
groups = ["military"]
percent = 10
code = "X"
"#;

/// The one message a file with this offer body produces.
fn only_error(offer_body: &str) -> String {
    let text = format!(
        "[pools.p]\n\n[[offers]]\nid = \"a\"\ntitle = \"A\"\ngroups = [\"military\"]\n{offer_body}\n"
    );
    let errors = parse("r.toml", &text, None).map(|_| ()).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors[0].to_string()
}

#[test]
fn a_minimal_offer_loads() {
    let loaded = parse("r.toml", OK, None).unwrap();
    assert_eq!(loaded.rules.offers[0].code, CodeSource::Static("X".into()));
    assert_eq!(loaded.rules.currency, "USD");
    assert!(loaded.warnings.is_empty());
}

#[test]
fn each_validation_message() {
    assert_eq!(
        only_error("percent = 150\ncode = \"X\""),
        "r.toml:7:11: field `percent`: must be from 1 to 100, got 150"
    );
    assert_eq!(
        only_error("percent = 10\ncode = \"X\"\nstarts = 2026-02-01\nends = 2026-01-01"),
        "r.toml:10:8: field `ends`: `ends` (2026-01-01) is before `starts` (2026-02-01)"
    );
    assert_eq!(
        only_error("percent = 10\ncode = { pool = \"nope\" }"),
        "r.toml:8:8: field `code.pool`: unknown pool \"nope\" (declare it as [pools.nope])"
    );
    assert_eq!(
        only_error(
            "percent = 10\ncode = \"X\"\nwhen.alumni_school_name = { contains = \"State\" }"
        ),
        "r.toml:9:40: field `when.alumni_school_name`: unknown condition operator `contains` (expected one of equals, one_of, exists, before, after)"
    );
    assert_eq!(
        only_error("percent = 10\ncode = \"X\"\ntotal_cap = 0"),
        "r.toml:9:13: field `total_cap`: an offer no one can ever get: total_cap is 0"
    );
    assert_eq!(
        only_error("percent = 10\ncode = \"X\"\nlimit = { claims = 0, per_days = 30 }"),
        "r.toml:9:20: field `limit.claims`: an offer no one can ever get: limit.claims is 0"
    );
    assert_eq!(
        only_error(
            "percent = 10\ncode = \"X\"\nwhen.alumni_graduation_date = { after = 2020-01-01, before = 2019-01-01 }"
        ),
        "r.toml:9:31: field `when.alumni_graduation_date`: an offer no one can ever get: no date is after 2020-01-01 and before 2019-01-01"
    );
    assert_eq!(
        only_error(
            "percent = 10\ncode = \"X\"\nwhen.military_branch = { exists = false, equals = \"Navy\" }"
        ),
        "r.toml:9:24: field `when.military_branch`: an offer no one can ever get: exists = false contradicts the other conditions"
    );
    assert_eq!(
        only_error("code = \"X\""),
        "r.toml:3:1: field `percent`: no discount: give one of percent, amount or free_shipping"
    );
    assert_eq!(
        only_error("percent = 10\namount = \"5\"\ncode = \"X\""),
        "r.toml:3:1: field `percent`: give only one of percent, amount or free_shipping"
    );
    assert_eq!(
        only_error("percent = 10"),
        "r.toml:3:1: field `code`: missing: give code = \"TEXT\", { pool = \"name\" }, { prefix = \"ABC-\", length = 10 } or { none = true }"
    );
    assert_eq!(
        only_error("amount = \"-5\"\ncode = \"X\""),
        "r.toml:7:10: field `amount`: expected an amount such as \"100.00\" (not negative, at most two decimals)"
    );
    assert_eq!(
        only_error("percent = 10\ncode = { prefix = \"ab\" }"),
        "r.toml:8:8: field `code.prefix`: use at most 16 upper-case letters, digits, '-' or '_'"
    );
    assert_eq!(
        only_error("percent = 10\ncode = \"X\"\nends = 2026-12-31T10:00:00"),
        "r.toml:9:8: field `ends`: a date-time needs an offset (e.g. Z or -05:00) so it means one moment everywhere"
    );
}

#[test]
fn duplicate_ids_name_the_first_line() {
    let errors = parse("r.toml", &format!("{OK}{OK}"), None).unwrap_err();
    assert_eq!(
        errors[0].to_string(),
        "r.toml:10:6: field `id`: duplicate offer id \"a\" (first used on line 3)"
    );
}

#[test]
fn a_duplicate_is_reported_even_when_the_first_offer_is_invalid() {
    let text = format!("{}{OK}", OK.replace("percent = 10", "percent = 0"));
    let errors: Vec<String> = parse("r.toml", &text, None)
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errors,
        [
            "r.toml:6:11: field `percent`: must be from 1 to 100, got 0",
            "r.toml:10:6: field `id`: duplicate offer id \"a\" (first used on line 3)",
        ]
    );
}

#[test]
fn syntax_and_type_errors_name_line_and_field() {
    let e = parse(
        "r.toml",
        &OK.replace("percent = 10", "percent = \"ten\""),
        None,
    )
    .unwrap_err();
    assert_eq!(e.len(), 1);
    assert!(
        e[0].to_string()
            .starts_with("r.toml:6:11: field `percent`: invalid type"),
        "{}",
        e[0]
    );
    let e = parse("r.toml", &OK.replace("percent = 10", "percnt = 10"), None).unwrap_err();
    assert!(
        e[0].to_string()
            .starts_with("r.toml:6:1: unknown field `percnt`"),
        "{}",
        e[0]
    );
    let e = parse("r.toml", "[[offers]\n", None).unwrap_err();
    assert!(e[0].to_string().starts_with("r.toml:1:"), "{}", e[0]);
}

#[test]
fn every_error_is_listed() {
    let text = format!(
        "{}{}",
        OK.replace("percent = 10", "percent = 0"),
        OK.replace("id = \"a\"", "id = \"b\"")
            .replace("code = \"X\"", "code = { pool = \"x\" }")
    );
    let errors = parse("r.toml", &text, None).unwrap_err();
    assert_eq!(errors.len(), 2, "{errors:?}");
}

#[test]
fn suspicious_input_warns() {
    let text = OK.replace("[\"military\"]", "[\"milltary\"]") + "\n[pools.unused]\n";
    let loaded = parse("r.toml", &text, None).unwrap();
    let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            "r.toml:5:11: field `groups`: \"milltary\" is not a group handle ID.me documents; fine if your app has this custom policy",
            "r.toml: field `pools.unused`: no offer uses this pool",
        ]
    );
}

#[test]
fn dates_mean_whole_days_in_utc_and_offsets_are_honoured() {
    let text = OK.replace(
        "code = \"X\"",
        "code = \"X\"\nstarts = 2026-01-01\nends = 2026-12-31T18:00:00-05:00",
    );
    let o = &parse("r.toml", &text, None).unwrap().rules.offers[0];
    assert_eq!(o.starts, Some(1_767_225_600));
    assert_eq!(o.ends, Some(1_798_758_000));
    let text = OK.replace("code = \"X\"", "code = \"X\"\nends = 2026-12-31");
    let o = &parse("r.toml", &text, None).unwrap().rules.offers[0];
    assert_eq!(o.ends, Some(1_798_761_599), "the last second of the day");
}

#[test]
fn titles_and_descriptions_translate_by_language_tag() {
    let text = r#"
[[offers]]
id = "a"
title.en = "Military: 15% off"
title.fr-CA = "Militaires : 15 % de rabais"
description = { en = "For service members.", es = "Para militares." }
groups = ["military"]
percent = 15
code = "X"

[[offers]]
id = "b"
title = "Plain"
groups = ["student"]
percent = 10
code = "Y"
"#;
    use crate::i18n::Locale;
    let rules = parse("r.toml", text, None).unwrap().rules;
    let a = &rules.offers[0];
    assert_eq!(a.title, "Military: 15% off");
    assert_eq!(a.title_in(Locale::FrCa), "Militaires : 15 % de rabais");
    assert_eq!(
        a.title_in(Locale::Es),
        "Military: 15% off",
        "no Spanish: the default"
    );
    assert_eq!(a.description_in(Locale::Es), Some("Para militares."));
    assert_eq!(a.description_in(Locale::FrCa), Some("For service members."));
    let b = &rules.offers[1];
    assert_eq!(b.title_in(Locale::FrCa), "Plain");
    assert_eq!(b.description_in(Locale::FrCa), None);
}

#[test]
fn translations_name_known_languages_and_give_the_default() {
    let body = |title: &str| {
        format!(
            "[[offers]]\nid = \"a\"\n{title}\ngroups = [\"military\"]\npercent = 10\ncode = \"X\"\n"
        )
    };
    let error = |title: &str| {
        let errors = parse("r.toml", &body(title), None).map(|_| ()).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        errors[0].to_string()
    };
    assert_eq!(
        error("title.en = \"A\"\ntitle.de = \"B\""),
        "r.toml:4:7: field `title.de`: no catalog for the language \"de\": use one of en, fr-CA, es"
    );
    assert_eq!(
        error("title.fr-CA = \"B\""),
        "r.toml:3:1: field `title.en`: give the English text too (title.en = \"…\"): shoppers of other languages see it"
    );
    assert_eq!(
        error("title = { en = \"A\", es = \" \" }"),
        "r.toml:3:26: field `title.es`: must not be empty"
    );
    assert_eq!(
        error("title = 3"),
        "r.toml:3:9: field `title`: invalid type: integer `3`, expected a string, or a table of strings by language (en, fr-CA, es)"
    );
}
