//! The benefit-unlock flow end to end over HTTP, against the embedded sandbox reached over
//! its socket, with the real SQLite session store.

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
    assert!(page.contains("<title>Verification expired · Demo store</title>"));
    assert!(page.contains("data-testid=\"try-again\""));
    assert_eq!(app.token_calls(), 0);
    // Used up: the same answer again is refused, still without a call.
    assert_eq!(app.get(&callback).await.status(), 400);
    assert_eq!(app.token_calls(), 0);
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
async fn the_session_id_rotates_on_verification_and_the_old_one_is_worthless() {
    let app = spawn_app().await;
    let first = app.get("/").await;
    assert_eq!(session_cookie(&first), None, "a look stores no session");
    let csrf = hidden(&first.text().await.unwrap(), "csrf");
    let start = app.post_csrf("/verify/military", &csrf).await;
    let before = session_cookie(&start).expect("a session cookie once a form starts one");
    let callback = app.sandbox_pick(&location(&start), "service_member").await;
    let res = app.get(&callback).await;
    let after = session_cookie(&res).expect("a new cookie on verification");
    assert_ne!(before, after);
    // The pre-verification id (say, a fixated one) shows nothing.
    let raw = reqwest::Client::new();
    let page = raw
        .get(app.url("/"))
        .header("cookie", format!("perkgate={before}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("data-testid=\"benefit\""));
    let page = raw
        .get(app.url("/"))
        .header("cookie", format!("perkgate={after}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_verified(&page, "SALUTE15");
}

fn session_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers().get_all("set-cookie").iter().find_map(|v| {
        let v = v.to_str().ok()?;
        let rest = v.strip_prefix("perkgate=")?;
        Some(rest.split(';').next()?.to_owned())
    })
}

#[tokio::test]
async fn the_session_survives_a_restart_on_the_same_sqlite_file() {
    let app = spawn_app().await;
    let shopper = app.shopper();
    shopper.verify_as("nurse", "nurse").await;
    let dir = app.dir.clone();
    app.stop().await;

    let app = spawn_with(Options {
        dir: Some(dir),
        ..Options::default()
    })
    .await;
    // Cookies are per host, not per port: the jar sends the same session to the new process.
    assert_verified(&shopper.at(&app.base).home().await.1, "CARE10");
    assert_eq!(app.token_calls(), 0);
}

#[tokio::test]
async fn cookies_are_httponly_lax_and_secure_with_host_prefix_behind_https() {
    // The form-token cookie of a first look, then the session cookie the form creates.
    async fn cookies(app: &TestApp) -> (String, String) {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let res = client.get(app.url("/")).send().await.unwrap();
        let set: Vec<&str> = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(set.len(), 1, "one cookie, for the form token: {set:?}");
        let csrf_cookie = set[0].to_owned();
        let pair = csrf_cookie.split(';').next().unwrap().to_owned();
        let csrf = hidden(&res.text().await.unwrap(), "csrf");
        let res = client
            .post(app.url("/verify/military"))
            .header("cookie", pair)
            .form(&[("csrf", csrf)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303);
        let session = res.headers()["set-cookie"].to_str().unwrap().to_owned();
        (csrf_cookie, session)
    }
    let app = spawn_app().await;
    let (csrf, session) = cookies(&app).await;
    assert!(csrf.starts_with("perkgate-csrf="), "{csrf}");
    assert!(session.starts_with("perkgate="), "{session}");
    for cookie in [&csrf, &session] {
        assert!(
            cookie.contains("HttpOnly")
                && cookie.contains("SameSite=Lax")
                && cookie.contains("Path=/"),
            "{cookie}"
        );
        assert!(
            !cookie.contains("Secure"),
            "plain http cannot keep a Secure cookie"
        );
        assert!(!cookie.to_ascii_lowercase().contains("idp_"));
    }

    let app = spawn_with(
        Options::default()
            .var("PERKGATE_PUBLIC_URL", "https://shop.example")
            .var("PERKGATE_ALLOW_SANDBOX", "1"),
    )
    .await;
    let (csrf, session) = cookies(&app).await;
    assert!(csrf.starts_with("__Host-perkgate-csrf="), "{csrf}");
    assert!(session.starts_with("__Host-perkgate="), "{session}");
    for cookie in [&csrf, &session] {
        assert!(
            cookie.contains("Secure")
                && cookie.contains("HttpOnly")
                && cookie.contains("SameSite=Lax"),
            "{cookie}"
        );
        assert!(cookie.contains("Path=/") && !cookie.contains("Domain="));
    }
}

#[tokio::test]
async fn the_sandbox_refuses_to_start_behind_https_unless_allowed() {
    let err = perkgate::Config::from_vars([
        (
            "PERKGATE_PUBLIC_URL".to_owned(),
            "https://shop.example".to_owned(),
        ),
        ("PERKGATE_CONFIG".to_owned(), "/dev/null".to_owned()),
    ])
    .unwrap_err();
    assert!(err.to_string().contains("PERKGATE_ALLOW_SANDBOX"), "{err}");
}

#[tokio::test]
async fn jsonp_is_served_for_safe_names_and_refused_otherwise() {
    let app = spawn_app().await;
    app.verify_as("military", "service_member").await;
    let res = app.get("/api/v1/benefit?callback=shop.onBenefit_1").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"],
        "application/javascript; charset=utf-8"
    );
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    let body = res.text().await.unwrap();
    assert!(
        body.starts_with("/**/shop.onBenefit_1({\"verified\":true"),
        "{body}"
    );
    assert!(body.ends_with("});"));

    for bad in ["alert(1)", "a-b", "1x", "x..y", "%3Cscript%3E", ""] {
        let res = app.get(&format!("/api/v1/benefit?callback={bad}")).await;
        assert_eq!(res.status(), 400, "{bad}");
        assert_eq!(res.headers()["content-type"], "application/json");
        let json: serde_json::Value = res.json().await.unwrap();
        assert_eq!(json["error"], "bad_request");
        assert!(
            json["correlation_id"]
                .as_str()
                .is_some_and(|s| !s.is_empty())
        );
    }
    // Without a session: not verified, and no session is created by the API.
    let res = reqwest::Client::new()
        .get(app.url("/api/v1/benefit"))
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("set-cookie").is_none());
    let json: serde_json::Value = res.json().await.unwrap();
    assert_eq!(json["verified"], false);
    assert!(json["benefit"].is_null());
}

