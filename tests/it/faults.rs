//! The flow against a scripted fake ID.me on a loopback socket: everything ID.me might do
//! wrong ends back on the store with a message and a correlation id, the session intact, and
//! exactly the calls the rules allow.

use std::time::{Duration, Instant};

use crate::harness::fake_idme::{FakeIdme, NEVER_LOGGED, Reply, TOKEN_OK, VETERAN};
use crate::harness::logs::capture_logs;
use crate::harness::*;

struct Setup {
    app: TestApp,
    idme: FakeIdme,
}

async fn setup() -> Setup {
    setup_with(Options::default()).await
}

async fn setup_with(options: Options) -> Setup {
    let idme = FakeIdme::start().await;
    let app = spawn_with(options.idme(&idme.url())).await;
    Setup { app, idme }
}

impl Setup {
    /// Starts a verification and plays ID.me's redirect back with a code.
    async fn callback(&self) -> reqwest::Response {
        let authorize = self.app.start_verify("military").await;
        assert!(authorize.starts_with(&format!("{}/oauth/authorize?", self.idme.url())));
        let state = query_param(&authorize, "state").unwrap();
        self.app.callback("the-code", &state).await
    }

    /// The callback ends back on the store: the failure notice with its reference (the
    /// callback's request id, which the log line carries), the verify control and "Try
    /// again"; shown once. Returns the store page.
    async fn expect_error_page(&self) -> String {
        let res = self.callback().await;
        assert_eq!(res.status(), 303);
        assert_eq!(location(&res), "/");
        let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
        let (status, page) = self.app.home().await;
        assert_eq!(status, 200);
        assert!(
            page.contains("We could not complete your verification with ID.me just now"),
            "{page}"
        );
        assert!(page.contains("data-testid=\"message\" role=\"alert\""));
        assert!(page.contains(&format!(
            "<code data-testid=\"correlation-id\">{request_id}</code>"
        )));
        assert!(page.contains("<title>Verification failed · 127.0.0.1</title>"));
        assert!(
            page.contains("action=\"/verify/military\"")
                && page.contains("data-testid=\"try-again\""),
            "a way to try again"
        );
        // The session is intact and can verify again; the message is shown once.
        assert!(page.contains("data-testid=\"verify-military\""));
        assert!(!page.contains("data-testid=\"benefit\""));
        let (_, again) = self.app.home().await;
        assert!(!again.contains("data-testid=\"message\""), "shown once");
        assert!(again.contains("data-testid=\"verify-military\""));
        page
    }
}

#[tokio::test]
async fn a_good_answer_unlocks_with_one_token_and_one_attributes_call() {
    let s = setup().await;
    let res = s.callback().await;
    assert_eq!(res.status(), 303);
    assert_verified(&s.app.home().await.1, "SALUTE15");
    assert_eq!((s.idme.token_calls(), s.idme.attributes_calls()), (1, 1));

    // The token request: form body with the secret, the verifier, the code and the redirect URI.
    let form = s.idme.last_token_form();
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["code"], "the-code");
    assert_eq!(form["client_id"], "test-client");
    assert_eq!(form["client_secret"], "test-secret-value");
    assert_eq!(form["redirect_uri"], s.app.url("/auth/idme/callback"));
    assert!(form["code_verifier"].len() >= 43);
    assert!(s.idme.state.last_token_auth.lock().unwrap().is_none());
    // The attributes call: the token in a Bearer header, never in the URL.
    assert_eq!(
        s.idme.state.last_bearer.lock().unwrap().as_deref(),
        Some("Bearer tok-SECRET-123")
    );
    // The token never reaches the browser.
    let (_, page) = s.app.home().await;
    assert!(!page.contains("tok-SECRET-123") && !page.contains("Sunny"));
}

#[tokio::test]
async fn client_secret_basic_can_be_selected() {
    let s = setup_with(Options::default().var("PERKGATE_IDME_CLIENT_AUTH", "basic")).await;
    assert_eq!(s.callback().await.status(), 303);
    let form = s.idme.last_token_form();
    assert!(!form.contains_key("client_secret"));
    let auth = s
        .idme
        .state
        .last_token_auth
        .lock()
        .unwrap()
        .clone()
        .unwrap();
    assert!(auth.starts_with("Basic "), "{auth}");
}

