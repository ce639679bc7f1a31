//! `perkgate admin add|list|reset|remove`, run as the real binary on the test's own database.

use std::process::Command;

fn run(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_perkgate"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PERKGATE_") {
            cmd.env_remove(&name);
        }
    }
    std::fs::write(dir.join("perkgate.toml"), "").unwrap();
    let out = cmd
        .current_dir(dir)
        .env("PERKGATE_CONFIG", dir.join("perkgate.toml"))
        .env(
            "PERKGATE_DATABASE_URL",
            format!("sqlite://{}", dir.join("p.db").display()),
        )
        .env("PERKGATE_PUBLIC_URL", "https://shop.example")
        .env("PERKGATE_ALLOW_SANDBOX", "1")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn admin_commands_add_list_reset_and_remove() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (code, out, err) = run(d, &["admin", "add", "Ann@Example.com", "--role", "owner"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("added ann@example.com (owner)"), "{out}");
    let link = out.lines().last().unwrap();
    assert!(
        link.starts_with("https://shop.example/admin/password/") && link.len() > 40,
        "{out}"
    );
    let (code, _, err) = run(d, &["admin", "add", "ann@example.com", "--role", "viewer"]);
    assert_eq!(code, 1);
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(
        run(d, &["admin", "add", "bob@example.com", "--role", "admin"]).0,
        2
    );
    run(d, &["admin", "add", "bob@example.com", "--role", "editor"]);
    let (code, out, _) = run(d, &["admin", "list"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("ann@example.com") && out.contains("owner") && out.contains("not set"),
        "{out}"
    );
    assert!(out.contains("bob@example.com") && out.contains("editor"));
    let (code, out, _) = run(d, &["admin", "reset", "ann@example.com"]);
    assert_eq!(code, 0);
    assert_ne!(out.lines().last().unwrap(), link, "a new link");
    let (code, out, _) = run(d, &["admin", "remove", "bob@example.com"]);
    assert_eq!((code, out.as_str()), (0, "removed bob@example.com\n"));
    assert_eq!(run(d, &["admin", "remove", "bob@example.com"]).0, 1);
    let (_, usage, _) = run(d, &["--help"]);
    assert!(usage.contains("perkgate admin add EMAIL --role owner|editor|viewer"));
    // Every change is in the audit log, by "cli", without the link's token.
    let db = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let db = perkgate::db::connect(&format!("sqlite://{}", d.join("p.db").display()))
            .await
            .unwrap();
        perkgate::admin::audit::recent(&db, 20).await.unwrap()
    });
    let actions: Vec<_> = db
        .iter()
        .map(|e| (e.actor.as_str(), e.action.as_str()))
        .collect();
    assert!(
        actions.contains(&("cli", "account added"))
            && actions.contains(&("cli", "account reset"))
            && actions.contains(&("cli", "account removed"))
    );
    let token = link.rsplit('/').next().unwrap();
    assert!(db.iter().all(|e| !e.details.contains(token)));
}

fn run_with(dir: &std::path::Path, env: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_perkgate"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PERKGATE_") {
            cmd.env_remove(&name);
        }
    }
    std::fs::write(dir.join("perkgate.toml"), "").unwrap();
    let out = cmd
        .current_dir(dir)
        .env("PERKGATE_CONFIG", dir.join("perkgate.toml"))
        .env(
            "PERKGATE_DATABASE_URL",
            format!("sqlite://{}", dir.join("p.db").display()),
        )
        .envs(env.iter().copied())
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn rules_export_and_import_publish_versions_and_refuse_bad_files() {
    const EXAMPLE: &str = include_str!("../../../config/rules.toml");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // No config/rules.toml here: the first version is the compiled-in example.
    let (code, out, err) = run_with(d, &[], &["rules", "export"]);
    assert_eq!((code, out.as_str()), (0, EXAMPLE), "{err}");
    let bad = EXAMPLE.replacen("percent = 15", "percent = 150", 1);
    std::fs::write(d.join("bad.toml"), &bad).unwrap();
    let (code, _, err) = run_with(d, &[], &["rules", "import", "bad.toml"]);
    assert_eq!(code, 1);
    let line = EXAMPLE.lines().position(|l| l == "percent = 15").unwrap() + 1;
    assert!(
        err.contains(&format!("bad.toml:{line}:11: field `percent`"))
            && err.contains("nothing published"),
        "{err}"
    );
    let good = EXAMPLE.replacen("percent = 15", "percent = 25", 1);
    std::fs::write(d.join("good.toml"), &good).unwrap();
    let (code, out, err) = run_with(
        d,
        &[],
        &["rules", "import", "good.toml", "--note", "military 25%"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "good.toml: published as version 2 (+1 -1 lines)\n");
    assert_eq!(run_with(d, &[], &["rules", "export"]).1, good);
    assert_eq!(
        run_with(d, &[], &["rules", "export", "--version", "1"]).1,
        EXAMPLE
    );
    let (code, _, err) = run_with(d, &[], &["rules", "export", "--version", "7"]);
    assert_eq!(code, 1);
    assert!(err.contains("no rules version 7"), "{err}");
    let entries = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let db = perkgate::db::connect(&format!("sqlite://{}", d.join("p.db").display()))
            .await
            .unwrap();
        let v2 = perkgate::rules::versions::get(&db, 2)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (v2.summary.author.as_str(), v2.summary.note.as_str()),
            ("cli", "military 25%")
        );
        perkgate::admin::audit::recent(&db, 5).await.unwrap()
    });
    assert_eq!(
        (entries[0].actor.as_str(), entries[0].action.as_str()),
        ("cli", "rules imported")
    );
    assert!(
        entries[0].details.contains("+percent = 25"),
        "{}",
        entries[0].details
    );

    // With PERKGATE_RULES the file is authoritative: import refuses, export prints the file.
    let file = d.join("good.toml");
    let env = [("PERKGATE_RULES", file.to_str().unwrap())];
    let (code, _, err) = run_with(d, &env, &["rules", "import", "bad.toml"]);
    assert_eq!(code, 1);
    assert!(err.contains("PERKGATE_RULES is set"), "{err}");
    assert_eq!(run_with(d, &env, &["rules", "export"]).1, good);
    let (_, usage, _) = run_with(d, &[], &["--help"]);
    assert!(
        usage.contains("perkgate rules export [--version N]")
            && usage.contains("perkgate rules import FILE [--note TEXT]")
    );
}
