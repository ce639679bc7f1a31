//! Rate limits over HTTP: starts counted per browser under a per-address ceiling, the callback
//! under a flood ceiling only, prefetches free, and 429 pages that say the wait `Retry-After`
//! says. Every test here shares 127.0.0.1 between its shoppers, as a campus shares one NAT
//! address, and holds `serial()`: refills are timed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::harness::*;

/// `Retry-After` in seconds, and the page's text.
async fn refusal(res: reqwest::Response) -> (u64, String) {
    assert_eq!(res.status(), 429);
    let wait = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    (wait, res.text().await.unwrap())
}

fn says_wait(page: &str, seconds: u64) -> bool {
    let unit = if seconds == 1 { "second" } else { "seconds" };
    page.contains(&format!("Please wait {seconds} {unit},"))
}

/// One shopper's whole flow through the sandbox; `Err` says where a limit (or anything else)
/// stopped it.
async fn complete_flow(shopper: &Shopper) -> Result<(), String> {
    let csrf = shopper.csrf().await;
    let res = shopper.post_csrf("/verify/military", &csrf).await;
    if res.status() != 303 {
        return Err(format!("start: {}", res.status()));
    }
    let callback = shopper
        .sandbox_pick(&location(&res), "service_member")
        .await;
    let res = shopper.get(&callback).await;
    if res.status() != 303 {
        return Err(format!("callback: {}", res.status()));
    }
    let benefit = shopper.benefit().await;
    match benefit["benefit"]["code"].as_str() {
        Some("SALUTE15") => Ok(()),
        _ => Err(format!("no benefit: {benefit}")),
    }
}

#[tokio::test]
async fn three_hundred_shoppers_behind_one_address_verify_within_a_minute_by_default() {
    let _serial = serial().await;
    let app = Arc::new(spawn_with(Options::default().default_rate_limits()).await);
    const SHOPPERS: usize = 300;
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..12)
        .map(|_| {
            let (app, next) = (app.clone(), next.clone());
            tokio::spawn(async move {
                let mut failures = Vec::new();
                while next.fetch_add(1, Ordering::SeqCst) < SHOPPERS {
                    // A browser of its own: a new cookie jar.
                    if let Err(why) = complete_flow(&app.shopper()).await {
                        failures.push(why);
                    }
                }
                failures
            })
        })
        .collect();
    let mut failures = Vec::new();
    for worker in workers {
        let left = Duration::from_secs(60).saturating_sub(started.elapsed());
        let done = tokio::time::timeout(left, worker)
            .await
            .expect("300 flows within a minute")
            .unwrap();
        failures.extend(done);
    }
    let elapsed = started.elapsed();
    eprintln!("{SHOPPERS} flows from one address in {elapsed:?}");
    assert!(
        failures.is_empty(),
        "{} refused: {failures:?}",
        failures.len()
    );
    assert_eq!(app.token_calls(), SHOPPERS as u64);
}

#[tokio::test]
async fn one_browser_hammering_the_verify_button_is_limited_alone() {
    let _serial = serial().await;
    let app = spawn_with(Options::default().default_rate_limits()).await;
    let hammer = app.shopper();
    let csrf = hammer.csrf().await;
    let mut statuses = Vec::new();
    for _ in 0..40 {
        let res = hammer.post_csrf("/verify", &csrf).await;
        statuses.push(res.status().as_u16());
        if res.status() == 429 {
            let (wait, page) = refusal(res).await;
            assert!(
                says_wait(&page, wait),
                "{wait} s, but the page says:\n{page}"
            );
        }
    }
    // Its burst of 10 (a token every 2 s may arrive meanwhile), then refused.
    assert_eq!(statuses[..10], [303; 10], "{statuses:?}");
    assert!(
        statuses.iter().filter(|s| **s == 429).count() >= 25,
        "{statuses:?}"
    );
    assert_eq!(statuses.last(), Some(&429));
    // Another browser behind the same address is not held back, nor a third one.
    for _ in 0..2 {
        complete_flow(&app.shopper()).await.unwrap();
    }
    // The hammering browser still is.
    assert_eq!(hammer.post_csrf("/verify", &csrf).await.status(), 429);
}

#[tokio::test]
async fn one_address_cannot_flood_with_fresh_browsers() {
    let _serial = serial().await;
    // Five a minute: one more every 12 s, far longer than this test.
    let app = spawn_with(
        Options::default()
            .default_rate_limits()
            .var("PERKGATE_RATE_LIMIT_ADDRESS_PER_MINUTE", "5"),
    )
    .await;
    for _ in 0..5 {
        let shopper = app.shopper();
        let csrf = shopper.csrf().await;
        assert_eq!(
            shopper.post_csrf("/verify/military", &csrf).await.status(),
            303
        );
    }
    let sixth = app.shopper();
    let csrf = sixth.csrf().await;
    let (wait, page) = refusal(sixth.post_csrf("/verify/military", &csrf).await).await;
    assert!((1..=12).contains(&wait), "{wait}");
    assert!(
        says_wait(&page, wait) && page.contains("your network"),
        "{page}"
    );
}

