//! The rules in the database and the console's editor: version 1 seeded at first start, publish
//! changes the store, a bad document changes nothing, a stale publish is kept as a draft,
//! drafts, rollback, diffs, roles, the file-authoritative mode, and several instances seeing a
//! publish within two seconds (SQLite on one file, PostgreSQL as two processes).

use std::time::{Duration, Instant};

use perkgate::admin::{Role, accounts, audit, password};
use perkgate::rules::versions;

use super::{PASSWORD, account, browser, csrf_of, post, signed_in};
use crate::harness::process::Instance;
use crate::harness::stores::fresh_postgres;
use crate::harness::{Options, TestApp, location, serial, spawn_app, spawn_with};

const EXAMPLE: &str = include_str!("../../../config/rules.toml");

/// The example rules with the military offer at `percent`.
fn military_at(percent: u8) -> String {
    let edited = EXAMPLE.replacen("percent = 15", &format!("percent = {percent}"), 1);
    assert_ne!(edited, EXAMPLE, "the example has the military offer at 15%");
    edited
}

/// The store's military card says this percentage.
async fn store_says(base_home: &str, percent: u8) -> bool {
    let i = base_home
        .find("data-testid=\"offer-military\"")
        .expect("the military offer's card");
    base_home[i..]
        .split("</li>")
        .next()
        .unwrap_or_default()
        .contains(&format!("{percent}% off"))
}

async fn publish(
    app: &TestApp,
    b: &reqwest::Client,
    document: &str,
    based_on: i64,
    note: &str,
) -> reqwest::Response {
    let csrf = csrf_of(app, b, "/admin/rules").await;
    let based_on = based_on.to_string();
    post(
        app,
        b,
        "/admin/rules",
        &[
            ("csrf", &csrf),
            ("action", "publish"),
            ("document", document),
            ("based_on", &based_on),
            ("note", note),
        ],
    )
    .await
}