#[tokio::test]
async fn forms_without_the_csrf_token_are_refused() {
    let app = spawn_app().await;
    let shopper = app.shopper();
    let _ = shopper.home().await;
    for (path, body) in [
        ("/verify/military", vec![]),
        ("/verify/military", vec![("csrf", "forged")]),
        ("/reset", vec![]),
        ("/reset", vec![("csrf", "")]),
    ] {
        let res = shopper
            .client()
            .post(shopper.url(path))
            .form(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{path} {body:?}");
        assert!(res.headers().get("location").is_none());
        assert!(res.text().await.unwrap().contains("This form has expired"));
    }
    // A real token from another session is no better.
    let other = app.shopper();
    let csrf = other.csrf().await;
    let res = shopper.post_csrf("/verify/military", &csrf).await;
    assert_eq!(res.status(), 403);
    // Once a form has made a session, the session's token rules, and the same forgeries fail.
    let own = shopper.csrf().await;
    let res = shopper.post_csrf("/verify/military", &own).await;
    assert_eq!(res.status(), 303);
    for token in ["forged", "", csrf.as_str()] {
        let res = shopper.post_csrf("/reset", token).await;
        assert_eq!(res.status(), 403, "{token:?}");
    }
    assert_eq!(app.token_calls() + app.authorize_calls(), 0);
}

#[tokio::test]
async fn an_unknown_group_is_not_found() {
    let app = spawn_app().await;
    let csrf = app.csrf().await;
    for group in ["government", "mil.itary", "military%20student", "MILITARY"] {
        let res = app.post_csrf(&format!("/verify/{group}"), &csrf).await;
        assert_eq!(res.status(), 404, "{group}");
    }
}

#[tokio::test]
async fn reset_forgets_the_verification_under_a_new_session_id() {
    let app = spawn_app().await;
    app.verify_as("military", "service_member").await;
    let csrf = app.csrf().await;
    let res = app.post_csrf("/reset", &csrf).await;
    assert_eq!(
        (res.status().as_u16(), location(&res)),
        (303, "/".to_owned())
    );
    assert!(session_cookie(&res).is_some(), "reset rotates the id");
    let (_, page) = app.home().await;
    assert!(!page.contains("data-testid=\"benefit\""));
    assert!(page.contains("data-testid=\"verify-military\""));
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

#[tokio::test]
async fn pages_carry_security_headers_and_no_store() {
    let app = spawn_app().await;
    let authorize = app.start_verify("military").await;
    let callback = app.sandbox_pick(&authorize, "service_member").await;
    for path in [
        "/",
        "/api/v1/benefit",
        "/auth/idme/callback?state=x",
        "/nope",
    ] {
        let res = app.get(path).await;
        let h = res.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
            "{path}"
        );
        assert!(!csp.contains("unsafe-inline"));
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(h["cache-control"], "no-store", "{path}");
        assert!(h.contains_key("x-request-id"));
    }
    let res = app.get(&callback).await;
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(res.headers()["referrer-policy"], "no-referrer");
    // Static files may be cached; the page has no inline script to allow.
    let res = app.get("/static/app.js").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let (_, page) = app.home().await;
    assert!(!page.contains("<script>") && page.contains("<script src=\"/static/app.js\""));
}
#[tokio::test]
async fn an_incoming_request_id_is_kept_and_shown_as_the_correlation_id() {
    let app = spawn_app().await;
    let res = reqwest::Client::new()
        .get(app.url("/auth/idme/callback?code=x&state=y"))
        .header("x-request-id", "lb-1234_abc")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "lb-1234_abc");
    let page = res.text().await.unwrap();
    assert!(
        page.contains("<code data-testid=\"correlation-id\">lb-1234_abc</code>"),
        "{page}"
    );
    // A header that could forge log lines is replaced.
    let res = reqwest::Client::new()
        .get(app.url("/healthz"))
        .header("x-request-id", "evil id\tx")
        .send()
        .await
        .unwrap();
    assert_ne!(res.headers()["x-request-id"], "evil id\tx");
}

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    let res = client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("set-cookie").is_none());
    let res = client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let json: serde_json::Value = res.json().await.unwrap();
    assert_eq!(json["status"], "ready");
    assert_eq!(json["database"], "ok");
    assert_eq!(json["rules"]["offers"], 7);
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

