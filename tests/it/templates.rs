//! The merchant's own templates (`PERKGATE_TEMPLATES`, issue 11 item 1), over HTTP on the
//! real app: the shipped example layout around the built-in pages (a whole verification
//! through it), a storefront and an error page of the merchant's own, and what start-up says
//! about a folder it cannot use.

use std::path::{Path, PathBuf};

use crate::harness::logs::capture_logs;
use crate::harness::{Options, assert_verified, hidden, spawn_with};

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/templates-example")
}

/// A folder with these templates, kept for the test's lifetime.
fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn with_templates(dir: &Path) -> Options {
    Options::default().var("PERKGATE_TEMPLATES", &dir.display().to_string())
}

/// Why the app did not start with these templates.
async fn start_up_error(dir: &Path) -> String {
    let config = perkgate::Config::from_vars([
        ("PERKGATE_LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
        ("PERKGATE_CONFIG".to_owned(), "/dev/null".to_owned()),
        (
            "PERKGATE_DATABASE_URL".to_owned(),
            format!("sqlite://{}", dir.join("perkgate.db").display()),
        ),
        ("PERKGATE_TEMPLATES".to_owned(), dir.display().to_string()),
    ])
    .expect("the settings themselves are fine");
    match perkgate::App::build(config).await {
        Ok(_) => panic!("started with the templates in {}", dir.display()),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn the_example_layout_wraps_the_built_in_pages_and_a_verification_works() {
    let app = spawn_with(
        with_templates(&example())
            .var("PERKGATE_STORE_NAME", "Acme <Outfitters>")
            .var("PERKGATE_STORE_SUPPORT", "help@shop.example"),
    )
    .await;
    let res = app.get("/").await;
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self';"), "the CSP stays: {csp}");
    let page = res.text().await.unwrap();
    // The merchant's header and footer, its values escaped (by minijinja: `&lt;`).
    assert!(
        page.contains("<header data-testid=\"merchant-header\">"),
        "{page}"
    );
    assert!(page.contains("data-testid=\"merchant-footer\""), "{page}");
    assert!(
        page.contains("<title>Discounts · Acme &lt;Outfitters&gt;</title>"),
        "{page}"
    );
    assert!(page.contains("<li><a href=\"mailto:help@shop.example\">Contact us</a></li>"));
    assert!(!page.contains("Acme <Outfitters>"), "escaped");
    // The built-in body inside it, not escaped twice: offers, forms, the switch.
    assert!(page.contains("data-testid=\"offer-military\""), "{page}");
    assert!(page.contains("<form method=\"post\" action=\"/verify/military\""));
    assert!(page.contains("data-testid=\"lang-switch\""));
    assert!(!page.contains("&lt;form"), "the body is not escaped again");

    // The whole verification, through the sandbox, from the page's own form and token.
    let res = app.verify_as("military", "service_member").await;
    assert_eq!(res.status(), 303);
    let (status, page) = app.home().await;
    assert_eq!(status, 200);
    assert_verified(&page, "SALUTE15");
    assert!(page.contains("data-testid=\"merchant-header\""));

    // In the shopper's language, and the error pages wear it too.
    let fr = app
        .default_shopper()
        .client()
        .get(app.url("/nowhere"))
        .header("accept-language", "fr-CA")
        .send()
        .await
        .unwrap();
    assert_eq!(fr.status(), 404);
    let id = fr.headers()["x-request-id"].to_str().unwrap().to_owned();
    let page = fr.text().await.unwrap();
    assert!(page.contains("<html lang=\"fr-CA\">"), "{page}");
    assert!(page.contains("data-testid=\"merchant-footer\""), "{page}");
    assert!(page.contains(&format!("<code data-testid=\"correlation-id\">{id}</code>")));
    app.stop().await;
}

const STOREFRONT: &str = r#"<h1 data-testid="own-heading">{{ t.heading }} at {{ store.name }}</h1>
{% if message %}<p data-testid="own-message" role="{{ message.role }}">{{ message.text }}</p>{% endif %}
{% if benefit %}
<p data-testid="own-benefit">{{ benefit_title }}: <code>{{ benefit.code }}</code> ({{ benefit_summary }})</p>
<form method="post" action="{{ reset_action }}"><input type="hidden" name="csrf" value="{{ csrf }}"><button data-testid="own-reset">{{ t.forget }}</button></form>
{% endif %}
{% for c in communities %}
<section data-testid="own-community-{{ c.handle }}">
<h2>{{ c.name }}</h2>
{% for o in c.offers %}<p data-testid="own-offer-{{ o.id }}">{{ o.title }} · {{ o.summary }}</p>{% endfor %}
<ul>{{ c.cards }}</ul>
{% if show_verify %}<form method="post" action="{{ c.verify_action }}"><input type="hidden" name="csrf" value="{{ csrf }}"><button data-testid="own-verify-{{ c.handle }}">{{ t.verify }}</button></form>{% endif %}
</section>
{% endfor %}
"#;

#[tokio::test]
async fn a_storefront_of_the_merchants_own_renders_its_context() {
    let dir = folder(&[
        ("storefront.html", STOREFRONT),
        (
            "offer_cards.html",
            "{% for o in offers %}<li data-testid=\"own-card-{{ o.id }}\">{{ o.title }}</li>{% endfor %}",
        ),
    ]);
    let app = spawn_with(with_templates(dir.path()).var("PERKGATE_STORE_NAME", "Acme & Co")).await;
    let (status, page) = app.home().await;
    assert_eq!(status, 200);
    // The built-in layout around it.
    assert!(
        page.contains("<title>Discounts · Acme &#38; Co</title>"),
        "{page}"
    );
    assert!(page.contains("data-testid=\"lang-switch\""));
    assert!(page.contains("at Acme &amp; Co</h1>"), "{page}");
    assert!(page.contains("<section data-testid=\"own-community-military\">"));
    assert!(
        page.contains("data-testid=\"own-offer-military\">Military: 15% off"),
        "{page}"
    );
    // The cards through the merchant's offer_cards.html, not escaped twice.
    assert!(
        page.contains("<li data-testid=\"own-card-military\">Military: 15% off</li></ul>"),
        "{page}"
    );
    // (minijinja escapes `/` too: the same address to a browser.)
    assert!(page.contains("<form method=\"post\" action=\"&#x2f;verify&#x2f;military\">"));

    // The merchant's form, with its token, starts a verification that unlocks.
    let csrf = hidden(&page, "csrf");
    let res = app.post_csrf("/verify/military", &csrf).await;
    assert_eq!(res.status(), 303);
    let callback = app
        .sandbox_pick(&crate::harness::location(&res), "service_member")
        .await;
    assert_eq!(app.get(&callback).await.status(), 303);
    let (_, page) = app.home().await;
    assert!(
        page.contains("<p data-testid=\"own-benefit\">Military: 15% off: <code>SALUTE15</code>"),
        "{page}"
    );
    assert!(
        !page.contains("own-verify-"),
        "no verify form once unlocked"
    );
    // A form without the token is refused as ever.
    assert_eq!(app.post_csrf("/reset", "forged").await.status(), 403);
    app.stop().await;
}

#[tokio::test]
async fn an_error_page_of_the_merchants_own() {
    let dir = folder(&[(
        "error.html",
        "<section data-testid=\"own-error\"><h1>{{ title }}</h1><p role=\"{{ role }}\">{{ message }}</p>\
         <p>Quote {{ correlation_id }} to {{ store.name }}.</p></section>",
    )]);
    let app = spawn_with(with_templates(dir.path())).await;
    let res = app.get("/nowhere").await;
    assert_eq!(res.status(), 404);
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let page = res.text().await.unwrap();
    assert!(
        page.contains("<section data-testid=\"own-error\"><h1>Page not found</h1>"),
        "{page}"
    );
    assert!(
        page.contains(&format!("<p>Quote {id} to Demo store.</p>")),
        "{page}"
    );
    // The built-in layout around it; the storefront stays the built-in one.
    assert!(page.contains("data-testid=\"store-name\""));
    let (_, home) = app.home().await;
    assert!(home.contains("data-testid=\"verify-military\"") && !home.contains("own-error"));
    // The console's errors are never the merchant's.
    let console = app.get("/admin/nowhere").await.text().await.unwrap();
    assert!(!console.contains("own-error"), "{console}");
    app.stop().await;
}

#[tokio::test]
async fn a_template_that_fails_on_a_page_gives_the_error_page_not_a_panic() {
    // Sound on the samples start-up renders (in English); broken in French only.
    let broken = "{% if lang == \"fr-CA\" %}{{ store.nmae }}{% endif %}";
    let dir = folder(&[
        ("storefront.html", &format!("<h1>Ours</h1>{broken}")),
        (
            "error.html",
            &format!("<p data-testid=\"own-error\">{{{{ message }}}}</p>{broken}"),
        ),
    ]);
    let logs = capture_logs();
    let app = spawn_with(with_templates(dir.path())).await;
    let (status, page) = app.home().await;
    assert_eq!((status, page.contains("<h1>Ours</h1>")), (200, true));

    let res = app
        .default_shopper()
        .client()
        .get(app.url("/"))
        .header("accept-language", "fr-CA")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 500);
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let page = res.text().await.unwrap();
    // The built-in error page (the merchant's fails too), in French, with its reference.
    assert!(page.contains("<html lang=\"fr-CA\">"), "{page}");
    assert!(
        page.contains(&format!("<code data-testid=\"correlation-id\">{id}</code>")),
        "{page}"
    );
    assert!(!page.contains("own-error"), "{page}");
    let log = logs.text();
    assert!(
        log.contains("merchant template storefront.html: undefined value"),
        "the log names the template:\n{log}"
    );
    assert!(log.contains("merchant template error.html"), "{log}");
    assert!(
        log.contains(&id),
        "the log line carries the request id:\n{log}"
    );
    // And the next page is fine.
    assert_eq!(app.home().await.0, 200);
    app.stop().await;
}

#[tokio::test]
async fn start_up_names_the_file_and_line_of_a_broken_template() {
    let dir = folder(&[(
        "base.html",
        "<html>\n<title>{{ title }</title>\n{{ content }}\n",
    )]);
    let e = start_up_error(dir.path()).await;
    let path = dir.path().join("base.html");
    assert!(
        e.starts_with(&format!(
            "PERKGATE_TEMPLATES: {}:2: syntax error:",
            path.display()
        )),
        "{e}"
    );

    let dir = folder(&[("error.html", "<p>{{ mesage }}</p>")]);
    let e = start_up_error(dir.path()).await;
    assert!(
        e.contains("error.html:1: undefined value"),
        "a misspelt field: {e}"
    );
}

#[tokio::test]
async fn start_up_refuses_a_template_perkgate_does_not_have() {
    let dir = folder(&[
        ("base.html", "{{ content }}"),
        ("console.html", "<p>hi</p>"),
    ]);
    let e = start_up_error(dir.path()).await;
    assert!(
        e.starts_with(&format!(
            "PERKGATE_TEMPLATES: {}: not a template perkgate has",
            dir.path().join("console.html").display()
        )),
        "{e}"
    );
    assert!(
        e.contains("base.html, storefront.html, error.html, offer_cards.html, lang_switch.html"),
        "{e}"
    );
}

/// The `data-testid`s of a page, in order: the hooks tests, app.js and shops rely on.
fn hooks(page: &str) -> Vec<String> {
    page.split("data-testid=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

/// What a shopper walks through: the store from the shop's cart, unlocked, an error page.
async fn walk(options: Options) -> Vec<Vec<String>> {
    let app = spawn_with(
        options
            .var(
                "PERKGATE_STORE_LOGO_URL",
                "https://cdn.shop.example/logo.svg",
            )
            .var("PERKGATE_STORE_PRIVACY_URL", "https://shop.example/privacy")
            .var("PERKGATE_STORE_SUPPORT", "help@shop.example")
            .var("PERKGATE_RETURN_ORIGINS", "https://shop.example")
            .var("PERKGATE_APPLY_URL", "https://shop.example/discount/{code}"),
    )
    .await;
    let mut seen = Vec::new();
    let from_cart = app
        .get("/?return_to=https%3A%2F%2Fshop.example%2Fcart")
        .await;
    seen.push(hooks(&from_cart.text().await.unwrap()));
    assert_eq!(
        app.verify_as("military", "service_member").await.status(),
        303
    );
    let (_, unlocked) = app.home().await;
    assert_verified(&unlocked, "SALUTE15");
    seen.push(hooks(&unlocked));
    seen.push(hooks(&app.get("/nowhere").await.text().await.unwrap()));
    app.stop().await;
    seen
}

#[tokio::test]
async fn the_built_in_templates_in_jinja_keep_every_hook() {
    let ported = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/templates");
    let built_in = walk(Options::default()).await;
    let jinja = walk(with_templates(&ported)).await;
    assert!(
        built_in[0].contains(&"verify-military".to_owned()),
        "{built_in:?}"
    );
    assert!(
        built_in[1].contains(&"apply-at-checkout".to_owned()),
        "{built_in:?}"
    );
    assert_eq!(jinja, built_in);
}
