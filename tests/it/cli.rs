//! The command line, run as the real binary: `perkgate rules check|eval` and
//! `perkgate codes import|status|redeemed`, asserting on exit status, stdout and stderr.
//!
//! Every test runs in its own temporary folder and configures the binary only through
//! environment variables on the command: inherited `PERKGATE_*` variables are removed, the
//! configuration file is an empty one in the folder, the database lives in the folder, and the
//! rules are a file written there. The repository's own `perkgate.db` is never opened.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::rules_fixture;

/// The example rules shipped with the repository.
fn example_rules() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("config/rules.toml")
        .display()
        .to_string()
}

const VETERAN: &str = r#"{"attributes":[{"handle":"uuid","value":"u1"}],"status":[{"group":"military","subgroups":["Veteran"],"verified":true}]}"#;

const USAGE_HEAD: &str = "usage:\n  perkgate [serve]";

/// One command's outcome.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "unexpected exit status: {self:#?}");
        self
    }
}

/// A temporary folder holding the configuration, the rules and the database of one test.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    /// A folder with an empty configuration file and `rules.toml`, a copy of the fixture
    /// `one-pool` (for the `codes` commands: one declared pool with a low threshold of 3).
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("perkgate.toml"), "").expect("write empty config");
        let sandbox = Self { dir };
        sandbox.write("rules.toml", &rules_fixture("one-pool"));
        sandbox
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a file in the folder and returns its path as the binary will print it.
    fn write(&self, name: &str, contents: &str) -> String {
        let path = self.path(name);
        std::fs::write(&path, contents).expect("write file");
        path.display().to_string()
    }

    fn db_file(&self) -> PathBuf {
        self.path("data/perkgate.db")
    }

    /// Runs the binary with these arguments, from the folder, configured only by our variables.
    fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, &[])
    }

    /// Like [`Sandbox::run`], with extra (or overriding) variables.
    fn run_with(&self, args: &[&str], vars: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_perkgate"));
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("PERKGATE_") {
                cmd.env_remove(&name);
            }
        }
        cmd.current_dir(self.dir.path())
            .env("PERKGATE_CONFIG", self.path("perkgate.toml"))
            .env(
                "PERKGATE_DATABASE_URL",
                format!("sqlite://{}", self.db_file().display()),
            )
            .env("PERKGATE_RULES", self.path("rules.toml"))
            .args(args);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run perkgate");
        Run {
            code: out.status.code(),
            stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
            stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
        }
    }

    /// `codes status` as (pool, remaining, issued, low at, flag) rows.
    fn status_rows(&self) -> Vec<Vec<String>> {
        let run = self.run(&["codes", "status"]);
        run.assert_code(0);
        let pools = run.stdout.split("\n\n").next().unwrap_or("");
        let mut lines = pools.lines();
        assert_eq!(
            lines.next(),
            Some("pool                 remaining   issued  low at"),
            "{run:#?}"
        );
        lines
            .map(|l| l.split_whitespace().map(str::to_owned).collect())
            .collect()
    }
}

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

// ---------------------------------------------------------------------------------------------
// rules check

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

// ---------------------------------------------------------------------------------------------
// rules eval

/// `rules eval` of the example rules for this payload, optionally `--at` a time.
fn eval(s: &Sandbox, payload: &str, at: Option<&str>) -> Run {
    let attrs = s.write("attributes.json", payload);
    let rules = example_rules();
    let mut args = vec!["rules", "eval", rules.as_str(), attrs.as_str()];
    if let Some(at) = at {
        args.extend(["--at", at]);
    }
    s.run(&args)
}

const OTHERS_NOT_FOR_GROUP: &str = "  students: not for the shopper's verified groups
  teachers: not for the shopper's verified groups
  responders: not for the shopper's verified groups
  nurses: not for the shopper's verified groups
  state-alumni: not for the shopper's verified groups
";

const FOOTER: &str =
    "(pool codes, per-person limits and total caps are checked when the offer is claimed)\n";

