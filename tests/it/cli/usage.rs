//! The usage text: unknown commands exit 2 with it on stderr, help prints it and exits 0.

use super::*;

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
