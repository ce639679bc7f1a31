//! Signed webhooks end to end: a real receiver on loopback verifies every request with the
//! Standard Webhooks reference library (`standardwebhooks`). The events arrive from a shopper's
//! unlock, pool claims, a merchant-API redemption and a publish; through a receiver that is
//! down for a minute, slow, answering 500, and then back, every event arrives, and a repeat
//! always carries the same `webhook-id` and body; deliveries pending at a kill -9 arrive after
//! the restart; SSRF targets are refused at registration and at delivery; on PostgreSQL two
//! instances never send one delivery twice.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use perkgate::config::WebhookSettings;
use perkgate::db::Db;
use perkgate::rewards::{self, Claim};
use perkgate::rules::{EXAMPLE_RULES, Offer, parse};
use perkgate::webhooks::{EventType, endpoints};
use serde_json::Value;

use crate::harness::process::{Instance, free_port};
use crate::harness::stores::fresh_postgres;
use crate::harness::{Options, spawn_with};

/// How the receiver answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Ok,
    Fail,
    /// Answers 200 only after this long (beyond the deliverer's timeout).
    Slow(Duration),
}

/// One request the receiver verified.
#[derive(Clone, Debug)]
pub(crate) struct Received {
    pub id: String,
    pub body: String,
    pub answered: StatusCode,
}

#[derive(Default)]
struct Inner {
    secret: Option<String>,
    mode: Option<Mode>,
    got: Vec<Received>,
    /// Requests whose signature (or headers) the reference library refused.
    refused: Vec<String>,
}

