//! The store settings page (`/admin/settings`, issue 11 item 1) over HTTP: the shop's look as
//! a form over the draft's `[store]` table, errors next to their fields, published to the
//! shoppers' pages; the `PERKGATE_STORE_*` settings win and are shown read-only.

use perkgate::admin::Role;
use perkgate::rules::versions;

use super::offers::{Fields, field_error, form_fields, page, send, set};
use super::{account, signed_in};
use crate::harness::{Options, TestApp, location, spawn_app, spawn_with};

async fn settings_form(app: &TestApp, b: &reqwest::Client) -> Fields {
    let (status, html) = page(app, b, "/admin/settings").await;
    assert_eq!(status, 200);
    form_fields(&html, "form[data-testid=settings-form]")
}

async fn publish(app: &TestApp, b: &reqwest::Client) {
    let (_, list) = page(app, b, "/admin/rules/offers").await;
    let mut publish = form_fields(&list, "form[action='/admin/rules']");
    set(&mut publish, "note", "our look");
    set(&mut publish, "action", "publish");
    let res = send(app, b, "/admin/rules", &publish).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
}

#[tokio::test]
async fn the_merchant_sets_the_stores_look_and_publishes_it() {
    let app = spawn_app().await;
    let ed = account(&app, "ed@example.com", Role::Editor).await;
    let b = signed_in(&app, "ed@example.com").await;
    let (_, html) = page(&app, &b, "/admin/settings").await;
    assert!(html.contains("href=\"/admin/settings\""), "in the nav");
    assert!(!app.home().await.1.contains("Acme"));

    let mut form = settings_form(&app, &b).await;
    set(&mut form, "name", "Acme Outfitters");
    set(&mut form, "color", "#0b4");
    set(&mut form, "support", "help@shop.example");
    let res = send(&app, &b, "/admin/settings", &form).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    assert_eq!(
        location(&res),
        "/admin/rules/offers?saved=the+store+settings"
    );
    let draft = versions::draft(&app.db().await, ed)
        .await
        .unwrap()
        .expect("a draft");
    assert!(
        draft.document.contains(
            "[store]\nname = \"Acme Outfitters\"\ncolor = \"#0b4\"\nsupport = \"help@shop.example\""
        ),
        "{}",
        draft.document
    );
    assert!(!app.home().await.1.contains("Acme"), "a draft is not live");

    publish(&app, &b).await;
    let home = app.home().await.1;
    assert!(home.contains("· Acme Outfitters</title>"), "{home}");
    assert!(home.contains("href=\"/static/theme.css?v=00bb44\""));
    assert!(home.contains("href=\"mailto:help@shop.example\""));
    let css = app
        .get("/static/theme.css?v=00bb44")
        .await
        .text()
        .await
        .unwrap();
    assert!(css.contains("--brand:#00bb44;"), "{css}");

    // Emptying a field removes it again.
    let mut form = settings_form(&app, &b).await;
    set(&mut form, "support", "");
    assert_eq!(send(&app, &b, "/admin/settings", &form).await.status(), 303);
    publish(&app, &b).await;
    assert!(!app.home().await.1.contains("mailto:"));
}

#[tokio::test]
async fn a_bad_value_is_shown_next_to_its_field_and_kept() {
    let app = spawn_app().await;
    let ed = account(&app, "ed@example.com", Role::Editor).await;
    let b = signed_in(&app, "ed@example.com").await;
    let mut form = settings_form(&app, &b).await;
    set(&mut form, "name", "Acme");
    set(&mut form, "color", "green");
    set(&mut form, "logo_url", "logo.png");
    let res = send(&app, &b, "/admin/settings", &form).await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert_eq!(
        field_error(&html, "color").as_deref(),
        Some("Error: expected a colour like #0b6e4f or #0b4, got \"green\"")
    );
    assert!(field_error(&html, "logo_url").is_some());
    assert!(field_error(&html, "name").is_none());
    assert!(html.contains("<title>Error: Store settings"));
    let kept = form_fields(&html, "form[data-testid=settings-form]");
    assert!(kept.contains(&("color".into(), "green".into())), "{kept:?}");
    assert!(kept.contains(&("name".into(), "Acme".into())));
    assert!(
        versions::draft(&app.db().await, ed)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn settings_win_over_the_page_and_viewers_only_read() {
    let app = spawn_with(Options::default().var("PERKGATE_STORE_NAME", "Fixed Name")).await;
    account(&app, "ed@example.com", Role::Editor).await;
    account(&app, "vi@example.com", Role::Viewer).await;
    let b = signed_in(&app, "ed@example.com").await;
    let (_, html) = page(&app, &b, "/admin/settings").await;
    assert!(html.contains("Set on the server by <code>PERKGATE_STORE_NAME</code>"));
    let form = settings_form(&app, &b).await;
    assert!(
        !form.iter().any(|(k, _)| k == "name"),
        "the fixed field is not posted"
    );
    let mut forged = form.clone();
    set(&mut forged, "name", "Other Name");
    set(&mut forged, "terms_url", "https://shop.example/terms");
    assert_eq!(
        send(&app, &b, "/admin/settings", &forged).await.status(),
        303
    );
    publish(&app, &b).await;
    let home = app.home().await.1;
    assert!(home.contains("· Fixed Name</title>"), "{home}");
    assert!(home.contains("href=\"https://shop.example/terms\""));

    let v = signed_in(&app, "vi@example.com").await;
    let (status, html) = page(&app, &v, "/admin/settings").await;
    assert_eq!(status, 200);
    assert!(html.contains("<fieldset class=\"plain\" disabled>"));
    assert!(!html.contains("data-testid=\"save-settings\""));
    let form = form_fields(&html, "form[data-testid=settings-form]");
    assert_eq!(send(&app, &v, "/admin/settings", &form).await.status(), 403);
}

#[tokio::test]
async fn a_rules_file_with_a_bad_store_table_names_the_line_and_field() {
    let text = format!(
        "{}\n[store]\nname = \"Acme\"\ncolour = \"#fff\"\n",
        include_str!("../../../config/rules.toml")
    );
    let err = perkgate::rules::parse("rules.toml", &text, None).unwrap_err();
    let line = text.lines().count();
    assert_eq!(
        err[0].to_string(),
        format!(
            "rules.toml:{line}:10: field `store.colour`: unknown field (known: name, url, \
             logo_url, color, privacy_url, terms_url, support)"
        )
    );
}
