//! The merchant's shop around perkgate (issue 11, items 1 and 2), over HTTP on the real app:
//! its name, logo, colour and links on the shopper's pages, and the way back to it after a
//! verification — `return_to` for listed origins only, and "Apply at checkout".

use crate::harness::fake_idme::FakeIdme;
use crate::harness::{Options, TestApp, hidden, location, spawn_with};

const SHOP: &str = "https://shop.example";

fn shop_options() -> Options {
    Options::default()
        .var("PERKGATE_STORE_NAME", "Acme <Outfitters>")
        .var("PERKGATE_STORE_URL", "https://shop.example/")
        .var(
            "PERKGATE_STORE_LOGO_URL",
            "https://cdn.shop.example/logo.svg",
        )
        .var("PERKGATE_STORE_COLOR", "#ffd23f")
        .var("PERKGATE_STORE_PRIVACY_URL", "https://shop.example/privacy")
        .var(
            "PERKGATE_STORE_TERMS_URL",
            "https://shop.example/terms?x=1&y=2",
        )
        .var("PERKGATE_STORE_SUPPORT", "help@shop.example")
        .var("PERKGATE_RETURN_ORIGINS", SHOP)
        .var(
            "PERKGATE_APPLY_URL",
            "https://shop.example/discount/{code}?redirect=/cart",
        )
}

#[tokio::test]
async fn the_store_looks_like_the_merchants() {
    let app = spawn_with(shop_options()).await;
    let res = app.get("/").await;
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("img-src 'self' https://cdn.shop.example;"),
        "{csp}"
    );
    let page = res.text().await.unwrap();
    assert!(page.contains("<title>Discounts · Acme &#60;Outfitters&#62;</title>"));
    assert!(page.contains(
        "<a href=\"https://shop.example/\" class=\"store-name\" data-testid=\"store-name\">"
    ));
    assert!(
        page.contains(
            "<img src=\"https://cdn.shop.example/logo.svg\" alt=\"\" class=\"store-logo\""
        )
    );
    assert!(page.contains("href=\"https://shop.example/privacy\""));
    assert!(page.contains("href=\"https://shop.example/terms?x=1&#38;y=2\""));
    assert!(page.contains("href=\"mailto:help@shop.example\""));
    assert!(
        !page.contains("Demo store"),
        "the merchant's name replaces it"
    );

    assert!(page.contains("<link rel=\"stylesheet\" href=\"/static/theme.css?v=ffd23f\">"));
    let theme = app.get("/static/theme.css").await;
    assert_eq!(theme.status(), 200);
    assert_eq!(theme.headers()["content-type"], "text/css; charset=utf-8");
    let css = theme.text().await.unwrap();
    assert!(css.contains("--brand:#ffd23f;--on-brand:#000000;"), "{css}");

    // Error pages wear the same look.
    let missing = app.get("/nowhere").await;
    assert_eq!(missing.status(), 404);
    assert!(
        missing
            .text()
            .await
            .unwrap()
            .contains("· Acme &#60;Outfitters&#62;</title>")
    );
    app.stop().await;
}

#[tokio::test]
async fn without_settings_the_name_is_a_demo_only_with_the_sandbox() {
    let sandbox = spawn_with(Options::default()).await;
    let page = sandbox.home().await.1;
    assert!(page.contains("· Demo store</title>"));
    assert!(!page.contains("theme.css"), "no colour, no theme");
    assert_eq!(sandbox.get("/static/theme.css").await.status(), 404);
    assert!(!page.contains("data-testid=\"store-links\""));
    sandbox.stop().await;

    let idme = FakeIdme::start().await;
    let real = spawn_with(Options::default().idme(&idme.url())).await;
    let page = real.home().await.1;
    assert!(!page.contains("Demo store"), "{page}");
    assert!(
        page.contains("<title>Discounts · 127.0.0.1</title>"),
        "{page}"
    );
    real.stop().await;
}

