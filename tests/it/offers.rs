//! Merchant offers through the real flow: pooled codes, returning shoppers, limits across
//! sessions, fallbacks when an offer cannot be claimed, clear "why not" messages, and rules
//! reloaded while the service is answering.

use std::time::Duration;

use crate::harness::*;

/// The app on `tests/fixtures/rules/<rules>.toml`, with these codes in the pool `vets`.
async fn app_with_codes(rules: &str, codes: &[&str]) -> TestApp {
    let app = spawn_with(Options::default().rules_fixture(rules)).await;
    let db = app.db().await;
    let codes: Vec<String> = codes.iter().map(|c| c.to_string()).collect();
    perkgate::rewards::import(&db, "vets", &codes, 0)
        .await
        .unwrap();
    app
}

fn code_on(page: &str) -> String {
    let start = page
        .find("data-testid=\"benefit-code\"")
        .expect("a code on the page");
    let rest = &page[start..];
    let open = rest.find('>').unwrap() + 1;
    rest[open..open + rest[open..].find('<').unwrap()].to_owned()
}

#[tokio::test]
async fn a_veteran_gets_a_pool_code_and_sees_the_same_one_in_a_new_session() {
    let app = app_with_codes("storefront", &["VET-AAA", "VET-BBB", "VET-CCC"]).await;
    let first = app.shopper();
    assert_eq!(first.verify_as("military", "veteran").await.status(), 303);
    let page = first.home().await.1;
    assert_verified(&page, "VET-");
    let code = code_on(&page);
    assert!(page.contains("20% off, up to $100.00"));
    assert!(page.contains("Valid until 2099-12-31"));
    assert!(page.contains("data-testid=\"copy-code\""));

    // The same person on another device: the same unused code, not a new one.
    let second = app.shopper();
    second.verify_as("military", "veteran").await;
    assert_eq!(code_on(&second.home().await.1), code);
    let db = app.db().await;
    assert_eq!(perkgate::rewards::remaining(&db, "vets").await.unwrap(), 2);

    // Once the merchant marks it used, the limit (1 per 30 days) is reached: the next best
    // offer applies instead.
    perkgate::rewards::mark_redeemed(&db, std::slice::from_ref(&code), perkgate::clock::now())
        .await
        .unwrap();
    let third = app.shopper();
    third.verify_as("military", "veteran").await;
    assert_verified(&third.home().await.1, "SALUTE15");
}

#[tokio::test]
async fn an_empty_pool_falls_through_to_the_next_offer() {
    let app = app_with_codes("storefront", &[]).await;
    app.verify_as("military", "veteran").await;
    let page = app.home().await.1;
    assert_verified(&page, "SALUTE15");
    assert!(page.contains("Military: 15% off"));
}

#[tokio::test]
async fn when_nothing_can_be_claimed_the_shopper_is_told_why() {
    // Codes ran out.
    let app = app_with_codes("veterans-pool-no-fallback", &[]).await;
    app.verify_as("military", "veteran").await;
    let page = app.home().await.1;
    assert!(
        page.contains("the codes for this offer have run out"),
        "{page}"
    );
    assert!(!page.contains("data-testid=\"benefit\""));

    // Limit reached: one code, used, then the same person comes back.
    let app = app_with_codes("veterans-pool-no-fallback", &["VET-1"]).await;
    app.verify_as("military", "veteran").await;
    assert_verified(&app.home().await.1, "VET-1");
    let db = app.db().await;
    perkgate::rewards::mark_redeemed(&db, &["VET-1".to_owned()], perkgate::clock::now())
        .await
        .unwrap();
    let again = app.shopper();
    again.verify_as("military", "veteran").await;
    let page = again.home().await.1;
    assert!(
        page.contains(
            "You are verified and have already used this offer. You can claim it again from "
        ),
        "{page}"
    );
    assert!(
        !page.contains("VET-1"),
        "never another shopper's data, nor the old code"
    );

    // A subgroup the offer does not cover.
    let another = app.shopper();
    another.verify_as("military", "service_member").await;
    let page = another.home().await.1;
    assert!(
        page.contains("limited to statuses or details your verification does not include"),
        "{page}"
    );
}

#[tokio::test]
async fn offers_outside_their_window_are_not_offered_and_explain_themselves() {
    let app = spawn_with(Options::default().rules_fixture("storefront")).await;
    let (_, page) = app.home().await;
    // Students start in 2099: not shown, no scope offered, no verify button.
    assert!(!page.contains("Students: 10% off"));
    assert!(!page.contains("verify-student"));
    let csrf = hidden(&page, "csrf");
    let res = app.post_csrf("/verify/student", &csrf).await;
    assert_eq!(
        res.status(),
        404,
        "only the running offers' scopes can be requested"
    );
}

