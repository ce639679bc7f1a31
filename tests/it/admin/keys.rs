//! The owner's API keys page over HTTP: a key is made and shown once, works on the merchant
//! API, is listed by its prefix only, is revoked after a confirmation and refused at once;
//! editors and viewers get neither page nor form; each change is audited.

use perkgate::admin::{Role, audit};

use super::{account, csrf_of, post, signed_in, text_of};
use crate::harness::{hidden, spawn_app};

#[tokio::test]
async fn an_owner_makes_a_key_sees_it_once_and_revokes_it() {
    let app = spawn_app().await;
    account(&app, "owner@example.com", Role::Owner).await;
    let b = signed_in(&app, "owner@example.com").await;
    let home = text_of(&app, &b, "/admin").await;
    assert!(
        home.contains("href=\"/admin/keys\""),
        "owners see the page in the nav"
    );

    let csrf = csrf_of(&app, &b, "/admin/keys").await;
    let res = post(
        &app,
        &b,
        "/admin/keys",
        &[
            ("csrf", &csrf),
            ("name", "shop backend"),
            ("scope", "redeem"),
        ],
    )
    .await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    let secret = page
        .split("data-testid=\"new-key\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap()
        .to_owned();
    assert!(
        secret.starts_with("pk_live_") && secret.len() == 51,
        "{secret}"
    );
    let api = |key: String| {
        let url = app.url("/api/v1/merchant/events");
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(api(secret.clone()).await, 200);

    // Listed by its prefix, never shown again.
    let list = text_of(&app, &b, "/admin/keys").await;
    assert!(list.contains("shop backend") && list.contains(&secret[..12]));
    assert!(!list.contains(&secret), "shown once only");

    // A second key of that name is refused, next to the field.
    let res = post(
        &app,
        &b,
        "/admin/keys",
        &[("csrf", &csrf), ("name", "shop backend"), ("scope", "read")],
    )
    .await;
    assert_eq!(res.status(), 409);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("data-testid=\"key-error\"")
    );
    let res = post(
        &app,
        &b,
        "/admin/keys",
        &[("csrf", &csrf), ("name", "x"), ("scope", "owner")],
    )
    .await;
    assert_eq!(res.status(), 400);

    // Revoke: a confirmation page first, then refused at once.
    let id = list
        .split("/admin/keys/")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap()
        .to_owned();
    let confirm = b
        .get(app.url(&format!("/admin/keys/{id}/revoke")))
        .send()
        .await
        .unwrap();
    assert_eq!(confirm.status(), 200);
    let confirm = confirm.text().await.unwrap();
    assert!(confirm.contains("Revoke shop backend"));
    assert_eq!(api(secret.clone()).await, 200, "nothing revoked by looking");
    let res = post(
        &app,
        &b,
        &format!("/admin/keys/{id}/revoke"),
        &[("csrf", &hidden(&confirm, "csrf"))],
    )
    .await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("is revoked"));
    assert_eq!(api(secret.clone()).await, 401);
    let again = b
        .get(app.url(&format!("/admin/keys/{id}/revoke")))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);

    let entries = audit::recent(&app.db().await, 10).await.unwrap();
    let of = |action: &str| entries.iter().find(|e| e.action == action).unwrap();
    assert_eq!(of("api key added").actor, "owner@example.com");
    assert!(
        of("api key added")
            .details
            .starts_with("shop backend (redeem, pk_live_")
    );
    assert!(
        of("api key revoked")
            .details
            .starts_with("shop backend (redeem, ")
    );
    assert!(!entries.iter().any(|e| e.details.contains(&secret)));
}

#[tokio::test]
async fn editors_and_viewers_cannot_see_or_make_keys() {
    let app = spawn_app().await;
    for (email, role) in [
        ("editor@example.com", Role::Editor),
        ("viewer@example.com", Role::Viewer),
    ] {
        account(&app, email, role).await;
        let b = signed_in(&app, email).await;
        let home = text_of(&app, &b, "/admin").await;
        assert!(!home.contains("/admin/keys"), "{email}: no link");
        let csrf = hidden(&home, "csrf");
        for path in ["/admin/keys", "/admin/keys/1/revoke"] {
            assert_eq!(
                b.get(app.url(path)).send().await.unwrap().status(),
                403,
                "{email} {path}"
            );
            let res = post(
                &app,
                &b,
                path,
                &[("csrf", &csrf), ("name", "k"), ("scope", "redeem")],
            )
            .await;
            assert_eq!(res.status(), 403, "{email} POST {path}");
        }
    }
    let keys = perkgate::admin::api_keys::list(&app.db().await)
        .await
        .unwrap();
    assert!(keys.is_empty());
}
