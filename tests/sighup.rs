//! SIGHUP reloads the rules at once, without waiting for the file poll. In a test binary of its
//! own, and self-contained (not the `it` binary's harness): the signal goes to the whole
//! process, and this is the only test in it.

// Tests may panic: that is how they fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use perkgate::{App, Config};

#[tokio::test]
async fn sighup_reloads_the_rules() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rules_path = dir.path().join("rules.toml");
    let rules = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/rules/military-only.toml"
    ))
    .expect("read the rules fixture");
    std::fs::write(&rules_path, &rules).expect("write rules");
    let config_path = dir.path().join("perkgate.toml");
    std::fs::write(&config_path, "").expect("write empty config");
    let path = |p: &std::path::Path| p.display().to_string();
    let config = Config::from_vars([
        ("PERKGATE_LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
        (
            "PERKGATE_DATABASE_URL".to_owned(),
            format!("sqlite://{}", dir.path().join("perkgate.db").display()),
        ),
        ("PERKGATE_CONFIG".to_owned(), path(&config_path)),
        ("PERKGATE_RULES".to_owned(), path(&rules_path)),
        // Poll once an hour: only the signal can explain a reload within the test.
        ("PERKGATE_RULES_POLL_MS".to_owned(), "3600000".to_owned()),
    ])
    .expect("test config");
    let app = App::build(config).await.expect("app starts");
    let home = format!("http://{}/", app.local_addr());
    tokio::spawn(async move { app.serve(std::future::pending()).await });
    let client = reqwest::Client::new();
    let page = || async {
        client
            .get(&home)
            .send()
            .await
            .expect("GET /")
            .text()
            .await
            .expect("body")
    };

    assert!(page().await.contains("Military: 15% off"));
    // Let the watcher take its first look at the file before it changes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    std::fs::write(
        &rules_path,
        rules
            .replace("15% off", "25% off")
            .replace("percent = 15", "percent = 25"),
    )
    .unwrap();

    let status = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    for _ in 0..100 {
        if page().await.contains("Military: 25% off") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("SIGHUP did not reload the rules");
}
