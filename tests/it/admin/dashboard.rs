//! The dashboard over HTTP: counts made by real flows (through the sandbox, flushed by the
//! app's own flusher) on the page and in the CSV, the filters, 90 days, a viewer reading it,
//! the pools' levels, and the refusals.

use std::time::{Duration, Instant};

use perkgate::admin::Role;
use perkgate::admin::dashboard::iso_date;
use perkgate::stats::day_of;

use super::{account, browser, signed_in};
use crate::harness::{Options, TestApp, location, spawn_app, spawn_with, stores::fresh_postgres};

const HEADER: &str = "day,offer,group,started,returned,verified,declined,failed,unlocked,redeemed,\
                      remaining:veteran-codes";

async fn get(app: &TestApp, b: &reqwest::Client, path: &str) -> reqwest::Response {
    b.get(app.url(path)).send().await.unwrap()
}

/// Today's row of the CSV for `query`, as (offer, group, counts by event).
async fn today_row(app: &TestApp, b: &reqwest::Client, query: &str) -> Vec<String> {
    let res = get(app, b, &format!("/admin/dashboard.csv?{query}")).await;
    assert_eq!(res.status(), 200, "{query}");
    let text = res.text().await.unwrap();
    let today = iso_date(day_of(perkgate::clock::now()));
    let line = text
        .lines()
        .find(|l| l.starts_with(&today))
        .unwrap_or_else(|| panic!("no row for {today}: {text}"));
    line.split(',').map(str::to_owned).collect()
}

