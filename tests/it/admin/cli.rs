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