/// A webhook receiver on a fixed loopback port, which may start late.
#[derive(Clone)]
pub(crate) struct Receiver {
    port: u16,
    inner: Arc<Mutex<Inner>>,
    task: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl Receiver {
    pub async fn start() -> Self {
        let r = Self {
            port: free_port(),
            inner: Arc::default(),
            task: Arc::default(),
        };
        r.up().await;
        r
    }

    /// Not listening yet: connections are refused.
    fn down_at_first() -> Self {
        Self {
            port: free_port(),
            inner: Arc::default(),
            task: Arc::default(),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    pub fn set_secret(&self, secret: &str) {
        self.inner.lock().unwrap().secret = Some(secret.to_owned());
    }

    fn set_mode(&self, mode: Mode) {
        self.inner.lock().unwrap().mode = Some(mode);
    }

    async fn up(&self) {
        let listener = loop {
            match tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], self.port))).await
            {
                Ok(l) => break l,
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(hook))
            .with_state(self.inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        *self.task.lock().unwrap() = Some(task);
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().got.clone()
    }

    fn refused(&self) -> Vec<String> {
        self.inner.lock().unwrap().refused.clone()
    }

    /// The ids answered 2xx, with how many times.
    pub fn delivered(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for r in self.received().iter().filter(|r| r.answered.is_success()) {
            *out.entry(r.id.clone()).or_default() += 1;
        }
        out
    }

    /// The bodies delivered (2xx), parsed, by event type.
    fn events(&self, kind: EventType) -> Vec<Value> {
        let mut seen = BTreeSet::new();
        self.received()
            .into_iter()
            .filter(|r| r.answered.is_success() && seen.insert(r.id.clone()))
            .map(|r| serde_json::from_str::<Value>(&r.body).unwrap())
            .filter(|v| v["type"] == kind.as_str())
            .collect()
    }

    /// Every request for one id carried the same body: a repeat is the same message.
    pub fn assert_repeats_are_identical(&self) {
        let mut bodies: BTreeMap<String, String> = BTreeMap::new();
        for r in self.received() {
            let first = bodies.entry(r.id.clone()).or_insert_with(|| r.body.clone());
            assert_eq!(*first, r.body, "two bodies under {}", r.id);
        }
        assert!(self.refused().is_empty(), "refused: {:?}", self.refused());
    }
}

async fn hook(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let (secret, mode) = {
        let i = inner.lock().unwrap();
        (i.secret.clone(), i.mode.unwrap_or(Mode::Ok))
    };
    let verified = secret
        .as_deref()
        .ok_or("no secret yet".to_owned())
        .and_then(|s| standardwebhooks::Webhook::new(s).map_err(|e| e.to_string()))
        .and_then(|w| w.verify(&body, &headers).map_err(|e| e.to_string()));
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if let Err(why) = verified {
        inner.lock().unwrap().refused.push(format!("{id}: {why}"));
        return StatusCode::BAD_REQUEST;
    }
    // Recorded on arrival: a slow answer is cut off by the deliverer's timeout (and its
    // handler dropped with the connection), so it is recorded as what it is, too late.
    let answered = match mode {
        Mode::Ok => StatusCode::NO_CONTENT,
        Mode::Fail => StatusCode::INTERNAL_SERVER_ERROR,
        Mode::Slow(_) => StatusCode::GATEWAY_TIMEOUT,
    };
    inner.lock().unwrap().got.push(Received {
        id,
        body: String::from_utf8(body.to_vec()).unwrap(),
        answered,
    });
    if let Mode::Slow(d) = mode {
        tokio::time::sleep(d).await;
        return StatusCode::OK;
    }
    answered
}

/// Settings for quick retries: what the apps run with.
pub(crate) const FAST: &[(&str, &str)] = &[
    ("PERKGATE_WEBHOOKS_ALLOW_HTTP", "1"),
    ("PERKGATE_WEBHOOKS_ALLOW_PRIVATE", "1"),
    ("PERKGATE_WEBHOOKS_TIMEOUT_MS", "1000"),
    ("PERKGATE_WEBHOOKS_CONNECT_TIMEOUT_MS", "500"),
    ("PERKGATE_WEBHOOKS_BACKOFF_BASE_MS", "100"),
    ("PERKGATE_WEBHOOKS_BACKOFF_CAP_MS", "1500"),
    ("PERKGATE_WEBHOOKS_LEASE_SECS", "3"),
    ("PERKGATE_WEBHOOKS_POLL_MS", "100"),
];

pub(crate) fn fast(options: Options) -> Options {
    FAST.iter().fold(options, |o, (k, v)| o.var(k, v))
}

/// What registration allows in these tests (a receiver on loopback, over http).
fn loopback_allowed() -> WebhookSettings {
    WebhookSettings {
        allow_http: true,
        allow_private: true,
        ..WebhookSettings::default()
    }
}

/// Registers `receiver` for `events` and hands it the secret.
async fn register(db: &Db, receiver: &Receiver, events: &[EventType]) -> i64 {
    let (endpoint, secret) = endpoints::create(
        db,
        &loopback_allowed(),
        &receiver.url(),
        events,
        "test",
        perkgate::clock::now(),
    )
    .await
    .unwrap();
    receiver.set_secret(&secret);
    endpoint.id
}

fn teachers() -> Offer {
    parse("rules.toml", EXAMPLE_RULES, None)
        .unwrap()
        .rules
        .offer("teachers")
        .unwrap()
        .clone()
}

/// A new generated code for `person`, claimed through the ledger as an unlock does.
pub(crate) async fn unlock(db: &Db, person: &str) -> String {
    match rewards::claim(db, &teachers(), person, perkgate::clock::now())
        .await
        .unwrap()
    {
        Claim::Issued {
            code: Some(code), ..
        } => code,
        other => panic!("expected a code, got {other:?}"),
    }
}

/// Waits (bounded) until `done` holds.
pub(crate) async fn until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The outbox's event ids, as written.
async fn event_ids(db: &Db) -> BTreeSet<String> {
    match db {
        Db::Sqlite(s) => s
            .call(|c| {
                let mut st = c.prepare("SELECT id FROM webhook_events")?;
                let ids = st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
                Ok(ids)
            })
            .await
            .unwrap(),
        Db::Postgres(p) => sqlx::query_scalar("SELECT id FROM webhook_events")
            .fetch_all(p)
            .await
            .unwrap()
            .into_iter()
            .collect(),
    }
}

#[tokio::test]
async fn every_event_arrives_signed() {
    every_event_arrives_signed_on(Options::default()).await;
}

#[tokio::test]
async fn every_event_arrives_signed_on_postgres() {
    let Some(url) = fresh_postgres().await else {
        eprintln!("skipped: PERKGATE_TEST_POSTGRES_URL is not set");
        return;
    };
    every_event_arrives_signed_on(Options::default().var("PERKGATE_DATABASE_URL", &url)).await;
}

async fn every_event_arrives_signed_on(options: Options) {
    let app = spawn_with(fast(options).rules_fixture("one-pool")).await;
    let db = app.db().await;
    let receiver = Receiver::start().await;
    register(&db, &receiver, &EventType::ALL).await;
    // Five codes, low at 3.
    let codes: Vec<String> = (1..=5).map(|i| format!("VET-{i:03}")).collect();
    rewards::import(&db, "vets", &codes, perkgate::clock::now())
        .await
        .unwrap();

    // A shopper unlocks through the flow: 4 left.
    app.verify_as("military", "service_member").await;
    let benefit = app.benefit().await;
    let code = benefit["benefit"]["code"].as_str().unwrap().to_owned();
    until("benefit.unlocked", Duration::from_secs(10), || {
        receiver.events(EventType::BenefitUnlocked).len() == 1
    })
    .await;
    let unlocked = &receiver.events(EventType::BenefitUnlocked)[0];
    assert_eq!(unlocked["data"]["offer_id"], "veterans");
    assert_eq!(unlocked["data"]["group"], "military");
    assert_eq!(unlocked["data"]["code"], code.as_str());
    assert!(unlocked["timestamp"].as_str().unwrap().ends_with('Z'));

    // Four more claims drain the pool: one `pool.low` (at 3), one `pool.empty`.
    let rules = parse(
        "rules.toml",
        &crate::harness::rules_fixture("one-pool"),
        None,
    )
    .unwrap()
    .rules;
    let veterans = rules.offer("veterans").unwrap();
    let mut issued = Vec::new();
    for i in 0..5 {
        let person = format!("person-{i}");
        let claim = rewards::claim_from(&db, &rules, veterans, &person, perkgate::clock::now())
            .await
            .unwrap();
        if let Claim::Issued {
            code: Some(code), ..
        } = claim
        {
            issued.push(code);
        }
    }
    assert_eq!(issued.len(), 4, "the pool had four codes left");
    until("pool.empty", Duration::from_secs(10), || {
        receiver.events(EventType::PoolEmpty).len() == 1
    })
    .await;
    let low = receiver.events(EventType::PoolLow);
    assert_eq!(low.len(), 1, "{low:?}");
    assert_eq!(low[0]["data"]["pool"], "vets");
    assert_eq!(low[0]["data"]["remaining"], 3);
    assert_eq!(low[0]["data"]["threshold"], 3);
    assert_eq!(
        receiver.events(EventType::PoolEmpty)[0]["data"]["pool"],
        "vets"
    );
    // The sixth claim ran out: no event for it, and none twice.
    assert_eq!(receiver.events(EventType::BenefitUnlocked).len(), 5);

    // A merchant-API redemption.
    let (_, key) = perkgate::admin::api_keys::create(
        &db,
        "shop",
        perkgate::admin::api_keys::Scope::Redeem,
        "test",
        0,
    )
    .await
    .unwrap();
    let redeemed = reqwest::Client::new()
        .post(app.url(&format!("/api/v1/merchant/codes/{code}/redeem")))
        .bearer_auth(&key)
        .json(&serde_json::json!({"order_id": "1001", "amount": "59.90", "currency": "USD"}))
        .send()
        .await
        .unwrap();
    assert_eq!(redeemed.status(), 200);
    until("code.redeemed", Duration::from_secs(10), || {
        receiver.events(EventType::CodeRedeemed).len() == 1
    })
    .await;
    let r = &receiver.events(EventType::CodeRedeemed)[0]["data"];
    assert_eq!(r["code"], code.as_str());
    assert_eq!(r["order_id"], "1001");
    assert_eq!(r["amount"], "59.90");
    assert_eq!(r["amount_minor"], 5990);
    assert_eq!(r["currency"], "USD");
    assert_eq!(r["offer_id"], "veterans");

    // Codes marked redeemed from a file (the console's upload, `perkgate codes redeemed`):
    // one event per code newly marked, without an order; the code the API redeemed is not
    // marked again.
    let marked = rewards::mark_redeemed(
        &db,
        &[code.clone(), issued[0].clone()],
        perkgate::clock::now(),
    )
    .await
    .unwrap();
    assert_eq!(marked, 1);
    until("code.redeemed by file", Duration::from_secs(10), || {
        receiver.events(EventType::CodeRedeemed).len() == 2
    })
    .await;
    let r = &receiver.events(EventType::CodeRedeemed)[1]["data"];
    assert_eq!(r["code"], issued[0].as_str());
    assert_eq!(r["offer_id"], "veterans");
    for field in ["order_id", "amount", "amount_minor", "currency"] {
        assert!(r[field].is_null(), "{field}: {r}");
    }

    // A publish.
    let version = perkgate::rules::versions::publish_latest(
        &db,
        &crate::harness::rules_fixture("one-pool"),
        "owner@example.com",
        "spring",
        perkgate::clock::now(),
    )
    .await
    .unwrap();
    until("rules.published", Duration::from_secs(10), || {
        receiver.events(EventType::RulesPublished).len() == 1
    })
    .await;
    assert_eq!(
        receiver.events(EventType::RulesPublished)[0]["data"]["version"],
        version
    );

    // Each event once, all of them delivered; nothing personal in any.
    receiver.assert_repeats_are_identical();
    let delivered = receiver.delivered();
    assert_eq!(delivered.len(), 10, "{delivered:?}");
    assert!(delivered.values().all(|n| *n == 1), "{delivered:?}");
    assert_eq!(
        delivered.keys().cloned().collect::<BTreeSet<_>>(),
        event_ids(&db).await
    );
    for r in receiver.received() {
        for personal in ["person", "owner@example.com", "service_member"] {
            assert!(!r.body.contains(personal), "{personal} in {}", r.body);
        }
    }
    app.stop().await;
}

/// Down for a minute, then slow beyond the timeout, then answering 500, then well: every
/// event arrives, and every repeat is the same message under the same id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_survives_a_receiver_down_slow_and_failing() {
    let app = spawn_with(fast(Options::default())).await;
    let db = app.db().await;
    let receiver = Receiver::down_at_first();
    let endpoint = register(&db, &receiver, &[EventType::BenefitUnlocked]).await;

