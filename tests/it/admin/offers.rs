//! The offer and pool forms over HTTP, on the real app and database: a form edit changes the
//! draft's one line and keeps the merchant's comments, publishing it reaches the store, errors
//! are shown next to their fields with what was typed kept, new and removed offers, pools,
//! roles, CSRF, a stale form, and the file-authoritative mode.

use perkgate::admin::{Role, audit};
use perkgate::rules::versions;
use scraper::{Html, Selector};

use super::{account, csrf_of, post, signed_in};
use crate::harness::{Options, TestApp, hidden, location, spawn_app, spawn_with};

const EXAMPLE: &str = include_str!("../../../config/rules.toml");

pub(super) type Fields = Vec<(String, String)>;

pub(super) async fn page(app: &TestApp, b: &reqwest::Client, path: &str) -> (u16, String) {
    let res = b.get(app.url(path)).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// What a browser would send for the form `form` (a CSS selector) as the page shows it.
pub(super) fn form_fields(html: &str, form: &str) -> Fields {
    let doc = Html::parse_document(html);
    let fields = Selector::parse(&format!("{form} input, {form} select")).unwrap();
    let option = Selector::parse("option").unwrap();
    let mut out = Vec::new();
    for el in doc.select(&fields) {
        let v = el.value();
        let Some(name) = v.attr("name") else { continue };
        let value = if v.name() == "select" {
            let mut options = el.select(&option);
            let chosen = el
                .select(&option)
                .find(|o| o.value().attr("selected").is_some())
                .or_else(|| options.next());
            chosen.and_then(|o| o.value().attr("value")).unwrap_or("")
        } else {
            let kind = v.attr("type").unwrap_or("text");
            if matches!(kind, "checkbox" | "radio") && v.attr("checked").is_none() {
                continue;
            }
            v.attr("value").unwrap_or("")
        };
        out.push((name.to_owned(), value.to_owned()));
    }
    out
}

pub(super) fn set(fields: &mut Fields, name: &str, value: &str) {
    match fields.iter_mut().find(|(k, _)| k == name) {
        Some(f) => f.1 = value.to_owned(),
        None => fields.push((name.to_owned(), value.to_owned())),
    }
}

async fn offer_form(app: &TestApp, b: &reqwest::Client, path: &str) -> Fields {
    let (status, html) = page(app, b, path).await;
    assert_eq!(status, 200, "{path}");
    form_fields(&html, "form[data-testid=offer-form]")
}

pub(super) async fn send(
    app: &TestApp,
    b: &reqwest::Client,
    path: &str,
    fields: &Fields,
) -> reqwest::Response {
    b.post(app.url(path)).form(fields).send().await.unwrap()
}

/// The store's military card says this percentage.
fn store_says(home: &str, percent: u8) -> bool {
    let i = home
        .find("data-testid=\"offer-military\"")
        .expect("the military offer's card");
    home[i..]
        .split("</li>")
        .next()
        .unwrap_or_default()
        .contains(&format!("{percent}% off"))
}

/// The inline error shown with field `name`, if any.
pub(super) fn field_error(html: &str, name: &str) -> Option<String> {
    let doc = Html::parse_document(html);
    let sel = Selector::parse(&format!("#offer-{name}-error")).unwrap();
    doc.select(&sel)
        .next()
        .map(|e| e.text().collect::<String>().trim().to_owned())
}

#[tokio::test]
async fn the_military_offer_goes_to_20_percent_through_its_form_and_is_published() {
    let app = spawn_app().await;
    let ed = account(&app, "ed@example.com", Role::Editor).await;
    let b = signed_in(&app, "ed@example.com").await;
    let (status, html) = page(&app, &b, "/admin/rules/offers").await;
    assert_eq!(status, 200);
    assert_eq!(html.matches("data-testid=\"offer-row\"").count(), 7);
    assert_eq!(html.matches("data-testid=\"pool-row\"").count(), 1);
    assert!(html.contains("href=\"/admin/rules/offers\""), "in the nav");
    assert!(html.contains("href=\"/admin/rules/offers/military\""));
    assert!(!html.contains("data-testid=\"publish\""), "no draft yet");

    let mut form = offer_form(&app, &b, "/admin/rules/offers/military").await;
    assert!(form.contains(&("percent".into(), "15".into())), "{form:?}");
    assert!(form.contains(&("group".into(), "military".into())));
    set(&mut form, "percent", "20");
    let res = send(&app, &b, "/admin/rules/offers/military", &form).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    assert_eq!(location(&res), "/admin/rules/offers?saved=offer+military");

    // The draft is the document with that one line changed: every comment kept.
    let db = app.db().await;
    let draft = versions::draft(&db, ed).await.unwrap().expect("a draft");
    let expected = EXAMPLE.replacen("percent = 15", "percent = 20", 1);
    assert_eq!(
        (draft.document.as_str(), draft.based_on),
        (expected.as_str(), 1)
    );
    let (_, raw) = page(&app, &b, "/admin/rules").await;
    assert!(raw.contains("data-testid=\"draft-notice\""));
    assert!(raw.contains("# Every other military member: 15% with one shared code."));
    assert!(raw.contains("# at most $100 off") && raw.contains("percent = 20"));
    let entry = audit::recent(&db, 1).await.unwrap().remove(0);
    assert_eq!(
        (entry.actor.as_str(), entry.action.as_str()),
        ("ed@example.com", "draft edited")
    );
    assert!(
        entry.details.starts_with("offer military saved")
            && entry.details.contains("-percent = 15")
            && entry.details.contains("+percent = 20"),
        "{}",
        entry.details
    );
    // Nothing reaches shoppers yet; the preview shows the draft.
    assert!(store_says(&app.home().await.1, 15));
    let (_, preview) = page(&app, &b, "/admin/rules/preview").await;
    assert!(preview.contains("20% off"), "{preview}");

    // Published from the list with the raw editor's own handler.
    let (_, list) = page(&app, &b, "/admin/rules/offers?saved=offer+military").await;
    assert!(list.contains("offer military is saved in your draft"));
    assert!(list.contains("data-testid=\"draft-notice\""));
    let mut publish = form_fields(&list, "form[action='/admin/rules']");
    assert!(
        publish
            .iter()
            .any(|(k, v)| k == "document" && *v == expected)
    );
    set(&mut publish, "note", "military to 20%");
    set(&mut publish, "action", "publish");
    let res = send(&app, &b, "/admin/rules", &publish).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/admin/rules?published=2");
    assert!(store_says(&app.home().await.1, 20));
    assert!(versions::draft(&db, ed).await.unwrap().is_none());
    let v2 = versions::latest(&db).await.unwrap().unwrap();
    assert_eq!(v2.document, expected);

    // Saving an unchanged form changes nothing and starts no draft.
    let form = offer_form(&app, &b, "/admin/rules/offers/military").await;
    let res = send(&app, &b, "/admin/rules/offers/military", &form).await;
    assert_eq!(
        location(&res),
        "/admin/rules/offers?unchanged=offer+military"
    );
    assert!(versions::draft(&db, ed).await.unwrap().is_none());
}

#[tokio::test]
async fn an_invalid_value_is_shown_next_to_its_field_and_what_was_typed_is_kept() {
    let app = spawn_app().await;
    let ed = account(&app, "ed@example.com", Role::Editor).await;
    let b = signed_in(&app, "ed@example.com").await;
    let form = offer_form(&app, &b, "/admin/rules/offers/military").await;

    // A type error, caught before the document is touched.
    let mut typed = form.clone();
    set(&mut typed, "percent", "20x");
    set(&mut typed, "limit_claims", "2");
    let res = send(&app, &b, "/admin/rules/offers/military", &typed).await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert_eq!(
        field_error(&html, "percent").as_deref(),
        Some("Error: Enter a whole number such as 20, not \"20x\"")
    );
    assert!(
        field_error(&html, "limit_days").is_some(),
        "claims without days"
    );
    assert!(field_error(&html, "title").is_none());
    assert!(html.contains("<title>Error: Offer military"));
    assert!(
        html.contains("data-testid=\"error-summary\"") && html.contains("href=\"#offer-percent\"")
    );
    let kept = form_fields(&html, "form[data-testid=offer-form]");
    assert!(kept.contains(&("percent".into(), "20x".into())), "kept");
    assert!(kept.contains(&("limit_claims".into(), "2".into())));
    assert!(
        html.contains(
            "aria-invalid=\"true\" aria-describedby=\"offer-percent-hint offer-percent-error\""
        ),
        "{html}"
    );

    // A value the loader refuses: its message, next to the field it names.
    let mut typed = form.clone();
    set(&mut typed, "percent", "150");
    set(&mut typed, "code", "pool");
    set(&mut typed, "code_pool", "");
    let res = send(&app, &b, "/admin/rules/offers/military", &typed).await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(field_error(&html, "code_pool").is_some(), "{html}");
    let mut typed = form.clone();
    set(&mut typed, "percent", "150");
    set(&mut typed, "total_cap", "0");
    let res = send(&app, &b, "/admin/rules/offers/military", &typed).await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert_eq!(
        field_error(&html, "percent").as_deref(),
        Some("Error: must be from 1 to 100, got 150")
    );
    assert_eq!(
        field_error(&html, "total_cap").as_deref(),
        Some("Error: an offer no one can ever get: total_cap is 0")
    );
    assert!(
        form_fields(&html, "form[data-testid=offer-form]")
            .contains(&("percent".into(), "150".into()))
    );
    assert!(
        versions::draft(&app.db().await, ed)
            .await
            .unwrap()
            .is_none(),
        "nothing saved"
    );
}

#[tokio::test]
async fn a_new_offer_is_added_and_an_offer_removed_after_a_confirmation() {
    let app = spawn_app().await;
    let ed = account(&app, "ed@example.com", Role::Editor).await;
    let b = signed_in(&app, "ed@example.com").await;
    let mut form = offer_form(&app, &b, "/admin/rules/offers/new").await;
    for (k, v) in [
        ("id", "medics"),
        ("title", "Medical providers: 12% off"),
        ("percent", "12"),
        ("code_static", "HEAL12"),
        ("ends", "2031-06-30"),
        ("cond_attribute_0", "medical_license_state"),
        ("cond_op_0", "one_of"),
        ("cond_value_0", "CA, NY"),
    ] {
        set(&mut form, k, v);
    }
    form.push(("group".into(), "medical".into()));
    let res = send(&app, &b, "/admin/rules/offers/new", &form).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let db = app.db().await;
    let draft = versions::draft(&db, ed).await.unwrap().unwrap().document;
    assert!(draft.starts_with(EXAMPLE.trim_end()), "appended");
    assert!(
        draft.ends_with(
            "[[offers]]\nid = \"medics\"\ntitle = \"Medical providers: 12% off\"\ngroups = [\"medical\"]\npercent = 12\ncode = \"HEAL12\"\nends = 2031-06-30\nwhen.medical_license_state = { one_of = [\"CA\", \"NY\"] }\n"
        ),
        "{draft}"
    );
    let rules = perkgate::rules::parse("draft", &draft, None).unwrap().rules;
    assert_eq!(rules.offers.len(), 8);
    assert!(
        audit::recent(&db, 1).await.unwrap()[0]
            .details
            .starts_with("offer medics added")
    );
    // The same id again is refused at the id.
    let res = send(&app, &b, "/admin/rules/offers/new", &{
        let mut f = form.clone();
        set(
            &mut f,
            "draft",
            &hidden(&page(&app, &b, "/admin/rules/offers/new").await.1, "draft"),
        );
        f
    })
    .await;
    assert_eq!(res.status(), 422);
    assert!(
        field_error(&res.text().await.unwrap(), "id")
            .unwrap()
            .contains("already used")
    );

    // Removing: a confirmation page, then the offer and its comment leave the draft.
    let (status, html) = page(&app, &b, "/admin/rules/offers/teachers/remove").await;
    assert_eq!(status, 200);
    let csrf = hidden(&html, "csrf");
    let res = post(
        &app,
        &b,
        "/admin/rules/offers/teachers/remove",
        &[("csrf", &csrf), ("draft", "stale")],
    )
    .await;
    assert_eq!(res.status(), 409, "a page shown from another draft");
    let token = hidden(&html, "draft");
    let res = post(
        &app,
        &b,
        "/admin/rules/offers/teachers/remove",
        &[("csrf", &csrf), ("draft", &token)],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/admin/rules/offers?removed=offer+teachers");
    let draft = versions::draft(&db, ed).await.unwrap().unwrap().document;
    assert!(!draft.contains("TEACH-") && !draft.contains("# Teachers: a unique"));
    assert!(draft.contains("id = \"medics\"") && draft.contains("# First responders:"));
    assert_eq!(page(&app, &b, "/admin/rules/offers/teachers").await.0, 404);
    assert!(
        audit::recent(&db, 1).await.unwrap()[0]
            .details
            .starts_with("offer teachers removed")
    );
}

#[tokio::test]
async fn pools_are_edited_renamed_with_their_offers_and_kept_while_in_use() {
    let app = spawn_app().await;
    let ed = account(&app, "ed@example.com", Role::Editor).await;
    let b = signed_in(&app, "ed@example.com").await;
    let (status, html) = page(&app, &b, "/admin/rules/pools/veteran-codes").await;
    assert_eq!(status, 200);
    assert!(html.contains("Used by the offers: veterans"));
    let mut form = form_fields(&html, "form[data-testid=pool-form]");
    assert!(form.contains(&("low_threshold".into(), "10".into())));
    set(&mut form, "low_threshold", "ten");
    let res = send(&app, &b, "/admin/rules/pools/veteran-codes", &form).await;
    assert_eq!(res.status(), 422);
    assert!(field_error(&res.text().await.unwrap(), "low_threshold").is_some());
    set(&mut form, "low_threshold", "25");
    set(&mut form, "id", "vet-codes");
    let res = send(&app, &b, "/admin/rules/pools/veteran-codes", &form).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let db = app.db().await;
    let draft = versions::draft(&db, ed).await.unwrap().unwrap().document;
    let expected = EXAMPLE
        .replace(
            "[pools.veteran-codes]\nlow_threshold = 10",
            "[pools.vet-codes]\nlow_threshold = 25",
        )
        .replace("{ pool = \"veteran-codes\" }", "{ pool = \"vet-codes\" }");
    assert_eq!(draft, expected);
    assert!(
        audit::recent(&db, 1).await.unwrap()[0]
            .details
            .starts_with("pool vet-codes renamed from veteran-codes")
    );

    // In use: not removed. A new pool is added and removed.
    let (status, html) = page(&app, &b, "/admin/rules/pools/vet-codes/remove").await;
    assert_eq!(status, 200);
    let fields = form_fields(&html, "form[action='/admin/rules/pools/vet-codes/remove']");
    let res = send(&app, &b, "/admin/rules/pools/vet-codes/remove", &fields).await;
    assert_eq!(res.status(), 409);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Offers veterans take their codes from this pool")
    );
    let (_, html) = page(&app, &b, "/admin/rules/pools/new").await;
    let mut form = form_fields(&html, "form[data-testid=pool-form]");
    set(&mut form, "id", "spare");
    let res = send(&app, &b, "/admin/rules/pools/new", &form).await;
    assert_eq!(res.status(), 303);
    let (_, list) = page(&app, &b, "/admin/rules/offers").await;
    assert_eq!(list.matches("data-testid=\"pool-row\"").count(), 2);
    let (_, html) = page(&app, &b, "/admin/rules/pools/spare/remove").await;
    let fields = form_fields(&html, "form[action='/admin/rules/pools/spare/remove']");
    let res = send(&app, &b, "/admin/rules/pools/spare/remove", &fields).await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        versions::draft(&db, ed).await.unwrap().unwrap().document,
        expected
    );
}

