//! In the browser, beyond the happy path: every outcome back on the store (declined, not
//! verified, expired), the error pages, and the one button through the sandbox's groups page;
//! axe-core on each page a shopper can reach.

use std::path::Path;
use std::time::{Duration, Instant};

use fantoccini::error::CmdError;
use fantoccini::{Client, Locator};

use super::axe::Axe;
use super::{PAGE_LIMIT, assert_unlocked, save_screenshot, wait_for_path};
use crate::harness::{Options, spawn_with};

pub async fn scenario(client: &Client, axe: &Axe, shots: &Path) -> Result<(), CmdError> {
    // a. Declined, then not verified, then expired: each ends on the store, told once.
    let app = spawn_with(Options::default().var("PERKGATE_AUTH_TIMEOUT_SECS", "3")).await;
    client.goto(&app.url("/")).await?;
    verify_as(client, "verify-military", "decline").await?;
    assert_outcome(
        client,
        "status",
        "You chose not to share",
        "Verification declined",
    )
    .await?;
    axe.check(client, "the store after declining").await?;
    save_screenshot(client, &shots.join("store-declined.png")).await?;
    client.refresh().await?;
    wait_for_path(client, "/").await?;
    assert!(
        client
            .find_all(Locator::Css("[data-testid=message]"))
            .await?
            .is_empty(),
        "the message is shown once, not again on a refresh"
    );

    verify_as(client, "verify-military", "unverified").await?;
    assert_outcome(
        client,
        "status",
        "ID.me could not confirm your status",
        "Not verified",
    )
    .await?;
    axe.check(client, "the store after an unconfirmed status")
        .await?;

    // "Try again" starts the same verification; this time the shopper is too slow.
    click(client, "[data-testid=try-again]").await?;
    wait_for_path(client, "/sandbox/idme/oauth/authorize").await?;
    // Whole seconds: more than 3 s must have passed on the server's clock.
    tokio::time::sleep(Duration::from_millis(4100)).await;
    click(client, "[data-testid=persona-service_member]").await?;
    assert_outcome(client, "alert", "took too long", "Verification expired").await?;
    axe.check(client, "the store after an expired verification")
        .await?;

    // A teacher, verified, but the teachers' offer here is for principals only.
    app.stop().await;
    let app = spawn_with(Options::default().rules_fixture("communities")).await;
    client.goto(&app.url("/")).await?;
    verify_as(client, "verify-teacher", "teacher").await?;
    assert_outcome(
        client,
        "status",
        "the offers for your group are limited",
        "No discount for you right now",
    )
    .await?;
    axe.check(client, "the store after a verification without an offer")
        .await?;
    app.stop().await;

    // ID.me failing (here: its answer weaker than the app requires): the failure and the
    // reference the log line carries.
    let app = spawn_with(Options::default().var("PERKGATE_IDME_PAYLOAD", "signed")).await;
    client.goto(&app.url("/")).await?;
    verify_as(client, "verify-military", "service_member").await?;
    assert_outcome(
        client,
        "alert",
        "We could not complete your verification",
        "Verification failed",
    )
    .await?;
    let reference = client
        .find(Locator::Css("[data-testid=correlation-id]"))
        .await?
        .text()
        .await?;
    assert_eq!(
        reference.len(),
        16,
        "the request id as the reference: {reference}"
    );
    axe.check(client, "the store after ID.me failed").await?;
    save_screenshot(client, &shots.join("store-failed.png")).await?;

    // b. The pages that stay error pages: a path that does not exist, a forged callback.
    client.goto(&app.url("/no-such-page")).await?;
    axe.check(client, "the 404 page").await?;
    client
        .goto(
            &app.url(
                "/auth/idme/callback?code=x&state=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            ),
        )
        .await?;
    let message = client
        .find(Locator::Css("[data-testid=message]"))
        .await?
        .text()
        .await?;
    assert!(message.contains("could not match"), "{message}");
    axe.check(client, "the error page of a foreign callback")
        .await?;
    client
        .goto(&app.url("/sandbox/idme/oauth/authorize"))
        .await?;
    axe.check(client, "the sandbox's error page").await?;
    app.stop().await;

    // c. One button for every community: the sandbox's groups page, then a persona.
    let app = spawn_with(Options::default().var("PERKGATE_VERIFY_BUTTON", "unified")).await;
    client.goto(&app.url("/")).await?;
    let buttons = client
        .find_all(Locator::Css("button[data-testid^=verify]"))
        .await?;
    assert_eq!(buttons.len(), 1, "one verify button");
    assert_eq!(
        buttons[0].attr("data-testid").await?.as_deref(),
        Some("verify")
    );
    axe.check(client, "the store with one button").await?;
    save_screenshot(client, &shots.join("store-unified.png")).await?;
    buttons[0].click().await?;
    wait_for_path(client, "/sandbox/idme/groups").await?;
    axe.check(client, "the sandbox's groups page").await?;
    save_screenshot(client, &shots.join("sandbox-groups.png")).await?;
    click(client, "[data-testid=community-military]").await?;
    wait_for_path(client, "/sandbox/idme/oauth/authorize").await?;
    axe.check(client, "the sandbox's persona page").await?;
    click(client, "[data-testid=persona-service_member]").await?;
    assert_unlocked(client, &app, "after the groups flow").await?;
    axe.check(client, "the store with the benefit (one button)")
        .await?;
    assert_eq!((app.token_calls(), app.attributes_calls()), (1, 1));

    // d. In Canadian French through the page's own switch (a link, no script): the store with
    // the benefit, the offers after a reset, and an error page.
    click(client, "[data-testid=lang-fr-CA]").await?;
    client
        .wait()
        .at_most(PAGE_LIMIT)
        .for_element(Locator::Css("html[lang=fr-CA] [data-testid=benefit]"))
        .await?;
    let current = client
        .find(Locator::Css("[data-testid=lang-fr-CA]"))
        .await?
        .attr("aria-current")
        .await?;
    assert_eq!(current.as_deref(), Some("true"));
    axe.check(client, "the store in French, with the benefit")
        .await?;
    save_screenshot(client, &shots.join("store-fr-benefit.png")).await?;
    click(client, "[data-testid=reset]").await?;
    client
        .wait()
        .at_most(PAGE_LIMIT)
        .for_element(Locator::Css("html[lang=fr-CA] button[data-testid=verify]"))
        .await?;
    axe.check(client, "the store in French").await?;
    client.goto(&app.url("/no-such-page")).await?;
    let title = client.title().await?;
    assert!(title.starts_with("Page introuvable"), "{title}");
    axe.check(client, "the 404 page in French").await?;
    // The cookie is per host: the scenarios after this one expect English.
    client.goto(&app.url("/lang/en?next=/")).await?;
    app.stop().await;
    Ok(())
}

/// A verification as far as the shopper's choice: `button` on the store (a `data-testid`),
/// then `persona` on the sandbox's page; what comes back is the caller's to check.
pub(super) async fn verify_as(
    client: &Client,
    button: &str,
    persona: &str,
) -> Result<(), CmdError> {
    click(client, &format!("[data-testid={button}]")).await?;
    wait_for_path(client, "/sandbox/idme/oauth/authorize").await?;
    click(client, &format!("[data-testid=persona-{persona}]")).await
}

pub(super) async fn click(client: &Client, css: &str) -> Result<(), CmdError> {
    client
        .wait()
        .at_most(PAGE_LIMIT)
        .for_element(Locator::Css(css))
        .await?
        .click()
        .await
}

/// The store shows the outcome: the message with its role and text, the title naming it,
/// the focus on it, "Try again" and a verify button.
async fn assert_outcome(
    client: &Client,
    role: &str,
    text: &str,
    title: &str,
) -> Result<(), CmdError> {
    let deadline = Instant::now() + PAGE_LIMIT;
    let message = loop {
        if client.current_url().await?.path() == "/"
            && let Ok(m) = client.find(Locator::Css("[data-testid=message]")).await
        {
            break m;
        }
        if Instant::now() >= deadline {
            let body = client.find(Locator::Css("body")).await?.text().await?;
            panic!("no message on the store ({text}); the page says:\n{body}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(message.attr("role").await?.as_deref(), Some(role), "{text}");
    let shown = message.text().await?;
    assert!(shown.contains(text), "{text}: the message says {shown}");
    let page_title = client.title().await?;
    assert!(
        page_title.starts_with(title),
        "{title}: the title is {page_title}"
    );
    let focused = client
        .execute(
            "return document.activeElement && document.activeElement.getAttribute('data-testid')",
            vec![],
        )
        .await?;
    assert_eq!(
        focused.as_str(),
        Some("message"),
        "{text}: the focus moved to it"
    );
    client
        .find(Locator::Css("[data-testid=try-again]"))
        .await
        .unwrap_or_else(|_| panic!("{text}: a Try again action"));
    client
        .find(Locator::Css("[data-testid=verify-military]"))
        .await
        .unwrap_or_else(|_| panic!("{text}: the verify button"));
    Ok(())
}