    unlock(&db, "p1").await;
    unlock(&db, "p2").await;
    tokio::time::sleep(Duration::from_secs(60)).await;
    // Tried again and again meanwhile, and not given up.
    let log = endpoints::deliveries(&db, endpoint, 10).await.unwrap();
    assert_eq!(log.len(), 2);
    for d in &log {
        assert_eq!(d.state, "pending");
        assert!(d.attempts >= 10, "{d:?}");
        assert!(
            d.last_error.as_deref().unwrap().contains("connect"),
            "{d:?}"
        );
    }

    receiver.set_mode(Mode::Slow(Duration::from_millis(1500)));
    receiver.up().await;
    unlock(&db, "p3").await;
    until("slow attempts", Duration::from_secs(20), || {
        receiver.received().len() >= 3
    })
    .await;

    receiver.set_mode(Mode::Fail);
    unlock(&db, "p4").await;
    until("failed attempts", Duration::from_secs(20), || {
        receiver
            .received()
            .iter()
            .filter(|r| r.answered == StatusCode::INTERNAL_SERVER_ERROR)
            .count()
            >= 4
    })
    .await;

    receiver.set_mode(Mode::Ok);
    unlock(&db, "p5").await;
    let ids = event_ids(&db).await;
    assert_eq!(ids.len(), 5);
    until("every event delivered", Duration::from_secs(30), || {
        ids.iter().all(|id| {
            receiver
                .received()
                .iter()
                .any(|r| &r.id == id && r.answered == StatusCode::NO_CONTENT)
        })
    })
    .await;
    receiver.assert_repeats_are_identical();
    // Nothing but our events arrived, and a repeat is always of one of them.
    let seen: BTreeSet<String> = receiver.received().into_iter().map(|r| r.id).collect();
    assert_eq!(seen, ids);
    // The log agrees (each answer is recorded just after it), and the endpoint is well again.
    let started = Instant::now();
    loop {
        let log = endpoints::deliveries(&db, endpoint, 10).await.unwrap();
        if log.iter().all(|d| d.state == "delivered") {
            assert_eq!(log.len(), 5);
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "{log:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let e = endpoints::get(&db, endpoint).await.unwrap().unwrap();
    assert!(e.enabled && e.failing_since.is_none(), "{e:?}");
    app.stop().await;
}

/// Deliveries in flight when the process is killed (their leases held) go out after the
/// restart, under the same ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_pending_at_a_kill_arrive_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}", dir.path().join("perkgate.db").display());
    let mut vars: Vec<(&str, &str)> = FAST.to_vec();
    vars.push(("PERKGATE_DATABASE_URL", &db_url));
    // A lease far longer than the test: only the restart can free what the killed one held.
    vars.retain(|(k, _)| *k != "PERKGATE_WEBHOOKS_LEASE_SECS");
    vars.push(("PERKGATE_WEBHOOKS_LEASE_SECS", "600"));
    vars.retain(|(k, _)| *k != "PERKGATE_WEBHOOKS_TIMEOUT_MS");
    vars.push(("PERKGATE_WEBHOOKS_TIMEOUT_MS", "60000"));
    let mut first = Instance::start(&vars, dir.path()).await;
    let db = perkgate::db::connect(&db_url).await.unwrap();
    let receiver = Receiver::start().await;
    // The receiver holds every request: the deliveries are in flight when the kill comes.
    receiver.set_mode(Mode::Slow(Duration::from_secs(120)));
    register(&db, &receiver, &[EventType::BenefitUnlocked]).await;
    for i in 0..3 {
        unlock(&db, &format!("p{i}")).await;
    }
    until(
        "three deliveries in flight",
        Duration::from_secs(10),
        || receiver.received().len() >= 3,
    )
    .await;
    first.kill();
    // (The held requests never answer: their handlers sleep on past the test.)
    receiver.set_mode(Mode::Ok);
    let _second = Instance::start(&vars, dir.path()).await;
    let ids = event_ids(&db).await;
    assert_eq!(ids.len(), 3);
    until(
        "every event delivered after the restart",
        Duration::from_secs(15),
        || {
            receiver
                .delivered()
                .keys()
                .cloned()
                .collect::<BTreeSet<_>>()
                == ids
        },
    )
    .await;
    receiver.assert_repeats_are_identical();
}

#[tokio::test]
async fn private_and_plain_http_targets_are_refused_at_registration() {
    let app = spawn_with(Options::default()).await;
    let db = app.db().await;
    let strict = WebhookSettings::default();
    let events = [EventType::BenefitUnlocked];
    let refused = |url: &'static str| {
        let (db, strict) = (db.clone(), strict.clone());
        async move {
            endpoints::create(&db, &strict, url, &events, "test", 0)
                .await
                .map(|_| ())
                .unwrap_err()
                .to_string()
        }
    };
    assert!(
        refused("http://hooks.example.com/x")
            .await
            .contains("https://")
    );
    for private in [
        "https://127.0.0.1/x",
        "https://[::1]/x",
        "https://10.1.2.3/x",
        "https://169.254.169.254/latest",
        "https://localhost/x",
    ] {
        let why = refused(private).await;
        assert!(why.contains("not a public address"), "{private}: {why}");
    }
    let http_only = WebhookSettings {
        allow_http: true,
        ..WebhookSettings::default()
    };
    let why = endpoints::create(&db, &http_only, "http://127.0.0.1:9/x", &events, "t", 0)
        .await
        .unwrap_err()
        .to_string();
    assert!(why.contains("not a public address"), "{why}");
    assert!(endpoints::list(&db).await.unwrap().is_empty());
    app.stop().await;
}

