//! The merchant console in the browser: a new owner follows the set-password link, is signed
//! in, walks every console page, adds an editor, uploads codes through the file input and looks
//! one up, signs out, fails a sign-in and signs in again, changes an offer's percentage in its
//! form, previews and publishes it; axe-core on each page, screenshots for the README.

use std::path::Path;

use fantoccini::error::CmdError;
use fantoccini::{Client, Locator};
use perkgate::admin::{Role, accounts};

use super::axe::Axe;
use super::{PAGE_LIMIT, save_screenshot, wait_for_path};
use crate::harness::spawn_app;

const PASSWORD: &str = "lantern-Orchard-58-pebble";

pub async fn scenario(client: &Client, axe: &Axe, shots: &Path) -> Result<(), CmdError> {
    let app = spawn_app().await;
    let db = app.db().await;
    let now = perkgate::clock::now();
    let owner = accounts::create(&db, "owner@shop.example", Role::Owner, now)
        .await
        .expect("an owner account");
    let token = accounts::issue_link(&db, owner.id, now)
        .await
        .expect("a set-password link");

    // a. The link: set a password, and be signed in.
    client
        .goto(&app.url(&format!("/admin/password/{token}")))
        .await?;
    axe.check(client, "the console's set-password page").await?;
    // Long enough for the field's own minlength; the server's policy is the last word.
    type_into(client, "#password", "password1234").await?;
    submit(client, "form.console-form button[type=submit]").await?;
    let error = wait_for(client, "[data-testid=message]").await?;
    assert!(
        error.text().await?.contains("common"),
        "a common password is refused: {}",
        error.text().await?
    );
    axe.check(client, "the set-password page with an error")
        .await?;
    type_into(client, "#password", PASSWORD).await?;
    submit(client, "form.console-form button[type=submit]").await?;
    wait_for_path(client, "/admin").await?;
    let who = wait_for(client, "[data-testid=signed-in-as]").await?;
    assert_eq!(who.text().await?, "owner@shop.example");
    axe.check(client, "the console's home page").await?;
    save_screenshot(client, &shots.join("console-home.png")).await?;

    // b. Every page an owner has.
    client.goto(&app.url("/admin/account")).await?;
    wait_for(client, "[data-testid='2fa-off']").await?;
    axe.check(client, "the console's account page").await?;
    client.goto(&app.url("/admin/accounts")).await?;
    type_into(client, "#new-email", "editor@shop.example").await?;
    client
        .find(Locator::Css("#role option[value=editor]"))
        .await?
        .click()
        .await?;
    submit(client, "form[action='/admin/accounts'] button[type=submit]").await?;
    let link = wait_for(client, "[data-testid=set-password-link]").await?;
    assert!(link.text().await?.contains("/admin/password/"));
    axe.check(client, "the console's accounts page with a new link")
        .await?;
    save_screenshot(client, &shots.join("console-accounts.png")).await?;
    // The merchant API's keys: make one (shown once), then the revoke confirmation.
    client.goto(&app.url("/admin/keys")).await?;
    wait_for(client, "[data-testid=no-keys]").await?;
    axe.check(client, "the console's API keys page").await?;
    type_into(client, "#key-name", "shop backend").await?;
    submit(client, "form[action='/admin/keys'] button[type=submit]").await?;
    let key = wait_for(client, "[data-testid=new-key]").await?;
    assert!(key.text().await?.starts_with("pk_live_"));
    axe.check(client, "the API keys page with a new key")
        .await?;
    submit(client, "a[aria-label='Revoke shop backend']").await?;
    wait_for(client, "[data-testid=confirm]").await?;
    axe.check(client, "the API key's revoke confirmation")
        .await?;
    // Webhooks: a refused URL said next to the field, an endpoint's page with its delivery log,
    // its removal's confirmation. (Registered here directly: the app refuses loopback targets,
    // and nothing else is reachable from the test.)
    client.goto(&app.url("/admin/webhooks")).await?;
    wait_for(client, "[data-testid=no-webhooks]").await?;
    axe.check(client, "the console's webhooks page").await?;
    type_into(client, "#webhook-url", "https://127.0.0.1/hook").await?;
    submit(client, "#event-benefit\\.unlocked").await?;
    submit(client, "form[action='/admin/webhooks'] button[type=submit]").await?;
    wait_for(client, "[data-testid=webhook-error]").await?;
    axe.check(client, "the webhooks page with a refused URL")
        .await?;
    let open = perkgate::config::WebhookSettings {
        allow_http: true,
        allow_private: true,
        ..Default::default()
    };
    let all = perkgate::webhooks::EventType::ALL;
    let (hook, _) = perkgate::webhooks::endpoints::create(
        &db,
        &open,
        "http://127.0.0.1:9/hook",
        &all,
        "t",
        now,
    )
    .await
    .expect("an endpoint");
    client
        .goto(&app.url(&format!("/admin/webhooks/{}", hook.id)))
        .await?;
    wait_for(client, "[data-testid=deliveries]").await?;
    axe.check(client, "a webhook endpoint and its delivery log")
        .await?;
    client
        .goto(&app.url(&format!("/admin/webhooks/{}/remove", hook.id)))
        .await?;
    wait_for(client, "[data-testid=confirm]").await?;
    axe.check(client, "removing a webhook endpoint").await?;
    client.goto(&app.url("/admin/audit")).await?;
    let audit = client.find(Locator::Css("main")).await?.text().await?;
    assert!(audit.contains("editor@shop.example"), "{audit}");
    assert!(audit.contains("api key added"), "{audit}");
    axe.check(client, "the console's audit log").await?;

    // c'. Codes: the pools, a file through the file input (a malformed one, then a good one),
    // and a lookup.
    client.goto(&app.url("/admin/codes")).await?;
    wait_for(client, "[data-testid=pools]").await?;
    axe.check(client, "the console's codes page").await?;
    let bad = app.dir.path().join("bad-codes.csv");
    std::fs::write(&bad, "code\nBROWSER-001\nnot a code\n").expect("write a codes file");
    upload_file(client, &bad).await?;
    let error = wait_for(client, "[data-testid=upload-error]").await?;
    assert!(
        error.text().await?.contains("Line 3"),
        "{}",
        error.text().await?
    );
    axe.check(client, "the codes page refusing a malformed file")
        .await?;
    let good = app.dir.path().join("codes.csv");
    std::fs::write(&good, "code\nBROWSER-001\nBROWSER-002\n").expect("write a codes file");
    upload_file(client, &good).await?;
    let done = wait_for(client, "[data-testid=message]").await?;
    assert!(
        done.text().await?.contains("added 2 code(s)"),
        "{}",
        done.text().await?
    );
    axe.check(client, "the codes page after an upload").await?;
    save_screenshot(client, &shots.join("console-codes.png")).await?;
    type_into(client, "#lookup-code", "BROWSER-001").await?;
    submit(
        client,
        "form[action='/admin/codes/lookup'] button[type=submit]",
    )
    .await?;
    wait_for(client, "[data-testid=lookup-none]").await?;
    axe.check(client, "the console's code lookup").await?;

    // c''. The dashboard, with a month of counts (as the app's flusher would add them), both
    // periods and a filter, its tables opened.
    seed_counts(&db).await;
    client.goto(&app.url("/admin/dashboard")).await?;
    wait_for(client, "[data-testid=dashboard-chart]").await?;
    axe.check(client, "the console's dashboard").await?;
    save_screenshot(client, &shots.join("console-dashboard.png")).await?;
    client
        .goto(&app.url("/admin/dashboard?days=90&group=military&offer=veterans"))
        .await?;
    wait_for(client, "[data-testid=dashboard-chart]").await?;
    // Opened as a reader would (axe checks only what is shown).
    client
        .execute(
            "document.querySelectorAll('details').forEach(d => d.open = true); return true;",
            vec![],
        )
        .await?;
    wait_for(client, "[data-testid=dashboard-table]").await?;
    axe.check(client, "the dashboard over 90 days, filtered, tables open")
        .await?;

    // c. Out, a wrong password, and back in.
    client.goto(&app.url("/admin")).await?;
    submit(client, "[data-testid=sign-out]").await?;
    wait_for_path(client, "/admin/login").await?;
    axe.check(client, "the console's sign-in page").await?;
    type_into(client, "#email", "owner@shop.example").await?;
    type_into(client, "#password", "not-the-password-at-all").await?;
    submit(client, "form.console-form button[type=submit]").await?;
    let refused = wait_for(client, "[role=alert]").await?;
    assert!(refused.text().await?.contains("do not match"));
    axe.check(client, "the sign-in page with an error").await?;
    type_into(client, "#password", PASSWORD).await?;
    submit(client, "form.console-form button[type=submit]").await?;
    wait_for_path(client, "/admin").await?;
    wait_for(client, "[data-testid=signed-in-as]").await?;

    // d. The offers as forms: the military offer to 25% in its form (a typo first, shown next
    // to the field), previewed, and published from the offers page; the raw document keeps
    // its comments, and the store in the same browser shows the new offer.
    client.goto(&app.url("/admin/rules/offers")).await?;
    wait_for(client, "[data-testid=offer-row]").await?;
    axe.check(client, "the console's offers and pools").await?;
    submit(client, "[data-testid=edit-military]").await?;
    wait_for_path(client, "/admin/rules/offers/military").await?;
    let percent = wait_for(client, "#offer-percent").await?;
    assert_eq!(percent.prop("value").await?.as_deref(), Some("15"));
    axe.check(client, "the offer form").await?;
    type_into(client, "#offer-percent", "25x").await?;
    submit(client, "[data-testid=save-offer]").await?;
    let error = wait_for(client, "#offer-percent-error").await?;
    assert!(
        error.text().await?.contains("whole number"),
        "{}",
        error.text().await?
    );
    wait_for(
        client,
        "[data-testid=error-summary] a[href='#offer-percent']",
    )
    .await?;
    axe.check(client, "the offer form with an error").await?;
    // The README's picture: the field with its error, what was typed still in it.
    client
        .execute(
            "document.getElementById('offer-discount').closest('fieldset').scrollIntoView()",
            vec![],
        )
        .await?;
    save_screenshot(client, &shots.join("console-offer-form.png")).await?;
    type_into(client, "#offer-percent", "25").await?;
    submit(client, "[data-testid=save-offer]").await?;
    wait_for_path(client, "/admin/rules/offers").await?;
    wait_for(client, "[data-testid=draft-notice]").await?;
    axe.check(client, "the offers page with a draft").await?;
    for (path, form, name) in [
        (
            "/admin/rules/offers/new",
            "[data-testid=offer-form]",
            "the new offer form",
        ),
        (
            "/admin/rules/pools/veteran-codes",
            "[data-testid=pool-form]",
            "the pool form",
        ),
        (
            "/admin/rules/offers/teachers/remove",
            "[data-testid=confirm]",
            "removing an offer",
        ),
        (
            "/admin/settings",
            "[data-testid=settings-form]",
            "the store settings",
        ),
    ] {
        client.goto(&app.url(path)).await?;
        wait_for(client, form).await?;
        axe.check(client, name).await?;
    }
    // A colour the page cannot use: said next to the field, nothing saved.
    type_into(client, "#offer-color", "green").await?;
    submit(client, "[data-testid=save-settings]").await?;
    wait_for(client, "#offer-color-error").await?;
    axe.check(client, "the store settings with an error")
        .await?;
    // The raw editor has the draft, comments and all.
    client.goto(&app.url("/admin/rules")).await?;
    let editor = wait_for(client, "#document").await?;
    axe.check(client, "the console's rules editor").await?;
    let text = editor.prop("value").await?.unwrap_or_default();
    assert!(
        text.contains("percent = 25") && text.contains("# Every other military member"),
        "the draft keeps the comments: {text}"
    );
    // The preview of the saved draft: each persona under it.
    client.goto(&app.url("/admin/rules/preview")).await?;
    let table = wait_for(client, "[data-testid=preview-table]").await?;
    let shown = table.text().await?;
    assert!(
        shown.contains("25% off") && shown.contains("changed"),
        "{shown}"
    );
    axe.check(client, "the rules preview").await?;
    save_screenshot(client, &shots.join("console-preview.png")).await?;
    type_into(client, "#attributes", "{\"status\": [").await?;
    submit(client, "[data-testid=preview-again]").await?;
    wait_for(client, "[data-testid=attributes-error]").await?;
    axe.check(client, "the rules preview with an attributes error")
        .await?;
    // Published from the offers page (the raw editor's publish).
    client.goto(&app.url("/admin/rules/offers")).await?;
    type_into(client, "#note", "military to 25%").await?;
    submit(client, "[data-testid=publish]").await?;
    wait_for_path(client, "/admin/rules").await?;
    let notice = wait_for(client, "[data-testid=notice]").await?;
    assert!(
        notice.text().await?.contains("Version 2 is published"),
        "{}",
        notice.text().await?
    );
    axe.check(client, "the rules page after publishing").await?;
    client
        .goto(&app.url("/admin/rules/versions?from=1&to=2"))
        .await?;
    wait_for(client, "[data-testid=diff]").await?;
    axe.check(client, "the rules history with a diff").await?;
    client.goto(&app.url("/")).await?;
    let card = wait_for(client, "[data-testid=offer-military]").await?;
    assert!(
        card.text().await?.contains("25% off"),
        "{}",
        card.text().await?
    );
    Ok(())
}

