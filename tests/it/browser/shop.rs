//! In the browser, perkgate inside a merchant's shop (issue 11, items 1 and 2): the shop's
//! cart links to the store with `return_to`; the store wears the shop's name, logo and
//! colour; after verifying, "Apply at checkout" and "Back to the shop" lead to the shop, on
//! another origin (`localhost` against perkgate's `127.0.0.1`).

use std::path::Path;
use std::time::{Duration, Instant};

use axum::extract::Path as UrlPath;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use fantoccini::error::CmdError;
use fantoccini::{Client, Locator};
use serde_json::json;

use super::axe::Axe;
use super::outcomes::click;
use super::{PAGE_LIMIT, save_screenshot, wait_for_path};
use crate::harness::{Options, spawn_with};

pub async fn scenario(client: &Client, axe: &Axe, shots: &Path) -> Result<(), CmdError> {
    let (shop, server) = shop_server().await;
    let app = spawn_with(
        Options::default()
            .var("PERKGATE_STORE_NAME", "Acme Outfitters")
            .var("PERKGATE_STORE_URL", &format!("{shop}/"))
            .var("PERKGATE_STORE_LOGO_URL", &format!("{shop}/logo.svg"))
            .var("PERKGATE_STORE_COLOR", "#ffd23f")
            .var("PERKGATE_STORE_PRIVACY_URL", &format!("{shop}/privacy"))
            .var("PERKGATE_STORE_SUPPORT", "help@shop.example")
            .var("PERKGATE_RETURN_ORIGINS", &shop)
            .var(
                "PERKGATE_APPLY_URL",
                &format!("{shop}/discount/{{code}}?redirect=/cart"),
            ),
    )
    .await;

    // The shop's cart links to the store, saying where to come back to.
    client
        .goto(&format!("{shop}/cart?perks={}", app.url("/")))
        .await?;
    click(client, "#perks").await?;
    wait_for_path(client, "/").await?;
    let name = client
        .find(Locator::Css("[data-testid=store-name]"))
        .await?
        .text()
        .await?;
    assert_eq!(name, "Acme Outfitters");
    let logo = client
        .execute(
            "var i = document.querySelector('[data-testid=store-logo]'); \
             return i && i.complete ? i.naturalWidth : -1;",
            vec![],
        )
        .await?;
    assert!(
        logo.as_i64().unwrap_or(0) > 0,
        "the logo loaded (CSP img-src): {logo}"
    );
    let button = client
        .execute(
            "return getComputedStyle(document.querySelector('[data-testid=verify-military]')).backgroundColor;",
            vec![],
        )
        .await?;
    assert_eq!(button, json!("rgb(255, 210, 63)"), "the store's colour");
    axe.check(client, "the store in the merchant's colours")
        .await?;

    click(client, "[data-testid=verify-military]").await?;
    wait_for_path(client, "/sandbox/idme/oauth/authorize").await?;
    click(client, "[data-testid=persona-service_member]").await?;
    wait_for_path(client, "/").await?;
    client
        .wait()
        .at_most(PAGE_LIMIT)
        .for_element(Locator::Css("[data-testid=apply-at-checkout]"))
        .await?;
    axe.check(client, "the benefit with the way back to the shop")
        .await?;
    save_screenshot(client, &shots.join("store-branded.png")).await?;

    click(client, "[data-testid=apply-at-checkout]").await?;
    let landed = wait_for_url(client, &format!("{shop}/discount/SALUTE15?redirect=/cart")).await?;
    assert!(landed, "Apply at checkout took the code to the shop");
    client.back().await?;
    wait_for_path(client, "/").await?;
    click(client, "[data-testid=back-to-shop]").await?;
    let landed = wait_for_url(client, &format!("{shop}/cart?perks={}", app.url("/"))).await?;
    assert!(landed, "Back to the shop returned to the cart");
    assert_eq!((app.token_calls(), app.attributes_calls()), (1, 1));
    app.stop().await;
    server.abort();
    Ok(())
}

async fn wait_for_url(client: &Client, want: &str) -> Result<bool, CmdError> {
    let deadline = Instant::now() + PAGE_LIMIT;
    while Instant::now() < deadline {
        if client.current_url().await?.as_str() == want {
            return Ok(true);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("still on {}", client.current_url().await?);
    Ok(false)
}

/// A merchant's shop on loopback: a cart that links to perkgate, a logo, a discount link.
async fn shop_server() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let back = origin.clone();
    let router = axum::Router::new()
        .route(
            "/cart",
            get(
                move |axum::extract::Query(q): axum::extract::Query<
                    std::collections::HashMap<String, String>,
                >| {
                    let back = back.clone();
                    async move {
                        let perks = q.get("perks").cloned().unwrap_or_default();
                        let cart = format!("{back}/cart?perks={perks}");
                        let link: String =
                            url::form_urlencoded::byte_serialize(cart.as_bytes()).collect();
                        Html(format!(
                            "<!doctype html><html lang=\"en\"><title>Cart</title><h1>Cart</h1>\
                             <a id=\"perks\" href=\"{perks}?return_to={link}\">Discounts</a></html>"
                        ))
                    }
                },
            ),
        )
        .route(
            "/discount/{code}",
            get(|UrlPath(code): UrlPath<String>| async move {
                Html(format!(
                    "<!doctype html><html lang=\"en\"><title>Discount</title><h1>{code}</h1></html>"
                ))
            }),
        )
        .route(
            "/logo.svg",
            get(|| async {
                (
                    [("content-type", "image/svg+xml")],
                    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"32\" height=\"32\">\
                     <rect width=\"32\" height=\"32\" fill=\"#1d2433\"/></svg>",
                )
                    .into_response()
            }),
        );
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (origin, server)
}