/// Waits until today's started and unlocked counts (all offers and communities) are these:
/// the app flushes its counts every 2 s.
async fn wait_for_counts(app: &TestApp, b: &reqwest::Client, started: &str, unlocked: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let row = today_row(app, b, "days=30").await;
        if row[3] == started && row[8] == unlocked {
            return;
        }
        assert!(Instant::now() < deadline, "counts never arrived: {row:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn count(html: &str, needle: &str) -> usize {
    html.matches(needle).count()
}

async fn flows_then_dashboard(app: &TestApp) {
    account(app, "viewer@example.com", Role::Viewer).await;
    // A military shopper verified and unlocked; a student declined at ID.me.
    let authorize = app.start_verify("military").await;
    let callback = app.sandbox_pick(&authorize, "service_member").await;
    assert_eq!(app.get(&callback).await.status(), 303);
    let other = app.shopper();
    let authorize = other.start_verify("student").await;
    let declined = other.sandbox_pick(&authorize, "decline").await;
    other.get(&declined).await;

    let b = signed_in(app, "viewer@example.com").await;
    wait_for_counts(app, &b, "2", "1").await;

    // The CSV: a row per day, wide by event, the filter in its columns.
    let res = get(app, &b, "/admin/dashboard.csv?days=30").await;
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        res.headers()["content-disposition"],
        "attachment; filename=\"dashboard.csv\""
    );
    let text = res.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], HEADER);
    assert_eq!(lines.len(), 31, "30 days, zeros included");
    let today = iso_date(day_of(perkgate::clock::now()));
    // The pool was counted at start-up (its seed's codes): today's level, none before.
    let seeded = perkgate::rewards::remaining(&app.db().await, "veteran-codes").await;
    let seeded = seeded.unwrap();
    assert!(seeded > 0);
    let level = lines[30]
        .rsplit(',')
        .next()
        .unwrap()
        .parse::<u64>()
        .unwrap();
    assert!(level >= seeded, "{level} counted at start-up, {seeded} now");
    assert!(lines[30].starts_with(&format!("{today},,,2,2,1,1,0,1,0,")));
    assert!(lines[1..30].iter().all(|l| l.ends_with(",0,0,0,0,0,0,0,")));

    // The page: three charts (verifications, benefits, pool levels), each with a summary and
    // a table of 30 days.
    let res = get(app, &b, "/admin/dashboard").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let html = res.text().await.unwrap();
    assert_eq!(count(&html, "data-testid=\"dashboard-chart\""), 3);
    assert_eq!(count(&html, "data-testid=\"dashboard-summary\""), 3);
    assert_eq!(count(&html, "data-testid=\"dashboard-table\""), 3);
    assert_eq!(
        count(&html, "<th scope=\"row\">20"),
        90,
        "30 days in each table"
    );
    assert!(html.contains("<title id=\"chart-pools-title\">Codes left per pool</title>"));
    assert!(
        html.contains("role=\"img\"") && html.contains("<title id=\"chart-verifications-title\">")
    );
    assert!(!html.contains("style="), "no inline style under the CSP");
    for sentence in [
        "2 verifications started in the last 30 days, peak 2 on ",
        "1 verified in the last 30 days",
        "1 declined at ID.me in the last 30 days",
        "1 benefit unlocked in the last 30 days",
        "0 codes redeemed in the last 30 days; none in the days before either.",
    ] {
        assert!(html.contains(sentence), "{sentence}");
    }
    // By community and by offer, each linking to its own view.
    assert!(html.contains("href=\"/admin/dashboard?days=30&#38;group=military\">Military</a>"));
    assert!(html.contains("href=\"/admin/dashboard?days=30&#38;group=student\">"));
    assert!(html.contains("href=\"/admin/dashboard?days=30&#38;offer=military\">"));
    // The pools of the live offers.
    assert!(html.contains("data-testid=\"pool-level\"><th scope=\"row\">veteran-codes</th>"));
    assert!(html.contains("data-testid=\"dashboard-csv\""));

    // A community: its verifications and unlocks; redemptions are not per community.
    // The pools narrow the same way: the military's offers draw from veteran-codes, the
    // students' from none.
    let mil = today_row(app, &b, "days=30&group=military").await;
    assert_eq!(mil[1..10].join(","), ",military,1,1,1,0,0,1,0");
    assert_eq!(mil.len(), 11, "{mil:?}");
    let stu = today_row(app, &b, "days=30&group=student").await;
    assert_eq!(stu[1..].join(","), ",student,1,1,0,1,0,0,0");
    // An offer: its unlocks; verifications have no offer and are all shown.
    let offer = today_row(app, &b, "days=30&offer=military").await;
    assert_eq!(offer[1..].join(","), "military,,2,2,1,1,0,1,0", "no pool");
    let students = today_row(app, &b, "days=30&offer=students").await;
    assert_eq!(students[1..].join(","), "students,,2,2,1,1,0,0,0");
    let page = get(app, &b, "/admin/dashboard?days=30&group=student").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("1 verification started in the last 30 days"));
    assert!(html.contains("0 benefits unlocked"));
    assert!(html.contains("community filter does not narrow them"));
    assert!(html.contains("<option value=\"student\" selected>"));

    // A redemption counts on the day it is marked, per offer.
    let db = app.db().await;
    let codes = ["SALUTE15".to_owned()];
    let marked = perkgate::rewards::mark_redeemed(&db, &codes, perkgate::clock::now()).await;
    assert_eq!(marked.unwrap(), 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    while today_row(app, &b, "days=30&offer=military").await[9] != "1" {
        assert!(
            Instant::now() < deadline,
            "the redemption was never counted"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // 90 days: 90 rows, the same counts.
    let text = get(app, &b, "/admin/dashboard.csv?days=90")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(text.lines().count(), 91);
    let last = text.lines().last().unwrap();
    assert!(
        last.starts_with(&format!("{today},,,2,2,1,1,0,1,1,")),
        "{last}"
    );
    let html = get(app, &b, "/admin/dashboard?days=90")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(count(&html, "<th scope=\"row\">20"), 270);
    assert!(html.contains("2 verifications started in the last 90 days"));
    assert!(html.contains("<option value=\"90\" selected>"));
}

#[tokio::test]
async fn counts_from_real_flows_show_on_the_dashboard_and_in_its_csv_on_sqlite() {
    flows_then_dashboard(&spawn_app().await).await;
}

#[tokio::test]
async fn counts_from_real_flows_show_on_the_dashboard_and_in_its_csv_on_postgres() {
    let Some(url) = fresh_postgres().await else {
        return;
    };
    let app = spawn_with(Options::default().var("PERKGATE_DATABASE_URL", &url)).await;
    flows_then_dashboard(&app).await;
}

#[tokio::test]
async fn wrong_filters_are_refused_clearly_and_a_session_is_needed() {
    let app = spawn_app().await;
    account(&app, "viewer@example.com", Role::Viewer).await;
    let b = signed_in(&app, "viewer@example.com").await;
    for (query, says) in [
        ("days=7", "30 or 90 days"),
        ("days=ninety", "30 or 90 days"),
        ("offer=no-such-offer", "no such offer"),
        ("group=%3Cscript%3E", "no such community"),
    ] {
        let res = get(&app, &b, &format!("/admin/dashboard?{query}")).await;
        assert_eq!(res.status(), 400, "{query}");
        let html = res.text().await.unwrap();
        assert!(html.contains("data-testid=\"dashboard-error\""), "{query}");
        assert!(html.contains(says), "{query}");
        assert!(!html.contains("<script>"), "{query}");
        // The defaults stand in: the page still shows 30 days.
        assert_eq!(count(&html, "data-testid=\"dashboard-chart\""), 3);
        let csv = get(&app, &b, &format!("/admin/dashboard.csv?{query}")).await;
        assert_eq!(csv.status(), 400, "{query}");
    }
    // Every offer and community of the live rules is known before anything was counted.
    for query in [
        "offer=veterans&group=teacher&days=90",
        "days=30&offer=&group=",
    ] {
        let res = get(&app, &b, &format!("/admin/dashboard?{query}")).await;
        assert_eq!(res.status(), 200, "{query}");
    }
    // An offer no longer in the rules but counted in the period is known too, page and file.
    let counts = perkgate::stats::Counts::default();
    let now = perkgate::clock::now();
    counts.add(
        now,
        perkgate::stats::Event::Unlocked,
        "old-offer",
        "military",
    );
    counts.flush(&app.db().await).await.unwrap();
    let res = get(&app, &b, "/admin/dashboard?offer=old-offer").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("old-offer (no longer in the rules)")
    );
    let row = today_row(&app, &b, "offer=old-offer").await;
    assert_eq!(row[1..].join(","), "old-offer,,0,0,0,0,0,1,0");
    let res = get(&app, &b, "/admin/dashboard.csv?offer=old-offer&days=90").await;
    assert_eq!(res.status(), 200);
    // Without a session: to the sign-in page, page and file alike.
    let anonymous = browser();
    for path in ["/admin/dashboard?days=90", "/admin/dashboard.csv"] {
        let res = get(&app, &anonymous, path).await;
        assert_eq!(res.status(), 303, "{path}");
        assert_eq!(location(&res), "/admin/login");
    }
    // The download is in the audit log, with its filter.
    assert_eq!(get(&app, &b, "/admin/dashboard.csv").await.status(), 200);
    let audit = perkgate::admin::audit::recent(&app.db().await, 50)
        .await
        .unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "dashboard downloaded" && e.details == "days=30")
    );
    assert!(
        audit
            .iter()
            .any(|e| e.action == "dashboard downloaded" && e.details == "days=90&offer=old-offer")
    );
}

