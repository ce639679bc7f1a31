//! The shopper's language over HTTP: negotiated from `Accept-Language`, chosen with the switch
//! (its cookie wins), on the store, its outcomes, errors and the sandbox; offers translated in
//! the rules; the console stays English.

use crate::harness::*;

async fn get_in(shopper: &Shopper, path: &str, accept_language: &str) -> reqwest::Response {
    shopper
        .client()
        .get(shopper.url(path))
        .header("accept-language", accept_language)
        .send()
        .await
        .unwrap()
}

/// The `<a>` of the switch for `tag`.
fn switch_link<'p>(page: &'p str, tag: &str) -> &'p str {
    let marker = format!("data-testid=\"lang-{tag}\"");
    let at = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {marker}:\n{page}"));
    let start = page[..at].rfind("<a ").unwrap();
    &page[start..at + page[at..].find('>').unwrap()]
}

#[tokio::test]
async fn accept_language_gives_the_page_its_language_and_the_switch_marks_it() {
    let app = spawn_app().await;
    let shopper = app.shopper();
    let res = get_in(&shopper, "/", "fr-FR,fr;q=0.9,en;q=0.5").await;
    assert_eq!(res.status(), 200);
    let vary = res
        .headers()
        .get_all("vary")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned());
    assert!(
        vary.collect::<Vec<_>>()
            .iter()
            .any(|v| v == "Accept-Language, Cookie"),
        "the page varies by language"
    );
    let page = res.text().await.unwrap();
    assert!(
        page.starts_with("<!doctype html>\n<html lang=\"fr-CA\">"),
        "{page}"
    );
    assert!(page.contains("<h1>Des rabais pour celles et ceux qui servent et qui apprennent</h1>"));
    assert!(page.contains(">Vérifier avec ID.me <span class=\"community-name\">Militaires</span>"));
    assert!(page.contains("<title>Rabais · Demo store</title>"));
    // Each language in itself, with its lang and hreflang; the current one marked.
    let fr = switch_link(&page, "fr-CA");
    assert!(fr.contains("href=\"/lang/fr-CA?next=/\""), "{fr}");
    assert!(
        fr.contains("lang=\"fr-CA\" hreflang=\"fr-CA\"") && fr.contains("aria-current=\"true\"")
    );
    let es = switch_link(&page, "es");
    assert!(
        es.contains("hreflang=\"es\"") && !es.contains("aria-current"),
        "{es}"
    );
    assert!(page.contains(">Español</a>") && page.contains(">English</a>"));

    for (header, lang) in [
        ("es-MX", "es"),
        ("de, en-GB;q=0.8", "en"),
        ("fr;q=0, es;q=0.2", "es"),
    ] {
        let page = get_in(&shopper, "/", header).await.text().await.unwrap();
        assert!(
            page.contains(&format!("<html lang=\"{lang}\">")),
            "{header}"
        );
    }
    // No header: English, as before.
    let (_, page) = app.home().await;
    assert!(page.contains("<html lang=\"en\">"));
    assert!(page.contains("<h1>Discounts for those who serve and learn</h1>"));
}

#[tokio::test]
async fn the_switch_remembers_the_choice_over_accept_language() {
    let app = spawn_app().await;
    let shopper = app.shopper();
    let res = shopper.get("/lang/es?next=/").await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/");
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("perkgate-lang=es;"), "{cookie}");
    assert!(cookie.contains("Path=/") && cookie.contains("SameSite=Lax"));
    assert!(!cookie.contains("Secure"), "plain http in tests: {cookie}");
    let page = get_in(&shopper, "/", "fr-CA").await.text().await.unwrap();
    assert!(page.contains("<html lang=\"es\">"), "the cookie wins");
    assert!(page.contains("<h2 id=\"offers-title\">Ofertas</h2>"));
    assert!(switch_link(&page, "es").contains("aria-current"));

    // The switch keeps the page's accepted query; a page without one comes back to itself.
    let res = shopper.get("/lang/fr-CA?next=%2F%3Fembed%3Dx").await;
    assert_eq!(location(&res), "/?embed=x");
    let page = get_in(&shopper, "/", "es").await.text().await.unwrap();
    assert!(page.contains("<html lang=\"fr-CA\">"), "switched again");
}

#[tokio::test]
async fn the_switch_refuses_unknown_languages_and_other_sites() {
    let app = spawn_app().await;
    let shopper = app.shopper();
    let res = shopper.get("/lang/xx?next=/").await;
    assert_eq!(res.status(), 404);
    assert!(res.headers().get("set-cookie").is_none());
    for bad in [
        "//evil.example",
        "/%5Cevil.example",
        "https://evil.example/",
        "%2F%2Fevil.example",
        "/%09/evil.example",
        "evil.example",
    ] {
        let res = shopper.get(&format!("/lang/fr-CA?next={bad}")).await;
        assert_eq!(res.status(), 303, "{bad}");
        assert_eq!(location(&res), "/", "{bad}: the store, not elsewhere");
    }
    let res = shopper.get("/lang/fr-CA").await;
    assert_eq!(location(&res), "/");
}

