//! `perkgate codes import|status|redeemed`: duplicates, malformed lines, undeclared pools,
//! low pools, and bad configuration.

use super::*;

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