/// A name that resolves to loopback, registered while allowed, is refused by the deliverer's
/// resolver once private addresses are not: nothing reaches the receiver.
#[tokio::test]
async fn a_name_resolving_to_loopback_is_refused_at_delivery() {
    let app =
        spawn_with(fast(Options::default()).var("PERKGATE_WEBHOOKS_ALLOW_PRIVATE", "0")).await;
    let db = app.db().await;
    let receiver = Receiver::start().await;
    let url = format!("http://localhost:{}/hook", receiver.port);
    let (endpoint, secret) = endpoints::create(
        &db,
        &loopback_allowed(),
        &url,
        &[EventType::BenefitUnlocked],
        "test",
        0,
    )
    .await
    .unwrap();
    receiver.set_secret(&secret);
    unlock(&db, "p1").await;
    let mut log = Vec::new();
    let started = Instant::now();
    while log.is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no attempt recorded"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        log = endpoints::deliveries(&db, endpoint.id, 1)
            .await
            .unwrap()
            .into_iter()
            .filter(|d| d.attempts > 0)
            .collect();
    }
    let why = log[0].last_error.clone().unwrap();
    assert!(why.contains("refused") && why.contains("public"), "{why}");
    assert_eq!(log[0].last_status, None);
    assert!(receiver.received().is_empty());
    app.stop().await;
}

