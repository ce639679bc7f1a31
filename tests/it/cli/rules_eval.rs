//! `perkgate rules eval`: which offer applies to an attributes payload and why the others do
//! not, `--at` a time, and the payloads and times it refuses.

use super::*;

const VETERAN: &str = r#"{"attributes":[{"handle":"uuid","value":"u1"}],"status":[{"group":"military","subgroups":["Veteran"],"verified":true}]}"#;

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
