//! Store outages: Redis (sessions) or PostgreSQL (ledger) cut away mid-run through a TCP
//! proxy, then brought back. Shoppers get a clear "try again shortly" page, `/readyz` turns
//! 503, nothing stored is lost, and service resumes without a restart. Needs
//! `PERKGATE_TEST_POSTGRES_URL` and `PERKGATE_TEST_REDIS_URL` (CI sets both).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::harness::fake_idme::FakeIdme;
use crate::harness::proxy::Proxy;
use crate::harness::*;

fn socket_of(url: &str) -> SocketAddr {
    let url = reqwest::Url::parse(url).unwrap();
    let host = url.host_str().unwrap();
    let host = if host == "localhost" {
        "127.0.0.1"
    } else {
        host
    };
    let port = url.port().unwrap_or(if url.scheme().starts_with("redis") {
        6379
    } else {
        5432
    });
    format!("{host}:{port}").parse().unwrap()
}

fn via(url: &str, proxy: &Proxy) -> String {
    let mut url = reqwest::Url::parse(url).unwrap();
    url.set_ip_host(proxy.addr.ip()).unwrap();
    url.set_port(Some(proxy.addr.port())).unwrap();
    url.to_string()
}

struct Setup {
    app: TestApp,
    idme: FakeIdme,
    redis: Proxy,
    postgres: Proxy,
}

async fn setup() -> Option<Setup> {
    let (Some(db_url), Some(redis_url)) = (stores::fresh_postgres().await, stores::redis()) else {
        return None;
    };
    let redis = Proxy::start(socket_of(&redis_url)).await;
    let postgres = Proxy::start(socket_of(&db_url)).await;
    let idme = FakeIdme::start().await;
    let app = spawn_with(
        Options::default()
            .idme(&idme.url())
            .var("PERKGATE_DATABASE_URL", &via(&db_url, &postgres))
            .var("PERKGATE_SESSION_URL", &via(&redis_url, &redis)),
    )
    .await;
    Some(Setup {
        app,
        idme,
        redis,
        postgres,
    })
}

impl Setup {
    /// A verification through the fake ID.me, by `shopper`.
    async fn verify(&self, shopper: &Shopper) -> reqwest::Response {
        let authorize = shopper.start_verify("military").await;
        let state = query_param(&authorize, "state").unwrap();
        shopper.callback("c", &state).await
    }

    async fn ready(&self) -> (u16, serde_json::Value) {
        let res = reqwest::get(self.app.url("/readyz")).await.unwrap();
        (res.status().as_u16(), res.json().await.unwrap())
    }
}

/// Retries `GET /` (bounded) until it answers 200.
async fn until_served(shopper: &Shopper) -> String {
    let started = Instant::now();
    loop {
        let (status, page) = shopper.home().await;
        if status == 200 {
            return page;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no recovery within 30 s: {status}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_redis_gives_a_clear_page_and_service_resumes_with_sessions_intact() {
    let _serial = serial().await;
    let Some(s) = setup().await else { return };
    let shopper = s.app.shopper();
    assert_eq!(s.verify(&shopper).await.status(), 303);
    assert_verified(&shopper.home().await.1, "SALUTE15");

    s.redis.cut();
    // The read cache may answer `GET /` for up to PERKGATE_SESSION_CACHE_MS (1 s) with the
    // session this instance just read; past that, the store's absence shows.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let started = Instant::now();
    let res = shopper.get("/").await;
    assert_eq!(res.status(), 503);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "a bounded wait, not a hang"
    );
    let page = res.text().await.unwrap();
    assert!(page.contains("Please try again shortly"), "{page}");
    assert!(page.contains("data-testid=\"correlation-id\""));
    let (status, detail) = s.ready().await;
    assert_eq!(status, 503);
    assert_eq!(detail["sessions"], "unreachable");
    assert_eq!(detail["database"], "ok");

    s.redis.restore();
    // Back by itself, and the verified session is still there.
    assert_verified(&until_served(&shopper).await, "SALUTE15");
    assert_eq!(s.ready().await.0, 200);
    assert_eq!(s.idme.token_calls(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_postgres_gives_a_clear_page_and_service_resumes() {
    let _serial = serial().await;
    let Some(s) = setup().await else { return };
    let shopper = s.app.shopper();
    assert_eq!(s.verify(&shopper).await.status(), 303);

    s.postgres.cut();
    // Sessions live in Redis: the verified shopper still sees the discount.
    assert_verified(&shopper.home().await.1, "SALUTE15");
    let (status, detail) = s.ready().await;
    assert_eq!(status, 503);
    assert_eq!(detail["database"], "unreachable");
    // A new verification needs the ledger: a clear page, not a 500 without explanation.
    let other = s.app.shopper();
    let res = s.verify(&other).await;
    assert_eq!(res.status(), 503);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Please try again shortly")
    );

    s.postgres.restore();
    let started = Instant::now();
    while s.ready().await.0 != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "database never came back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let third = s.app.shopper();
    assert_eq!(s.verify(&third).await.status(), 303);
    assert_verified(&third.home().await.1, "SALUTE15");
    // What was stored before the outage is still there.
    assert_verified(&shopper.home().await.1, "SALUTE15");
}