#[test]
fn eval_explains_the_veteran_case() {
    let s = Sandbox::new();

    // As it is now: printed for the record (run with --nocapture to see it).
    let now = eval(&s, VETERAN, None);
    println!(
        "--- perkgate rules eval config/rules.toml veteran.json ---\n{}",
        now.stdout
    );
    now.assert_code(0);
    assert_eq!(now.stderr, "");
    assert!(
        now.stdout.starts_with("at 20")
            && now
                .stdout
                .contains(": verified groups: military (Veteran)\n"),
        "{now:#?}"
    );

    // At a fixed moment while the veterans offer runs.
    let run = eval(&s, VETERAN, Some("2026-12-01"));
    run.assert_code(0);
    assert_eq!(run.stderr, "");
    assert_eq!(
        run.stdout,
        format!(
            "at 2026-12-01: verified groups: military (Veteran)\n\
             applies: veterans \"Veterans and retirees: 20% off\": 20% off, up to $100.00, a code from pool veteran-codes (priority 10, worth $20.00 on the reference order)\n  \
             military: eligible, ranked lower (priority 0, worth $15.00); tried next if the one above cannot be claimed\n\
             {OTHERS_NOT_FOR_GROUP}{FOOTER}"
        )
    );
    // Through the 2020s (the offer ends on 2030-12-31) "now" gives the same answer as that
    // fixed moment; only the date in the first line differs.
    if now.stdout.starts_with("at 202") {
        assert_eq!(
            now.stdout.split_once('\n').map(|x| x.1),
            run.stdout.split_once('\n').map(|x| x.1)
        );
    }
}

#[test]
fn eval_after_the_veterans_offer_ended() {
    let s = Sandbox::new();
    for at in ["2031-01-01", "2031-01-01T00:00:00Z"] {
        let run = eval(&s, VETERAN, Some(at));
        run.assert_code(0);
        assert_eq!(
            run.stdout,
            format!(
                "at 2031-01-01: verified groups: military (Veteran)\n\
                 applies: military \"Military: 15% off\": 15% off, code SALUTE15 (priority 0, worth $15.00 on the reference order)\n  \
                 veterans: ended on 2030-12-31\n\
                 {OTHERS_NOT_FOR_GROUP}{FOOTER}"
            ),
            "--at {at}"
        );
    }
    // The end date is inclusive: the last second of 2030-12-31 still runs it.
    let run = eval(&s, VETERAN, Some("2030-12-31T23:59:59Z"));
    run.assert_code(0);
    assert!(run.stdout.contains("\napplies: veterans "), "{run:#?}");
}

#[test]
fn eval_names_the_subgroup_reason() {
    let s = Sandbox::new();
    let payload = VETERAN.replace("\"Veteran\"", "\"Service Member\"");
    let run = eval(&s, &payload, Some("2026-12-01"));
    run.assert_code(0);
    assert_eq!(
        run.stdout,
        format!(
            "at 2026-12-01: verified groups: military (Service Member)\n\
             applies: military \"Military: 15% off\": 15% off, code SALUTE15 (priority 0, worth $15.00 on the reference order)\n  \
             veterans: the shopper's subgroups are not among the offer's\n\
             {OTHERS_NOT_FOR_GROUP}{FOOTER}"
        )
    );
}

#[test]
fn eval_tests_attribute_conditions() {
    let s = Sandbox::new();
    let alumni = |attrs: &str| {
        format!(
            r#"{{"attributes":[{{"handle":"uuid","value":"u2"}}{attrs}],"status":[{{"group":"alumni","subgroups":[],"verified":true}}]}}"#
        )
    };
    let school = r#",{"handle":"alumni_school_name","value":"State University"}"#;
    let graduated = r#",{"handle":"alumni_graduation_date","value":"2001-05-20"}"#;

    let run = eval(
        &s,
        &alumni(&format!("{school}{graduated}")),
        Some("2026-12-01"),
    );
    run.assert_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines[0], "at 2026-12-01: verified groups: alumni");
    assert_eq!(
        lines[1],
        "applies: state-alumni \"State University alumni: free shipping\": Free shipping, no code (priority 0, worth $8.00 on the reference order)"
    );
    assert!(
        lines[2..lines.len() - 1]
            .iter()
            .all(|l| l.ends_with(": not for the shopper's verified groups")),
        "{run:#?}"
    );

    let run = eval(&s, &alumni(school), Some("2026-12-01"));
    run.assert_code(0);
    assert!(run.stdout.contains("\napplies: nothing\n"), "{run:#?}");
    assert!(
        run.stdout.contains(
            "\n  state-alumni: condition not met: alumni_graduation_date is after 1990-01-01 (the attribute is absent)\n"
        ),
        "{run:#?}"
    );

    let other = r#",{"handle":"alumni_school_name","value":"Other College"}"#;
    let run = eval(
        &s,
        &alumni(&format!("{other}{graduated}")),
        Some("2026-12-01"),
    );
    run.assert_code(0);
    assert!(
        run.stdout.contains(
            "\n  state-alumni: condition not met: alumni_school_name equals \"State University\"\n"
        ),
        "{run:#?}"
    );
}

