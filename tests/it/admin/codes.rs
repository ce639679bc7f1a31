//! Codes in the console over HTTP: uploads (good, malformed, duplicate, 100,000 codes while
//! other requests are answered), redemptions, the issued-codes download, support's lookup,
//! revoke and reset with their confirmation and audit entries, roles and CSRF on every form,
//! and the audit log's export.

use std::time::{Duration, Instant};

use perkgate::admin::{Role, audit};
use perkgate::rewards::{self, Claim};
use perkgate::rules::Offer;

use super::{account, csrf_of, post, signed_in, text_of};
use crate::harness::stores::fresh_postgres;
use crate::harness::{Options, TestApp, hidden, location, rules_fixture, spawn_with};

const BOUNDARY: &str = "perkgate-test-boundary-7f3a";

/// A `multipart/form-data` body: (name, file name for a file field, content), in order.
fn multipart(fields: &[(&str, Option<&str>, &str)]) -> Vec<u8> {
    let mut body = String::new();
    for (name, file, content) in fields {
        body.push_str(&format!("--{BOUNDARY}\r\n"));
        match file {
            Some(f) => body.push_str(&format!(
                "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n\
                 Content-Type: text/csv\r\n\r\n"
            )),
            None => body.push_str(&format!(
                "Content-Disposition: form-data; name=\"{name}\"\r\n\r\n"
            )),
        }
        body.push_str(content);
        body.push_str("\r\n");
    }
    body.push_str(&format!("--{BOUNDARY}--\r\n"));
    body.into_bytes()
}

async fn send_file(
    app: &TestApp,
    b: &reqwest::Client,
    path: &str,
    fields: &[(&str, Option<&str>, &str)],
) -> reqwest::Response {
    b.post(app.url(path))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(multipart(fields))
        .send()
        .await
        .unwrap()
}