#[tokio::test]
async fn token_endpoint_failures_end_on_the_friendly_page() {
    let s = setup().await;
    for reply in [
        Reply::Json(500, r#"{"error":"server_error"}"#.into()),
        Reply::Raw(503, "text/html", "<h1>down</h1>".into()),
        Reply::Json(
            400,
            r#"{"error":"invalid_grant","error_description":"used"}"#.into(),
        ),
        Reply::Json(401, r#"{"error":"invalid_client"}"#.into()),
        Reply::Raw(302, "text/plain", String::new()),
        Reply::Json(200, "not json".into()),
        Reply::Json(200, r#"{"access_token":"t","token_type":"mac"}"#.into()),
        Reply::Json(200, r#"{"token_type":"Bearer"}"#.into()),
        Reply::Huge(1 << 20),
    ] {
        let before = s.idme.token_calls();
        s.idme.on_token(reply.clone());
        s.expect_error_page().await;
        assert_eq!(
            s.idme.token_calls(),
            before + 1,
            "one token call, no retry: {reply:?}"
        );
    }
    assert_eq!(
        s.idme.attributes_calls(),
        0,
        "no attributes call without a token"
    );
}

#[tokio::test]
async fn a_slow_idme_times_out_to_the_friendly_page() {
    // Measures time: serial, so that no heavy test slows it down.
    let _serial = serial().await;
    let s = setup().await;
    s.idme.on_token(Reply::After(
        Duration::from_secs(5),
        Box::new(Reply::Json(200, TOKEN_OK.into())),
    ));
    let started = Instant::now();
    s.expect_error_page().await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "bounded by PERKGATE_IDME_TIMEOUT_MS"
    );
    assert_eq!(s.idme.attributes_calls(), 0);

    s.idme.on_token(Reply::Json(200, TOKEN_OK.into()));
    s.idme.on_attributes(Reply::After(
        Duration::from_secs(5),
        Box::new(Reply::Json(200, VETERAN.into())),
    ));
    s.expect_error_page().await;
}

#[tokio::test]
async fn attributes_failures_end_on_the_friendly_page_after_exactly_one_call() {
    let s = setup().await;
    for (i, reply) in [
        Reply::Json(500, "{}".into()),
        Reply::Json(401, r#"{"error":"invalid_token"}"#.into()),
        Reply::Json(200, "{\"status\": [".into()),
        Reply::Raw(200, "text/html", "<html>Sunny Nader</html>".into()),
        Reply::Raw(
            200,
            "application/jwt",
            "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln".into(),
        ),
        Reply::Huge(1 << 20),
        // Verified, but no uuid to key the person on.
        Reply::Json(
            200,
            r#"{"status":[{"group":"military","subgroups":[],"verified":true}]}"#.into(),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        s.idme.on_attributes(reply);
        s.expect_error_page().await;
        assert_eq!(s.idme.token_calls(), i as u64 + 1);
        assert_eq!(
            s.idme.attributes_calls(),
            i as u64 + 1,
            "one attributes call per token"
        );
    }
}

#[tokio::test]
async fn verified_false_and_empty_status_unlock_nothing_with_a_message() {
    let s = setup().await;
    for body in [
        r#"{"attributes":[{"handle":"uuid","value":"u1"}],"status":[{"group":"military","subgroups":[],"verified":false}]}"#,
        r#"{"attributes":[{"handle":"uuid","value":"u1"}],"status":[]}"#,
        r#"{"attributes":[{"handle":"uuid","value":"u1"}]}"#,
    ] {
        s.idme.on_attributes(Reply::Json(200, body.into()));
        let res = s.callback().await;
        assert_eq!(res.status(), 303, "{body}");
        let (_, page) = s.app.home().await;
        assert!(
            page.contains("ID.me could not confirm your status"),
            "{body}"
        );
        assert!(page.contains("data-testid=\"message\""));
        assert!(!page.contains("data-testid=\"benefit\""));
        assert!(page.contains("data-testid=\"verify-military\""));
    }
}

#[tokio::test]
async fn a_group_without_an_offer_is_verified_but_unlocks_nothing() {
    let s = setup().await;
    s.idme.on_attributes(Reply::Json(
        200,
        include_str!("../fixtures/attributes-seed.json").into(),
    ));
    assert_eq!(s.callback().await.status(), 303);
    let (_, page) = s.app.home().await;
    // The store has an alumni offer, but only for one school: the seed's alumnus has none.
    assert!(
        page.contains("limited to statuses or details your verification does not include"),
        "{page}"
    );
    assert!(page.contains("Verified with ID.me as <strong>Alumni</strong>"));
    assert!(!page.contains("data-testid=\"benefit\""));
    let json = s.app.benefit().await;
    assert_eq!(json["verified"], true);
    assert!(json["benefit"].is_null());
}

#[tokio::test]
async fn odd_but_valid_payloads_still_unlock() {
    let s = setup().await;
    s.idme.on_token(Reply::Json(
        200,
        r#"{"access_token":"tok-SECRET-123","token_type":"bearer","expires_in":300,"extra":1}"#
            .into(),
    ));
    s.idme.on_attributes(Reply::Json(
        200,
        r#"{"unknown":[1,2],"attributes":[{"handle":"uuid","value":["abc",null]},{"handle":"x","value":{"a":1}}],
            "status":[{"group":"alumni","verified":true},{"group":"military","subgroups":"Retiree","verified":true}]}"#
            .into(),
    ));
    assert_eq!(s.callback().await.status(), 303);
    let (_, page) = s.app.home().await;
    // A retiree gets the veterans' offer: a single-use code from the pool.
    assert_verified(&page, "VET20-");
    assert!(page.contains("Military (Retiree)"));
    assert!(page.contains("20% off, up to $100.00"));
}

#[tokio::test]
async fn an_error_from_idme_on_the_callback_is_a_friendly_page() {
    let s = setup().await;
    let authorize = s.app.start_verify("military").await;
    let state = query_param(&authorize, "state").unwrap();
    let res = s
        .app
        .get(&format!(
            "/auth/idme/callback?error=invalid_scope&error_description=%3Cb%3Ex&state={state}"
        ))
        .await;
    // The shopper has a session: back on the store, with the failure and its reference.
    assert_eq!(res.status(), 303);
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let (_, page) = s.app.home().await;
    assert!(
        page.contains("We could not complete your verification"),
        "{page}"
    );
    assert!(page.contains(&format!("<code data-testid=\"correlation-id\">{id}</code>")));
    assert!(
        !page.contains("<b>x"),
        "ID.me's description is never echoed"
    );
    assert_eq!(s.idme.token_calls(), 0);
    // The pending authorization it answered is used up: its code can no longer be redeemed.
    let res = s.app.callback("late-code", &state).await;
    assert_eq!(res.status(), 400);
    assert_eq!(s.idme.token_calls(), 0);

    // Without a session nobody can be told on the store: the error page.
    let stranger = s.app.shopper();
    let res = stranger
        .get("/auth/idme/callback?error=invalid_scope&error_description=x")
        .await;
    assert_eq!(res.status(), 502);
    let page = res.text().await.unwrap();
    assert!(page.contains("ID.me could not complete the verification"));
}

#[tokio::test]
async fn the_idme_url_needs_credentials() {
    let err = perkgate::Config::from_vars([
        (
            "PERKGATE_IDME_URL".to_owned(),
            "https://api.idmelabs.com".to_owned(),
        ),
        ("PERKGATE_IDME_CLIENT_ID".to_owned(), "id".to_owned()),
        ("PERKGATE_CONFIG".to_owned(), "/dev/null".to_owned()),
    ])
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "PERKGATE_IDME_CLIENT_SECRET: required when PERKGATE_IDME_URL is set"
    );
}

#[tokio::test]
async fn failures_are_logged_with_the_correlation_id_and_no_personal_data() {
    let logs = capture_logs();
    let s = setup().await;
    // A success first, so the log has seen a token and a payload full of personal data...
    assert_eq!(s.callback().await.status(), 303);
    // ...then a failure, whose log line must carry the page's correlation id.
    let other = s.app.shopper();
    s.idme.on_attributes(Reply::Json(500, "{}".into()));
    let authorize = other.start_verify("military").await;
    let state = query_param(&authorize, "state").unwrap();
    let res = other.callback("the-code", &state).await;
    assert_eq!(res.status(), 303);
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    // The store shows the same id as the reference.
    assert!(
        other
            .home()
            .await
            .1
            .contains(&format!("<code data-testid=\"correlation-id\">{id}</code>"))
    );

    let text = logs.text();
    let failure = text
        .lines()
        .find(|l| l.contains("ID.me call failed") && l.contains(&id))
        .unwrap_or_else(|| panic!("no failure line with request id {id} in:\n{text}"));
    assert!(
        failure.contains("kind=\"status\"") && failure.contains("attributes"),
        "{failure}"
    );
    for secret in NEVER_LOGGED
        .iter()
        .copied()
        .chain(["the-code", state.as_str()])
    {
        assert!(!text.contains(secret), "the log contains {secret:?}");
    }
}