#[test]
fn eval_with_no_verified_group_applies_nothing() {
    let s = Sandbox::new();
    let payload = VETERAN.replace("\"verified\":true", "\"verified\":false");
    let run = eval(&s, &payload, Some("2026-12-01"));
    run.assert_code(0);
    assert!(
        run.stdout
            .starts_with("at 2026-12-01: verified groups: none\napplies: nothing\n"),
        "{run:#?}"
    );
    assert_eq!(
        run.stdout
            .matches(": not for the shopper's verified groups\n")
            .count(),
        7
    );
}

#[test]
fn eval_refuses_signed_and_malformed_payloads() {
    let s = Sandbox::new();
    let jwt = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJl";
    for body in [jwt.to_owned(), format!("\"{jwt}\"\n")] {
        let run = eval(&s, &body, None);
        run.assert_code(1);
        assert_eq!(run.stdout, "");
        let attrs = s.path("attributes.json").display().to_string();
        assert_eq!(
            run.stderr,
            format!(
                "{attrs}: the attributes payload is a JWT (signed or encrypted): `rules eval` reads the plain JSON attributes object\n"
            )
        );
    }

    for (body, why) in [
        ("this is not json", "(syntax error at line 1, column "),
        ("{\"status\": [", "(truncated error at line 1, column "),
        ("{\"status\": 7}", "(shape error at line 1, column "),
    ] {
        let run = eval(&s, body, None);
        run.assert_code(1);
        assert_eq!(run.stdout, "");
        assert!(
            run.stderr
                .contains("the attributes payload is not the JSON ID.me documents"),
            "{body}: {run:#?}"
        );
        assert!(
            run.stderr
                .starts_with(&s.path("attributes.json").display().to_string()),
            "{body}: {run:#?}"
        );
        assert!(run.stderr.contains(why), "{body}: {run:#?}");
        assert!(!run.stderr.contains(body), "the body is never echoed");
    }
}

#[test]
fn eval_of_a_missing_attributes_file_fails() {
    let s = Sandbox::new();
    let missing = s.path("missing.json").display().to_string();
    let run = s.run(&["rules", "eval", &example_rules(), &missing]);
    run.assert_code(1);
    assert_eq!(run.stdout, "");
    assert!(run.stderr.starts_with(&format!("{missing}: ")), "{run:#?}");
    assert!(run.stderr.contains("No such file or directory"), "{run:#?}");
}

#[test]
fn eval_with_a_broken_rules_file_fails() {
    let s = Sandbox::new();
    let rules = s.write("bad.toml", "[[offers]\n");
    let attrs = s.write("attributes.json", VETERAN);
    let run = s.run(&["rules", "eval", &rules, &attrs]);
    run.assert_code(1);
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.starts_with(&format!("error: {rules}:1:")),
        "{run:#?}"
    );
}

#[test]
fn eval_rejects_a_bad_time_as_a_usage_error() {
    let s = Sandbox::new();
    for at in [
        "nonsense",
        "2026-13-45",
        "31/12/2026",
        "2026-12-31T12:00:00",
    ] {
        let run = eval(&s, VETERAN, Some(at));
        run.assert_code(2);
        assert_eq!(run.stdout, "", "--at {at}");
        assert_eq!(
            run.stderr, "perkgate: --at: expected 2026-12-31 or 2026-12-31T12:00:00Z\n",
            "--at {at}"
        );
    }
    // `--at` without a value is not a command perkgate knows.
    let attrs = s.write("attributes.json", VETERAN);
    let run = s.run(&["rules", "eval", &example_rules(), &attrs, "--at"]);
    run.assert_code(2);
    assert!(run.stderr.contains(USAGE_HEAD), "{run:#?}");
}

