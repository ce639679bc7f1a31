//! SIGHUP reloads the rules at once, without waiting for the file poll, and the merchant's
//! templates (`PERKGATE_TEMPLATES`). In a test binary of its own, and self-contained (not the
//! `it` binary's harness): the signal goes to the whole process. One test sends it for both,
//! so that no signal of one test arrives while the other is reading its pages.

// Tests may panic: that is how they fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use perkgate::{App, Config};

#[tokio::test]
async fn sighup_reloads_the_rules_and_the_templates() {
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
    let templates = dir.path().join("templates");
    std::fs::create_dir(&templates).expect("templates folder");
    let error_page = templates.join("error.html");
    std::fs::write(&error_page, "<p>first: {{ message }}</p>").unwrap();
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
        ("PERKGATE_TEMPLATES".to_owned(), path(&templates)),
    ])
    .expect("test config");
    let app = App::build(config).await.expect("app starts");
    let home = format!("http://{}/", app.local_addr());
    tokio::spawn(async move { app.serve(std::future::pending()).await });
    let client = reqwest::Client::new();
    let missing = format!("{home}nowhere");
    let get = |url: String| {
        let client = client.clone();
        async move {
            client
                .get(&url)
                .send()
                .await
                .expect("GET")
                .text()
                .await
                .expect("body")
        }
    };
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
    assert!(get(missing.clone()).await.contains("first: "));
    // Let the watcher take its first look at the file before it changes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    std::fs::write(
        &rules_path,
        rules
            .replace("15% off", "25% off")
            .replace("percent = 15", "percent = 25"),
    )
    .unwrap();
    // A broken template is refused and the one in use stays; a sound one replaces it.
    std::fs::write(&error_page, "<p>{{ message </p>").unwrap();
    hangup();
    let mut reloaded = false;
    for _ in 0..100 {
        if page().await.contains("Military: 25% off") {
            reloaded = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(reloaded, "SIGHUP did not reload the rules");
    assert!(get(missing.clone()).await.contains("first: "));

    std::fs::write(&error_page, "<p>second: {{ message }}</p>").unwrap();
    hangup();
    for _ in 0..100 {
        if get(missing.clone()).await.contains("second: ") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("SIGHUP did not reload the templates");
}

/// SIGHUP to this process, as an operator's `kill -HUP` would.
fn hangup() {
    let status = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
}