#[tokio::test]
async fn orders_redeemed_through_the_merchant_api_show_as_conversion() {
    use perkgate::admin::api_keys::{self, Scope};
    let app = spawn_app().await;
    account(&app, "vi@example.com", Role::Viewer).await;
    let db = app.db().await;
    let rules = perkgate::rules::parse("r.toml", perkgate::rules::EXAMPLE_RULES, None).unwrap();
    let teachers = rules.rules.offer("teachers").unwrap().clone();
    let code = match perkgate::rewards::claim(&db, &teachers, "p1", perkgate::clock::now())
        .await
        .unwrap()
    {
        perkgate::rewards::Claim::Issued {
            code: Some(code), ..
        } => code,
        other => panic!("expected a code, got {other:?}"),
    };
    let (_, secret) = api_keys::create(&db, "shop", Scope::Redeem, "test", 0)
        .await
        .unwrap();
    let res = reqwest::Client::new()
        .post(app.url(&format!("/api/v1/merchant/codes/{code}/redeem")))
        .bearer_auth(&secret)
        .json(&serde_json::json!({"order_id": "1001", "amount": "59.90", "currency": "USD"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let b = signed_in(&app, "vi@example.com").await;
    let page = get(&app, &b, "/admin/dashboard")
        .await
        .text()
        .await
        .unwrap();
    let table = page
        .split("data-testid=\"dashboard-conversion\"")
        .nth(1)
        .expect("the conversion table")
        .split("</table>")
        .next()
        .unwrap();
    assert!(
        table.contains("<td>1</td><td>59.90 USD</td>"),
        "one order of $59.90 for the teachers' offer:\n{table}"
    );
}

/// Levels kept on earlier days (as the app's minute count writes them) chart per pool: a level
/// before the period carries in, a day without a count keeps the one before, a pool no
/// longer in the rules still shows, and an offer narrows the chart to its own pool.
async fn pool_levels_per_day(app: &TestApp) {
    use perkgate::admin::dashboard::short_date;
    account(app, "levels@example.com", Role::Viewer).await;
    let db = app.db().await;
    let today = day_of(perkgate::clock::now());
    let first = today - 29;
    for (day, pool, left) in [
        (today - 40, "veteran-codes", 500),
        (today - 10, "veteran-codes", 3),
        (today - 3, "gone-pool", 7),
    ] {
        perkgate::rewards::record_level(&db, day, pool, left)
            .await
            .unwrap();
    }
    let now_left = perkgate::rewards::remaining(&db, "veteran-codes")
        .await
        .unwrap();
    assert!(now_left > 3, "the seed has more codes than that");
    let b = signed_in(app, "levels@example.com").await;

    let html = get(app, &b, "/admin/dashboard").await.text().await.unwrap();
    let chart = html
        .split("aria-labelledby=\"chart-pools-h\"")
        .nth(1)
        .expect("the pool level chart")
        .split("</section>")
        .next()
        .unwrap();
    let sentence = format!(
        "veteran-codes: {now_left} left on {}, from 500 on {}; lowest 3 on {}.",
        short_date(today),
        short_date(first),
        short_date(today - 10)
    );
    assert!(chart.contains(&sentence), "{sentence}\n{chart}");
    assert!(chart.contains(&format!(
        "gone-pool: 7 left on {}, from 7 on {}.",
        short_date(today),
        short_date(today - 3)
    )));
    assert!(chart.contains("<th scope=\"col\">veteran-codes</th><th scope=\"col\">gone-pool</th>"));
    let row = |day: i64| format!("<th scope=\"row\">{}</th>", iso_date(day));
    assert!(chart.contains(&format!("{}<td>500</td><td>—</td>", row(first))));
    assert!(chart.contains(&format!("{}<td>3</td><td>—</td>", row(today - 4))));
    assert!(chart.contains(&format!("{}<td>3</td><td>7</td>", row(today - 3))));
    assert_eq!(count(chart, "<polyline class=\"series series-0\""), 1);
    assert_eq!(
        count(chart, "<polyline class=\"series series-1\""),
        1,
        "gone-pool's line starts when it was first counted"
    );

    // The CSV carries the same levels, a column per pool.
    let csv = get(app, &b, "/admin/dashboard.csv?days=30")
        .await
        .text()
        .await
        .unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], format!("{HEADER},remaining:gone-pool"));
    assert!(lines[1].ends_with(",500,"), "{}", lines[1]);
    assert!(lines[27].ends_with(",3,7"), "{}", lines[27]);

    // An offer: only its own pool; an offer without a pool: no level chart.
    let html = get(app, &b, "/admin/dashboard?offer=veterans")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("<th scope=\"col\">veteran-codes</th></tr>"));
    assert!(!html.contains("gone-pool:"));
    let html = get(app, &b, "/admin/dashboard?offer=military")
        .await
        .text()
        .await
        .unwrap();
    assert!(!html.contains("chart-pools"));
    assert_eq!(count(&html, "data-testid=\"dashboard-chart\""), 2);
}

#[tokio::test]
async fn pool_levels_are_charted_per_day_on_sqlite() {
    pool_levels_per_day(&spawn_app().await).await;
}

#[tokio::test]
async fn pool_levels_are_charted_per_day_on_postgres() {
    let Some(url) = fresh_postgres().await else {
        return;
    };
    let app = spawn_with(Options::default().var("PERKGATE_DATABASE_URL", &url)).await;
    pool_levels_per_day(&app).await;
}
