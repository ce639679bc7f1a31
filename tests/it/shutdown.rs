//! SIGTERM: the process stops accepting, lets requests in flight finish within
//! `PERKGATE_SHUTDOWN_GRACE_SECS`, and exits; past the grace period it exits anyway.

use std::time::{Duration, Instant};

use crate::harness::fake_idme::{FakeIdme, Reply, TOKEN_OK};
use crate::harness::process::Instance;
use crate::harness::*;

async fn slow_instance(
    grace: &str,
    delay: Duration,
    dir: &std::path::Path,
) -> (Instance, FakeIdme) {
    let idme = FakeIdme::start().await;
    idme.on_token(Reply::After(
        delay,
        Box::new(Reply::Json(200, TOKEN_OK.into())),
    ));
    let db = format!("sqlite://{}", dir.join("perkgate.db").display());
    let url = idme.url();
    let instance = Instance::start(
        &[
            ("PERKGATE_DATABASE_URL", db.as_str()),
            ("PERKGATE_IDME_URL", url.as_str()),
            ("PERKGATE_IDME_CLIENT_ID", "test-client"),
            ("PERKGATE_IDME_CLIENT_SECRET", "test-secret-value"),
            ("PERKGATE_IDME_TIMEOUT_MS", "20000"),
            ("PERKGATE_SHUTDOWN_GRACE_SECS", grace),
        ],
        dir,
    )
    .await;
    (instance, idme)
}

/// Starts a verification and sends its callback, which will wait on the slow token call.
async fn callback_in_flight(i: &Instance) -> tokio::task::JoinHandle<Result<u16, String>> {
    let shopper = Shopper::new(&i.base);
    let state = query_param(&shopper.start_verify("military").await, "state").unwrap();
    let url = i.url(&format!("/auth/idme/callback?code=c&state={state}"));
    tokio::spawn(async move {
        shopper
            .client()
            .get(url)
            .send()
            .await
            .map(|r| r.status().as_u16())
            .map_err(|e| e.to_string())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_requests_in_flight_finish_then_exits() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let (mut instance, idme) = slow_instance("10", Duration::from_millis(1500), dir.path()).await;
    let in_flight = callback_in_flight(&instance).await;
    while idme.token_calls() == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    instance.terminate();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // No new connections once the signal is in.
    assert!(
        reqwest::get(instance.url("/healthz")).await.is_err(),
        "still accepting"
    );
    // The callback that was in flight completes normally.
    assert_eq!(in_flight.await.unwrap(), Ok(303));
    assert_eq!(
        instance.exited_within(Duration::from_secs(5)).await,
        Some(0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_grace_period_the_process_exits_anyway() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let (mut instance, idme) = slow_instance("1", Duration::from_secs(15), dir.path()).await;
    let in_flight = callback_in_flight(&instance).await;
    while idme.token_calls() == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let started = Instant::now();
    instance.terminate();
    assert_eq!(
        instance.exited_within(Duration::from_secs(5)).await,
        Some(0)
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "exited after about the 1 s grace"
    );
    assert!(
        in_flight.await.unwrap().is_err(),
        "the unfinished request was cut off"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_waits_for_a_callback_whose_shopper_already_left() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let (mut instance, idme) = slow_instance("10", Duration::from_millis(1500), dir.path()).await;
    let shopper = Shopper::new(&instance.base);
    let state = query_param(&shopper.start_verify("military").await, "state").unwrap();
    let callback = instance.url(&format!("/auth/idme/callback?code=c&state={state}"));
    // The shopper's connection drops while the token call is under way...
    let cut = shopper
        .client()
        .get(&callback)
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(
        cut.is_err_and(|e| e.is_timeout()),
        "the callback was cut off"
    );
    assert_eq!(idme.token_calls(), 1);
    // ...then the process is told to stop: it finishes that verification before exiting.
    instance.terminate();
    assert_eq!(
        instance.exited_within(Duration::from_secs(8)).await,
        Some(0)
    );
    assert_eq!(idme.attributes_calls(), 1, "the exchange ran to its end");

    // Restarted, the shopper's retry goes straight home verified: nothing was abandoned.
    let db = format!("sqlite://{}", dir.path().join("perkgate.db").display());
    let url = idme.url();
    let restarted = Instance::start(
        &[
            ("PERKGATE_DATABASE_URL", db.as_str()),
            ("PERKGATE_IDME_URL", url.as_str()),
            ("PERKGATE_IDME_CLIENT_ID", "test-client"),
            ("PERKGATE_IDME_CLIENT_SECRET", "test-secret-value"),
        ],
        dir.path(),
    )
    .await;
    let shopper = shopper.at(&restarted.base);
    let retry = shopper
        .get(&restarted.url(&format!("/auth/idme/callback?code=c&state={state}")))
        .await;
    assert_eq!(retry.status(), 303);
    assert_verified(&shopper.home().await.1, "SALUTE15");
    assert_eq!(idme.token_calls(), 1, "the code was exchanged once");
}