async fn wait_for(client: &Client, css: &str) -> Result<fantoccini::elements::Element, CmdError> {
    client
        .wait()
        .at_most(PAGE_LIMIT)
        .for_element(Locator::Css(css))
        .await
}

async fn type_into(client: &Client, css: &str, text: &str) -> Result<(), CmdError> {
    let field = wait_for(client, css).await?;
    field.clear().await?;
    if !text.is_empty() {
        field.send_keys(text).await?;
    }
    Ok(())
}

/// Picks a file in the upload form's file input and sends the form.
async fn upload_file(client: &Client, file: &Path) -> Result<(), CmdError> {
    let input = wait_for(client, "#upload-file").await?;
    input.send_keys(&file.display().to_string()).await?;
    submit(
        client,
        "form[action='/admin/codes/upload'] button[type=submit]",
    )
    .await
}

async fn submit(client: &Client, css: &str) -> Result<(), CmdError> {
    wait_for(client, css).await?.click().await
}

/// A month of daily counts, for the dashboard's axe check and screenshot: a weekly rhythm and
/// a slow rise, as verifications of a live store might look.
async fn seed_counts(db: &perkgate::db::Db) {
    use perkgate::stats::{Counts, Event};
    let counts = Counts::default();
    let today = perkgate::clock::now();
    for back in 0..60_i64 {
        let at = today - back * 86_400;
        let weekly = [9, 7, 6, 6, 8, 13, 15][(back % 7) as usize];
        let base = weekly * (90 - back) / 30;
        for (group, share) in [("military", 3), ("student", 2), ("teacher", 1)] {
            let started = base * share;
            counts.add_n(at, Event::Started, "", group, started);
            counts.add_n(at, Event::Returned, "", group, started * 9 / 10);
            counts.add_n(at, Event::Verified, "", group, started * 7 / 10);
            counts.add_n(at, Event::Declined, "", group, started / 10);
            counts.add_n(at, Event::Failed, "", group, started / 20);
        }
        counts.add_n(at, Event::Unlocked, "veterans", "military", base * 2);
        counts.add_n(at, Event::Unlocked, "military", "military", base);
        counts.add_n(at, Event::Unlocked, "students", "student", base * 13 / 10);
        counts.add_n(at, Event::Redeemed, "veterans", "", base * 3 / 2);
        counts.add_n(at, Event::Redeemed, "students", "", base * 4 / 5);
    }
    counts.flush(db).await.expect("the counts are added");
}
