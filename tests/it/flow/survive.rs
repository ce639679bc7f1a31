//! Callbacks that survive: a connection dropped mid-exchange, a process killed mid-exchange,
//! a state left running by an instance that is gone, a stranger opening the shopper's callback
//! first. Whatever happens, the code is exchanged at most once, the shopper's own retry gets a
//! prompt answer, and only a request from another browser gets the error page.

use std::time::{Duration, Instant};

use perkgate::db::Db;

use crate::harness::fake_idme::{FakeIdme, Reply, TOKEN_OK};
use crate::harness::process::Instance;
use crate::harness::*;

const NOT_VERIFIED: &str = r#"{"attributes":[{"handle":"uuid","value":"u1"}],"status":[{"group":"military","subgroups":[],"verified":false}]}"#;

/// The app against a fake ID.me whose token call answers after `delay`.
async fn slow_token(delay: Duration, options: Options) -> (TestApp, FakeIdme) {
    let idme = FakeIdme::start().await;
    idme.on_token(Reply::After(
        delay,
        Box::new(Reply::Json(200, TOKEN_OK.into())),
    ));
    let app = spawn_with(options.idme(&idme.url())).await;
    (app, idme)
}

/// Starts a verification; returns its state.
async fn start(shopper: &Shopper) -> String {
    query_param(&shopper.start_verify("military").await, "state").unwrap()
}

/// Sends the callback and gives up after `after`, closing the connection: a shopper whose
/// network dropped, or who closed the tab.
async fn dropped_callback(shopper: &Shopper, state: &str, after: Duration) {
    let url = shopper.url(&format!("/auth/idme/callback?code=the-code&state={state}"));
    let res = shopper.client().get(url).timeout(after).send().await;
    assert!(
        res.as_ref().is_err_and(reqwest::Error::is_timeout),
        "the callback was cut off: {res:?}"
    );
}

/// The session cookie a response sets, if any.
fn session_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("perkgate="))
        .map(str::to_owned)
}

