//! Every outcome at ID.me ends back on the store (303 to `/`) with its message shown once, the
//! verify controls and "Try again"; and the form tokens rotate with the privilege.

use crate::harness::*;

/// The store after an outcome: the message (its role and text), the title, a focus target,
/// "Try again" (unless a benefit was unlocked); then, on a refresh, no message.
async fn assert_outcome(shopper: &Shopper, role: &str, text: &str, title: &str) -> String {
    let (_, page) = shopper.home().await;
    assert!(
        page.contains(&format!(
            "data-testid=\"message\" role=\"{role}\" tabindex=\"-1\" data-focus"
        )),
        "{page}"
    );
    assert!(page.contains(text), "{text}:\n{page}");
    assert!(
        page.contains(&format!("<title>{title} · Demo store</title>")),
        "{title}:\n{page}"
    );
    let (_, again) = shopper.home().await;
    assert!(!again.contains(text), "shown once:\n{again}");
    assert!(!again.contains("data-testid=\"message\""));
    page
}

#[tokio::test]
async fn not_verified_ends_on_the_store_with_a_way_to_try_again() {
    let app = spawn_app().await;
    let res = app.verify_as("military", "unverified").await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/");
    let page = assert_outcome(
        app.default_shopper(),
        "status",
        "ID.me could not confirm your status",
        "Not verified",
    )
    .await;
    assert!(page.contains("action=\"/verify/military\""));
    assert!(page.contains("data-testid=\"try-again\""));
    assert!(page.contains("data-testid=\"verify-military\""));
    // "Try again" starts a new verification for the same community.
    let csrf = hidden(&page, "csrf");
    let res = app.post_csrf("/verify/military", &csrf).await;
    assert_eq!(res.status(), 303);
    assert!(location(&res).contains("scope=military"));
}

#[tokio::test]
async fn verified_without_an_offer_ends_on_the_store() {
    let app = spawn_with(Options::default().rules_fixture("communities")).await;
    // A teacher, verified, but the teachers' offer is for principals only.
    let res = app.verify_as("teacher", "teacher").await;
    assert_eq!(res.status(), 303);
    let page = assert_outcome(
        app.default_shopper(),
        "status",
        "You are verified, but the offers for your group are limited",
        "No discount for you right now",
    )
    .await;
    assert!(page.contains("Verified with ID.me as <strong>Teachers (Teacher)</strong>"));
    assert!(page.contains("data-testid=\"try-again\""));
    assert!(!page.contains("data-testid=\"benefit\""));
}

#[tokio::test]
async fn an_offer_whose_codes_ran_out_says_so_and_the_next_one_is_named() {
    let app = spawn_with(Options::default().rules_fixture("communities")).await;
    // The better military offer's pool is empty: its card says so before anyone verifies.
    let (_, page) = app.home().await;
    let card = page
        .split("data-testid=\"offer-military-best\"")
        .nth(1)
        .and_then(|rest| rest.split("</li>").next())
        .expect("the card of the empty offer");
    assert!(card.contains("data-testid=\"ran-out\""), "{card}");
    assert!(card.contains("The codes for this offer have run out."));
    let other = page
        .split("data-testid=\"offer-military\"")
        .nth(1)
        .and_then(|rest| rest.split("</li>").next())
        .unwrap();
    assert!(!other.contains("ran-out"));

    // A service member gets the next offer, and is told why not the better one.
    let res = app.verify_as("military", "service_member").await;
    assert_eq!(res.status(), 303);
    let page = assert_outcome(
        app.default_shopper(),
        "status",
        "\u{201c}Military: 25% off\u{201d} is not available to you (its codes have run out), so you got the next best offer.",
        "Discount unlocked",
    )
    .await;
    assert_verified(&page, "SALUTE15");
    assert!(
        !page.contains("data-testid=\"try-again\""),
        "nothing to retry"
    );
}

#[tokio::test]
async fn an_unlocked_benefit_titles_the_page_and_takes_the_focus() {
    let app = spawn_app().await;
    app.verify_as("military", "service_member").await;
    let (_, page) = app.home().await;
    assert!(page.contains("<title>Discount unlocked · Demo store</title>"));
    assert!(page.contains(
        "data-testid=\"benefit\" aria-labelledby=\"benefit-title\" tabindex=\"-1\" data-focus"
    ));
}

/// The `name=value` of the cookie `name` a response sets, if any.
fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    set_cookie_value(res, name).map(|v| format!("{name}={v}"))
}

fn form_cookie(res: &reqwest::Response) -> Option<String> {
    set_cookie(res, "perkgate-csrf")
}

#[tokio::test]
async fn form_tokens_captured_before_verification_are_refused_after_it() {
    let app = spawn_app().await;
    let shopper = app.shopper();
    // Before: the page's token and the form cookie it came with.
    let res = shopper.get("/").await;
    let old_cookie = form_cookie(&res).expect("a first look sets the form cookie");
    let old_token = hidden(&res.text().await.unwrap(), "csrf");

    // Verification replaces the form cookie as well as the session's token.
    let authorize = shopper.start_verify("military").await;
    let callback = shopper.sandbox_pick(&authorize, "service_member").await;
    let res = shopper.get(&callback).await;
    assert_eq!(res.status(), 303);
    let new_cookie = form_cookie(&res).expect("verification renews the form cookie");
    let session = set_cookie(&res, "perkgate").expect("the new session id");
    assert_ne!(new_cookie, old_cookie);
    let new_token = hidden(&shopper.home().await.1, "csrf");
    assert_ne!(new_token, old_token);

    // The old token is refused, alone or with the old cookie put back beside the session.
    assert_eq!(shopper.post_csrf("/reset", &old_token).await.status(), 403);
    let replay = reqwest::Client::new()
        .post(app.url("/reset"))
        .header("cookie", format!("{session}; {old_cookie}"))
        .form(&[("csrf", old_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 403);
    assert_verified(&shopper.home().await.1, "SALUTE15");

    // Reset is a change of privilege too: a new cookie, and the verified page's token is spent.
    let res = shopper.post_csrf("/reset", &new_token).await;
    assert_eq!(res.status(), 303);
    let after_reset = form_cookie(&res).expect("reset renews the form cookie");
    assert_ne!(after_reset, new_cookie);
    assert_eq!(shopper.post_csrf("/reset", &new_token).await.status(), 403);
    assert_eq!(
        shopper
            .post_csrf("/verify/military", &new_token)
            .await
            .status(),
        403
    );
}
