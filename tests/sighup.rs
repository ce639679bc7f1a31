//! SIGHUP reloads the rules at once, without waiting for the file poll. In a test binary of its
//! own: the signal goes to the whole process.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic: that is how they fail

mod common;

use std::time::Duration;

use common::*;

const RULES: &str = r#"
[[offers]]
id = "military"
title = "Military: 15% off"
groups = ["military"]
percent = 15
code = "SALUTE15"
"#;

#[tokio::test]
async fn sighup_reloads_the_rules() {
    // Poll once an hour: only the signal can explain a reload within the test.
    let app = spawn_with(
        Options::default()
            .rules(RULES)
            .var("PERKGATE_RULES_POLL_MS", "3600000"),
    )
    .await;
    let client = browser();
    assert!(home(&client, &app).await.1.contains("Military: 15% off"));
    // Let the watcher take its first look at the file before it changes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    std::fs::write(
        app.rules_path(),
        RULES
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
        if home(&client, &app).await.1.contains("Military: 25% off") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("SIGHUP did not reload the rules");
}