/// The state's outcome in the app's database, once it is no longer `running` (bounded).
async fn settled_outcome(db: &Db, state: &str) -> String {
    let Db::Sqlite(db) = db else {
        panic!("the test app runs on SQLite")
    };
    let hash = perkgate::crypto::sha256_b64(state);
    for _ in 0..500 {
        let hash = hash.clone();
        let outcome: Option<String> = db
            .call(move |c| {
                let mut s =
                    c.prepare("SELECT outcome FROM callback_states WHERE state_hash = $1")?;
                let mut rows = s.query_map([hash], |r| r.get(0))?;
                Ok(rows.next().transpose()?)
            })
            .await
            .unwrap();
        if let Some(outcome) = outcome.filter(|o| o != "running") {
            return outcome;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the state did not settle within 10 s");
}

/// The store shows the failure notice with the reference of `res` (the retry) and a way to
/// try again.
async fn assert_failure_notice(shopper: &Shopper, res: &reqwest::Response) {
    let reference = res.headers()["x-request-id"].to_str().unwrap();
    let (_, page) = shopper.home().await;
    assert!(
        page.contains("We could not complete your verification with ID.me just now"),
        "{page}"
    );
    assert!(page.contains("data-testid=\"message\" role=\"alert\""));
    assert!(page.contains(&format!(
        "<code data-testid=\"correlation-id\">{reference}</code>"
    )));
    assert!(page.contains("data-testid=\"try-again\""), "{page}");
}

#[tokio::test]
async fn a_callback_cut_off_mid_exchange_finishes_and_its_retry_ends_verified() {
    let (app, idme) = slow_token(Duration::from_millis(1500), Options::default()).await;
    let shopper = app.shopper();
    let state = start(&shopper).await;
    dropped_callback(&shopper, &state, Duration::from_millis(300)).await;
    assert_eq!(idme.token_calls(), 1, "the exchange was under way");

    // The shopper retries while the first answer is still at ID.me: it waits for that one
    // and is handed the session it verified.
    let res = shopper.callback("the-code", &state).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/");
    let cookie = session_cookie(&res).expect("the verified session's cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert_verified(&shopper.home().await.1, "SALUTE15");
    assert_eq!((idme.token_calls(), idme.attributes_calls()), (1, 1));
}

#[tokio::test]
async fn a_callback_cut_off_finishes_on_its_own_and_a_later_retry_goes_straight_home() {
    let (app, idme) = slow_token(Duration::from_millis(600), Options::default()).await;
    let shopper = app.shopper();
    let state = start(&shopper).await;
    dropped_callback(&shopper, &state, Duration::from_millis(150)).await;
    // Nobody waits for it, and it still runs to the end.
    assert_eq!(settled_outcome(&app.db().await, &state).await, "verified");
    assert_eq!(idme.attributes_calls(), 1);

    let started = Instant::now();
    let res = shopper.callback("the-code", &state).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a prompt answer"
    );
    assert_eq!(res.status(), 303);
    assert!(
        session_cookie(&res).is_some(),
        "handed the verified session"
    );
    assert_verified(&shopper.home().await.1, "SALUTE15");
    // A replay with that session now just goes home; the code is never exchanged again.
    let res = shopper.callback("the-code", &state).await;
    assert_eq!(
        (res.status().as_u16(), location(&res)),
        (303, "/".to_owned())
    );
    assert!(session_cookie(&res).is_none());
    assert_eq!((idme.token_calls(), idme.attributes_calls()), (1, 1));
}

#[tokio::test]
async fn a_notice_the_shopper_never_got_is_shown_after_the_retry() {
    let (app, idme) = slow_token(Duration::from_millis(600), Options::default()).await;
    idme.on_attributes(Reply::Json(200, NOT_VERIFIED.into()));
    let shopper = app.shopper();
    let state = start(&shopper).await;
    dropped_callback(&shopper, &state, Duration::from_millis(150)).await;
    assert_eq!(settled_outcome(&app.db().await, &state).await, "noted");

    // Not "already used" (that is for a replay after the shopper was answered): the store,
    // where the outcome shows.
    let res = shopper.callback("the-code", &state).await;
    assert_eq!(
        (res.status().as_u16(), location(&res)),
        (303, "/".to_owned())
    );
    let (_, page) = shopper.home().await;
    assert!(
        page.contains("ID.me could not confirm your status"),
        "{page}"
    );
    assert!(page.contains("data-testid=\"try-again\""));
    assert_eq!(idme.token_calls(), 1);
}

#[tokio::test]
async fn racing_duplicates_one_of_them_cut_off_make_one_exchange_and_share_one_session() {
    let (app, idme) = slow_token(Duration::from_millis(800), Options::default()).await;
    let shopper = app.shopper();
    let state = start(&shopper).await;
    let (_, a, b) = tokio::join!(
        dropped_callback(&shopper, &state, Duration::from_millis(200)),
        shopper.callback("the-code", &state),
        shopper.callback("the-code", &state),
    );
    let cookies: Vec<String> = [a, b]
        .iter()
        .map(|res| {
            assert_eq!(res.status(), 303);
            let cookie = session_cookie(res).expect("the verified session's cookie");
            cookie.split(';').next().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        cookies[0], cookies[1],
        "the same verified session for every duplicate"
    );
    assert_verified(&shopper.home().await.1, "SALUTE15");
    assert_eq!((idme.token_calls(), idme.attributes_calls()), (1, 1));
}

#[tokio::test]
async fn a_stranger_opening_the_callback_first_is_refused_and_consumes_nothing() {
    let app = spawn_app().await;
    let shopper = app.shopper();
    let authorize = shopper.start_verify("military").await;
    let callback = shopper.sandbox_pick(&authorize, "service_member").await;

    // A link scanner (no cookies at all), and another browser with a session of its own.
    let scanner = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = scanner.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("does not belong to this browser")
    );
    let other = app.shopper();
    other.start_verify("teacher").await;
    assert_eq!(other.get(&callback).await.status(), 400);
    assert_eq!(app.token_calls(), 0);

    // The shopper's own request still works.
    let res = shopper.get(&callback).await;
    assert_eq!(
        (res.status().as_u16(), location(&res)),
        (303, "/".to_owned())
    );
    assert_verified(&shopper.home().await.1, "SALUTE15");
    // Once begun, a stranger is refused at once and learns nothing of the outcome.
    let res = scanner.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(session_cookie(&res).is_none());
    assert_eq!(app.token_calls(), 1);
}

#[tokio::test]
async fn a_stranger_during_the_exchange_is_refused_at_once() {
    let (app, idme) = slow_token(Duration::from_millis(1500), Options::default()).await;
    let shopper = app.shopper();
    let state = start(&shopper).await;
    let url = shopper.url(&format!("/auth/idme/callback?code=the-code&state={state}"));
    let own = tokio::spawn({
        let (shopper, url) = (shopper.clone(), url.clone());
        async move { shopper.get(&url).await.status().as_u16() }
    });
    while idme.token_calls() == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let started = Instant::now();
    let res = app.shopper().get(&url).await;
    assert_eq!(res.status(), 400);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "not made to wait"
    );
    assert_eq!(own.await.unwrap(), 303);
    assert_verified(&shopper.home().await.1, "SALUTE15");
    assert_eq!(idme.token_calls(), 1);
}

#[tokio::test]
async fn a_state_left_running_past_every_timeout_is_abandoned_at_once() {
    // A token call that never comes back in time, and timeouts long enough that the state
    // would otherwise keep the retry waiting for minutes.
    let (app, idme) = slow_token(
        Duration::from_secs(60),
        Options::default().var("PERKGATE_IDME_TIMEOUT_MS", "60000"),
    )
    .await;
    let shopper = app.shopper();
    let state = start(&shopper).await;
    dropped_callback(&shopper, &state, Duration::from_millis(200)).await;
    // As if begun an hour ago by an instance that is gone.
    let Db::Sqlite(db) = app.db().await else {
        panic!("SQLite")
    };
    let hash = perkgate::crypto::sha256_b64(&state);
    let aged = db
        .call(move |c| {
            Ok(c.execute(
                "UPDATE callback_states SET claimed_at = claimed_at - 3600 WHERE state_hash = $1",
                [hash],
            )?)
        })
        .await
        .unwrap();
    assert_eq!(aged, 1);

    let started = Instant::now();
    let res = shopper.callback("the-code", &state).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a prompt answer"
    );
    assert_eq!(
        (res.status().as_u16(), location(&res)),
        (303, "/".to_owned())
    );
    assert_failure_notice(&shopper, &res).await;
    assert_eq!(idme.token_calls(), 1, "the code is not exchanged again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_kill_mid_exchange_the_restarted_process_answers_the_retry_at_once() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let idme = FakeIdme::start().await;
    idme.on_token(Reply::After(
        Duration::from_secs(10),
        Box::new(Reply::Json(200, TOKEN_OK.into())),
    ));
    let db = format!("sqlite://{}", dir.path().join("perkgate.db").display());
    let url = idme.url();
    let vars = [
        ("PERKGATE_DATABASE_URL", db.as_str()),
        ("PERKGATE_IDME_URL", url.as_str()),
        ("PERKGATE_IDME_CLIENT_ID", "test-client"),
        ("PERKGATE_IDME_CLIENT_SECRET", "test-secret-value"),
        ("PERKGATE_IDME_TIMEOUT_MS", "20000"),
    ];
    let mut first = Instance::start(&vars, dir.path()).await;
    let shopper = Shopper::new(&first.base);
    let state = start(&shopper).await;
    let in_flight = tokio::spawn({
        let url = first.url(&format!("/auth/idme/callback?code=the-code&state={state}"));
        let client = shopper.client().clone();
        async move { client.get(url).send().await.map(|r| r.status().as_u16()) }
    });
    let started = Instant::now();
    while idme.token_calls() == 0 {
        assert!(started.elapsed() < Duration::from_secs(10), "no token call");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first.kill();
    assert!(
        in_flight.await.unwrap().is_err(),
        "the request died with the process"
    );

    let second = Instance::start(&vars, dir.path()).await;
    let shopper = shopper.at(&second.base);
    let started = Instant::now();
    let res = shopper.callback("the-code", &state).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "answered at once, not after the timeouts"
    );
    assert_eq!(
        (res.status().as_u16(), location(&res)),
        (303, "/".to_owned())
    );
    assert_failure_notice(&shopper, &res).await;
    assert_eq!(idme.token_calls(), 1, "the code is not exchanged again");
    // "Try again" starts a fresh authorization, which works.
    idme.on_token(Reply::Json(200, TOKEN_OK.into()));
    let state = start(&shopper).await;
    assert_eq!(shopper.callback("code-2", &state).await.status(), 303);
    assert_verified(&shopper.home().await.1, "SALUTE15");
}