#[tokio::test]
async fn wrong_methods_and_unknown_paths_get_a_page() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    let res = client.post(app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 405);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("data-testid=\"message\"")
    );
    let res = client
        .get(app.url("/verify/military"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    let res = client.get(app.url("/no/such/page")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert!(res.text().await.unwrap().contains("Page not found"));
}

#[tokio::test]
async fn metrics_count_requests_verifications_and_idme_calls_without_personal_data() {
    let app = spawn_app().await;
    app.verify_as("military", "service_member").await;
    app.shopper().verify_as("military", "unverified").await;
    let res = reqwest::get(app.url("/metrics")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = res.text().await.unwrap();
    for expected in [
        r#"http_requests_total{method="GET",route="/",status="200"}"#,
        r#"http_requests_total{method="POST",route="/verify/{group}",status="303"}"#,
        r#"perkgate_verifications_total{outcome="unlocked",group="military"}"#,
        r#"perkgate_verifications_total{outcome="not_verified",group="military"}"#,
        r#"perkgate_idme_request_duration_seconds_count{endpoint="token"}"#,
        r#"perkgate_claims_total{offer="military",result="issued"}"#,
        r#"perkgate_pool_codes_remaining{pool="veteran-codes"}"#,
        "http_request_duration_seconds_bucket",
    ] {
        assert!(text.contains(expected), "missing {expected} in:\n{text}");
    }
    // Labels are templates and handles: no persona data, no codes, no tokens.
    for secret in [
        "Sergio",
        "Testerman",
        "sandbox.invalid",
        "5a0dbe7e",
        "SALUTE15",
        "state=",
    ] {
        assert!(!text.contains(secret), "metrics contain {secret}");
    }
}

#[tokio::test]
async fn verification_routes_are_rate_limited_per_client_with_a_page() {
    // One token a second after the burst: five requests must not take a second. Serial, so
    // that no heavy test slows them down.
    let _serial = serial().await;
    let app = spawn_with(
        Options::default()
            .var("PERKGATE_RATE_LIMIT_PER_MINUTE", "60")
            .var("PERKGATE_RATE_LIMIT_BURST", "3"),
    )
    .await;
    let csrf = app.csrf().await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let res = app.post_csrf("/verify/military", &csrf).await;
        statuses.push(res.status().as_u16());
        if res.status() == 429 {
            assert!(res.headers().contains_key("retry-after"));
            let page = res.text().await.unwrap();
            assert!(page.contains("Too many attempts") && page.contains("data-testid=\"message\""));
        }
    }
    assert_eq!(statuses, [303, 303, 303, 429, 429]);
    // Pages that only read are not limited.
    assert_eq!(app.home().await.0, 200);
}
