//! End to end in a real browser: headless Chromium, driven over WebDriver by `chromedriver`,
//! clicks through the storefront, the embedded ID.me sandbox and back, then checks what a
//! shopper would see after a refresh, the back and forward buttons, a second tab, a reset and
//! a double click on "Verify with ID.me".
//!
//! Needs Debian's `chromium` and `chromium-driver` packages. Without `chromedriver` the test
//! prints why and passes, unless `PERKGATE_REQUIRE_BROWSER=1` (CI), where it fails. A run that
//! gets to the end writes `target/browser-test-ran`, and leaves screenshots in
//! `target/screenshots/`.

use std::path::Path;
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, MOUSE_BUTTON_LEFT, MouseActions, PointerAction};
use fantoccini::error::CmdError;
use fantoccini::{Client, Locator};
use serde_json::json;

use crate::harness::{TestApp, serial, spawn_app};

mod axe;
mod console;
mod driver;
mod outcomes;
mod shop;
mod templates;

use axe::Axe;
use driver::{Chromedriver, browser_binaries, connect};

/// The whole browser scenario must finish well inside this.
const SCENARIO_LIMIT: Duration = Duration::from_secs(150);
/// How long one page (or one change on it) may take to show up.
const PAGE_LIMIT: Duration = Duration::from_secs(15);

