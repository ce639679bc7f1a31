//! The ledger under concurrency, on every database backend (a real SQLite file, and
//! PostgreSQL when one is configured): pooled codes go out exactly once, and per-person
//! limits hold when one person claims from several sessions at once.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use perkgate::db::Db;
use perkgate::rewards::{self, Claim};
use perkgate::rules::{Offer, Rules, parse};

use crate::harness::{rules_fixture, stores};

/// One fresh ledger per available backend (the folder holds the SQLite file).
async fn backends() -> (tempfile::TempDir, Vec<(&'static str, Db, Rules)>) {
    let dir = tempfile::tempdir().unwrap();
    let mut out = Vec::new();
    let text = rules_fixture("ledger");
    for (name, url) in stores::databases(dir.path()).await {
        let db = perkgate::db::connect(&url).await.unwrap();
        out.push((name, db, parse("rules.toml", &text, None).unwrap().rules));
    }
    (dir, out)
}

/// Runs a check on every backend, naming the backend when it fails.
macro_rules! on_every_backend {
    ($check:ident) => {{
        let (_dir, backends) = backends().await;
        for (name, db, rules) in backends {
            eprintln!("{}: {name}", stringify!($check));
            $check(name, &db, &rules).await;
        }
    }};
}

fn offer<'a>(rules: &'a perkgate::rules::Rules, id: &str) -> &'a Offer {
    rules.offer(id).unwrap()
}

const NOW: i64 = 1_790_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_parallel_claims_share_fifty_codes_exactly_once() {
    on_every_backend!(two_hundred_parallel_claims_share_fifty_codes_exactly_once_on);
}