async fn page(app: &TestApp, b: &reqwest::Client, path: &str) -> (u16, String) {
    let res = b.get(app.url(path)).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

#[tokio::test]
async fn the_database_serves_version_1_and_a_publish_changes_the_store() {
    let app = spawn_app().await;
    let db = app.db().await;
    let v1 = versions::latest(&db).await.unwrap().expect("version 1");
    assert_eq!(
        (v1.summary.version, v1.summary.author.as_str()),
        (1, "start-up")
    );
    assert_eq!(v1.document, EXAMPLE, "seeded from config/rules.toml");
    assert!(store_says(&app.home().await.1, 15).await);
    let ready: serde_json::Value = app.get("/readyz").await.json().await.unwrap();
    assert_eq!(ready["rules"]["source"], "database", "{ready}");

    account(&app, "ed@example.com", Role::Editor).await;
    let b = signed_in(&app, "ed@example.com").await;
    let (status, html) = page(&app, &b, "/admin/rules").await;
    assert_eq!(status, 200);
    assert!(html.contains("Live: version 1 by start-up"), "{html}");
    assert!(html.contains("<label for=\"document\"") && html.contains("<textarea id=\"document\""));
    assert!(
        html.contains("href=\"/admin/rules/versions\""),
        "in the nav"
    );

    let res = publish(&app, &b, &military_at(25), 1, "military to 25%").await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/admin/rules?published=2");
    // This instance serves it before answering.
    assert!(store_says(&app.home().await.1, 25).await);
    let (_, html) = page(&app, &b, "/admin/rules?published=2").await;
    assert!(html.contains("Version 2 is published and live") && html.contains("military to 25%"));

    let entry = audit::recent(&db, 1).await.unwrap().remove(0);
    assert_eq!(
        (
            entry.actor.as_str(),
            entry.address.as_str(),
            entry.action.as_str()
        ),
        ("ed@example.com", "127.0.0.1", "rules published")
    );
    assert!(
        entry.details.contains("+1 -1 lines")
            && entry.details.contains("-percent = 15")
            && entry.details.contains("+percent = 25")
            && entry.details.contains("military to 25%"),
        "{}",
        entry.details
    );

    // History and the diff between any two versions.
    let (status, html) = page(&app, &b, "/admin/rules/versions").await;
    assert_eq!(status, 200);
    assert_eq!(html.matches("data-testid=\"version-row\"").count(), 2);
    let (status, html) = page(&app, &b, "/admin/rules/versions?from=1&to=2").await;
    assert_eq!(status, 200);
    assert!(html.contains("1 line(s) added, 1 removed"), "{html}");
    assert!(html.contains("- removed") && html.contains("<code>percent = 15</code>"));
    assert!(html.contains("+ added") && html.contains("<code>percent = 25</code>"));
    let (status, _) = page(&app, &b, "/admin/rules/versions?from=1&to=9").await;
    assert_eq!(status, 400);
    let (status, html) = page(&app, &b, "/admin/rules/versions/1").await;
    assert_eq!(status, 200);
    assert!(html.contains("data-testid=\"rollback-link\"") && html.contains("percent = 15"));

    // Roll back: a confirmation, then version 1's document again as version 3.
    let (status, html) = page(&app, &b, "/admin/rules/versions/1/rollback").await;
    assert_eq!(status, 200);
    let csrf = crate::harness::hidden(&html, "csrf");
    let stale = post(
        &app,
        &b,
        "/admin/rules/versions/1/rollback",
        &[("csrf", &csrf), ("based_on", "1")],
    )
    .await;
    assert_eq!(
        stale.status(),
        409,
        "confirmed against a version that moved on"
    );
    let res = post(
        &app,
        &b,
        "/admin/rules/versions/1/rollback",
        &[("csrf", &csrf), ("based_on", "2")],
    )
    .await;
    assert_eq!(
        (res.status().as_u16(), location(&res)),
        (303, "/admin/rules?published=3".to_owned())
    );
    let v3 = versions::get(&db, 3).await.unwrap().unwrap();
    assert_eq!(
        (v3.document.as_str(), v3.summary.note.as_str()),
        (EXAMPLE, "rollback to 1")
    );
    assert!(store_says(&app.home().await.1, 15).await);
    let entry = audit::recent(&db, 1).await.unwrap().remove(0);
    assert_eq!(entry.action, "rules rolled back");
    assert!(entry.details.contains("-percent = 25"), "{}", entry.details);

    // A long document (far above the site's 16 KiB form limit) is published too.
    let notes: String = (0..1500)
        .map(|i| format!("# note {i}: why this offer is worded as it is\n"))
        .collect();
    let long = format!("{notes}{}", military_at(25));
    assert!(long.len() > 64 * 1024);
    let res = publish(&app, &b, &long, 3, "with the merchant's notes").await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    assert_eq!(versions::latest(&db).await.unwrap().unwrap().document, long);
}

#[tokio::test]
async fn a_bad_document_is_refused_with_its_lines_and_changes_nothing() {
    let app = spawn_app().await;
    account(&app, "ed@example.com", Role::Editor).await;
    let b = signed_in(&app, "ed@example.com").await;
    let bad = military_at(150);
    let res = publish(&app, &b, &bad, 1, "too much").await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    let line = EXAMPLE.lines().position(|l| l == "percent = 15").unwrap() + 1;
    assert!(
        html.contains(&format!(
            "Line {line}, column 11, field <code>percent</code>"
        )),
        "{html}"
    );
    assert!(
        html.contains("aria-describedby=\"rules-problems\"")
            && html.contains("id=\"rules-problems\"")
    );
    assert!(html.contains("percent = 150"), "the text is kept");
    assert!(html.contains("value=\"too much\""), "the note is kept");
    let db = app.db().await;
    assert_eq!(versions::latest_number(&db).await.unwrap(), 1);
    assert!(store_says(&app.home().await.1, 15).await);

    // Validate says the same without publishing; a good document is said to be valid.
    let csrf = csrf_of(&app, &b, "/admin/rules").await;
    let res = post(
        &app,
        &b,
        "/admin/rules",
        &[
            ("csrf", &csrf),
            ("action", "validate"),
            ("document", &bad),
            ("based_on", "1"),
        ],
    )
    .await;
    assert_eq!(res.status(), 422);
    let good = military_at(30);
    let res = post(
        &app,
        &b,
        "/admin/rules",
        &[
            ("csrf", &csrf),
            ("action", "validate"),
            ("document", &good),
            ("based_on", "1"),
        ],
    )
    .await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("The document is valid"));
    // A publish needs a note.
    let res = publish(&app, &b, &good, 1, "  ").await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("percent = 30"));
    assert_eq!(versions::latest_number(&db).await.unwrap(), 1);
}