#[tokio::test]
async fn a_whole_sandbox_flow_in_spanish() {
    let app = spawn_app().await;
    let shopper = app.shopper();
    shopper.get("/lang/es?next=/").await;

    // The sandbox's page stands in for ID.me in the shopper's language.
    let authorize = shopper.start_verify("military").await;
    let page = shopper.get(&authorize).await.text().await.unwrap();
    assert!(page.contains("<html lang=\"es\">"), "{page}");
    assert!(page.contains("<h2>Perfiles para esta solicitud</h2>"));
    assert!(page.contains("data-testid=\"persona-veteran\">Veterano militar</button>"));
    assert!(page.contains(">No compartir (access_denied)</button>"));
    assert!(page.contains("Entorno de prueba: verificación simulada, no ID.me"));
    assert!(page.contains("data-testid=\"lang-switch\""));

    // Not verified: the outcome in Spanish.
    let callback = shopper.sandbox_pick(&authorize, "unverified").await;
    assert_eq!(shopper.get(&callback).await.status(), 303);
    let (_, page) = shopper.home().await;
    assert!(
        page.contains("<title>Estado no verificado · Demo store</title>"),
        "{page}"
    );
    assert!(
        page.contains(
            "ID.me no pudo confirmar tu estado, así que no se desbloqueó ningún descuento."
        )
    );
    assert!(page.contains("data-testid=\"try-again\">Intentar de nuevo</button>"));

    // Declined: in Spanish too.
    let authorize = shopper.start_verify("military").await;
    let callback = shopper.sandbox_pick(&authorize, "decline").await;
    shopper.get(&callback).await;
    let (_, page) = shopper.home().await;
    assert!(page.contains("Elegiste no compartir tu estado"), "{page}");

    // Verified: the benefit, its discount and its labels.
    let authorize = shopper.start_verify("military").await;
    let callback = shopper.sandbox_pick(&authorize, "service_member").await;
    shopper.get(&callback).await;
    let (_, page) = shopper.home().await;
    assert_verified(&page, "SALUTE15");
    assert!(page.contains("<title>Descuento desbloqueado · Demo store</title>"));
    assert!(
        page.contains("<h2 id=\"benefit-title\">Desbloqueado: Militares: 15 % de descuento</h2>")
    );
    assert!(
        page.contains("data-testid=\"benefit-summary\">15\u{a0}% de descuento</strong>"),
        "{page}"
    );
    assert!(
        page.contains("Estado verificado con ID.me: <strong>Militares (Service Member)</strong>.")
    );
    assert!(page.contains(">Olvidar mi verificación</button>"));

    // A used sign-in page: the sandbox's refusal, in Spanish.
    let res = shopper
        .client()
        .post(authorize.split('?').next().unwrap())
        .form(&[("request", "no-such-request"), ("persona", "veteran")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let page = res.text().await.unwrap();
    assert!(page.contains("<h1>El entorno de prueba rechazó la solicitud</h1>"));
    assert!(page.contains("Esta página de inicio de sesión expiró o ya se usó."));

    // Errors: the page and the JSON API's message.
    let res = shopper.get("/no-such-page").await;
    assert_eq!(res.status(), 404);
    let page = res.text().await.unwrap();
    assert!(page.contains("<html lang=\"es\">") && page.contains("<h1>Página no encontrada</h1>"));
    assert!(switch_link(&page, "fr-CA").contains("href=\"/lang/fr-CA?next=/no-such-page\""));
    let res = shopper.get("/api/v1/benefit?callback=a-b").await;
    assert_eq!(res.status(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "bad_request", "codes stay machine words");
    assert_eq!(body["message"], "Vuelve a la tienda e inténtalo de nuevo.");
}

#[tokio::test]
async fn offers_show_their_translations_and_dates_and_money_per_language() {
    let app = spawn_with(Options::default().rules_fixture("translated")).await;
    let shopper = app.shopper();
    let fr = get_in(&shopper, "/", "fr-CA").await.text().await.unwrap();
    let card = fr
        .split("data-testid=\"offer-military\"")
        .nth(1)
        .and_then(|rest| rest.split("</li>").next())
        .unwrap();
    assert!(
        card.contains("<h4>Militaires : 15 % de rabais</h4>"),
        "{card}"
    );
    assert!(
        card.contains("15\u{a0}% de rabais, jusqu&#39;à concurrence de 100,00\u{a0}$\u{a0}US · jusqu&#39;au 31 décembre 2030"),
        "{card}"
    );
    assert!(card.contains("Pour les membres des Forces et leur famille."));
    // Untranslated: the default.
    assert!(fr.contains("<h4>Students: 10% off</h4>"));

    let es = get_in(&shopper, "/", "es").await.text().await.unwrap();
    assert!(es.contains("<h4>Militares: 15 % de descuento</h4>"));
    assert!(
        es.contains("hasta 100,00\u{a0}US$ · hasta el 31 de diciembre de 2030"),
        "{es}"
    );
    assert!(
        es.contains("For service members and their families."),
        "no Spanish description"
    );

    let (_, en) = app.home().await;
    assert!(en.contains("<h4>Military: 15% off</h4>"));
    assert!(en.contains("15% off, up to $100.00 · until 2030-12-31"));

    // The unlocked benefit carries the offer's translated title and the shopper's money.
    shopper.get("/lang/fr-CA?next=/").await;
    shopper.verify_as("military", "veteran").await;
    let (_, page) = shopper.home().await;
    assert!(
        page.contains("Débloqué\u{a0}: Militaires : 15 % de rabais</h2>"),
        "{page}"
    );
    assert!(page.contains("Valide jusqu&#39;au 31 décembre 2030."));
    // The API keeps the words the benefit was unlocked under (integrations read them).
    assert_eq!(
        shopper.benefit().await["benefit"]["title"],
        "Military: 15% off"
    );
}

#[tokio::test]
async fn the_console_stays_english() {
    let app = spawn_app().await;
    let shopper = app.shopper();
    let res = get_in(&shopper, "/admin/no-such-page", "fr-CA").await;
    assert_eq!(res.status(), 404);
    assert!(res.headers().get("vary").is_none());
    let page = res.text().await.unwrap();
    assert!(
        page.contains("<html lang=\"en\">") && page.contains("Page not found"),
        "{page}"
    );
    assert!(
        !page.contains("lang-switch"),
        "no shopper switch in the console"
    );
}