/// A shopper who came from the shop's cart, through the sandbox: the benefit leads back there,
/// with the code applied by the shop's own link.
async fn verify_from(app: &TestApp, return_to: &str) -> String {
    let shopper = app.default_shopper();
    let page = shopper
        .get(&format!("/?return_to={}", urlencode(return_to)))
        .await
        .text()
        .await
        .unwrap();
    let csrf = hidden(&page, "csrf");
    let carried = page
        .contains("name=\"return_to\"")
        .then(|| hidden(&page, "return_to").replace("&#38;", "&"));
    let mut form = vec![("csrf", csrf.as_str())];
    // What the page's form would send, or what a forged form would.
    form.push(("return_to", carried.as_deref().unwrap_or(return_to)));
    let res = shopper
        .client()
        .post(app.url("/verify/military"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let callback = shopper
        .sandbox_pick(&location(&res), "service_member")
        .await;
    assert_eq!(shopper.get(&callback).await.status(), 303);
    app.home().await.1
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn back_to_the_shop_with_the_code_applied() {
    let app = spawn_with(shop_options()).await;
    let cart = "https://shop.example/cart?step=2&from=perks";
    let first = app.get(&format!("/?return_to={}", urlencode(cart))).await;
    let first = first.text().await.unwrap();
    assert_eq!(
        hidden(&first, "return_to"),
        "https://shop.example/cart?step=2&#38;from=perks",
        "every verify form carries the checked address"
    );
    assert!(first.contains("data-testid=\"back-to-shop\""));

    let page = verify_from(&app, cart).await;
    assert!(page.contains("data-testid=\"benefit\""), "{page}");
    assert!(
        page.contains(
            "<a href=\"https://shop.example/cart?step=2&#38;from=perks\" class=\"back\" \
             data-testid=\"back-to-shop\">Back to the shop</a>"
        ),
        "{page}"
    );
    assert!(
        page.contains(
            "<a href=\"https://shop.example/discount/SALUTE15?redirect=/cart\" class=\"button \
             apply\" data-testid=\"apply-at-checkout\">Apply at checkout</a>"
        ),
        "{page}"
    );
    // Refresh, a new tab: the session remembers the way back.
    assert!(app.home().await.1.contains("data-testid=\"back-to-shop\""));
    app.stop().await;
}

#[tokio::test]
async fn unlisted_return_addresses_are_ignored() {
    let app = spawn_with(shop_options()).await;
    for bad in [
        "https://evil.example/cart",
        "//evil.example",
        "/\\evil.example",
        "https:evil.example",
        "https://shop.example@evil.example/",
        "https://shop.example%2F@evil.example/",
        "https://xn--shp-jpd.example/",
    ] {
        let page = app
            .get(&format!("/?return_to={}", urlencode(bad)))
            .await
            .text()
            .await
            .unwrap();
        assert!(!page.contains("return_to"), "{bad}: not carried");
        assert!(!page.contains("back-to-shop"), "{bad}: no link");
    }
    // A repeated return_to is ambiguous: ignored too.
    let page = app
        .get("/?return_to=https%3A%2F%2Fshop.example%2F&return_to=https%3A%2F%2Fevil.example%2F")
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("back-to-shop"));

    // A forged form with an unlisted address: verified, but no way "back" to it.
    let page = verify_from(&app, "https://evil.example/cart").await;
    assert!(page.contains("data-testid=\"benefit\""), "{page}");
    assert!(!page.contains("evil.example"), "{page}");
    assert!(!page.contains("back-to-shop"));
    // Without a return address the apply link still takes the code to the shop.
    assert!(page.contains("data-testid=\"apply-at-checkout\""));
    app.stop().await;
}

#[tokio::test]
async fn the_embed_script_is_public_and_its_documented_hash_matches() {
    let app = spawn_with(Options::default()).await;
    let res = app.get("/embed.js").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    // Loaded cross-origin with integrity="…" crossorigin="anonymous": CORS must allow it.
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    let body = res.bytes().await.unwrap();
    use base64::Engine as _;
    use sha2::Digest as _;
    let sri = format!(
        "sha384-{}",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha384::digest(&body))
    );
    let readme = include_str!("../../README.md");
    assert!(
        readme.contains(&format!("integrity=\"{sri}\"")),
        "README's SRI hash is not {sri}: update it with static/embed.js"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_popup_hands_the_benefit_to_a_listed_embedding_page_only() {
    let page_origin = "http://localhost:8123";
    let app = spawn_with(Options::default().var("PERKGATE_EMBED_ORIGINS", page_origin)).await;
    let first = app
        .get(&format!("/?embed={}", urlencode(page_origin)))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(hidden(&first, "embed"), page_origin);
    // The fallback without a popup comes back with return_to: the embedding page is a return.
    let back = app
        .get(&format!(
            "/?return_to={}",
            urlencode("http://localhost:8123/product/7")
        ))
        .await
        .text()
        .await
        .unwrap();
    assert!(back.contains("data-testid=\"back-to-shop\""));

    let shopper = app.default_shopper();
    let csrf = hidden(&first, "csrf");
    let res = shopper
        .client()
        .post(app.url("/verify/military"))
        .form(&[("csrf", csrf.as_str()), ("embed", page_origin)])
        .send()
        .await
        .unwrap();
    let callback = shopper
        .sandbox_pick(&location(&res), "service_member")
        .await;
    shopper.get(&callback).await;
    let page = app.home().await.1;
    assert!(
        page.contains(
            "<div hidden data-testid=\"embed-handoff\" data-origin=\"http://localhost:8123\" \
             data-offer=\"military\" data-title=\"Military: 15% off\" data-discount=\"15% off\" \
             data-code=\"SALUTE15\"></div>"
        ),
        "{page}"
    );

    // A page that is not listed gets nothing handed to it.
    let other = crate::harness::Shopper::new(&app.url(""));
    for bad in [
        "http://evil.example",
        "http://localhost:8124",
        "http://localhost:8123/path",
        "http://user@localhost:8123",
    ] {
        let page = other
            .get(&format!("/?embed={}", urlencode(bad)))
            .await
            .text()
            .await
            .unwrap();
        assert!(!page.contains("name=\"embed\""), "{bad}");
    }
    let page = other.get("/?embed=http%3A%2F%2Fevil.example").await;
    let csrf = hidden(&page.text().await.unwrap(), "csrf");
    let res = other
        .client()
        .post(app.url("/verify/military"))
        .form(&[("csrf", csrf.as_str()), ("embed", "http://evil.example")])
        .send()
        .await
        .unwrap();
    let callback = other.sandbox_pick(&location(&res), "service_member").await;
    other.get(&callback).await;
    let page = other.home().await.1;
    assert!(page.contains("data-testid=\"benefit\""));
    assert!(!page.contains("embed-handoff"), "{page}");
    app.stop().await;
}