/// Two instances on one PostgreSQL database share the outbox: each delivery is sent once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_never_send_one_delivery_twice_on_postgres() {
    let Some(url) = fresh_postgres().await else {
        eprintln!("skipped: PERKGATE_TEST_POSTGRES_URL is not set");
        return;
    };
    let a = spawn_with(fast(Options::default()).var("PERKGATE_DATABASE_URL", &url)).await;
    let b = spawn_with(fast(Options::default()).var("PERKGATE_DATABASE_URL", &url)).await;
    let db = a.db().await;
    let receiver = Receiver::start().await;
    register(&db, &receiver, &[EventType::BenefitUnlocked]).await;
    let claims: Vec<_> = (0..60)
        .map(|i| {
            let db = db.clone();
            tokio::spawn(async move { unlock(&db, &format!("p{i}")).await })
        })
        .collect();
    for c in claims {
        c.await.unwrap();
    }
    let ids = event_ids(&db).await;
    assert_eq!(ids.len(), 60);
    until("every event delivered", Duration::from_secs(30), || {
        receiver.delivered().len() == 60
    })
    .await;
    // A little longer: a second send would show up now.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let received = receiver.received();
    assert_eq!(received.len(), 60, "repeats: {}", received.len() - 60);
    receiver.assert_repeats_are_identical();
    a.stop().await;
    b.stop().await;
}

