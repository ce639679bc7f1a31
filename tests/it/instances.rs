//! Two perkgate processes sharing PostgreSQL (ledger) and Redis (sessions), as behind a load
//! balancer: a flow may start on one and finish on the other, a replay on either makes no
//! second call to ID.me, limits and pools hold across both, a reset on one is seen on the
//! other. Needs `PERKGATE_TEST_POSTGRES_URL` and `PERKGATE_TEST_REDIS_URL` (CI sets both).

use crate::harness::fake_idme::{FakeIdme, Reply};
use crate::harness::process::Instance;
use crate::harness::*;

struct Pair {
    a: Instance,
    b: Instance,
    idme: FakeIdme,
    db_url: String,
    _dir: tempfile::TempDir,
}

async fn pair(codes: usize) -> Option<Pair> {
    let (Some(db_url), Some(redis)) = (stores::fresh_postgres().await, stores::redis()) else {
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_fixture_path("veterans-pool");
    let idme = FakeIdme::start().await;
    // The public URL is the load balancer's: both instances build the same redirect URI.
    let public = "http://127.0.0.1:9";
    let vars = [
        ("PERKGATE_DATABASE_URL", db_url.as_str()),
        ("PERKGATE_SESSION_URL", redis.as_str()),
        ("PERKGATE_RULES", rules.to_str().unwrap()),
        ("PERKGATE_IDME_URL", &idme.url()),
        ("PERKGATE_IDME_CLIENT_ID", "test-client"),
        ("PERKGATE_IDME_CLIENT_SECRET", "test-secret-value"),
        ("PERKGATE_PUBLIC_URL", public),
    ];
    let a = Instance::start(&vars, dir.path()).await;
    let b = Instance::start(&vars, dir.path()).await;
    let db = perkgate::db::connect(&db_url).await.unwrap();
    let codes: Vec<String> = (0..codes).map(|i| format!("VET-{i:03}")).collect();
    perkgate::rewards::import(&db, "vets", &codes, 0)
        .await
        .unwrap();
    Some(Pair {
        a,
        b,
        idme,
        db_url,
        _dir: dir,
    })
}

/// Starts a verification; returns the state ID.me would send back with a code.
async fn begin(shopper: &Shopper) -> String {
    query_param(&shopper.start_verify("military").await, "state").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_started_on_one_instance_finishes_on_the_other() {
    let _serial = serial().await;
    let Some(p) = pair(10).await else { return };
    p.idme.on_attributes(Reply::Json(200, VETERAN_N.into()));
    // One browser, behind a load balancer that sends it to either instance.
    let on_a = Shopper::new(&p.a.base);
    let on_b = on_a.at(&p.b.base);
    let state = begin(&on_a).await;
    let res = on_b.callback("c", &state).await;
    assert_eq!(res.status(), 303);
    for on in [&on_a, &on_b] {
        assert_verified(&on.home().await.1, "VET-");
    }
    // The same callback replayed on either instance: home, no second code exchange.
    for on in [&on_b, &on_a] {
        let res = on.callback("c", &state).await;
        assert_eq!(
            (res.status().as_u16(), location(&res)),
            (303, "/".to_owned())
        );
    }
    assert_eq!((p.idme.token_calls(), p.idme.attributes_calls()), (1, 1));

    // A reset on A is seen on B at once.
    let csrf = on_a.csrf().await;
    let res = on_a.post_csrf("/reset", &csrf).await;
    assert_eq!(res.status(), 303);
    let (_, html) = on_b.home().await;
    assert!(!html.contains("data-testid=\"benefit\""));
    assert!(html.contains("data-testid=\"verify-military\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_person_on_both_instances_at_once_gets_one_code() {
    let _serial = serial().await;
    let Some(p) = pair(10).await else { return };
    // The same ID.me account (same uuid) from two devices, finishing at the same moment on
    // different instances.
    p.idme
        .on_attributes(Reply::Json(200, VETERAN_N.replace("{n}", "same-person")));
    let (one, two) = (Shopper::new(&p.a.base), Shopper::new(&p.b.base));
    let (state1, state2) = (begin(&one).await, begin(&two).await);
    let (r1, r2) = tokio::join!(one.callback("c", &state1), two.callback("c", &state2));
    assert_eq!((r1.status().as_u16(), r2.status().as_u16()), (303, 303));
    let code = |html: &str| {
        let i = html.find("VET-").expect("a code");
        html[i..i + 7].to_owned()
    };
    let (c1, c2) = (code(&one.home().await.1), code(&two.home().await.1));
    assert_eq!(c1, c2, "the limit (one per 30 days) holds across instances");
    let db = perkgate::db::connect(&p.db_url).await.unwrap();
    assert_eq!(perkgate::rewards::remaining(&db, "vets").await.unwrap(), 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_is_exactly_once_across_instances() {
    let _serial = serial().await;
    let Some(p) = pair(12).await else { return };
    p.idme.on_attributes(Reply::Json(200, VETERAN_N.into()));
    let mut tasks = Vec::new();
    for i in 0..24 {
        let base = if i % 2 == 0 {
            p.a.base.clone()
        } else {
            p.b.base.clone()
        };
        tasks.push(tokio::spawn(async move {
            let shopper = Shopper::new(&base);
            let state = begin(&shopper).await;
            shopper.callback("c", &state).await;
            shopper.home().await.1
        }));
    }
    let mut codes = std::collections::BTreeSet::new();
    let mut ran_out = 0;
    for t in tasks {
        let html = t.await.unwrap();
        if let Some(i) = html.find("VET-") {
            assert!(
                codes.insert(html[i..i + 7].to_owned()),
                "a code handed out twice"
            );
        } else {
            assert!(
                html.contains("the codes for this offer have run out"),
                "{html}"
            );
            ran_out += 1;
        }
    }
    assert_eq!((codes.len(), ran_out), (12, 12));
}

/// A verified veteran whose uuid is `{n}`, replaced per call by the fake.
const VETERAN_N: &str = r#"{"attributes":[{"handle":"uuid","value":"person-{n}"}],
  "status":[{"group":"military","subgroups":["Veteran"],"verified":true}]}"#;
