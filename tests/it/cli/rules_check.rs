//! `perkgate rules check`: every mistake with its line and column, and the warnings.

use super::*;

/// The 1-based line and column (in characters) where `needle` first occurs in `text`.
fn position(text: &str, needle: &str) -> (usize, usize) {
    let offset = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in text"));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

#[test]
fn check_accepts_the_example_rules() {
    let s = Sandbox::new();
    let file = example_rules();
    let run = s.run(&["rules", "check", &file]);
    run.assert_code(0);
    assert_eq!(
        run.stdout,
        format!("{file}: OK, 7 offers, 1 pools\n"),
        "no warnings expected"
    );
    assert_eq!(run.stderr, "");
    assert!(
        !s.db_file().exists(),
        "rules check must not open a database"
    );
}

#[test]
fn check_lists_every_mistake_with_its_place() {
    let s = Sandbox::new();
    let text = r#"currency = "USD"

[[offers]]
id = "too-much"
title = "Too much"
groups = ["military"]
percent = 150
code = "MUCH"

[[offers]]
id = "backwards"
title = "Backwards window"
groups = ["student"]
percent = 10
code = "BACK"
starts = 2040-02-01
ends = 2040-01-01

[[offers]]
id = "no-pool"
title = "Pool nobody declared"
groups = ["teacher"]
percent = 10
code = { pool = "nope" }
"#;
    let file = s.write("bad.toml", text);
    let (pl, pc) = position(text, "150");
    let (el, ec) = position(text, "2040-01-01");
    let (cl, cc) = position(text, "{ pool = \"nope\" }");
    // The positions the text above puts them at, spelled out as a cross-check.
    assert_eq!([(pl, pc), (el, ec), (cl, cc)], [(7, 11), (17, 8), (24, 8)]);

    let run = s.run(&["rules", "check", &file]);
    run.assert_code(1);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        format!(
            "error: {file}:{pl}:{pc}: field `percent`: must be from 1 to 100, got 150\n\
             error: {file}:{el}:{ec}: field `ends`: `ends` (2040-01-01) is before `starts` (2040-02-01)\n\
             error: {file}:{cl}:{cc}: field `code.pool`: unknown pool \"nope\" (declare it as [pools.nope])\n\
             {file}: 3 error(s)\n"
        )
    );
}

#[test]
fn check_names_line_and_column_of_a_syntax_error() {
    let s = Sandbox::new();
    let text = "currency = \"USD\"\n\n[[offers]\nid = \"a\"\n";
    let file = s.write("syntax.toml", text);
    let run = s.run(&["rules", "check", &file]);
    run.assert_code(1);
    assert_eq!(run.stdout, "");
    let mut lines = run.stderr.lines();
    let first = lines.next().unwrap_or("");
    // Line 3, just after `[[offers]`, where the second `]` is missing.
    assert!(
        first.starts_with(&format!("error: {file}:3:10: ")),
        "{run:#?}"
    );
    assert!(first.contains("expected `]`"), "{run:#?}");
    assert_eq!(lines.next(), Some(format!("{file}: 1 error(s)").as_str()));
    assert_eq!(lines.next(), None);
}

#[test]
fn check_reports_a_misspelt_field_and_a_wrong_type() {
    let s = Sandbox::new();
    let text = "[[offers]]\nid = \"a\"\ntitle = \"A\"\ngroups = [\"military\"]\npercnt = 10\ncode = \"X\"\n";
    let file = s.write("typo.toml", text);
    let run = s.run(&["rules", "check", &file]);
    run.assert_code(1);
    assert!(
        run.stderr
            .starts_with(&format!("error: {file}:5:1: unknown field `percnt`")),
        "{run:#?}"
    );

    let text = text.replace("percnt = 10", "percent = \"ten\"");
    let file = s.write("type.toml", &text);
    let run = s.run(&["rules", "check", &file]);
    run.assert_code(1);
    assert!(
        run.stderr.starts_with(&format!(
            "error: {file}:5:11: field `percent`: invalid type"
        )),
        "{run:#?}"
    );
}

#[test]
fn check_of_a_missing_file_says_it_cannot_read_it() {
    let s = Sandbox::new();
    let file = s.path("no-such-rules.toml").display().to_string();
    let run = s.run(&["rules", "check", &file]);
    run.assert_code(1);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        format!(
            "error: {file}: cannot read: No such file or directory (os error 2)\n{file}: 1 error(s)\n"
        )
    );
}

#[test]
fn check_of_a_file_without_offers_fails() {
    let s = Sandbox::new();
    let file = s.write("empty.toml", "currency = \"USD\"\n");
    let run = s.run(&["rules", "check", &file]);
    run.assert_code(1);
    assert_eq!(
        run.stderr,
        format!(
            "error: {file}: no [[offers]]: the storefront would offer nothing\n{file}: 1 error(s)\n"
        )
    );
}

#[test]
fn check_warns_about_suspicious_but_legal_rules() {
    let s = Sandbox::new();
    let text = r#"[pools.unused]

[[offers]]
id = "typo"
title = "Military 10%"
groups = ["milltary"]
percent = 10
code = "SALUTE10"

[[offers]]
id = "old"
title = "Last year's"
groups = ["student"]
percent = 5
code = "OLD5"
ends = 2020-01-01
"#;
    let file = s.write("warn.toml", text);
    let (gl, gc) = position(text, "\"milltary\"");
    let (el, ec) = position(text, "2020-01-01");
    assert_eq!([(gl, gc), (el, ec)], [(6, 11), (16, 8)]);

    let run = s.run(&["rules", "check", &file]);
    run.assert_code(0);
    assert_eq!(run.stderr, "");
    assert_eq!(
        run.stdout,
        format!(
            "warning: {file}:{gl}:{gc}: field `groups`: \"milltary\" is not a group handle ID.me documents; fine if your app has this custom policy\n\
             warning: {file}:{el}:{ec}: field `ends`: this offer ended on 2020-01-01\n\
             warning: {file}: field `pools.unused`: no offer uses this pool\n\
             {file}: OK, 2 offers, 1 pools\n"
        )
    );
}
