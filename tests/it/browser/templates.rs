//! In the browser, the merchant's own templates (`PERKGATE_TEMPLATES`, issue 11 item 1): the
//! shipped example layout (`config/templates-example`) around the built-in pages, through a
//! verification in the sandbox, and the built-in templates written in Jinja
//! (`docs/templates`), each page checked by axe-core like the built-in ones.

use std::path::Path;

use fantoccini::error::CmdError;
use fantoccini::{Client, Locator};

use super::axe::Axe;
use super::outcomes::verify_as;
use super::{BENEFIT, PAGE_LIMIT, save_screenshot, wait_for_path};
use crate::harness::{Options, spawn_with};

pub async fn scenario(client: &Client, axe: &Axe, shots: &Path) -> Result<(), CmdError> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let example = manifest.join("config/templates-example");
    let app = spawn_with(
        Options::default()
            .var("PERKGATE_TEMPLATES", &example.display().to_string())
            .var("PERKGATE_STORE_NAME", "Acme Outfitters")
            .var("PERKGATE_STORE_PRIVACY_URL", "https://shop.example/privacy")
            .var("PERKGATE_STORE_SUPPORT", "help@shop.example"),
    )
    .await;
    client.goto(&app.url("/")).await?;
    client
        .wait()
        .at_most(PAGE_LIMIT)
        .for_element(Locator::Css("[data-testid=merchant-header]"))
        .await?;
    axe.check(client, "the store in the merchant's own layout")
        .await?;
    verify_as(client, "verify-military", "service_member").await?;
    wait_for_path(client, "/").await?;
    client
        .wait()
        .at_most(PAGE_LIMIT)
        .for_element(Locator::Css(BENEFIT))
        .await?;
    let code = client
        .find(Locator::Css("[data-testid=benefit-code]"))
        .await?
        .text()
        .await?;
    assert_eq!(code, "SALUTE15");
    client
        .find(Locator::Css("[data-testid=merchant-footer]"))
        .await?;
    axe.check(client, "the benefit in the merchant's own layout")
        .await?;
    save_screenshot(client, &shots.join("store-own-layout.png")).await?;
    client.goto(&app.url("/nowhere")).await?;
    client
        .wait()
        .at_most(PAGE_LIMIT)
        .for_element(Locator::Css("[data-testid=correlation-id]"))
        .await?;
    axe.check(client, "an error page in the merchant's own layout")
        .await?;
    app.stop().await;

    // The built-ins in Jinja: every template overridden.
    let ported = manifest.join("docs/templates");
    let app =
        spawn_with(Options::default().var("PERKGATE_TEMPLATES", &ported.display().to_string()))
            .await;
    client.goto(&app.url("/")).await?;
    client
        .wait()
        .at_most(PAGE_LIMIT)
        .for_element(Locator::Css("[data-testid=verify-military]"))
        .await?;
    axe.check(client, "the store through the built-ins in Jinja")
        .await?;
    app.stop().await;
    Ok(())
}