#[tokio::test]
async fn a_form_shown_from_an_older_draft_is_not_saved_over_a_newer_one() {
    let app = spawn_app().await;
    let ed = account(&app, "ed@example.com", Role::Editor).await;
    let b = signed_in(&app, "ed@example.com").await;
    let mut form = offer_form(&app, &b, "/admin/rules/offers/military").await;
    // Meanwhile the raw editor saves a draft.
    let csrf = csrf_of(&app, &b, "/admin/rules").await;
    let raw = EXAMPLE.replacen("code = \"SALUTE15\"", "code = \"SALUTE16\"", 1);
    let res = post(
        &app,
        &b,
        "/admin/rules",
        &[
            ("csrf", &csrf),
            ("action", "draft"),
            ("document", &raw),
            ("based_on", "1"),
        ],
    )
    .await;
    assert_eq!(res.status(), 200);
    set(&mut form, "percent", "30");
    let res = send(&app, &b, "/admin/rules/offers/military", &form).await;
    assert_eq!(res.status(), 409);
    let html = res.text().await.unwrap();
    assert!(html.contains("Your draft changed since this page was shown"));
    let kept = form_fields(&html, "form[data-testid=offer-form]");
    assert!(kept.contains(&("percent".into(), "30".into())));
    let db = app.db().await;
    assert_eq!(
        versions::draft(&db, ed).await.unwrap().unwrap().document,
        raw
    );
    // Saving again (the page now carries the current draft's token) applies the change over it.
    let res = send(&app, &b, "/admin/rules/offers/military", &kept).await;
    assert_eq!(res.status(), 303);
    let draft = versions::draft(&db, ed).await.unwrap().unwrap().document;
    // The other offers' changes stay; this offer's fields are what the form said.
    let raw_teachers = raw.replacen("code = \"SALUTE16\"", "code = \"SALUTE15\"", 1);
    assert_eq!(
        draft,
        raw_teachers.replacen("percent = 15", "percent = 30", 1)
    );
}