// ---------------------------------------------------------------------------------------------
// codes

#[test]
fn codes_import_skips_duplicates_and_status_flags_low_pools() {
    let s = Sandbox::new();
    assert_eq!(
        s.status_rows(),
        [["vets", "0", "0", "3", "LOW"]],
        "a declared pool shows before any import"
    );
    assert!(
        s.db_file().exists(),
        "the database is created in the temp folder"
    );

    let first = s.write(
        "first.csv",
        "code,note\nAAA-111,a\nBBB-222,b\n\"CCC_333\"\n",
    );
    let run = s.run(&["codes", "import", "vets", &first]);
    run.assert_code(0);
    assert_eq!(run.stderr, "");
    assert_eq!(
        run.stdout,
        "vets: added 3, skipped 0 duplicate(s); 3 code(s) available\n"
    );
    assert_eq!(
        s.status_rows(),
        [["vets", "3", "0", "3", "LOW"]],
        "at the threshold is low"
    );

    // Overlapping: two already there, two new, one repeated within the file.
    let second = s.write(
        "second.csv",
        "# more codes\nBBB-222\nCCC_333\nDDD-444\n\nEEE-555\nDDD-444\n",
    );
    let run = s.run(&["codes", "import", "vets", &second]);
    run.assert_code(0);
    assert_eq!(
        run.stdout,
        "vets: added 2, skipped 3 duplicate(s); 5 code(s) available\n"
    );
    assert_eq!(
        s.status_rows(),
        [["vets", "5", "0", "3"]],
        "above the threshold"
    );

    // The same file again adds nothing.
    let run = s.run(&["codes", "import", "vets", &first]);
    run.assert_code(0);
    assert_eq!(
        run.stdout,
        "vets: added 0, skipped 3 duplicate(s); 5 code(s) available\n"
    );
}

#[test]
fn codes_import_with_malformed_lines_imports_nothing() {
    let s = Sandbox::new();
    let good = s.write("good.csv", "AAA-111\nBBB-222\nCCC-333\n");
    s.run(&["codes", "import", "vets", &good]).assert_code(0);

    let bad = s.write(
        "bad.csv",
        "FFF-666\nbad code with spaces\nx\nGGG-777,a note\n",
    );
    let run = s.run(&["codes", "import", "vets", &bad]);
    run.assert_code(1);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        format!(
            "{bad}:2: not a code (3 to 64 letters, digits, '-' or '_'): \"bad code with spaces\"\n\
             {bad}:3: not a code (3 to 64 letters, digits, '-' or '_'): \"x\"\n\
             {bad}: 2 malformed line(s); nothing imported\n"
        )
    );
    assert_eq!(
        s.status_rows(),
        [["vets", "3", "0", "3", "LOW"]],
        "remaining unchanged: not even the good lines were imported"
    );
}

#[test]
fn codes_import_into_an_undeclared_pool_warns_but_works() {
    let s = Sandbox::new();
    let file = s.write("codes.csv", "ZZZ-001\nZZZ-002\n");
    let run = s.run(&["codes", "import", "spare", &file]);
    run.assert_code(0);
    assert_eq!(
        run.stderr,
        "warning: no pool \"spare\" in the rules; declare [pools.spare] for an offer to use these codes\n"
    );
    assert_eq!(
        run.stdout,
        "spare: added 2, skipped 0 duplicate(s); 2 code(s) available\n"
    );
    let run = s.run(&["codes", "status"]);
    run.assert_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines[..3],
        [
            "pool                 remaining   issued  low at",
            "vets                         0        0       3  LOW",
            "spare                        2        0       -  (not in the rules)",
        ],
        "{run:#?}"
    );
    assert_eq!(lines[3..], ["", "offer                  claimed  re-shown"]);
}

#[test]
fn codes_import_of_a_missing_file_fails() {
    let s = Sandbox::new();
    let missing = s.path("missing.csv").display().to_string();
    let run = s.run(&["codes", "import", "vets", &missing]);
    run.assert_code(1);
    assert!(
        run.stderr.starts_with(&format!("{missing}: cannot read: ")),
        "{run:#?}"
    );
}

