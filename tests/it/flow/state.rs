//! The callback's state: replayed, double-submitted, racing, forged, missing, reused, expired
//! and prefetched callbacks, and two tabs each with their own pending authorization.

use crate::harness::*;

#[tokio::test]
async fn replayed_callback_of_a_verified_session_goes_home_without_calling_idme() {
    let app = spawn_app().await;
    let authorize = app.start_verify("military").await;
    let callback = app.sandbox_pick(&authorize, "service_member").await;
    assert_eq!(app.get(&callback).await.status(), 303);
    for _ in 0..3 {
        let res = app.get(&callback).await;
        assert_eq!(res.status(), 303);
        assert_eq!(location(&res), "/");
        assert!(
            res.headers().get("set-cookie").is_none(),
            "a replay leaves the cookie alone"
        );
    }
    assert_eq!((app.token_calls(), app.attributes_calls()), (1, 1));
    assert_verified(&app.home().await.1, "SALUTE15");
}

#[tokio::test]
async fn double_submit_makes_one_flow_and_verify_after_unlock_calls_nothing() {
    let app = spawn_app().await;
    // Two submits of the form (a double click without JavaScript): two pending authorizations.
    let csrf = app.csrf().await;
    let mut authorize = Vec::new();
    for _ in 0..2 {
        let res = app.post_csrf("/verify/military", &csrf).await;
        assert_eq!(res.status(), 303);
        authorize.push(location(&res));
    }
    // The browser follows the last one.
    let callback = app.sandbox_pick(&authorize[1], "service_member").await;
    assert_eq!(app.get(&callback).await.status(), 303);
    // The first authorization, completed late (another tab), unlocks nothing new.
    let late = app.sandbox_pick(&authorize[0], "service_member").await;
    let res = app.get(&late).await;
    assert_eq!(
        (res.status().as_u16(), location(&res)),
        (303, "/".to_owned())
    );
    assert_eq!((app.token_calls(), app.attributes_calls()), (1, 1));

    // Verified: POST /verify goes home and starts nothing.
    let (_, page) = app.home().await;
    assert_verified(&page, "SALUTE15");
    let csrf = hidden(&page, "csrf");
    let res = app.post_csrf("/verify/military", &csrf).await;
    assert_eq!(
        (res.status().as_u16(), location(&res)),
        (303, "/".to_owned())
    );
}

#[tokio::test]
async fn identical_callbacks_at_the_same_moment_make_one_exchange_and_end_verified() {
    let app = spawn_app().await;
    for round in 0..8u64 {
        let shopper = app.shopper();
        let authorize = shopper.start_verify("military").await;
        let callback = shopper.sandbox_pick(&authorize, "service_member").await;
        let (a, b, c) = tokio::join!(
            shopper.get(&callback),
            shopper.get(&callback),
            shopper.get(&callback)
        );
        for res in [a, b, c] {
            assert_eq!(res.status(), 303, "every duplicate goes home");
            assert_eq!(location(&res), "/");
            for cookie in res.headers().get_all("set-cookie") {
                let cookie = cookie.to_str().unwrap();
                assert!(
                    !cookie.contains("Max-Age=0"),
                    "no duplicate clears the cookie: {cookie}"
                );
            }
        }
        assert_eq!(
            app.token_calls(),
            round + 1,
            "exactly one code exchange per flow"
        );
        assert_eq!(app.attributes_calls(), round + 1);
        assert_verified(&shopper.home().await.1, "SALUTE15");
    }
}

#[tokio::test]
async fn forged_missing_and_reused_states_are_refused_before_any_call() {
    let app = spawn_app().await;
    let authorize = app.start_verify("military").await;
    let callback = app.sandbox_pick(&authorize, "service_member").await;
    let code = query_param(&callback, "code").unwrap();

    let forged = perkgate::crypto::random_token();
    for (query, expected) in [
        (
            format!("code={code}&state={forged}"),
            "does not belong to this browser",
        ),
        (format!("code={code}"), "incomplete"),
        ("state=abc".to_owned(), "incomplete"),
        (
            format!("code={code}&state=short"),
            "does not belong to this browser",
        ),
        (String::new(), "incomplete"),
    ] {
        let res = app.get(&format!("/auth/idme/callback?{query}")).await;
        assert_eq!(res.status(), 400, "{query}");
        let page = res.text().await.unwrap();
        assert!(page.contains(expected), "{query}: {page}");
        assert!(page.contains("data-testid=\"message\" role=\"alert\""));
    }
    assert_eq!(app.token_calls(), 0);

    // Another browser cannot complete this browser's authorization.
    let stranger = app.shopper();
    let _ = stranger.home().await;
    let res = stranger.get(&callback).await;
    assert_eq!(res.status(), 400);
    assert_eq!(app.token_calls(), 0);
}

#[tokio::test]
async fn a_reused_state_after_a_failed_verification_is_refused() {
    let app = spawn_app().await;
    let authorize = app.start_verify("military").await;
    let callback = app.sandbox_pick(&authorize, "unverified").await;
    let res = app.get(&callback).await;
    assert_eq!(res.status(), 303);
    let res = app.get(&callback).await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("already used"));
    assert_eq!(app.token_calls(), 1, "the replay made no second exchange");
}

#[tokio::test]
async fn an_expired_authorization_is_refused_without_a_call() {
    let app = spawn_with(Options::default().var("PERKGATE_AUTH_TIMEOUT_SECS", "1")).await;
    let authorize = app.start_verify("military").await;
    let callback = app.sandbox_pick(&authorize, "service_member").await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    // The shopper's own authorization, late: back on the store, told why, with a way to retry.
    let res = app.get(&callback).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/");
    let (_, page) = app.home().await;
    assert!(
        page.contains("data-testid=\"message\" role=\"alert\""),
        "{page}"
    );
    assert!(page.contains("took too long"), "{page}");
    // The text says how long, from PERKGATE_AUTH_TIMEOUT_SECS.
    assert!(
        page.contains("verifications expire after 1 second."),
        "{page}"
    );
    assert!(page.contains("<title>Verification expired · Demo store</title>"));
    assert!(page.contains("data-testid=\"try-again\""));
    assert_eq!(app.token_calls(), 0);
    // Used up: the same answer again is refused, still without a call.
    assert_eq!(app.get(&callback).await.status(), 400);
    assert_eq!(app.token_calls(), 0);
}

#[tokio::test]
async fn two_tabs_each_keep_their_own_pending_authorization() {
    let app = spawn_app().await;
    let tab1 = app.start_verify("military").await;
    let tab2 = app.start_verify("teacher").await;
    let cb1 = app.sandbox_pick(&tab1, "unverified").await;
    let cb2 = app.sandbox_pick(&tab2, "teacher").await;
    assert_eq!(app.get(&cb1).await.status(), 303);
    assert_eq!(app.get(&cb2).await.status(), 303);
    assert_verified(&app.home().await.1, "TEACH-");
}

#[tokio::test]
async fn a_prefetch_of_the_callback_consumes_nothing() {
    let app = spawn_app().await;
    let shopper = app.shopper();
    let authorize = shopper.start_verify("military").await;
    let callback = shopper.sandbox_pick(&authorize, "service_member").await;
    let res = shopper
        .client()
        .get(&callback)
        .header("sec-purpose", "prefetch")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(app.token_calls(), 0);
    assert_eq!(shopper.get(&callback).await.status(), 303);
    assert_verified(&shopper.home().await.1, "SALUTE15");
}