#[tokio::test]
async fn a_stale_publish_is_refused_and_kept_as_a_draft_and_drafts_survive_a_reload() {
    let app = spawn_app().await;
    account(&app, "ann@example.com", Role::Editor).await;
    let bob_id = account(&app, "bob@example.com", Role::Editor).await;
    let (ann, bob) = (
        signed_in(&app, "ann@example.com").await,
        signed_in(&app, "bob@example.com").await,
    );
    // Both start from version 1; Ann publishes first.
    assert_eq!(
        publish(&app, &ann, &military_at(20), 1, "ann")
            .await
            .status(),
        303
    );
    let res = publish(&app, &bob, &military_at(40), 1, "bob").await;
    assert_eq!(res.status(), 409);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("the rules changed since you started editing (version 2 by ann@example.com)"),
        "{html}"
    );
    assert!(
        html.contains("percent = 40"),
        "Bob's text is still in the editor"
    );
    let db = app.db().await;
    let draft = versions::draft(&db, bob_id)
        .await
        .unwrap()
        .expect("kept as a draft");
    assert_eq!((draft.document, draft.based_on), (military_at(40), 2));
    assert_eq!(versions::latest_number(&db).await.unwrap(), 2);
    assert!(store_says(&app.home().await.1, 20).await);

    // A reload shows the draft, with a notice and a way to discard it.
    let (_, html) = page(&app, &bob, "/admin/rules").await;
    assert!(html.contains("data-testid=\"draft-notice\"") && html.contains("percent = 40"));
    assert!(html.contains("name=\"based_on\" value=\"2\""));
    // Saving a draft keeps the latest text; discarding it brings back the live document.
    let csrf = csrf_of(&app, &bob, "/admin/rules").await;
    let res = post(
        &app,
        &bob,
        "/admin/rules",
        &[
            ("csrf", &csrf),
            ("action", "draft"),
            ("document", &military_at(45)),
            ("based_on", "2"),
            ("note", ""),
        ],
    )
    .await;
    assert_eq!(res.status(), 200);
    let (_, html) = page(&app, &bob, "/admin/rules").await;
    assert!(html.contains("percent = 45") && html.contains("data-testid=\"draft-notice\""));
    assert!(versions::draft(&db, bob_id).await.unwrap().is_some());
    let res = post(&app, &bob, "/admin/rules/draft/discard", &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), 303);
    let (_, html) = page(&app, &bob, "/admin/rules").await;
    assert!(!html.contains("data-testid=\"draft-notice\"") && html.contains("percent = 20"));
    assert!(versions::draft(&db, bob_id).await.unwrap().is_none());
    // Publishing from the draft's base works, and removes nothing else.
    assert_eq!(
        publish(&app, &bob, &military_at(40), 2, "bob again")
            .await
            .status(),
        303
    );
    assert!(store_says(&app.home().await.1, 40).await);
}

#[tokio::test]
async fn viewers_read_the_rules_and_history_but_cannot_change_them() {
    let app = spawn_app().await;
    account(&app, "viewer@example.com", Role::Viewer).await;
    let b = signed_in(&app, "viewer@example.com").await;
    let (status, html) = page(&app, &b, "/admin/rules").await;
    assert_eq!(status, 200);
    assert!(html.contains("Live: version 1 by start-up") && html.contains("percent = 15"));
    assert!(!html.contains("<textarea"), "no editor for viewers");
    assert_eq!(page(&app, &b, "/admin/rules/versions").await.0, 200);
    assert_eq!(
        page(&app, &b, "/admin/rules/versions?from=1&to=1").await.0,
        200
    );
    let (status, html) = page(&app, &b, "/admin/rules/versions/1").await;
    assert_eq!(status, 200);
    assert!(!html.contains("rollback-link"));
    assert_eq!(
        page(&app, &b, "/admin/rules/versions/1/rollback").await.0,
        403
    );
    let csrf = csrf_of(&app, &b, "/admin/rules").await;
    let doc = military_at(99);
    for path in [
        "/admin/rules",
        "/admin/rules/draft/discard",
        "/admin/rules/versions/1/rollback",
    ] {
        let res = post(
            &app,
            &b,
            path,
            &[
                ("csrf", &csrf),
                ("action", "publish"),
                ("document", &doc),
                ("based_on", "1"),
                ("note", "x"),
            ],
        )
        .await;
        assert_eq!(res.status(), 403, "{path}");
    }
    assert_eq!(versions::latest_number(&app.db().await).await.unwrap(), 1);
}

