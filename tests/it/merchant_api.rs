//! The merchant API over HTTP on the real app and database: keys (missing, wrong, revoked,
//! scoped, last use), lookups, redemptions exactly once (also 200 at once, on SQLite and on
//! PostgreSQL when configured), `Idempotency-Key` replays, the events feed's pages, problem
//! details, body limits, the brute-force limit and the OpenAPI document.

use std::collections::BTreeSet;
use std::sync::Arc;

use perkgate::admin::api_keys::{self, Scope};
use perkgate::rewards::{self, Claim};
use perkgate::rules::{EXAMPLE_RULES, Offer, parse};
use serde_json::{Value, json};

use crate::harness::stores::fresh_postgres;
use crate::harness::{Options, TestApp, spawn_app, spawn_with};

const PROBLEM: &str = "application/problem+json";

fn teachers() -> Offer {
    parse("rules.toml", EXAMPLE_RULES, None)
        .unwrap()
        .rules
        .offer("teachers")
        .unwrap()
        .clone()
}

/// A new generated code, claimed through the ledger as a shopper's unlock does.
async fn issue(app: &TestApp, person: &str) -> String {
    let (db, offer) = (app.db().await, teachers());
    match rewards::claim(&db, &offer, person, perkgate::clock::now())
        .await
        .unwrap()
    {
        Claim::Issued {
            code: Some(code), ..
        } => code,
        other => panic!("expected a code, got {other:?}"),
    }
}

async fn key(app: &TestApp, name: &str, scope: Scope) -> (i64, String) {
    let (key, secret) = api_keys::create(&app.db().await, name, scope, "test", 0)
        .await
        .unwrap();
    (key.id, secret)
}

struct Api {
    base: String,
    key: String,
    http: reqwest::Client,
}

impl Api {
    fn new(app: &TestApp, key: &str) -> Self {
        Self {
            base: app.url(""),
            key: key.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .send()
            .await
            .unwrap()
    }

    async fn redeem(&self, code: &str, body: Value, idem: Option<&str>) -> reqwest::Response {
        let mut req = self
            .http
            .post(format!("{}/api/v1/merchant/codes/{code}/redeem", self.base))
            .bearer_auth(&self.key)
            .json(&body);
        if let Some(k) = idem {
            req = req.header("idempotency-key", k);
        }
        req.send().await.unwrap()
    }
}

fn order(id: &str, amount: &str) -> Value {
    json!({"order_id": id, "amount": amount, "currency": "USD"})
}

/// A problem's status, content type and type URI, and its body.
async fn problem(res: reqwest::Response, status: u16, kind: &str) -> Value {
    assert_eq!(res.status(), status);
    assert_eq!(res.headers()["content-type"], PROBLEM);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["type"],
        format!("urn:perkgate:problem:{kind}"),
        "{body}"
    );
    assert_eq!(body["status"], status);
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    body
}

#[tokio::test]
async fn keys_are_required_checked_scoped_and_revocable_and_their_use_is_noted() {
    let app = spawn_app().await;
    let code = issue(&app, "p1").await;
    let path = format!("/api/v1/merchant/codes/{code}");
    let http = reqwest::Client::new();
    for auth in [
        None,
        Some("Basic dXNlcjpwYXNz"),
        Some("Bearer pk_live_nope"),
    ] {
        let mut req = http.get(app.url(&path));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let res = req.send().await.unwrap();
        assert_eq!(
            res.headers()["www-authenticate"],
            "Bearer realm=\"perkgate\""
        );
        problem(res, 401, "unauthorized").await;
    }
    let (read_id, read) = key(&app, "reader", Scope::Read).await;
    let reader = Api::new(&app, &read);
    assert_eq!(reader.get(&path).await.status(), 200);
    let db = app.db().await;
    let used = api_keys::by_id(&db, read_id).await.unwrap().unwrap();
    assert!(used.last_used_at.is_some_and(|t| t > 0), "{used:?}");
    // A read key cannot redeem; the code is left as it was.
    let refused = reader.redeem(&code, order("1", "1.00"), None).await;
    problem(refused, 403, "insufficient-scope").await;
    let still: Value = reader.get(&path).await.json().await.unwrap();
    assert_eq!(still["redeemed"], false);
    // Revoked: refused at once.
    api_keys::revoke(&db, read_id, perkgate::clock::now())
        .await
        .unwrap();
    problem(reader.get(&path).await, 401, "unauthorized").await;
    // The feed too.
    let res = http
        .get(app.url("/api/v1/merchant/events"))
        .send()
        .await
        .unwrap();
    problem(res, 401, "unauthorized").await;
}