#[test]
fn codes_redeemed_on_a_fresh_database_marks_nothing() {
    let s = Sandbox::new();
    let file = s.write("used.csv", "code\nAAA-111\nBBB-222\n");
    let run = s.run(&["codes", "redeemed", &file]);
    run.assert_code(0);
    assert_eq!(run.stderr, "");
    assert_eq!(run.stdout, "marked 0 claim(s) as redeemed\n");
    assert!(s.db_file().exists());

    let bad = s.write("bad.csv", "AAA-111\nno good\n");
    let run = s.run(&["codes", "redeemed", &bad]);
    run.assert_code(1);
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.starts_with(&format!(
            "{bad}:2: not a code (3 to 64 letters, digits, '-' or '_'): \"no good\""
        )),
        "{run:#?}"
    );
}

#[test]
fn codes_commands_report_bad_configuration_and_rules() {
    let s = Sandbox::new();
    let run = s.run_with(
        &["codes", "status"],
        &[("PERKGATE_DATABASE_URL", "mysql://localhost/perkgate")],
    );
    run.assert_code(2);
    assert!(
        run.stderr.starts_with(
            "perkgate: configuration error: PERKGATE_DATABASE_URL: expected sqlite://FILE or postgres://"
        ),
        "{run:#?}"
    );
    assert!(!s.db_file().exists());

    // A PostgreSQL nobody answers for: a clear failure, quickly, and never the password.
    let run = s.run_with(
        &["codes", "status"],
        &[(
            "PERKGATE_DATABASE_URL",
            "postgres://u:hunter2@127.0.0.1:1/perkgate",
        )],
    );
    run.assert_code(1);
    assert!(
        run.stderr
            .starts_with("perkgate: cannot connect to PostgreSQL"),
        "{run:#?}"
    );
    assert!(!run.stderr.contains("hunter2"));

    // A named rules file must exist: no silent fallback to the example rules.
    let missing = s.path("gone.toml").display().to_string();
    let run = s.run_with(&["codes", "status"], &[("PERKGATE_RULES", &missing)]);
    run.assert_code(1);
    assert!(
        run.stderr
            .starts_with(&format!("error: {missing}: cannot read rules: ")),
        "{run:#?}"
    );

    let broken = s.write("broken.toml", "[[offers]\n");
    let run = s.run_with(&["codes", "status"], &[("PERKGATE_RULES", &broken)]);
    run.assert_code(1);
    assert!(
        run.stderr.starts_with(&format!("error: {broken}:1:")),
        "{run:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// usage

#[test]
fn unknown_commands_print_the_usage_and_exit_2() {
    let s = Sandbox::new();
    for args in [
        &["frobnicate"][..],
        &["rules"],
        &["rules", "check"],
        &["rules", "check", "a.toml", "b.toml"],
        &["codes", "import", "vets"],
        &["codes", "status", "extra"],
        &["--version"],
    ] {
        let run = s.run(args);
        run.assert_code(2);
        assert_eq!(run.stdout, "", "{args:?}");
        assert!(
            run.stderr
                .starts_with(&format!("perkgate: unrecognised command\n\n{USAGE_HEAD}")),
            "{args:?}: {run:#?}"
        );
        assert!(run.stderr.contains("perkgate codes redeemed FILE.csv"));
    }
    assert!(!s.db_file().exists());
}

#[test]
fn help_prints_the_usage_and_exits_0() {
    let s = Sandbox::new();
    for flag in ["--help", "-h", "help"] {
        let run = s.run(&[flag]);
        run.assert_code(0);
        assert_eq!(run.stderr, "", "{flag}");
        assert!(run.stdout.starts_with(USAGE_HEAD), "{flag}: {run:#?}");
        for command in [
            "perkgate rules check FILE",
            "perkgate rules eval FILE ATTRIBUTES.json [--at TIME]",
            "perkgate codes import POOL FILE.csv",
            "perkgate codes status",
            "perkgate codes redeemed FILE.csv",
        ] {
            assert!(run.stdout.contains(command), "{flag}: {command}");
        }
    }
}
