//! The callback-state table on an in-memory SQLite database.

use super::*;

fn memory() -> Db {
    Db::Sqlite(crate::db::Sqlite::open("sqlite::memory:").unwrap())
}

const WAIT: Duration = Duration::from_secs(5);

#[test]
fn a_state_running_past_the_deadline_is_stale() {
    assert!(!is_stale(100, 100, WAIT));
    assert!(!is_stale(100, 105, WAIT));
    assert!(is_stale(100, 106, WAIT));
}

#[test]
fn a_running_row_counts_as_abandoned_once_stale_and_the_handover_expires() {
    let (old, new) = (Id::default(), Id::default());
    let caller = Caller::new(old, "state", "code");
    let row = |outcome: &str| Row {
        outcome: outcome.to_owned(),
        claimed_at: 1_000,
        binding: Some(caller.binding()),
        handover: Some(caller.seal(new)),
    };
    let seen = |outcome, now| row(outcome).seen(Some(&caller), now, WAIT);
    assert_eq!(seen("running", 1_005).settled, None);
    assert_eq!(seen("running", 1_006).settled, Some(Settled::Abandoned));
    assert_eq!(seen("verified", 1_000 + HANDOVER_SECS).handover, Some(new));
    let late = seen("verified", 1_001 + HANDOVER_SECS);
    assert_eq!(
        (late.settled, late.began, late.handover),
        (Some(Settled::Verified), true, None)
    );
    // A row from before bindings were kept belongs to nobody.
    let legacy = Row {
        binding: None,
        ..row("failed")
    };
    assert!(!legacy.seen(Some(&caller), 1_000, WAIT).began);
}

#[tokio::test]
async fn one_caller_begins_and_only_it_opens_the_handover() {
    let db = memory();
    let (old, new) = (Id::default(), Id::default());
    let mine = Caller::new(old, "state", "code");
    let stranger = Caller::new(Id::default(), "state", "code");
    let Begin::First(guard) = begin(&db, "state", &mine).await.unwrap() else {
        panic!("the first caller begins");
    };
    assert!(matches!(
        begin(&db, "state", &mine).await.unwrap(),
        Begin::Taken
    ));
    // Running: a stranger is told at once, without waiting.
    let seen = wait(&db, "state", Some(&stranger), WAIT).await.unwrap();
    assert_eq!(
        seen,
        Some(Seen {
            settled: None,
            began: false,
            handover: None
        })
    );
    guard.settle(Settled::Verified, Some(new)).await.unwrap();
    let seen = wait(&db, "state", Some(&mine), WAIT)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((seen.settled, seen.began), (Some(Settled::Verified), true));
    assert_eq!(seen.handover, Some(new));
    let seen = wait(&db, "state", Some(&stranger), WAIT).await.unwrap();
    assert_eq!(seen.unwrap().handover, None);
    assert_eq!(wait(&db, "other", Some(&mine), WAIT).await.unwrap(), None);
}

#[tokio::test]
async fn a_guard_dropped_unsettled_marks_its_state_abandoned() {
    let db = memory();
    let caller = Caller::new(Id::default(), "state", "code");
    let Begin::First(guard) = begin(&db, "state", &caller).await.unwrap() else {
        panic!("begins");
    };
    drop(guard);
    // The update runs in a task of its own: wait for it (bounded).
    let mut seen = None;
    for _ in 0..200 {
        seen = settled(&db, "state").await;
        if seen.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(seen, Some(Settled::Abandoned));
}

#[tokio::test]
async fn start_up_abandons_what_was_running_and_nothing_settled() {
    let db = memory();
    let caller = |s| Caller::new(Id::default(), s, "code");
    let Begin::First(done) = begin(&db, "done", &caller("done")).await.unwrap() else {
        panic!("begins");
    };
    done.settle(Settled::Noted, None).await.unwrap();
    let Begin::First(crashed) = begin(&db, "crashed", &caller("crashed")).await.unwrap() else {
        panic!("begins");
    };
    // A crash: the guard never runs.
    std::mem::forget(crashed);
    assert_eq!(abandon_unfinished(&db, WAIT).await.unwrap(), 1);
    assert_eq!(settled(&db, "crashed").await, Some(Settled::Abandoned));
    assert_eq!(settled(&db, "done").await, Some(Settled::Noted));
}

async fn settled(db: &Db, state: &str) -> Option<Settled> {
    wait(db, state, None, WAIT).await.unwrap().unwrap().settled
}
