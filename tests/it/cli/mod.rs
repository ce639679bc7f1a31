//! The command line, run as the real binary: `perkgate rules check|eval` and
//! `perkgate codes import|status|redeemed`, asserting on exit status, stdout and stderr.
//!
//! Every test runs in its own temporary folder and configures the binary only through
//! environment variables on the command: inherited `PERKGATE_*` variables are removed, the
//! configuration file is an empty one in the folder, the database lives in the folder, and the
//! rules are a file written there. The repository's own `perkgate.db` is never opened.
//!
//! This file holds that folder (`Sandbox`) and what every topic shares; one file per command.

mod codes;
mod keys;
mod rules_check;
mod rules_eval;
mod usage;
mod webhooks;

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