#[tokio::test]
async fn generated_codes_are_unique_per_person() {
    let app = spawn_with(Options::default().rules_fixture("storefront")).await;
    let a = app.shopper();
    a.verify_as("teacher", "teacher").await;
    let code = code_on(&a.home().await.1);
    assert!(code.starts_with("TEACH-") && code.len() == 14, "{code}");
    // The same teacher again: the same code.
    let b = app.shopper();
    b.verify_as("teacher", "teacher").await;
    assert_eq!(code_on(&b.home().await.1), code);
}

#[tokio::test]
async fn the_api_reports_the_benefit_in_full() {
    let app = app_with_codes("storefront", &["VET-AAA"]).await;
    app.verify_as("military", "veteran").await;
    let json = app.benefit().await;
    let b = &json["benefit"];
    assert_eq!(b["offer_id"], "veterans");
    assert_eq!(b["code"], "VET-AAA");
    assert_eq!(b["summary"], "20% off, up to $100.00");
    assert_eq!(b["discount"]["kind"], "percent");
    assert_eq!(b["discount"]["percent"], 20);
    assert_eq!(b["currency"], "USD");
    assert!(b["ends"].as_i64().is_some());
}

/// Waits (bounded) until `/` satisfies `check`.
async fn eventually(shopper: &Shopper, check: impl Fn(&str) -> bool) -> String {
    for _ in 0..100 {
        let (_, page) = shopper.home().await;
        if check(&page) {
            return page;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the page never changed as expected");
}

#[tokio::test]
async fn rules_reload_while_serving_and_a_bad_file_keeps_the_old_ones() {
    let rules = rules_fixture("storefront");
    let app = spawn_with(Options::default().rules_fixture("storefront")).await;
    let shopper = app.shopper();
    assert!(shopper.home().await.1.contains("verify-teacher"));

    // Keep requests flowing through every swap: none may fail or see a half-loaded set.
    let reader = {
        let reading = app.shopper();
        tokio::spawn(async move {
            let mut seen = 0;
            for _ in 0..200 {
                let res = reading.get("/").await;
                assert_eq!(res.status(), 200);
                let page = res.text().await.unwrap();
                // Either the old set (with teachers) or the new one (with nurses), never a mix.
                let old = page.contains("verify-teacher") && !page.contains("verify-nurse");
                let new = page.contains("verify-nurse") && !page.contains("verify-teacher");
                assert!(old || new, "a page mixing two rule sets");
                seen += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            seen
        })
    };

    let swapped = rules.replace(
        "id = \"teachers\"\ntitle = \"Teachers: 10% off\"\ngroups = [\"teacher\"]",
        "id = \"nurses\"\ntitle = \"Nurses: 10% off\"\ngroups = [\"nurse\"]",
    );
    std::fs::write(app.rules_path(), &swapped).unwrap();
    let page = eventually(&shopper, |p| p.contains("verify-nurse")).await;
    assert!(
        !page.contains("verify-teacher"),
        "the scopes follow the active offers"
    );

    // A broken file: the previous rules stay, /readyz says why.
    std::fs::write(
        app.rules_path(),
        swapped.replace("percent = 15", "percent = 150"),
    )
    .unwrap();
    let mut detail = serde_json::Value::Null;
    for _ in 0..100 {
        detail = reqwest::get(app.url("/readyz"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if detail["rules"]["reload_errors"]
            .as_array()
            .is_some_and(|e| !e.is_empty())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let errors = detail["rules"]["reload_errors"].to_string();
    assert!(
        errors.contains("field `percent`: must be from 1 to 100, got 150"),
        "{detail}"
    );
    assert_eq!(
        detail["status"], "ready",
        "the service still serves the previous rules"
    );
    assert!(shopper.home().await.1.contains("verify-nurse"));

    // Fixed: swapped in, errors cleared.
    std::fs::write(app.rules_path(), &rules).unwrap();
    eventually(&shopper, |p| p.contains("verify-teacher")).await;
    let detail: serde_json::Value = reqwest::get(app.url("/readyz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(detail["rules"]["reload_errors"], serde_json::json!([]));

    assert_eq!(reader.await.unwrap(), 200);
}

#[tokio::test]
async fn the_example_rules_seed_their_pool_at_start() {
    // The shipped config/rules.toml names a seed file for its pool: cargo run works as is.
    let app = spawn_app().await;
    let db = app.db().await;
    assert_eq!(
        perkgate::rewards::remaining(&db, "veteran-codes")
            .await
            .unwrap(),
        50
    );
    app.verify_as("military", "veteran").await;
    assert_verified(&app.home().await.1, "VET20-");
}
