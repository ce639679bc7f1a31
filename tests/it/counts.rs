//! The dashboard's daily counts, kept as flows happen: through HTTP, the sandbox and the real
//! database, added up by the flusher within a few seconds and again at shutdown.

use std::time::{Duration, Instant};

use perkgate::stats::{Event, daily, day_of};

use crate::harness::spawn_app;

/// Sums of `event` for `group` (any offer) today, once they reach the database.
async fn wait_for(app: &crate::harness::TestApp, want: &[(Event, &str, &str, i64)]) {
    let db = app.db().await;
    let today = day_of(perkgate::clock::now());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let rows = daily(&db, today - 1, today).await.unwrap();
        let n = |e: Event, offer: &str, group: &str| -> i64 {
            (rows.iter())
                .filter(|r| r.event == e && r.offer == offer && r.group == group)
                .map(|r| r.n)
                .sum()
        };
        let seen: Vec<_> = want.iter().map(|&(e, o, g, _)| n(e, o, g)).collect();
        let wanted: Vec<_> = want.iter().map(|w| w.3).collect();
        if seen == wanted {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "counts {seen:?}, expected {wanted:?}: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn every_step_of_a_verification_is_counted_once_per_attempt() {
    let app = spawn_app().await;
    // Verified with a benefit; the callback's refresh is not a second return.
    let authorize = app.start_verify("military").await;
    let callback = app.sandbox_pick(&authorize, "service_member").await;
    assert_eq!(app.get(&callback).await.status(), 303);
    assert_eq!(app.get(&callback).await.status(), 303);
    // Declined, in another browser; not confirmed, in a third.
    let other = app.shopper();
    let authorize = other.start_verify("student").await;
    let declined = other.sandbox_pick(&authorize, "decline").await;
    other.get(&declined).await;
    other.get(&declined).await;
    let third = app.shopper();
    assert_eq!(
        third.verify_as("military", "unverified").await.status(),
        303
    );

    wait_for(
        &app,
        &[
            (Event::Started, "", "military", 2),
            (Event::Started, "", "student", 1),
            (Event::Returned, "", "military", 2),
            (Event::Returned, "", "student", 1),
            (Event::Verified, "", "military", 1),
            (Event::Unlocked, "military", "military", 1),
            (Event::Declined, "", "student", 1),
            (Event::Failed, "", "military", 1),
        ],
    )
    .await;

    // Redemptions are counted in the transaction that marks them, per offer.
    let db = app.db().await;
    let now = perkgate::clock::now();
    let codes = ["SALUTE15".to_owned(), "NOT-ISSUED".to_owned()];
    let marked = perkgate::rewards::mark_redeemed(&db, &codes, now).await;
    assert_eq!(marked.unwrap(), 1);
    wait_for(&app, &[(Event::Redeemed, "military", "", 1)]).await;
}