async fn two_hundred_parallel_claims_share_fifty_codes_exactly_once_on(
    backend: &str,
    db: &Db,
    rules: &Rules,
) {
    let _ = (backend, rules);
    let codes: Vec<String> = (0..50).map(|i| format!("RUSH-{i:03}")).collect();
    assert_eq!(
        rewards::import(db, "rush", &codes, NOW).await.unwrap(),
        (50, 0)
    );

    let offer = Arc::new(offer(rules, "rush").clone());
    let started = Instant::now();
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let (db, offer) = (db.clone(), offer.clone());
            tokio::spawn(
                async move { rewards::claim(&db, &offer, &format!("person-{i}"), NOW).await },
            )
        })
        .collect();
    let mut issued = Vec::new();
    let mut ran_out = 0;
    for t in tasks {
        match t.await.unwrap().unwrap() {
            Claim::Issued {
                code: Some(code),
                reused: false,
            } => issued.push(code),
            Claim::RanOut => ran_out += 1,
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    let elapsed = started.elapsed();
    let distinct: BTreeSet<&String> = issued.iter().collect();
    println!(
        "{backend}: 200 parallel claims on a pool of 50: {} codes issued ({} distinct), {ran_out} ran out, in {elapsed:?}",
        issued.len(),
        distinct.len()
    );
    assert_eq!(issued.len(), 50);
    assert_eq!(distinct.len(), 50, "no code handed out twice");
    assert!(distinct.iter().all(|c| codes.contains(c)));
    assert_eq!(ran_out, 150);
    assert_eq!(rewards::remaining(db, "rush").await.unwrap(), 0);
    assert_eq!(
        rewards::claim_count(db, "rush").await.unwrap(),
        50,
        "a ran-out attempt leaves no claim behind"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_person_claiming_from_many_sessions_at_once_gets_one_code() {
    on_every_backend!(one_person_claiming_from_many_sessions_at_once_gets_one_code_on);
}

async fn one_person_claiming_from_many_sessions_at_once_gets_one_code_on(
    backend: &str,
    db: &Db,
    rules: &Rules,
) {
    let _ = (backend, rules);
    let codes: Vec<String> = (0..10).map(|i| format!("RUSH-{i:03}")).collect();
    rewards::import(db, "rush", &codes, NOW).await.unwrap();
    let offer = Arc::new(offer(rules, "rush").clone());
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (db, offer) = (db.clone(), offer.clone());
            tokio::spawn(async move { rewards::claim(&db, &offer, "same-person", NOW).await })
        })
        .collect();
    let mut seen = BTreeSet::new();
    let mut new_claims = 0;
    for t in tasks {
        match t.await.unwrap().unwrap() {
            Claim::Issued {
                code: Some(code),
                reused,
            } => {
                seen.insert(code);
                new_claims += usize::from(!reused);
            }
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(seen.len(), 1, "every session shows the same code");
    assert_eq!(new_claims, 1, "one claim; the others re-show it");
    assert_eq!(rewards::remaining(db, "rush").await.unwrap(), 9);
}

#[tokio::test]
async fn a_limit_counts_redeemed_codes_and_reopens_after_its_period() {
    on_every_backend!(a_limit_counts_redeemed_codes_and_reopens_after_its_period_on);
}

async fn a_limit_counts_redeemed_codes_and_reopens_after_its_period_on(
    backend: &str,
    db: &Db,
    rules: &Rules,
) {
    let _ = (backend, rules);
    let twice = offer(rules, "twice");
    let Claim::Issued {
        code: Some(first),
        reused: false,
    } = rewards::claim(db, twice, "p", NOW).await.unwrap()
    else {
        panic!("first claim")
    };
    assert!(first.starts_with("T-") && first.len() == 10, "{first}");
    // Unused: shown again, not a second claim.
    assert_eq!(
        rewards::claim(db, twice, "p", NOW + 10).await.unwrap(),
        Claim::Issued {
            code: Some(first.clone()),
            reused: true
        }
    );
    // Used at checkout: the next visit gets a second, different code.
    assert_eq!(
        rewards::mark_redeemed(db, std::slice::from_ref(&first), NOW + 20)
            .await
            .unwrap(),
        1
    );
    let Claim::Issued {
        code: Some(second),
        reused: false,
    } = rewards::claim(db, twice, "p", NOW + 30).await.unwrap()
    else {
        panic!("second claim")
    };
    assert_ne!(first, second);
    rewards::mark_redeemed(db, &[second], NOW + 40)
        .await
        .unwrap();
    // Two claims in the period: the limit holds until the first claim is a year old.
    assert_eq!(
        rewards::claim(db, twice, "p", NOW + 50).await.unwrap(),
        Claim::LimitReached {
            until: NOW + 365 * 86_400
        }
    );
    assert!(matches!(
        rewards::claim(db, twice, "p", NOW + 365 * 86_400 + 1)
            .await
            .unwrap(),
        Claim::Issued { reused: false, .. }
    ));
    // Another person is unaffected.
    assert!(matches!(
        rewards::claim(db, twice, "q", NOW + 50).await.unwrap(),
        Claim::Issued { reused: false, .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_total_cap_holds_under_a_rush() {
    on_every_backend!(a_total_cap_holds_under_a_rush_on);
}

async fn a_total_cap_holds_under_a_rush_on(backend: &str, db: &Db, rules: &Rules) {
    let _ = (backend, rules);
    let capped = Arc::new(offer(rules, "capped").clone());
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let (db, offer) = (db.clone(), capped.clone());
            tokio::spawn(async move { rewards::claim(&db, &offer, &format!("p{i}"), NOW).await })
        })
        .collect();
    let mut issued = 0;
    let mut capped_out = 0;
    for t in tasks {
        match t.await.unwrap().unwrap() {
            Claim::Issued { code, .. } => {
                assert_eq!(code.as_deref(), Some("CARE"));
                issued += 1;
            }
            Claim::CapReached => capped_out += 1,
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!((issued, capped_out), (10, 30));
}

#[tokio::test]
async fn imports_deduplicate_and_status_counts() {
    on_every_backend!(imports_deduplicate_and_status_counts_on);
}

async fn imports_deduplicate_and_status_counts_on(backend: &str, db: &Db, rules: &Rules) {
    let _ = (backend, rules);
    let first: Vec<String> = ["A-001", "A-002", "A-002", "A-003"]
        .map(String::from)
        .to_vec();
    assert_eq!(
        rewards::import(db, "rush", &first, NOW).await.unwrap(),
        (3, 1)
    );
    let second: Vec<String> = ["A-003", "A-004"].map(String::from).to_vec();
    assert_eq!(
        rewards::import(db, "rush", &second, NOW).await.unwrap(),
        (1, 1)
    );
    let status = rewards::pool_status(db).await.unwrap();
    assert_eq!(status.len(), 1);
    assert_eq!((status[0].remaining, status[0].issued), (4, 0));
}
