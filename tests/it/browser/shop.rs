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
use super::outcomes::{click, verify_as};
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

    verify_as(client, "verify-military", "service_member").await?;
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
    embedded(client, axe, &shop).await?;
    server.abort();
    Ok(())
}

/// The button on the shop's own product page (`embed.js`, with its integrity hash): a popup,
/// the flow in it, the benefit handed back by `postMessage`; a page whose origin is not listed
/// (the same server as `127.0.0.1`) gets nothing.
async fn embedded(client: &Client, axe: &Axe, shop: &str) -> Result<(), CmdError> {
    let app = spawn_with(Options::default().var("PERKGATE_EMBED_ORIGINS", shop)).await;
    let product = format!("{shop}/product?perks={}", app.url(""));
    client.goto(&product).await?;
    click(client, "[data-testid=perkgate-embed-button]").await?;
    axe.check(client, "a shop page with the embedded button")
        .await?;
    let main = client.window().await?;
    let popup = wait_for_popup(client, &main).await?;
    client.switch_to_window(popup).await?;
    wait_for_path(client, "/").await?;
    verify_as(client, "verify-military", "service_member").await?;
    // The popup hands the benefit over and closes itself.
    let deadline = Instant::now() + PAGE_LIMIT;
    while client.windows().await?.len() > 1 {
        assert!(Instant::now() < deadline, "the popup did not close");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    client.switch_to_window(main.clone()).await?;
    let got = client
        .wait()
        .at_most(PAGE_LIMIT)
        .for_element(Locator::Css("#got[data-done]"))
        .await?
        .text()
        .await?;
    let detail: serde_json::Value = serde_json::from_str(&got).unwrap();
    assert_eq!(detail["code"], "SALUTE15", "{got}");
    assert_eq!(detail["offer"], "military");
    let status = client
        .find(Locator::Css("[data-testid=perkgate-embed-status]"))
        .await?
        .text()
        .await?;
    assert!(status.contains("SALUTE15"), "{status}");

    // The same page on an origin that is not listed: the popup shows the benefit, hands
    // nothing over and stays open.
    let port = shop.rsplit(':').next().unwrap_or_default();
    client
        .goto(&format!(
            "http://127.0.0.1:{port}/product?perks={}",
            app.url("")
        ))
        .await?;
    click(client, "[data-testid=perkgate-embed-button]").await?;
    let popup = wait_for_popup(client, &main).await?;
    client.switch_to_window(popup).await?;
    client
        .wait()
        .at_most(PAGE_LIMIT)
        .for_element(Locator::Css("[data-testid=benefit]"))
        .await?;
    assert!(
        client
            .find_all(Locator::Css("[data-testid=embed-handoff]"))
            .await?
            .is_empty()
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(client.windows().await?.len(), 2, "the popup stays open");
    client.close_window().await?;
    client.switch_to_window(main).await?;
    assert!(
        client
            .find_all(Locator::Css("#got[data-done]"))
            .await?
            .is_empty(),
        "an unlisted page gets nothing"
    );
    app.stop().await;
    Ok(())
}

async fn wait_for_popup(
    client: &Client,
    main: &fantoccini::wd::WindowHandle,
) -> Result<fantoccini::wd::WindowHandle, CmdError> {
    let deadline = Instant::now() + PAGE_LIMIT;
    loop {
        if let Some(w) = client.windows().await?.into_iter().find(|w| w != main) {
            return Ok(w);
        }
        if Instant::now() >= deadline {
            panic!(
                "no popup opened; the page is at {}",
                client.current_url().await?
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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
            "/product",
            get(
                |axum::extract::Query(q): axum::extract::Query<
                    std::collections::HashMap<String, String>,
                >| async move {
                    use base64::Engine as _;
                    use sha2::Digest as _;
                    let perks = q.get("perks").cloned().unwrap_or_default();
                    let sri = base64::engine::general_purpose::STANDARD
                        .encode(sha2::Sha384::digest(perkgate_embed_js().as_bytes()));
                    Html(format!(
                        "<!doctype html><html lang=\"en\"><title>Boots</title><main><h1>Boots</h1>\
                         <div data-perkgate></div><pre id=\"got\"></pre></main>\
                         <script>document.addEventListener('perkgate:benefit', function (e) {{ \
                         var g = document.getElementById('got'); g.textContent = JSON.stringify(e.detail); \
                         g.setAttribute('data-done', ''); }});</script>\
                         <script src=\"{perks}/embed.js\" integrity=\"sha384-{sri}\" \
                         crossorigin=\"anonymous\" defer></script></html>"
                    ))
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

/// The script as perkgate serves it, for the page's integrity hash.
fn perkgate_embed_js() -> &'static str {
    include_str!("../../../static/embed.js")
}
