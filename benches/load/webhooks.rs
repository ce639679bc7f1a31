//! The webhooks scenario (`BENCH_SCENARIOS=webhooks`): `BENCH_WEBHOOKS_EVENTS` events
//! (default 5,000) already in the outbox of a fresh SQLite database, written by as many claims
//! through the ledger before perkgate starts, for one endpoint: a receiver in this process on
//! loopback that verifies every signature with the Standard Webhooks reference library and
//! answers 204. perkgate then starts and drains the backlog: deliveries per second from its
//! first 200 on `/healthz` to the last delivery, and its CPU per delivery.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

use ::perkgate::config::WebhookSettings;
use ::perkgate::rewards::{self, Claim};
use ::perkgate::rules::{EXAMPLE_RULES, parse};
use ::perkgate::webhooks::{EventType, endpoints};

use crate::fake_idme::FakeIdme;
use crate::perkgate::start_perkgate_with;
use crate::procfs::cpu_ticks;
use crate::settings::Settings;

/// Upper bound on the drain, whatever the count.
const DRAIN_LIMIT: Duration = Duration::from_secs(600);

#[derive(Default)]
struct Received {
    secret: String,
    ids: HashSet<String>,
    requests: u64,
    bad_signatures: u64,
    last: Option<Instant>,
}

type Shared = Arc<Mutex<Received>>;

async fn hook(State(r): State<Shared>, headers: HeaderMap, body: axum::body::Bytes) -> StatusCode {
    let secret = r.lock().unwrap().secret.clone();
    let verified = standardwebhooks::Webhook::new(&secret)
        .map(|w| w.verify(&body, &headers).is_ok())
        .unwrap_or(false);
    let mut r = r.lock().unwrap();
    r.requests += 1;
    if !verified {
        r.bad_signatures += 1;
        return StatusCode::BAD_REQUEST;
    }
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    r.ids.insert(id);
    r.last = Some(Instant::now());
    StatusCode::NO_CONTENT
}

pub(crate) fn run(
    settings: &Settings,
    runtime: &tokio::runtime::Runtime,
    fake: &FakeIdme,
    dir: &Path,
) -> Result<String, String> {
    let events = std::env::var("BENCH_WEBHOOKS_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000_usize)
        .clamp(10, 1_000_000);
    let url = format!("sqlite://{}", dir.join("webhooks.db").display());
    let received: Shared = Arc::default();
    let addr = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .map_err(|e| format!("bind the receiver: {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("receiver address: {e}"))?;
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(hook))
            .with_state(received.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok::<_, String>(addr)
    })?;
    let started = Instant::now();
    runtime.block_on(backlog(&url, addr, events, &received))?;
    println!(
        "  {events} events for one endpoint written by as many claims in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let extra = [
        ("PERKGATE_WEBHOOKS_ALLOW_HTTP", "1"),
        ("PERKGATE_WEBHOOKS_ALLOW_PRIVATE", "1"),
    ];
    let run = start_perkgate_with(settings, dir, fake.addr, None, Some(&url), &extra)??;
    let ready = Instant::now();
    let ticks_before = cpu_ticks(&run.server.pid().to_string());
    let outcome = runtime.block_on(async {
        loop {
            let (done, requests) = {
                let r = received.lock().unwrap();
                (r.ids.len(), r.requests)
            };
            if done >= events {
                return Ok(requests);
            }
            if ready.elapsed() > DRAIN_LIMIT {
                return Err(format!(
                    "only {done} of {events} delivered after {DRAIN_LIMIT:?}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    let ticks = cpu_ticks(&run.server.pid().to_string()).saturating_sub(ticks_before);
    if outcome.is_err() {
        println!("  perkgate stderr:\n{}", run.server.stderr_tail());
    }
    run.server.stop();
    let requests = outcome?;
    let r = received.lock().unwrap();
    let took = r
        .last
        .map_or(Duration::ZERO, |last| last.saturating_duration_since(ready));
    let rate = events as f64 / took.as_secs_f64().max(1e-9);
    let cpu_ms = ticks as f64 * 1000.0 / settings.clk_tck / events as f64;
    Ok(format!(
        "{:<52} {events:>6} deliveries in {:>6.2} s  {rate:>8.0} deliveries/s  CPU {cpu_ms:.3} ms/delivery  repeats {}  bad signatures {}",
        "webhooks: drain a backlog (SQLite, one endpoint)",
        took.as_secs_f64(),
        requests.saturating_sub(events as u64),
        r.bad_signatures
    ))
}

/// The database, one endpoint (its secret handed to the receiver) and `events` claims, each
/// writing its `benefit.unlocked` to the outbox.
async fn backlog(
    url: &str,
    addr: SocketAddr,
    events: usize,
    received: &Shared,
) -> Result<(), String> {
    let db = ::perkgate::db::connect(url).await?;
    let open = WebhookSettings {
        allow_http: true,
        allow_private: true,
        ..WebhookSettings::default()
    };
    let (_, secret) = endpoints::create(
        &db,
        &open,
        &format!("http://{addr}/hook"),
        &[EventType::BenefitUnlocked],
        "bench",
        ::perkgate::clock::now(),
    )
    .await
    .map_err(|e| format!("register the endpoint: {e}"))?;
    received.lock().unwrap().secret = secret;
    let teachers = parse("rules.toml", EXAMPLE_RULES, None)
        .map_err(|_| "the example rules do not parse".to_owned())?
        .rules
        .offer("teachers")
        .ok_or("no teachers offer in the example rules")?
        .clone();
    let now = ::perkgate::clock::now();
    // Concurrently, so the database thread commits them in batches.
    let mut claims = tokio::task::JoinSet::new();
    for i in 0..events {
        let (db, offer) = (db.clone(), teachers.clone());
        claims.spawn(async move { rewards::claim(&db, &offer, &format!("bench-{i}"), now).await });
        if claims.len() >= 256 {
            join_one(&mut claims).await?;
        }
    }
    while !claims.is_empty() {
        join_one(&mut claims).await?;
    }
    Ok(())
}

async fn join_one(
    claims: &mut tokio::task::JoinSet<Result<Claim, ::perkgate::db::Error>>,
) -> Result<(), String> {
    match claims.join_next().await {
        Some(Ok(Ok(Claim::Issued { .. }))) | None => Ok(()),
        Some(Ok(Ok(other))) => Err(format!("a claim came to {other:?}")),
        Some(Ok(Err(e))) => Err(format!("a claim failed: {e}")),
        Some(Err(e)) => Err(format!("a claim task failed: {e}")),
    }
}