const BANNER: &str = "Sandbox: simulated verification, not ID.me";
const VERIFY_BUTTONS: &str = "[data-testid^=verify-]";
const BENEFIT: &str = "[data-testid=benefit]";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shopper_verifies_in_a_real_browser() {
    // Chromium loads the machine more than any other test: never at the same time as another
    // serial one.
    let _serial = serial().await;
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let marker = manifest.join("target/browser-test-ran");
    // A marker left by an earlier run must not vouch for this one.
    let _ = std::fs::remove_file(&marker);

    let Some((driver_bin, browser_bin)) = browser_binaries() else {
        return;
    };

    let started = Instant::now();
    let profile = tempfile::tempdir().expect("a temporary folder for the Chromium profile");
    let driver = Chromedriver::start(&driver_bin).await;
    let client = connect(&driver, &browser_bin, profile.path()).await;
    let app = spawn_app().await;

    let required = std::env::var("PERKGATE_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
    let axe = Axe::load(manifest, required);
    let outcome = tokio::time::timeout(SCENARIO_LIMIT, async {
        scenario(&client, &app, manifest, &axe).await?;
        let shots = manifest.join("target/screenshots");
        outcomes::scenario(&client, &axe, &shots).await?;
        shop::scenario(&client, &axe, &shots).await?;
        templates::scenario(&client, &axe, &shots).await?;
        console::scenario(&client, &axe, &shots).await
    })
    .await;
    // Close the session (and with it Chromium) whatever happened, then report.
    let closed = tokio::time::timeout(Duration::from_secs(10), client.close()).await;
    match outcome {
        Err(_) => panic!("the browser scenario did not finish within {SCENARIO_LIMIT:?}"),
        Ok(Err(e)) => panic!("WebDriver command failed: {e}"),
        Ok(Ok(())) => {}
    }
    match closed {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("closing the WebDriver session failed: {e}"),
        Err(_) => panic!("closing the WebDriver session took more than 10 s"),
    }
    drop(driver);

    std::fs::create_dir_all(marker.parent().expect("target folder"))
        .expect("create the target folder for the marker file");
    std::fs::write(
        &marker,
        format!(
            "browser test passed in {:?}; axe-core checked {} pages\n",
            started.elapsed(),
            axe.checked.get()
        ),
    )
    .expect("write target/browser-test-ran");
    eprintln!(
        "browser test finished in {:?}; axe-core found no WCAG 2.2 A/AA violation on {} page(s)",
        started.elapsed(),
        axe.checked.get()
    );
}

/// The shopper's story, step by step. WebDriver failures come back as errors; wrong pages panic.
async fn scenario(
    client: &Client,
    app: &TestApp,
    manifest: &Path,
    axe: &Axe,
) -> Result<(), CmdError> {
    let shots = manifest.join("target/screenshots");
    std::fs::create_dir_all(&shots).expect("create target/screenshots");
    let home = app.url("/");

    // a. The store before verifying: a real verify button, the ID.me explainer, the banner.
    client.goto(&home).await?;
    // Chromium starts on a blank page: the store is the second history entry, not the first.
    let history_at_start = history_length(client).await?;
    mark_document(client, "store-before").await?;
    let verify = client
        .wait()
        .at_most(PAGE_LIMIT)
        .for_element(Locator::Css("[data-testid=verify-military]"))
        .await?;
    assert_eq!(
        verify.tag_name().await?.to_ascii_lowercase(),
        "button",
        "verify-military must be a real <button>, so it works from the keyboard"
    );
    assert_eq!(
        verify.attr("type").await?.as_deref(),
        Some("submit"),
        "the verify button submits its form"
    );
    let about = client
        .find(Locator::LinkText("What is ID.me?"))
        .await
        .expect("the store shows a 'What is ID.me?' link before verification");
    assert_eq!(about.tag_name().await?.to_ascii_lowercase(), "a");
    assert_banner(client, "the store").await?;
    axe.check(client, "the store before verifying").await?;
    save_screenshot(client, &shots.join("store-before.png")).await?;

    // b. Verify as a veteran through the sandbox.
    verify.click().await?;
    wait_for_path(client, "/sandbox/idme/oauth/authorize").await?;
    assert_banner(client, "the sandbox persona page").await?;
    axe.check(client, "the sandbox persona page").await?;
    client
        .wait()
        .at_most(PAGE_LIMIT)
        .for_element(Locator::Css("[data-testid=persona-service_member]"))
        .await?
        .click()
        .await?;
    assert_unlocked(client, app, "after picking the veteran persona").await?;
    axe.check(client, "the store with the benefit").await?;
    save_screenshot(client, &shots.join("store-after.png")).await?;

    // c. A refresh keeps the benefit.
    client.refresh().await?;
    assert_unlocked(client, app, "after a refresh").await?;

    // d. Back to the very first page: it must show the current state, not the stale one.
    assert_eq!(
        history_length(client).await?,
        history_at_start + 2,
        "the flow adds two history entries, the sandbox page and the store again \
         (the verify POST, the consent POST and the callback are redirects)"
    );
    mark_document(client, "store-after").await?;
    client.back().await?;
    wait_for_path(client, "/sandbox/idme/oauth/authorize").await?;
    client.back().await?;
    assert_unlocked(client, app, "after going back to the first store page").await?;
    eprintln!(
        "back to the first store page: {}",
        how_shown(client, "store-before").await?
    );
    client.forward().await?;
    wait_for_path(client, "/sandbox/idme/oauth/authorize").await?;
    client.forward().await?;
    assert_unlocked(client, app, "after going forward to the last store page").await?;
    eprintln!(
        "forward to the last store page: {}",
        how_shown(client, "store-after").await?
    );

    // e. A second tab shares the session and shows the benefit too.
    let first_tab = client.window().await?;
    let tab = client.new_window(true).await?;
    client.switch_to_window(tab.handle).await?;
    client.goto(&home).await?;
    assert_unlocked(client, app, "in a second tab").await?;
    client.close_window().await?;
    client.switch_to_window(first_tab).await?;
    assert_eq!(
        client.current_url().await?.path(),
        "/",
        "back in the first tab"
    );

    // f. Everything so far was one verification.
    assert_eq!(app.token_calls(), 1, "exactly one token call for one flow");
    assert_eq!(
        app.attributes_calls(),
        1,
        "exactly one attributes call for one flow"
    );

    // g. Forget the verification, then double-click "Verify with ID.me".
    client
        .find(Locator::Css("[data-testid=reset]"))
        .await
        .expect("the unlocked benefit has a reset button")
        .click()
        .await?;
    let verify = client
        .wait()
        .at_most(PAGE_LIMIT)
        .for_element(Locator::Css("[data-testid=verify-military]"))
        .await?;
    assert!(
        client.find_all(Locator::Css(BENEFIT)).await?.is_empty(),
        "after a reset the benefit is gone"
    );
    let authorize_before = app.authorize_calls();
    let double_click = MouseActions::new("mouse".to_owned())
        .then(PointerAction::MoveToElement {
            element: verify,
            duration: None,
            x: 0.0,
            y: 0.0,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    client.perform_actions(double_click).await?;
    client.release_actions().await?;
    wait_for_path(client, "/sandbox/idme/oauth/authorize").await?;
    let persona = client
        .wait()
        .at_most(PAGE_LIMIT)
        .for_element(Locator::Css("[data-testid=persona-service_member]"))
        .await?;
    eprintln!(
        "double click: the sandbox's authorize page was requested {} time(s)",
        app.authorize_calls() - authorize_before
    );
    persona.click().await?;
    assert_unlocked(client, app, "after the double-click flow").await?;
    // Give a stray second flow, if the double click started one, time to show up in the counts.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        app.token_calls(),
        2,
        "the double click led to exactly one more completed flow (token calls)"
    );
    assert_eq!(
        app.attributes_calls(),
        2,
        "the double click led to exactly one more completed flow (attributes calls)"
    );
    Ok(())
}

/// Waits for the store at `/` to show the benefit, then checks its content.
async fn assert_unlocked(client: &Client, app: &TestApp, when: &str) -> Result<(), CmdError> {
    let deadline = Instant::now() + PAGE_LIMIT;
    let benefit = loop {
        let url = client.current_url().await?;
        if url.path() == "/" {
            match client.find(Locator::Css(BENEFIT)).await {
                Ok(element) => break element,
                Err(e) if e.is_no_such_element() => {}
                // The page may be mid-reload (a bfcache restore reloads itself).
                Err(e) if e.is_stale_element_reference() => {}
                Err(e) => return Err(e),
            }
        }
        if Instant::now() >= deadline {
            let text = client
                .find(Locator::Css("body"))
                .await?
                .text()
                .await
                .unwrap_or_default();
            panic!(
                "{when}: no [data-testid=benefit] on {url} within {PAGE_LIMIT:?} \
                 (token calls {}, attributes calls {}); the page says:\n{text}",
                app.token_calls(),
                app.attributes_calls()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let text = benefit.text().await?;
    assert!(
        text.contains("15%"),
        "{when}: the benefit shows 15%, got:\n{text}"
    );
    assert!(
        text.contains("SALUTE15"),
        "{when}: the benefit shows the code SALUTE15, got:\n{text}"
    );
    let code = client
        .find(Locator::Css("[data-testid=benefit-code]"))
        .await?
        .text()
        .await?;
    assert_eq!(code.trim(), "SALUTE15", "{when}: the code element");
    let stale = client.find_all(Locator::Css(VERIFY_BUTTONS)).await?;
    assert!(
        stale.is_empty(),
        "{when}: {} verify button(s) still on the page with the benefit",
        stale.len()
    );
    Ok(())
}

/// The sandbox banner is present and says what it is.
async fn assert_banner(client: &Client, page: &str) -> Result<(), CmdError> {
    let banner = client
        .find(Locator::Css("[data-testid=sandbox-banner]"))
        .await
        .unwrap_or_else(|_| panic!("{page} shows the sandbox banner"));
    let text = banner.prop("textContent").await?.unwrap_or_default();
    assert_eq!(text.trim(), BANNER, "{page}: the sandbox banner's text");
    assert!(
        banner.is_displayed().await?,
        "{page}: the sandbox banner is visible"
    );
    Ok(())
}

/// Polls until the current URL's path is `path` and the document has loaded.
async fn wait_for_path(client: &Client, path: &str) -> Result<(), CmdError> {
    let deadline = Instant::now() + PAGE_LIMIT;
    loop {
        let url = client.current_url().await?;
        if url.path() == path {
            let ready = client.execute("return document.readyState", vec![]).await?;
            if ready == json!("complete") {
                return Ok(());
            }
        }
        assert!(
            Instant::now() < deadline,
            "still on {url} after {PAGE_LIMIT:?}, expected {path}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn history_length(client: &Client) -> Result<u64, CmdError> {
    let length = client
        .execute("return window.history.length", vec![])
        .await?;
    Ok(length.as_u64().expect("history.length is a number"))
}

/// Tags the current document, to tell later whether the browser showed this very document
/// again (restored from the back-forward cache, not reloaded) or loaded a new one.
async fn mark_document(client: &Client, name: &str) -> Result<(), CmdError> {
    client
        .execute(
            "window.__perkgateDocument = arguments[0];",
            vec![json!(name)],
        )
        .await?;
    Ok(())
}

/// Describes how the current document got on screen, for the log.
async fn how_shown(client: &Client, earlier: &str) -> Result<String, CmdError> {
    let found = client
        .execute(
            "var e = performance.getEntriesByType('navigation')[0]; \
             return [window.__perkgateDocument || null, e ? e.type : null];",
            vec![],
        )
        .await?;
    let marker = found[0].as_str();
    let kind = found[1].as_str().unwrap_or("unknown");
    Ok(if marker == Some(earlier) {
        format!("the {earlier} document itself, restored from the back-forward cache")
    } else {
        format!("a freshly loaded document (navigation type {kind})")
    })
}

async fn save_screenshot(client: &Client, path: &Path) -> Result<(), CmdError> {
    let png = client.screenshot().await?;
    assert!(
        png.starts_with(b"\x89PNG"),
        "the screenshot for {} is a PNG",
        path.display()
    );
    std::fs::write(path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    eprintln!("screenshot: {}", path.display());
    Ok(())
}
