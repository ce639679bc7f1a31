//! The session: its id rotating on verification and on reset, surviving a restart, its cookies'
//! flags over plain HTTP and behind HTTPS, and the sandbox refused behind HTTPS.

use crate::harness::*;

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
    let page = store_page_with_session(&app, &before).await;
    assert!(!page.contains("data-testid=\"benefit\""));
    let page = store_page_with_session(&app, &after).await;
    assert_verified(&page, "SALUTE15");
}

fn session_cookie(res: &reqwest::Response) -> Option<String> {
    set_cookie_value(res, "perkgate")
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