#[tokio::test]
async fn with_perkgate_rules_the_file_is_authoritative_and_the_console_read_only() {
    let app = spawn_with(Options::default().rules_fixture("military-only")).await;
    account(&app, "ed@example.com", Role::Editor).await;
    let b = signed_in(&app, "ed@example.com").await;
    let (status, html) = page(&app, &b, "/admin/rules").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("PERKGATE_RULES is set") && html.contains("SALUTE15"),
        "{html}"
    );
    assert!(!html.contains("<textarea"));
    let csrf = crate::harness::hidden(&html, "csrf");
    let doc = military_at(25);
    let res = post(
        &app,
        &b,
        "/admin/rules",
        &[
            ("csrf", &csrf),
            ("action", "publish"),
            ("document", &doc),
            ("based_on", "0"),
            ("note", "x"),
        ],
    )
    .await;
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("PERKGATE_RULES is set"));
    let (status, html) = page(&app, &b, "/admin/rules/versions").await;
    assert_eq!(status, 200);
    assert!(html.contains("PERKGATE_RULES is set"));
    assert_eq!(
        versions::latest_number(&app.db().await).await.unwrap(),
        0,
        "nothing recorded"
    );
    // The file still reloads as before.
    std::fs::write(
        app.rules_path(),
        crate::harness::rules_fixture("military-only").replace("SALUTE15", "SALUTE16"),
    )
    .unwrap();
    let (_, html) = page(&app, &b, "/admin/rules").await;
    assert!(
        html.contains("SALUTE16"),
        "the page shows the file as it is now"
    );
}

/// Polls `home` until the military card says `percent`; how long that took.
async fn seen_within(
    home: impl Fn() -> reqwest::RequestBuilder,
    percent: u8,
    limit: Duration,
) -> Duration {
    let started = Instant::now();
    loop {
        let html = home().send().await.unwrap().text().await.unwrap();
        if store_says(&html, percent).await {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "not served within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_sqlite_file_see_a_publish_within_two_seconds() {
    let _serial = serial().await;
    let a = spawn_app().await;
    let b = spawn_with(Options {
        dir: Some(a.dir.clone()),
        ..Options::default()
    })
    .await;
    account(&a, "ed@example.com", Role::Editor).await;
    let editor = signed_in(&a, "ed@example.com").await;
    let client = reqwest::Client::new();
    assert!(
        store_says(
            &client
                .get(b.url("/"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
            15
        )
        .await
    );
    let started = Instant::now();
    assert_eq!(
        publish(&a, &editor, &military_at(35), 1, "to 35")
            .await
            .status(),
        303
    );
    let published = started.elapsed();
    let seen = seen_within(|| client.get(b.url("/")), 35, Duration::from_secs(3)).await;
    eprintln!(
        "sqlite: publish answered in {published:?}, the other instance served it {seen:?} later"
    );
    assert!(
        published + seen < Duration::from_secs(2),
        "{:?}",
        published + seen
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_postgres_see_a_publish_within_two_seconds() {
    let _serial = serial().await;
    let Some(db_url) = fresh_postgres().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let vars = [("PERKGATE_DATABASE_URL", db_url.as_str())];
    let a = Instance::start(&vars, dir.path()).await;
    let b = Instance::start(&vars, dir.path()).await;
    let db = perkgate::db::connect(&db_url).await.unwrap();
    assert_eq!(
        versions::latest_number(&db).await.unwrap(),
        1,
        "seeded once"
    );
    let id = accounts::create(&db, "ed@example.com", Role::Editor, perkgate::clock::now())
        .await
        .unwrap()
        .id;
    accounts::set_password(&db, id, &password::hash_blocking(PASSWORD).unwrap())
        .await
        .unwrap();
    // Sign in on A and publish there.
    let editor = browser();
    let csrf_at = |path: String| {
        let editor = editor.clone();
        async move {
            let html = editor.get(path).send().await.unwrap().text().await.unwrap();
            crate::harness::hidden(&html, "csrf")
        }
    };
    let csrf = csrf_at(a.url("/admin/login")).await;
    let res = editor
        .post(a.url("/admin/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", "ed@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let csrf = csrf_at(a.url("/admin/rules")).await;
    let client = reqwest::Client::new();
    assert!(
        store_says(
            &client
                .get(b.url("/"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
            15
        )
        .await
    );
    let doc = military_at(35);
    let started = Instant::now();
    let res = editor
        .post(a.url("/admin/rules"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("action", "publish"),
            ("document", &doc),
            ("based_on", "1"),
            ("note", "to 35"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let published = started.elapsed();
    let seen = seen_within(|| client.get(b.url("/")), 35, Duration::from_secs(3)).await;
    eprintln!(
        "postgres: publish answered in {published:?}, the other instance served it {seen:?} later"
    );
    assert!(
        published + seen < Duration::from_secs(2),
        "{:?}",
        published + seen
    );
    assert!(
        store_says(
            &client
                .get(a.url("/"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
            35
        )
        .await
    );
}