async fn upload(app: &TestApp, b: &reqwest::Client, pool: &str, csv: &str) -> (u16, String) {
    let csrf = csrf_of(app, b, "/admin/codes").await;
    let res = send_file(
        app,
        b,
        "/admin/codes/upload",
        &[
            ("csrf", None, &csrf),
            ("pool", None, pool),
            ("file", Some("codes.csv"), csv),
        ],
    )
    .await;
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn app_with_pool(db_url: Option<&str>) -> TestApp {
    let mut options = Options::default().rules_fixture("veterans-pool");
    if let Some(url) = db_url {
        options = options.var("PERKGATE_DATABASE_URL", url);
    }
    spawn_with(options).await
}

fn veterans() -> Offer {
    let text = rules_fixture("veterans-pool");
    perkgate::rules::parse("veterans-pool.toml", &text, None)
        .unwrap()
        .rules
        .offers
        .remove(0)
}

async fn claim(app: &TestApp, person: &str) -> Claim {
    rewards::claim(&app.db().await, &veterans(), person, perkgate::clock::now())
        .await
        .unwrap()
}

async fn issued(app: &TestApp, person: &str) -> String {
    match claim(app, person).await {
        Claim::Issued {
            code: Some(code),
            reused: false,
        } => code,
        other => panic!("expected a new code, got {other:?}"),
    }
}

async fn audit_actions(app: &TestApp) -> Vec<audit::Entry> {
    audit::recent(&app.db().await, 100).await.unwrap()
}

#[tokio::test]
async fn codes_on_sqlite() {
    codes_console(&app_with_pool(None).await).await;
}

#[tokio::test]
async fn codes_on_postgres() {
    let Some(url) = fresh_postgres().await else {
        return;
    };
    codes_console(&app_with_pool(Some(&url)).await).await;
}

async fn codes_console(app: &TestApp) {
    account(app, "editor@example.com", Role::Editor).await;
    let b = signed_in(app, "editor@example.com").await;
    let page = b.get(app.url("/admin/codes")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("data-testid=\"pool-vets\""), "{html}");
    assert!(
        html.contains("data-testid=\"state-empty\""),
        "empty, in words"
    );
    assert!(html.contains("enctype=\"multipart/form-data\""));

    // A good file, then one with duplicates (in the file and in the pool).
    let (status, html) = upload(app, &b, "vets", "code\nAAA-001\nAAA-002\nAAA-003\n").await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("added 3 code(s), skipped 0 duplicate(s)"),
        "{html}"
    );
    let (status, html) = upload(app, &b, "vets", "AAA-003\nAAA-004\nAAA-004\n").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("added 1 code(s), skipped 2 duplicate(s)"),
        "{html}"
    );
    // A malformed file: refused whole, its lines named, nothing imported.
    let (status, html) = upload(app, &b, "vets", "BBB-001\nno spaces\nBBB-002\nx\n").await;
    assert_eq!(status, 400);
    assert!(
        html.contains("Line 2:") && html.contains("Line 4:"),
        "{html}"
    );
    assert!(html.contains("nothing was imported"));
    assert!(html.contains("aria-describedby=\"upload-hint upload-error\""));
    assert_eq!(
        rewards::remaining(&app.db().await, "vets").await.unwrap(),
        4
    );
    // Not a pool of the rules.
    let (status, _) = upload(app, &b, "nope", "CCC-001\n").await;
    assert_eq!(status, 400);

    // A claim, found by its code: the offer and the person's claims, never the person key.
    let person = "person-key-of-ann-0123456789";
    let code = issued(app, person).await;
    let res = b
        .get(app.url(&format!("/admin/codes/lookup?code={code}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("data-testid=\"lookup-offer\">veterans<"),
        "{html}"
    );
    assert!(html.contains("1 in all, 1 of this offer"), "{html}");
    assert!(!html.contains(person));
    let html = text_of(app, &b, "/admin/codes/lookup?code=ZZZ-404").await;
    assert!(html.contains("data-testid=\"lookup-none\""));

    // The download: the issued code with its pool and offer, and nothing about the person.
    let res = b
        .get(app.url("/admin/codes/issued.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = res.text().await.unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("code,pool,offer,issued_at,redeemed_at,revoked_at")
    );
    let row = lines.next().unwrap();
    assert!(
        row.starts_with(&format!("{code},vets,veterans,20")),
        "{row}"
    );
    assert!(row.ends_with(",,"), "not redeemed, not revoked: {row}");
    assert!(!csv.contains(person));

    // Redemptions by file.
    let csrf = csrf_of(app, &b, "/admin/codes").await;
    let res = send_file(
        app,
        &b,
        "/admin/codes/redeemed",
        &[
            ("csrf", None, &csrf),
            ("file", Some("used.csv"), &format!("{code}\nUNKNOWN-1\n")),
        ],
    )
    .await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("Marked 1 claim(s) as redeemed, of 2 code(s)"),
        "{html}"
    );

    // Revoke: a confirmation page, then the form; the code is not shown to its shopper again.
    let bea = "person-key-of-bea-0123456789";
    let code_b = issued(app, bea).await;
    let confirm = b
        .get(app.url(&format!("/admin/codes/revoke?code={code_b}")))
        .send()
        .await
        .unwrap();
    assert_eq!(confirm.status(), 200);
    let html = confirm.text().await.unwrap();
    assert!(html.contains("Revoke this code?") && html.contains("action=\"/admin/codes/revoke\""));
    let csrf = hidden(&html, "csrf");
    let res = post(
        app,
        &b,
        "/admin/codes/revoke",
        &[("csrf", &csrf), ("code", &code_b)],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        location(&res),
        format!("/admin/codes/lookup?code={code_b}&done=revoked")
    );
    let html = text_of(app, &b, &location(&res)).await;
    assert!(html.contains("The code is revoked."));
    assert!(
        html.contains("data-testid=\"lookup-revoked\">yes, "),
        "{html}"
    );
    // Not re-shown; the claim still counts: the limit (1 per 30 days) is reached.
    assert!(matches!(claim(app, bea).await, Claim::LimitReached { .. }));
    // Revoking twice changes nothing.
    let res = post(
        app,
        &b,
        "/admin/codes/revoke",
        &[("csrf", &csrf), ("code", &code_b)],
    )
    .await;
    assert!(location(&res).ends_with("done=already"));

    // Reset the limit: confirmed, and then the person can claim again, a new code.
    let confirm = b
        .get(app.url(&format!("/admin/codes/reset?code={code_b}")))
        .send()
        .await
        .unwrap();
    assert_eq!(confirm.status(), 200);
    assert!(confirm.text().await.unwrap().contains("Reset this person"));
    let res = post(
        app,
        &b,
        "/admin/codes/reset",
        &[("csrf", &csrf), ("code", &code_b)],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert!(location(&res).ends_with("done=reset"));
    let again = issued(app, bea).await;
    assert_ne!(again, code_b);
    let html = b
        .get(app.url(&format!("/admin/codes/lookup?code={again}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("2 in all, 2 of this offer"), "{html}");

    // Every change is in the audit log, with who, from where and what.
    let entries = audit_actions(app).await;
    let find = |action: &str| {
        entries
            .iter()
            .find(|e| e.action == action)
            .unwrap_or_else(|| panic!("no {action:?} in {entries:?}"))
            .clone()
    };
    let uploaded = find("codes uploaded");
    assert_eq!(uploaded.actor, "editor@example.com");
    assert_eq!(uploaded.address, "127.0.0.1");
    assert!(
        entries.iter().any(|e| e.action == "codes uploaded"
            && e.details.starts_with("pool vets: added 3, skipped 0"))
    );
    assert!(find("codes redeemed").details.contains("marked 1 claim(s)"));
    assert_eq!(
        find("code revoked").details,
        format!("code {code_b} of offer veterans")
    );
    assert!(find("limit reset").details.contains("offer veterans"));
    assert!(
        find("issued codes downloaded")
            .details
            .contains("1 code(s)")
    );
    assert!(entries.iter().all(|e| !e.details.contains("person-key")));
}

#[tokio::test]
async fn viewers_read_and_editors_forms_need_their_token() {
    let app = app_with_pool(None).await;
    account(&app, "viewer@example.com", Role::Viewer).await;
    account(&app, "editor@example.com", Role::Editor).await;
    let code = {
        rewards::import(&app.db().await, "vets", &["VVV-001".to_owned()], 0)
            .await
            .unwrap();
        issued(&app, "person-key-of-cy-0123456789").await
    };
    let viewer = signed_in(&app, "viewer@example.com").await;
    let html = text_of(&app, &viewer, "/admin/codes").await;
    assert!(html.contains("data-testid=\"pool-vets\""));
    assert!(
        !html.contains("/admin/codes/upload"),
        "no upload form for a viewer"
    );
    let csrf = hidden(&html, "csrf");
    for path in [
        format!("/admin/codes/lookup?code={code}"),
        "/admin/codes/issued.csv".to_owned(),
    ] {
        let res = viewer.get(app.url(&path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
    }
    let lookup = viewer
        .get(app.url(&format!("/admin/codes/lookup?code={code}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !lookup.contains("revoke-link"),
        "no support actions for a viewer"
    );
    for path in ["/admin/codes/revoke", "/admin/codes/reset"] {
        let res = viewer
            .get(app.url(&format!("{path}?code={code}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "GET {path}");
        let res = post(&app, &viewer, path, &[("csrf", &csrf), ("code", &code)]).await;
        assert_eq!(res.status(), 403, "POST {path}");
    }
    for path in ["/admin/codes/upload", "/admin/codes/redeemed"] {
        let res = send_file(
            &app,
            &viewer,
            path,
            &[
                ("csrf", None, &csrf),
                ("pool", None, "vets"),
                ("file", Some("c.csv"), &format!("VVV-002\n{code}\n")),
            ],
        )
        .await;
        assert_eq!(res.status(), 403, "POST {path}");
    }

    // An editor's forms with a forged, missing or late token.
    let editor = signed_in(&app, "editor@example.com").await;
    let good = csrf_of(&app, &editor, "/admin/codes").await;
    for path in ["/admin/codes/upload", "/admin/codes/redeemed"] {
        for fields in [
            vec![
                ("csrf", None, "forged"),
                ("pool", None, "vets"),
                ("file", Some("c.csv"), "VVV-002\n"),
            ],
            vec![("pool", None, "vets"), ("file", Some("c.csv"), "VVV-002\n")],
            // The token after the file: refused before the file is read.
            vec![
                ("pool", None, "vets"),
                ("file", Some("c.csv"), "VVV-002\n"),
                ("csrf", None, good.as_str()),
            ],
        ] {
            let res = send_file(&app, &editor, path, &fields).await;
            assert_eq!(res.status(), 403, "{path}");
        }
        // Not multipart at all.
        let res = post(&app, &editor, path, &[("csrf", &good)]).await;
        assert_eq!(res.status(), 403, "{path}");
    }
    for path in ["/admin/codes/revoke", "/admin/codes/reset"] {
        for token in ["", "forged"] {
            let res = post(&app, &editor, path, &[("csrf", token), ("code", &code)]).await;
            assert_eq!(res.status(), 403, "{path}");
        }
    }
    let db = app.db().await;
    assert_eq!(
        rewards::remaining(&db, "vets").await.unwrap(),
        0,
        "nothing imported"
    );
    let found = perkgate::rewards::support::lookup(&db, &code)
        .await
        .unwrap();
    let perkgate::rewards::support::Lookup::Found(f) = found else {
        panic!("{found:?}")
    };
    assert!(f.revoked_at.is_none() && f.redeemed_at.is_none() && f.limit_reset_at.is_none());
    // The editor may: the same token, in its place.
    let res = send_file(
        &app,
        &editor,
        "/admin/codes/upload",
        &[
            ("csrf", None, &good),
            ("pool", None, "vets"),
            ("file", Some("c.csv"), "VVV-002\n"),
        ],
    )
    .await;
    assert_eq!(res.status(), 200);
    // The audit log is the owners'.
    for path in ["/admin/audit", "/admin/audit.csv"] {
        let res = editor.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 403, "{path}");
    }
}

#[tokio::test]
async fn owners_page_filter_and_export_the_audit_log() {
    let app = app_with_pool(None).await;
    account(&app, "owner@example.com", Role::Owner).await;
    let db = app.db().await;
    // Recent: housekeeping deletes what is past the retention period.
    let base = perkgate::clock::now() - 1_000;
    for i in 0..205 {
        audit::record(
            &db,
            "cli",
            "",
            "account added",
            &format!("a{i}@example.com"),
            base + i,
        )
        .await
        .unwrap();
    }
    audit::record(
        &db,
        "cli",
        "",
        "account removed",
        "=cmd|' /C calc'!A0",
        base + 300,
    )
    .await
    .unwrap();
    let owner = signed_in(&app, "owner@example.com").await;
    let html = text_of(&app, &owner, "/admin/audit").await;
    assert_eq!(html.matches("data-testid=\"audit-row\"").count(), 200);
    assert!(html.contains("kept for 365 days"));
    let older = html.split("data-testid=\"audit-older\"").next().unwrap();
    let href = older
        .rsplit("href=\"")
        .next()
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let next = owner
        .get(app.url(&href.replace("&amp;", "&")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let total = audit::recent(&db, 1000).await.unwrap().len();
    assert!(total > 206, "ours and the sign-in's");
    assert_eq!(
        next.matches("data-testid=\"audit-row\"").count(),
        total - 200
    );
    let filtered = text_of(&app, &owner, "/admin/audit?action=account+removed").await;
    assert_eq!(filtered.matches("data-testid=\"audit-row\"").count(), 1);

    let res = owner
        .get(app.url("/admin/audit.csv?action=account+removed"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("attachment")
    );
    let csv = res.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert_eq!(lines[0], "at,actor,address,action,details");
    // An ISO time, and a formula defused.
    assert!(
        lines[1].ends_with("Z,cli,,account removed,'=cmd|' /C calc'!A0"),
        "{csv}"
    );
    let all = owner.get(app.url("/admin/audit.csv")).send().await.unwrap();
    assert_eq!(
        all.text().await.unwrap().lines().count(),
        1 + total + 1,
        "and the first export"
    );
    assert!(
        audit_actions(&app)
            .await
            .iter()
            .any(|e| e.action == "audit log exported" && e.actor == "owner@example.com")
    );
}

/// 100,000 codes in one file: imported in slices, while the database keeps answering others.
/// Two workers, as on the 2-core machines perkgate runs on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_import_does_not_hold_up_other_requests() {
    let app = app_with_pool(None).await;
    account(&app, "editor@example.com", Role::Editor).await;
    let b = signed_in(&app, "editor@example.com").await;
    let csrf = csrf_of(&app, &b, "/admin/codes").await;
    let csv: String = (0..100_000).map(|i| format!("BULK-{i:06}\n")).collect();
    let started = Instant::now();
    let upload = {
        let (url, b) = (app.url("/admin/codes/upload"), b.clone());
        let body = multipart(&[
            ("csrf", None, &csrf),
            ("pool", None, "vets"),
            ("file", Some("bulk.csv"), &csv),
        ]);
        tokio::spawn(async move {
            b.post(url)
                .header(
                    "content-type",
                    format!("multipart/form-data; boundary={BOUNDARY}"),
                )
                .body(body)
                .timeout(Duration::from_secs(120))
                .send()
                .await
        })
    };
    // `/readyz` pings the database: it queues behind the import's slices on the one thread.
    let probe = reqwest::Client::new();
    let mut slowest = Duration::ZERO;
    let mut probes = 0;
    while !upload.is_finished() && started.elapsed() < Duration::from_secs(120) {
        let t = Instant::now();
        let res = probe
            .get(app.url("/readyz"))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        slowest = slowest.max(t.elapsed());
        probes += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let res = upload.await.unwrap().unwrap();
    let took = started.elapsed();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("added 100000 code(s)"), "{html}");
    eprintln!(
        "100,000 codes imported in {took:?}; {probes} /readyz answered meanwhile, the slowest in {slowest:?}"
    );
    assert!(
        probes >= 3,
        "the import took {took:?}: too short to measure"
    );
    assert!(
        slowest < Duration::from_secs(1),
        "a request waited {slowest:?}"
    );
    assert_eq!(
        rewards::remaining(&app.db().await, "vets").await.unwrap(),
        100_000
    );
}