#[tokio::test]
async fn failed_keys_from_one_address_are_limited() {
    let app = spawn_app().await;
    let (_, good) = key(&app, "good", Scope::Read).await;
    let wrong = Api::new(&app, &format!("pk_live_{}", "A".repeat(43)));
    for _ in 0..20 {
        assert_eq!(wrong.get("/api/v1/merchant/events").await.status(), 401);
    }
    let res = wrong.get("/api/v1/merchant/events").await;
    assert!(res.headers().contains_key("retry-after"));
    problem(res, 429, "too-many-requests").await;
    // Refused before the lookup: even a good key from that address waits out the minute.
    let res = Api::new(&app, &good).get("/api/v1/merchant/events").await;
    assert_eq!(res.status(), 429);
}

#[tokio::test]
async fn lookups_say_valid_redeemed_revoked_or_unknown_and_nothing_personal() {
    let app = spawn_app().await;
    let (_, secret) = key(&app, "shop", Scope::Redeem).await;
    let api = Api::new(&app, &secret);
    let code = issue(&app, "person-key-secret-value").await;
    let res = api.get(&format!("/api/v1/merchant/codes/{code}")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    let text = res.text().await.unwrap();
    assert!(!text.contains("person"), "{text}");
    let info: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(info["code"], code.as_str());
    assert_eq!(
        (info["valid"].clone(), info["reason"].clone()),
        (json!(true), Value::Null)
    );
    assert_eq!(info["offer_id"], "teachers");
    assert_eq!(info["offer_title"], "Teachers: 10% off");
    assert_eq!(info["discount"]["kind"], "percent");
    assert_eq!(info["discount"]["percent"], 10);
    assert_eq!(info["redeemed"], false);
    assert!(info["issued_at"].as_str().unwrap().ends_with('Z'));

    problem(
        api.get("/api/v1/merchant/codes/NOPE-123").await,
        404,
        "code-not-found",
    )
    .await;
    let bad = problem(
        api.get("/api/v1/merchant/codes/a%20b").await,
        400,
        "invalid-request",
    )
    .await;
    assert!(bad["detail"].as_str().unwrap().contains("3 to 64"));

    assert_eq!(
        api.redeem(&code, order("A-1", "20.00"), None)
            .await
            .status(),
        200
    );
    let info: Value = api
        .get(&format!("/api/v1/merchant/codes/{code}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (info["valid"].clone(), info["reason"].clone()),
        (json!(false), json!("redeemed"))
    );
    assert_eq!(info["order_id"], "A-1");
    assert!(info["redeemed_at"].is_string());

    let revoked = issue(&app, "p2").await;
    rewards::support::revoke(&app.db().await, &revoked, perkgate::clock::now())
        .await
        .unwrap();
    let info: Value = api
        .get(&format!("/api/v1/merchant/codes/{revoked}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (info["valid"].clone(), info["reason"].clone()),
        (json!(false), json!("revoked"))
    );
    let res = api.redeem(&revoked, order("A-2", "1"), None).await;
    problem(res, 409, "code-revoked").await;
}

#[tokio::test]
async fn a_code_is_redeemed_once_replayed_by_its_idempotency_key_and_counted() {
    redeemed_once(&spawn_app().await).await;
}

#[tokio::test]
async fn a_code_is_redeemed_once_replayed_by_its_idempotency_key_and_counted_on_postgres() {
    let Some(url) = fresh_postgres().await else {
        eprintln!("skipped: PERKGATE_TEST_POSTGRES_URL is not set");
        return;
    };
    redeemed_once(&spawn_with(Options::default().var("PERKGATE_DATABASE_URL", &url)).await).await;
}

async fn redeemed_once(app: &TestApp) {
    let (_, secret) = key(app, "shop", Scope::Redeem).await;
    let api = Api::new(app, &secret);
    let code = issue(app, "p1").await;

    let first = api.redeem(&code, order("1001", "59.90"), Some("k-1")).await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["content-type"], "application/json");
    assert!(!first.headers().contains_key("idempotent-replayed"));
    let first_body = first.text().await.unwrap();
    let redeemed: Value = serde_json::from_str(&first_body).unwrap();
    assert_eq!(redeemed["order_id"], "1001");
    assert_eq!(redeemed["amount"], "59.90");
    assert_eq!(redeemed["currency"], "USD");
    assert_eq!(redeemed["offer_id"], "teachers");

    // The same request with its key: the first answer, byte for byte.
    let replay = api.redeem(&code, order("1001", "59.90"), Some("k-1")).await;
    assert_eq!(replay.status(), 200);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.text().await.unwrap(), first_body);
    // The same key with another request: refused, nothing changed.
    let reused = api.redeem(&code, order("1002", "59.90"), Some("k-1")).await;
    problem(reused, 422, "idempotency-key-reused").await;

    // Without a key (or with a new one): the second redemption names the first order.
    for idem in [None, Some("k-2")] {
        let again = api.redeem(&code, order("1002", "10.00"), idem).await;
        let body = problem(again, 409, "code-redeemed").await;
        assert_eq!(body["order_id"], "1001");
        assert_eq!(body["offer_id"], "teachers");
        assert!(body["detail"].as_str().unwrap().contains("1001"));
    }
    // A 409 is replayed too.
    let replayed = api.redeem(&code, order("1002", "10.00"), Some("k-2")).await;
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");
    problem(replayed, 409, "code-redeemed").await;

    // The day's count and the conversion figures have it, once.
    let db = app.db().await;
    let day = perkgate::stats::day_of(perkgate::clock::now());
    let counts = perkgate::stats::daily(&db, day, day).await.unwrap();
    let redeemed_n: i64 = counts
        .iter()
        .filter(|c| c.event == perkgate::stats::Event::Redeemed && c.offer == "teachers")
        .map(|c| c.n)
        .sum();
    assert_eq!(redeemed_n, 1);
    let figures = rewards::redemptions::conversion(&db, day, day, [])
        .await
        .unwrap();
    let teachers = figures.iter().find(|f| f.offer_id == "teachers").unwrap();
    assert_eq!(teachers.orders, 1);
    assert_eq!(teachers.revenue_minor["USD"], 5990);
}

#[tokio::test]
async fn redemption_bodies_are_checked_and_bounded() {
    let app = spawn_app().await;
    let (_, secret) = key(&app, "shop", Scope::Redeem).await;
    let api = Api::new(&app, &secret);
    let code = issue(&app, "p1").await;
    for (body, field) in [
        (order("", "1.00"), "order_id"),
        (order("1", "1.234"), "amount"),
        (order("1", "-1"), "amount"),
        (
            json!({"order_id": "1", "amount": "1", "currency": "usd"}),
            "currency",
        ),
    ] {
        let res = api.redeem(&code, body, None).await;
        let p = problem(res, 400, "invalid-request").await;
        assert_eq!(p["field"], field);
    }
    // A number is not an amount here: strings only.
    let res = api
        .redeem(
            &code,
            json!({"order_id": "1", "amount": 1.5, "currency": "USD"}),
            None,
        )
        .await;
    problem(res, 400, "invalid-request").await;
    let url = app.url(&format!("/api/v1/merchant/codes/{code}/redeem"));
    let http = reqwest::Client::new();
    let res = http
        .post(&url)
        .bearer_auth(&secret)
        .header("content-type", "text/plain")
        .body("order")
        .send()
        .await
        .unwrap();
    problem(res, 415, "unsupported-media-type").await;
    let big = json!({"order_id": "x".repeat(5000), "amount": "1", "currency": "USD"});
    let res = http
        .post(&url)
        .bearer_auth(&secret)
        .json(&big)
        .send()
        .await
        .unwrap();
    problem(res, 413, "payload-too-large").await;
    // Nothing of this redeemed it.
    let info: Value = api
        .get(&format!("/api/v1/merchant/codes/{code}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["redeemed"], false);
    // Routes the router refuses answer problem details as well.
    let res = http
        .delete(app.url("/api/v1/merchant/events"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    problem(res, 405, "method-not-allowed").await;
}

async fn two_hundred_at_once(app: &TestApp) {
    let (_, secret) = key(app, "shop", Scope::Redeem).await;
    let code = issue(app, "p1").await;
    let api = Arc::new(Api::new(app, &secret));
    let mut tasks = Vec::new();
    for i in 0..200 {
        let (api, code) = (api.clone(), code.clone());
        tasks.push(async move {
            let res = api
                .redeem(&code, order(&format!("order-{i}"), "5.00"), None)
                .await;
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap())
        });
    }
    let answers = futures_join_all(tasks).await;
    let wins: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == 200)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(wins.len(), 1, "{answers:?}");
    let winner = wins[0]["order_id"].as_str().unwrap();
    for (status, body) in &answers {
        if *status != 200 {
            assert_eq!(*status, 409, "{body}");
            assert_eq!(body["order_id"], winner);
        }
    }
    match rewards::redemptions::lookup(&app.db().await, &code)
        .await
        .unwrap()
    {
        rewards::redemptions::Lookup::Found(state) => {
            assert_eq!(state.redemption.unwrap().order_id, winner);
        }
        other => panic!("{other:?}"),
    }
}

/// Runs the futures at once on this runtime, each as a task.
async fn futures_join_all<F, T>(futures: Vec<F>) -> Vec<T>
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_parallel_redemptions_of_one_code_give_one_success_on_sqlite() {
    two_hundred_at_once(&spawn_app().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_parallel_redemptions_of_one_code_give_one_success_on_postgres() {
    let Some(url) = fresh_postgres().await else {
        eprintln!("skipped: PERKGATE_TEST_POSTGRES_URL is not set");
        return;
    };
    let app = spawn_with(Options::default().var("PERKGATE_DATABASE_URL", &url)).await;
    two_hundred_at_once(&app).await;
}

#[tokio::test]
async fn the_feed_pages_through_unlocks_and_redemptions_without_gaps_or_repeats() {
    let app = spawn_app().await;
    let (_, secret) = key(&app, "shop", Scope::Read).await;
    let (_, redeemer) = key(&app, "redeemer", Scope::Redeem).await;
    let api = Api::new(&app, &secret);
    let mut codes = Vec::new();
    for i in 0..7 {
        codes.push(issue(&app, &format!("p{i}")).await);
    }
    let redeem = Api::new(&app, &redeemer);
    for (i, code) in codes.iter().enumerate().filter(|(i, _)| i % 3 == 0) {
        let res = redeem
            .redeem(code, order(&format!("o{i}"), "1.00"), None)
            .await;
        assert_eq!(res.status(), 200);
    }
    let mut seen = Vec::new();
    let mut path = "/api/v1/merchant/events?limit=2".to_owned();
    loop {
        let res = api.get(&path).await;
        assert_eq!(res.status(), 200);
        let page: Value = res.json().await.unwrap();
        let events = page["events"].as_array().unwrap();
        assert!(events.len() <= 2);
        for e in events {
            seen.push(format!(
                "{} {}",
                e["type"].as_str().unwrap(),
                e["code"].as_str().unwrap()
            ));
            if e["type"] == "redeemed" {
                assert_eq!(e["amount"], "1.00");
                assert!(e["order_id"].as_str().unwrap().starts_with('o'));
            }
        }
        let next = page["next"].as_str().unwrap().to_owned();
        path = format!("/api/v1/merchant/events?limit=2&since={next}");
        if page["has_more"] == false {
            break;
        }
    }
    assert_eq!(seen.len(), 7 + 3, "{seen:?}");
    assert_eq!(
        seen.iter().collect::<BTreeSet<_>>().len(),
        seen.len(),
        "{seen:?}"
    );
    for code in &codes {
        let unlocked = seen
            .iter()
            .position(|s| *s == format!("unlocked {code}"))
            .unwrap();
        if let Some(r) = seen.iter().position(|s| *s == format!("redeemed {code}")) {
            assert!(r > unlocked, "{seen:?}");
        }
    }
    // Polling from the last cursor: nothing, then what is new.
    let empty: Value = api.get(&path).await.json().await.unwrap();
    assert_eq!(empty["events"], json!([]));
    issue(&app, "late").await;
    let new: Value = api.get(&path).await.json().await.unwrap();
    assert_eq!(new["events"].as_array().unwrap().len(), 1);

    for bad in ["limit=0", "limit=501", "limit=ten", "since=not-ours"] {
        let res = api.get(&format!("/api/v1/merchant/events?{bad}")).await;
        problem(res, 400, "invalid-request").await;
    }
}

#[tokio::test]
async fn a_shoppers_unlock_is_in_the_feed_and_looked_up() {
    let app = spawn_app().await;
    let (_, secret) = key(&app, "shop", Scope::Read).await;
    let api = Api::new(&app, &secret);
    app.verify_as("teacher", "teacher").await;
    let code = app.benefit().await["benefit"]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(code.starts_with("TEACH-"), "{code}");
    let feed: Value = api
        .get("/api/v1/merchant/events")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(feed["events"][0]["type"], "unlocked");
    assert_eq!(feed["events"][0]["code"], code.as_str());
    assert_eq!(feed["events"][0]["offer_id"], "teachers");
    let info: Value = api
        .get(&format!("/api/v1/merchant/codes/{code}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["valid"], true);
}

#[tokio::test]
async fn the_openapi_document_is_served_and_lists_every_route() {
    let app = spawn_app().await;
    let res = reqwest::get(app.url("/api/openapi.json")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    let doc: Value = res.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."));
    let paths: BTreeSet<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        paths,
        BTreeSet::from([
            "/api/v1/merchant/codes/{code}",
            "/api/v1/merchant/codes/{code}/redeem",
            "/api/v1/merchant/events",
        ])
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["type"],
        "http"
    );
    assert!(doc["components"]["schemas"]["ProblemDetails"].is_object());
}