#[tokio::test]
async fn viewers_read_the_forms_and_cannot_save_and_forged_forms_are_refused() {
    let app = spawn_app().await;
    account(&app, "viewer@example.com", Role::Viewer).await;
    let v = signed_in(&app, "viewer@example.com").await;
    let (status, html) = page(&app, &v, "/admin/rules/offers").await;
    assert_eq!(status, 200);
    assert_eq!(html.matches("data-testid=\"offer-row\"").count(), 7);
    assert!(!html.contains("add-offer") && !html.contains("/remove"));
    let (status, html) = page(&app, &v, "/admin/rules/offers/military").await;
    assert_eq!(status, 200);
    assert!(html.contains("<fieldset class=\"plain\" disabled>") && !html.contains("save-offer"));
    assert_eq!(
        page(&app, &v, "/admin/rules/pools/veteran-codes").await.0,
        200
    );
    assert_eq!(
        page(&app, &v, "/admin/rules/offers/military/remove")
            .await
            .0,
        403
    );
    assert_eq!(page(&app, &v, "/admin/rules/offers/nope").await.0, 404);
    let csrf = hidden(&html, "csrf");
    let token = hidden(&html, "draft");
    for path in [
        "/admin/rules/offers/military",
        "/admin/rules/offers/new",
        "/admin/rules/offers/military/remove",
        "/admin/rules/pools/veteran-codes",
        "/admin/rules/pools/new",
        "/admin/rules/pools/veteran-codes/remove",
    ] {
        let res = post(
            &app,
            &v,
            path,
            &[
                ("csrf", &csrf),
                ("draft", &token),
                ("id", "x"),
                ("percent", "99"),
            ],
        )
        .await;
        assert_eq!(res.status(), 403, "{path}");
    }

    account(&app, "ed@example.com", Role::Editor).await;
    let ed = signed_in(&app, "ed@example.com").await;
    let form = offer_form(&app, &ed, "/admin/rules/offers/military").await;
    for path in [
        "/admin/rules/offers/military",
        "/admin/rules/offers/new",
        "/admin/rules/offers/military/remove",
        "/admin/rules/pools/veteran-codes",
        "/admin/rules/pools/new",
        "/admin/rules/pools/veteran-codes/remove",
    ] {
        for forged in ["", "forged", csrf.as_str()] {
            let mut f = form.clone();
            set(&mut f, "csrf", forged);
            let res = send(&app, &ed, path, &f).await;
            assert_eq!(res.status(), 403, "{path} {forged:?}");
        }
    }
    assert_eq!(versions::latest_number(&app.db().await).await.unwrap(), 1);
    assert!(
        audit::recent(&app.db().await, 50)
            .await
            .unwrap()
            .iter()
            .all(|e| e.action != "draft edited")
    );
}

