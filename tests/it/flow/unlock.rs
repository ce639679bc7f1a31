//! The way through: a shopper unlocks a discount, what the authorization asks for, a decline,
//! an unverified shopper, and what the sandbox checks as ID.me does.

use crate::harness::*;

#[tokio::test]
async fn a_service_member_unlocks_the_military_discount_and_reads_never_call_idme_again() {
    let app = spawn_app().await;

    let (status, page) = app.home().await;
    assert_eq!(status, 200);
    assert!(page.contains("data-testid=\"verify-military\""));
    assert!(page.contains("Sandbox: simulated verification, not ID.me"));
    assert!(page.contains("What is ID.me?"));

    let res = app.verify_as("military", "service_member").await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/");
    assert_eq!((app.token_calls(), app.attributes_calls()), (1, 1));

    for _ in 0..3 {
        let (status, page) = app.home().await;
        assert_eq!(status, 200);
        assert_verified(&page, "SALUTE15");
        assert!(page.contains("Military (Service Member)"));
    }
    // A "new tab" is the same cookie jar.
    let json = app.benefit().await;
    assert_eq!(json["verified"], true);
    assert_eq!(json["benefit"]["code"], "SALUTE15");
    assert_eq!(json["benefit"]["discount"]["percent"], 15);
    assert_eq!(json["groups"][0]["subgroups"][0], "Service Member");
    assert_eq!((app.token_calls(), app.attributes_calls()), (1, 1));
}

#[tokio::test]
async fn the_authorization_asks_for_one_scope_with_state_and_pkce_and_no_nonce() {
    let app = spawn_app().await;
    let authorize = app.start_verify("student").await;
    assert!(authorize.starts_with(&app.url("/sandbox/idme/oauth/authorize?")));
    assert_eq!(query_param(&authorize, "scope").as_deref(), Some("student"));
    assert_eq!(
        query_param(&authorize, "response_type").as_deref(),
        Some("code")
    );
    assert_eq!(
        query_param(&authorize, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(
        query_param(&authorize, "code_challenge").map(|c| c.len()),
        Some(43)
    );
    assert!(
        query_param(&authorize, "state").unwrap().len() >= 43,
        "256-bit state"
    );
    assert_eq!(
        query_param(&authorize, "redirect_uri").as_deref(),
        Some(app.url("/auth/idme/callback").as_str())
    );
    assert_eq!(query_param(&authorize, "nonce"), None);
    // Each authorization gets its own state.
    let again = app.start_verify("student").await;
    assert_ne!(
        query_param(&again, "state"),
        query_param(&authorize, "state")
    );
}

#[tokio::test]
async fn declining_at_idme_gets_a_friendly_page_and_a_way_back() {
    let app = spawn_app().await;
    let authorize = app.start_verify("military").await;
    let callback = app.sandbox_pick(&authorize, "decline").await;
    assert_eq!(
        query_param(&callback, "error").as_deref(),
        Some("access_denied")
    );
    // Back on the store: the message once, the verify button and "Try again".
    let res = app.get(&callback).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/");
    assert_eq!(res.headers()["cache-control"], "no-store");
    let (_, page) = app.home().await;
    assert!(
        page.contains("data-testid=\"message\" role=\"status\""),
        "{page}"
    );
    assert!(page.contains("You chose not to share your status"));
    assert!(page.contains("<title>Verification declined · Demo store</title>"));
    assert!(page.contains("action=\"/verify/military\""));
    assert!(page.contains("data-testid=\"try-again\""));
    assert!(page.contains("data-testid=\"verify-military\""));
    assert_eq!(app.token_calls(), 0);
    let (_, again) = app.home().await;
    assert!(!again.contains("data-testid=\"message\""), "shown once");
    assert!(again.contains("data-testid=\"verify-military\""));
    // The declined authorization is used up.
    assert_eq!(
        app.get(&callback.replace("error=access_denied", "code=x"))
            .await
            .status(),
        400
    );

    // A declined answer from a browser without a session: the friendly page.
    let stranger = app.shopper();
    let res = stranger.get(&callback).await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(page.contains("data-testid=\"message\" role=\"status\""));
    assert!(page.contains("You chose not to share your status"));
    assert!(page.contains("href=\"/\""));
}

#[tokio::test]
async fn an_unverified_shopper_gets_a_clear_message_and_no_benefit() {
    let app = spawn_app().await;
    let res = app.verify_as("military", "unverified").await;
    assert_eq!(res.status(), 303);
    let (_, page) = app.home().await;
    assert!(page.contains("ID.me could not confirm your status"));
    assert!(page.contains("data-testid=\"message\" role=\"status\""));
    assert!(!page.contains("data-testid=\"benefit\""));
    assert!(page.contains("data-testid=\"verify-military\""));
    // A persona of another group: ID.me sends an empty status for the requested scope.
    let res = app.verify_as("military", "student").await;
    assert_eq!(res.status(), 303);
    let (_, page) = app.home().await;
    assert!(page.contains("ID.me could not confirm your status"));
    assert!(!page.contains("data-testid=\"benefit\""));
}

#[tokio::test]
async fn the_sandbox_checks_what_idme_checks() {
    let app = spawn_app().await;
    let shopper = app.shopper();
    let authorize = shopper.start_verify("military").await;
    // A foreign redirect URI is refused on the page, never redirected to.
    let evil = authorize.replace(
        &urlencode(&app.url("/auth/idme/callback")),
        &urlencode("https://evil.example/cb"),
    );
    let res = shopper.get(&evil).await;
    assert_eq!(res.status(), 400);
    assert!(res.headers().get("location").is_none());
    // A nonce without openid is refused like strict providers do.
    let res = shopper.get(&format!("{authorize}&nonce=n")).await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        query_param(&location(&res), "error").as_deref(),
        Some("invalid_request")
    );

    // The token endpoint wants the client secret, the verifier and the code once.
    let callback = shopper.sandbox_pick(&authorize, "service_member").await;
    let code = query_param(&callback, "code").unwrap();
    let token_url = app.url("/sandbox/idme/oauth/token");
    let res = shopper
        .client()
        .post(&token_url)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("client_id", "perkgate-sandbox"),
            ("client_secret", "wrong"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = shopper
        .client()
        .post(&token_url)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("client_id", "perkgate-sandbox"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // The app still completes the flow with the same code: those attempts did not burn it.
    assert_eq!(shopper.get(&callback).await.status(), 303);
    assert_verified(&shopper.home().await.1, "SALUTE15");
}

fn urlencode(s: &str) -> String {
    url_escape(s)
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