/// A receiver that only ever fails: the delivery is given up after the retry period, the
/// endpoint disabled with its reason (audited, counted), and enabling it resumes.
#[tokio::test]
async fn an_endpoint_failing_too_long_is_disabled_and_its_delivery_failed() {
    let app = spawn_with(
        fast(Options::default())
            .var("PERKGATE_WEBHOOKS_RETRY_SECS", "1")
            .var("PERKGATE_WEBHOOKS_DISABLE_AFTER_SECS", "2"),
    )
    .await;
    let db = app.db().await;
    let receiver = Receiver::start().await;
    receiver.set_mode(Mode::Fail);
    let endpoint = register(&db, &receiver, &[EventType::BenefitUnlocked]).await;
    unlock(&db, "p1").await;
    let started = Instant::now();
    let e = loop {
        let e = endpoints::get(&db, endpoint).await.unwrap().unwrap();
        if !e.enabled {
            break e;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "{e:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        e.disabled_reason
            .as_deref()
            .unwrap()
            .contains("whole retry period (1 seconds)"),
        "{e:?}"
    );
    let log = endpoints::deliveries(&db, endpoint, 10).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].state, "failed", "{log:?}");
    assert!(
        log[0].attempts >= 2 && log[0].last_status == Some(500),
        "{log:?}"
    );
    let audited = perkgate::admin::audit::recent(&db, 10).await.unwrap();
    assert!(
        audited
            .iter()
            .any(|a| a.actor == "webhooks" && a.action == "webhook endpoint disabled"),
        "{audited:?}"
    );
    let metrics = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            "perkgate_webhook_attempts_total{event=\"benefit.unlocked\",result=\"failed\"}"
        ) && metrics.contains("perkgate_webhook_endpoints_disabled_total"),
        "{metrics}"
    );
    // While disabled nothing is queued for it; enabled and well, the next event arrives.
    unlock(&db, "p2").await;
    assert_eq!(
        endpoints::deliveries(&db, endpoint, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    receiver.set_mode(Mode::Ok);
    endpoints::set_enabled(&db, endpoint, true, "", perkgate::clock::now())
        .await
        .unwrap();
    unlock(&db, "p3").await;
    until(
        "the delivery after enabling",
        Duration::from_secs(10),
        || !receiver.delivered().is_empty(),
    )
    .await;
    receiver.assert_repeats_are_identical();
    app.stop().await;
}

/// Two offers drawing on one pool, claimed at once: the pool crosses its threshold and runs
/// out exactly once each, so `pool.low` and `pool.empty` are written once each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_pool_tells_each_crossing_once_under_a_rush() {
    let dir = tempfile::tempdir().unwrap();
    let mut urls = vec![format!("sqlite://{}", dir.path().join("p.db").display())];
    match fresh_postgres().await {
        Some(url) => urls.push(url),
        None => eprintln!("PostgreSQL part skipped: PERKGATE_TEST_POSTGRES_URL is not set"),
    }
    let rules = parse(
        "rules.toml",
        r#"
[pools.shared]
low_threshold = 5

[[offers]]
id = "first"
title = "First: 10% off"
groups = ["military"]
percent = 10
code = { pool = "shared" }

[[offers]]
id = "second"
title = "Second: 5% off"
groups = ["military"]
percent = 5
code = { pool = "shared" }
"#,
        None,
    )
    .unwrap()
    .rules;
    for url in urls {
        let db = perkgate::db::connect(&url).await.unwrap();
        let (_, _) = endpoints::create(
            &db,
            &loopback_allowed(),
            "http://127.0.0.1:9/hook",
            &[EventType::PoolLow, EventType::PoolEmpty],
            "test",
            0,
        )
        .await
        .unwrap();
        let codes: Vec<String> = (0..20).map(|i| format!("SHARED-{i:02}")).collect();
        rewards::import(&db, "shared", &codes, 0).await.unwrap();
        let claims: Vec<_> = (0..40)
            .map(|i| {
                let (db, rules) = (db.clone(), rules.clone());
                tokio::spawn(async move {
                    let offer = rules
                        .offer(if i % 2 == 0 { "first" } else { "second" })
                        .unwrap();
                    let person = format!("p{i}");
                    rewards::claim_from(&db, &rules, offer, &person, perkgate::clock::now())
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut issued = 0;
        for c in claims {
            if matches!(c.await.unwrap(), Claim::Issued { .. }) {
                issued += 1;
            }
        }
        assert_eq!(issued, 20, "{url}");
        let types: Vec<String> = match &db {
            Db::Sqlite(s) => s
                .call(|c| {
                    let mut st = c.prepare("SELECT type FROM webhook_events ORDER BY type")?;
                    let t = st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
                    Ok(t)
                })
                .await
                .unwrap(),
            Db::Postgres(p) => sqlx::query_scalar("SELECT type FROM webhook_events ORDER BY type")
                .fetch_all(p)
                .await
                .unwrap(),
        };
        assert_eq!(types, ["pool.empty", "pool.low"], "{}", db.backend());
    }
}