#[tokio::test]
async fn with_perkgate_rules_the_forms_are_read_only_and_say_why() {
    let app = spawn_with(Options::default().rules_fixture("military-only")).await;
    account(&app, "ed@example.com", Role::Editor).await;
    let b = signed_in(&app, "ed@example.com").await;
    let (status, html) = page(&app, &b, "/admin/rules/offers").await;
    assert_eq!(status, 200);
    assert!(html.contains("PERKGATE_RULES is set"));
    assert_eq!(html.matches("data-testid=\"offer-row\"").count(), 1);
    assert!(!html.contains("add-offer") && !html.contains("data-testid=\"publish\""));
    let (status, html) = page(&app, &b, "/admin/rules/offers/military").await;
    assert_eq!(status, 200);
    assert!(html.contains("PERKGATE_RULES is set") && html.contains(" disabled>"));
    assert!(!html.contains("save-offer"));
    let mut form = form_fields(&html, "form[data-testid=offer-form]");
    set(&mut form, "percent", "20");
    let res = send(&app, &b, "/admin/rules/offers/military", &form).await;
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("PERKGATE_RULES is set"));
    assert_eq!(
        page(&app, &b, "/admin/rules/offers/military/remove")
            .await
            .0,
        403
    );
    assert_eq!(
        std::fs::read_to_string(app.rules_path()).unwrap(),
        crate::harness::rules_fixture("military-only"),
        "the file is untouched"
    );
    assert_eq!(versions::latest_number(&app.db().await).await.unwrap(), 0);
}