#[tokio::test]
async fn a_browser_is_limited_with_a_page_that_says_the_wait_retry_after_says() {
    let _serial = serial().await;
    // One token a second after the burst: five requests must not take a second.
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
            assert_eq!(res.headers()["cache-control"], "no-store");
            let (wait, page) = refusal(res).await;
            assert_eq!(wait, 1);
            assert!(page.contains("Too many attempts") && page.contains("data-testid=\"message\""));
            assert!(says_wait(&page, 1), "{page}");
            assert!(!page.contains("a minute"), "{page}");
        }
    }
    assert_eq!(statuses, [303, 303, 303, 429, 429]);
    // Pages that only read are not limited.
    assert_eq!(app.home().await.0, 200);

    // A longer wait is said as it is: one start every 10 s.
    let app = spawn_with(
        Options::default()
            .var("PERKGATE_RATE_LIMIT_PER_MINUTE", "6")
            .var("PERKGATE_RATE_LIMIT_BURST", "1"),
    )
    .await;
    let csrf = app.csrf().await;
    assert_eq!(app.post_csrf("/verify/military", &csrf).await.status(), 303);
    let (wait, page) = refusal(app.post_csrf("/verify/military", &csrf).await).await;
    assert!((9..=10).contains(&wait), "{wait}");
    assert!(
        says_wait(&page, wait),
        "{wait} s, but the page says:\n{page}"
    );
}

#[tokio::test]
async fn a_rate_limited_callback_keeps_its_state_and_works_on_reload() {
    let _serial = serial().await;
    // Twenty at once, then one every 3 s.
    let app = spawn_with(
        Options::default()
            .default_rate_limits()
            .var("PERKGATE_RATE_LIMIT_CALLBACK_PER_MINUTE", "20"),
    )
    .await;
    let shopper = app.shopper();
    let authorize = shopper.start_verify("military").await;
    let callback = shopper.sandbox_pick(&authorize, "service_member").await;
    // A flood from the same address spends the callback's budget (junk, refused as such).
    let flood = app.shopper();
    for _ in 0..20 {
        let res = flood.get("/auth/idme/callback?code=x&state=junk").await;
        assert_eq!(res.status(), 400);
    }
    let (wait, page) = refusal(shopper.get(&callback).await).await;
    assert!((1..=3).contains(&wait), "{wait}");
    assert!(
        says_wait(&page, wait) && page.contains("reload this page"),
        "{page}"
    );
    // Refused before anything: no code exchanged, the state not begun.
    assert_eq!(app.token_calls(), 0);

    tokio::time::sleep(Duration::from_secs(wait)).await;
    let res = shopper.get(&callback).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/");
    assert_verified(&shopper.home().await.1, "SALUTE15");
    assert_eq!(app.token_calls(), 1);
}

#[tokio::test]
async fn prefetches_of_the_callback_spend_no_budget() {
    let _serial = serial().await;
    // Three at once, then one every 20 s.
    let app = spawn_with(
        Options::default()
            .default_rate_limits()
            .var("PERKGATE_RATE_LIMIT_CALLBACK_PER_MINUTE", "3"),
    )
    .await;
    let shopper = app.shopper();
    let authorize = shopper.start_verify("military").await;
    let callback = shopper.sandbox_pick(&authorize, "service_member").await;
    let prefetch = |name: &'static str| {
        let request = shopper.client().get(&callback).header(name, "prefetch");
        async move { request.send().await.unwrap().status() }
    };
    for _ in 0..5 {
        assert_eq!(prefetch("sec-purpose").await, 204);
        assert_eq!(prefetch("purpose").await, 204);
    }
    assert_eq!(app.token_calls(), 0);
    // Ten prefetches later, the budget of three is whole: two junk callbacks and the real one.
    for _ in 0..2 {
        assert_eq!(
            shopper
                .get("/auth/idme/callback?code=x&state=junk")
                .await
                .status(),
            400
        );
    }
    assert_eq!(shopper.get(&callback).await.status(), 303);
    assert_verified(&shopper.home().await.1, "SALUTE15");
    // Spent: a callback is refused, and a prefetch is still answered before the limit.
    assert_eq!(
        shopper
            .get("/auth/idme/callback?code=x&state=junk")
            .await
            .status(),
        429
    );
    assert_eq!(prefetch("sec-purpose").await, 204);
    assert_eq!(app.token_calls(), 1);
}
