//! The webhooks pages over HTTP: an owner registers an endpoint (the secret shown once, a
//! refused URL or no event said on the form), reads the delivery log, resends a delivery under
//! the same `webhook-id`, rotates the secret (both sign for a while), disables (the home page
//! tells owners) and enables it, and removes it after a confirmation; viewers read, never
//! change; each change is audited.

use std::time::Duration;

use perkgate::admin::{Role, audit};
use perkgate::webhooks::endpoints;

use super::{account, csrf_of, post, signed_in, text_of};
use crate::harness::{Options, spawn_with};
use crate::webhooks::{Receiver, fast, unlock, until};

fn between<'a>(html: &'a str, start: &str) -> &'a str {
    html.split(start)
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap_or_else(|| panic!("{start} not in {html}"))
}

#[tokio::test]
async fn an_owner_registers_resends_rotates_disables_and_removes_an_endpoint() {
    let app = spawn_with(fast(Options::default())).await;
    let db = app.db().await;
    account(&app, "owner@example.com", Role::Owner).await;
    account(&app, "viewer@example.com", Role::Viewer).await;
    let b = signed_in(&app, "owner@example.com").await;
    let receiver = Receiver::start().await;

    // No event chosen, then a target that is not a URL: said on the form, nothing made.
    let csrf = csrf_of(&app, &b, "/admin/webhooks").await;
    let url = receiver.url();
    let res = post(
        &app,
        &b,
        "/admin/webhooks",
        &[("csrf", &csrf), ("url", &url)],
    )
    .await;
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    assert!(html.contains("choose at least one event"), "{html}");
    assert!(
        html.contains(&format!("value=\"{url}\"")),
        "the URL is kept"
    );
    let form = [
        ("csrf", csrf.as_str()),
        ("url", "ftp://x"),
        ("benefit.unlocked", "1"),
    ];
    let res = post(&app, &b, "/admin/webhooks", &form).await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("must be an https:// URL")
    );
    assert!(endpoints::list(&db).await.unwrap().is_empty());

    // Registered: the secret once.
    let form = [
        ("csrf", csrf.as_str()),
        ("url", url.as_str()),
        ("benefit.unlocked", "1"),
        ("rules.published", "1"),
    ];
    let res = post(&app, &b, "/admin/webhooks", &form).await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    let secret = between(&html, "data-testid=\"new-secret\">").to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    let listed = b.get(app.url("/admin/webhooks")).send().await.unwrap();
    let listed = listed.text().await.unwrap();
    assert!(!listed.contains(&secret) && listed.contains(&url));
    assert!(listed.contains("benefit.unlocked, rules.published"));
    let id = endpoints::list(&db).await.unwrap()[0].id;
    receiver.set_secret(&secret);

    // An event arrives, is in the log; resent, it arrives again under the same id.
    unlock(&db, "p1").await;
    until("the first delivery", Duration::from_secs(10), || {
        receiver.delivered().len() == 1
    })
    .await;
    let event_id = receiver.received()[0].id.clone();
    let page = format!("/admin/webhooks/{id}");
    let log = loop {
        let html = text_of(&app, &b, &page).await;
        if html.contains("HTTP 204") {
            break html;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        log.contains(&event_id) && log.contains("delivered"),
        "{log}"
    );
    let delivery = endpoints::deliveries(&db, id, 1).await.unwrap()[0].id;
    let csrf = csrf_of(&app, &b, &page).await;
    let resend = format!("/admin/webhooks/{id}/deliveries/{delivery}/resend");
    let res = post(&app, &b, &resend, &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("queued again"));
    until("the resent delivery", Duration::from_secs(10), || {
        receiver.delivered().get(&event_id) == Some(&2)
    })
    .await;
    receiver.assert_repeats_are_identical();

    // Rotated: a new secret, shown once; the receiver switches and still verifies.
    let res = post(
        &app,
        &b,
        &format!("/admin/webhooks/{id}/rotate"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    let rotated = between(&html, "data-testid=\"new-secret\">").to_owned();
    assert!(rotated.starts_with("whsec_") && rotated != secret);
    assert!(html.contains("Previous secret"));
    receiver.set_secret(&rotated);
    unlock(&db, "p2").await;
    until(
        "a delivery signed with the new secret",
        Duration::from_secs(10),
        || receiver.delivered().len() == 2,
    )
    .await;
    // ... and the old one still verifies it during the grace period.
    receiver.set_secret(&secret);
    unlock(&db, "p3").await;
    until(
        "a delivery the old secret verifies",
        Duration::from_secs(10),
        || receiver.delivered().len() == 3,
    )
    .await;
    receiver.assert_repeats_are_identical();

    // Disabled: nothing queued, and owners are told on the home page; viewers are not.
    let res = post(
        &app,
        &b,
        &format!("/admin/webhooks/{id}/disable"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("disabled by owner@example.com")
    );
    let home = text_of(&app, &b, "/admin").await;
    assert!(home.contains("data-testid=\"webhooks-disabled\""), "{home}");
    let viewer = signed_in(&app, "viewer@example.com").await;
    let vhome = text_of(&app, &viewer, "/admin").await;
    assert!(!vhome.contains("webhooks-disabled"));
    unlock(&db, "p4").await;
    assert_eq!(endpoints::deliveries(&db, id, 10).await.unwrap().len(), 3);
    let res = post(
        &app,
        &b,
        &format!("/admin/webhooks/{id}/enable"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(res.status(), 200);
    let home = text_of(&app, &b, "/admin").await;
    assert!(!home.contains("webhooks-disabled"));

    // Viewers read the endpoints and the log, without forms, and cannot change anything.
    for path in ["/admin/webhooks", page.as_str()] {
        let res = viewer.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let html = res.text().await.unwrap();
        assert!(html.contains(&url), "{path}");
        assert!(
            !html.contains("/rotate") && !html.contains("Register an endpoint"),
            "{path}"
        );
    }
    let vcsrf = csrf_of(&app, &viewer, "/admin/webhooks").await;
    for path in [
        "/admin/webhooks".to_owned(),
        format!("/admin/webhooks/{id}/rotate"),
        format!("/admin/webhooks/{id}/disable"),
        format!("/admin/webhooks/{id}/remove"),
        resend.clone(),
    ] {
        let res = post(
            &app,
            &viewer,
            &path,
            &[("csrf", &vcsrf), ("url", &url), ("benefit.unlocked", "1")],
        )
        .await;
        assert_eq!(res.status(), 403, "{path}");
    }
    let res = viewer
        .get(app.url(&format!("/admin/webhooks/{id}/remove")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    // Removed after the confirmation.
    let confirm = b
        .get(app.url(&format!("/admin/webhooks/{id}/remove")))
        .send()
        .await
        .unwrap();
    assert_eq!(confirm.status(), 200);
    assert!(
        confirm
            .text()
            .await
            .unwrap()
            .contains("data-testid=\"confirm\"")
    );
    let res = post(
        &app,
        &b,
        &format!("/admin/webhooks/{id}/remove"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("no-webhooks"));
    assert!(endpoints::list(&db).await.unwrap().is_empty());
    let gone = b.get(app.url(&page)).send().await.unwrap();
    assert_eq!(gone.status(), 404);

    let actions: Vec<String> = audit::recent(&db, 50)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    for action in [
        "webhook endpoint added",
        "webhook resent",
        "webhook secret rotated",
        "webhook endpoint disabled",
        "webhook endpoint enabled",
        "webhook endpoint removed",
    ] {
        assert!(actions.iter().any(|a| a == action), "{action}: {actions:?}");
    }
    app.stop().await;
}

/// Without the operator's permission a loopback target is refused on the form.
#[tokio::test]
async fn the_form_refuses_a_loopback_target_by_default() {
    let app = spawn_with(Options::default()).await;
    account(&app, "owner@example.com", Role::Owner).await;
    let b = signed_in(&app, "owner@example.com").await;
    let csrf = csrf_of(&app, &b, "/admin/webhooks").await;
    let form = [
        ("csrf", csrf.as_str()),
        ("url", "https://127.0.0.1:8443/hook"),
        ("pool.low", "1"),
    ];
    let res = post(&app, &b, "/admin/webhooks", &form).await;
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    assert!(html.contains("not a public address"), "{html}");
    assert!(html.contains("aria-invalid=\"true\""));
    assert!(endpoints::list(&app.db().await).await.unwrap().is_empty());
}
