//! The merchant console over HTTP, on the real app and database: guards on every route,
//! roles, CSRF, session rotation, set-password links, throttling, the second factor, and the
//! `perkgate admin` commands.

mod cli;
mod codes;
mod dashboard;
mod keys;
mod offers;
mod preview;
mod rules;
mod settings;
mod webhooks;

use perkgate::admin::{Role, accounts, password, totp};

use crate::harness::stores::fresh_postgres;
use crate::harness::{Options, TestApp, hidden, location, spawn_app, spawn_with};

const PASSWORD: &str = "tulip-Harbour-93-kettle";

/// A browser: its own cookie jar, redirects not followed.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// An account with a password, made as the command line would.
async fn account(app: &TestApp, email: &str, role: Role) -> i64 {
    let db = app.db().await;
    let a = accounts::create(&db, email, role, perkgate::clock::now())
        .await
        .unwrap();
    let hash = password::hash_blocking(PASSWORD).unwrap();
    accounts::set_password(&db, a.id, &hash).await.unwrap();
    a.id
}

/// The body of a page `b` gets (whatever its status).
async fn text_of(app: &TestApp, b: &reqwest::Client, path: &str) -> String {
    b.get(app.url(path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn csrf_of(app: &TestApp, b: &reqwest::Client, path: &str) -> String {
    let res = b.get(app.url(path)).send().await.unwrap();
    assert_eq!(res.status(), 200, "{path}");
    hidden(&res.text().await.unwrap(), "csrf")
}

async fn post(
    app: &TestApp,
    b: &reqwest::Client,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    b.post(app.url(path)).form(form).send().await.unwrap()
}

async fn sign_in_with(
    app: &TestApp,
    b: &reqwest::Client,
    email: &str,
    pw: &str,
) -> reqwest::Response {
    let csrf = csrf_of(app, b, "/admin/login").await;
    post(
        app,
        b,
        "/admin/login",
        &[("csrf", &csrf), ("email", email), ("password", pw)],
    )
    .await
}

async fn signed_in(app: &TestApp, email: &str) -> reqwest::Client {
    let b = browser();
    let res = sign_in_with(app, &b, email, PASSWORD).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/admin");
    b
}

fn cookie_value(res: &reqwest::Response) -> Option<String> {
    crate::harness::set_cookie_value(res, "perkgate-admin")
}

/// Every console page and form, as (method, path).
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/admin"),
    ("GET", "/admin/account"),
    ("GET", "/admin/accounts"),
    ("GET", "/admin/audit"),
    ("GET", "/admin/login/totp"),
    ("POST", "/admin/login/totp"),
    ("POST", "/admin/account/password"),
    ("POST", "/admin/account/2fa/start"),
    ("POST", "/admin/account/2fa/confirm"),
    ("POST", "/admin/account/2fa/disable"),
    ("POST", "/admin/accounts"),
    ("POST", "/admin/accounts/1/remove"),
    ("POST", "/admin/accounts/1/reset"),
    ("GET", "/admin/keys"),
    ("POST", "/admin/keys"),
    ("GET", "/admin/keys/1/revoke"),
    ("POST", "/admin/keys/1/revoke"),
    ("GET", "/admin/rules"),
    ("POST", "/admin/rules"),
    ("POST", "/admin/rules/draft/discard"),
    ("GET", "/admin/rules/preview"),
    ("POST", "/admin/rules/preview"),
    ("GET", "/admin/rules/versions"),
    ("GET", "/admin/rules/versions/1"),
    ("GET", "/admin/rules/versions/1/rollback"),
    ("POST", "/admin/rules/versions/1/rollback"),
    ("GET", "/admin/audit.csv"),
    ("GET", "/admin/codes"),
    ("GET", "/admin/codes/issued.csv"),
    ("GET", "/admin/codes/lookup?code=ABC-123"),
    ("GET", "/admin/codes/revoke?code=ABC-123"),
    ("GET", "/admin/codes/reset?code=ABC-123"),
    ("POST", "/admin/codes/upload"),
    ("POST", "/admin/codes/redeemed"),
    ("POST", "/admin/codes/revoke"),
    ("POST", "/admin/codes/reset"),
    ("GET", "/admin/rules/offers"),
    ("GET", "/admin/rules/offers/new"),
    ("POST", "/admin/rules/offers/new"),
    ("GET", "/admin/rules/offers/military"),
    ("POST", "/admin/rules/offers/military"),
    ("GET", "/admin/rules/offers/military/remove"),
    ("POST", "/admin/rules/offers/military/remove"),
    ("GET", "/admin/rules/pools/new"),
    ("POST", "/admin/rules/pools/new"),
    ("GET", "/admin/rules/pools/veteran-codes"),
    ("POST", "/admin/rules/pools/veteran-codes"),
    ("GET", "/admin/rules/pools/veteran-codes/remove"),
    ("POST", "/admin/rules/pools/veteran-codes/remove"),
    ("GET", "/admin/settings"),
    ("POST", "/admin/settings"),
    ("GET", "/admin/dashboard"),
    (
        "GET",
        "/admin/dashboard?days=90&offer=military&group=military",
    ),
    ("GET", "/admin/dashboard.csv"),
    ("GET", "/admin/webhooks"),
    ("POST", "/admin/webhooks"),
    ("GET", "/admin/webhooks/1"),
    ("POST", "/admin/webhooks/1/rotate"),
    ("POST", "/admin/webhooks/1/enable"),
    ("POST", "/admin/webhooks/1/disable"),
    ("GET", "/admin/webhooks/1/remove"),
    ("POST", "/admin/webhooks/1/remove"),
    ("POST", "/admin/webhooks/1/deliveries/1/resend"),
];

#[tokio::test]
async fn no_console_route_answers_without_a_session() {
    let app = spawn_app().await;
    let b = browser();
    // A shopper's session cookie opens nothing either.
    app.home().await;
    for (method, path) in ROUTES {
        let req = match *method {
            "GET" => b.get(app.url(path)),
            _ => b.post(app.url(path)).form(&[("csrf", "x")]),
        };
        let res = req.header("cookie", "perkgate=abc").send().await.unwrap();
        assert_eq!(res.status(), 303, "{method} {path}");
        assert_eq!(location(&res), "/admin/login", "{method} {path}");
    }
    let login = b.get(app.url("/admin/login")).send().await.unwrap();
    assert_eq!(login.status(), 200);
    assert_eq!(login.headers()["cache-control"], "no-store");
    assert!(
        login.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("perkgate-admin="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict")
            && cookie.contains("Path=/admin")
    );
    let html = login.text().await.unwrap();
    assert!(
        html.contains("autocomplete=\"username\"")
            && html.contains("autocomplete=\"current-password\"")
    );
    // There is no sign-up.
    let res = b.post(app.url("/admin/signup")).send().await.unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn a_viewer_cannot_reach_owner_pages() {
    let app = spawn_app().await;
    account(&app, "viewer@example.com", Role::Viewer).await;
    let b = signed_in(&app, "viewer@example.com").await;
    let home = b.get(app.url("/admin")).send().await.unwrap();
    assert_eq!(home.status(), 200);
    let html = home.text().await.unwrap();
    assert!(html.contains("viewer@example.com") && html.contains(">viewer<"));
    assert!(!html.contains("/admin/accounts"), "no link to owner pages");
    let csrf = hidden(&html, "csrf");
    for path in ["/admin/accounts", "/admin/audit"] {
        let res = b.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 403, "{path}");
        assert!(
            res.text()
                .await
                .unwrap()
                .contains("data-testid=\"correlation-id\"")
        );
    }
    for path in [
        "/admin/accounts",
        "/admin/accounts/1/remove",
        "/admin/accounts/1/reset",
    ] {
        let res = post(
            &app,
            &b,
            path,
            &[
                ("csrf", &csrf),
                ("email", "x@example.com"),
                ("role", "owner"),
            ],
        )
        .await;
        assert_eq!(res.status(), 403, "{path}");
    }
    assert!(
        accounts::by_email(&app.db().await, "x@example.com")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn every_form_refuses_a_wrong_csrf_token() {
    let app = spawn_app().await;
    account(&app, "owner@example.com", Role::Owner).await;
    let b = signed_in(&app, "owner@example.com").await;
    for path in [
        "/admin/account/password",
        "/admin/account/2fa/start",
        "/admin/account/2fa/confirm",
        "/admin/account/2fa/disable",
        "/admin/accounts",
        "/admin/accounts/1/remove",
        "/admin/accounts/1/reset",
        "/admin/keys",
        "/admin/keys/1/revoke",
        "/admin/rules",
        "/admin/rules/draft/discard",
        "/admin/rules/preview",
        "/admin/rules/versions/1/rollback",
        "/admin/rules/offers/new",
        "/admin/rules/offers/military",
        "/admin/rules/offers/military/remove",
        "/admin/rules/pools/new",
        "/admin/rules/pools/veteran-codes",
        "/admin/rules/pools/veteran-codes/remove",
        "/admin/settings",
        "/admin/webhooks",
        "/admin/webhooks/1/rotate",
        "/admin/webhooks/1/enable",
        "/admin/webhooks/1/disable",
        "/admin/webhooks/1/remove",
        "/admin/webhooks/1/deliveries/1/resend",
        "/admin/logout",
    ] {
        for token in ["", "forged"] {
            let res = post(
                &app,
                &b,
                path,
                &[
                    ("csrf", token),
                    ("email", "x@example.com"),
                    ("role", "viewer"),
                ],
            )
            .await;
            assert_eq!(res.status(), 403, "{path} {token:?}");
        }
    }
    // Still signed in: the forged sign-out did nothing.
    assert_eq!(b.get(app.url("/admin")).send().await.unwrap().status(), 200);
    // Before signing in: the sign-in and set-password forms.
    let fresh = browser();
    csrf_of(&app, &fresh, "/admin/login").await;
    let res = post(
        &app,
        &fresh,
        "/admin/login",
        &[
            ("csrf", "forged"),
            ("email", "owner@example.com"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(res.status(), 403);
    let db = app.db().await;
    let a = accounts::create(&db, "new@example.com", Role::Viewer, perkgate::clock::now())
        .await
        .unwrap();
    let token = accounts::issue_link(&db, a.id, perkgate::clock::now())
        .await
        .unwrap();
    let path = format!("/admin/password/{token}");
    csrf_of(&app, &fresh, &path).await;
    let res = post(
        &app,
        &fresh,
        &path,
        &[("csrf", "forged"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(res.status(), 403);
    // Another browser's token is refused too.
    let other = csrf_of(&app, &browser(), "/admin/login").await;
    let res = post(
        &app,
        &fresh,
        "/admin/login",
        &[
            ("csrf", &other),
            ("email", "owner@example.com"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn the_session_id_rotates_at_sign_in_and_sign_out_ends_it() {
    let app = spawn_app().await;
    account(&app, "owner@example.com", Role::Owner).await;
    let b = browser();
    let login = b.get(app.url("/admin/login")).send().await.unwrap();
    let before = cookie_value(&login).unwrap();
    let csrf = hidden(&login.text().await.unwrap(), "csrf");
    let res = post(
        &app,
        &b,
        "/admin/login",
        &[
            ("csrf", &csrf),
            ("email", "owner@example.com"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let after = cookie_value(&res).unwrap();
    assert_ne!(before, after);
    let with = |value: &str| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(app.url("/admin"))
            .header("cookie", format!("perkgate-admin={value}"))
    };
    assert_eq!(
        with(&before).send().await.unwrap().status(),
        303,
        "the pre-sign-in value opens nothing"
    );
    assert_eq!(with(&after).send().await.unwrap().status(), 200);
    // Only a hash of the id is stored.
    let db = app.db().await;
    let audit = perkgate::admin::audit::recent(&db, 10).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "sign-in"
        && e.actor == "owner@example.com"
        && e.address == "127.0.0.1"));
    let csrf = csrf_of(&app, &b, "/admin").await;
    let res = post(&app, &b, "/admin/logout", &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), 303);
    assert_ne!(
        cookie_value(&res).unwrap(),
        after,
        "a new value at sign-out"
    );
    assert_eq!(
        with(&after).send().await.unwrap().status(),
        303,
        "signed out"
    );
    let audit = perkgate::admin::audit::recent(&db, 10).await.unwrap();
    assert_eq!(audit[0].action, "sign-out");
}

#[tokio::test]
async fn set_password_links_work_once_before_they_expire_and_enforce_the_policy() {
    let app = spawn_app().await;
    let db = app.db().await;
    let now = perkgate::clock::now();
    let a = accounts::create(&db, "ed@example.com", Role::Editor, now)
        .await
        .unwrap();
    let token = accounts::issue_link(&db, a.id, now).await.unwrap();
    let path = format!("/admin/password/{token}");
    let b = browser();
    let page = b.get(app.url(&path)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("autocomplete=\"new-password\"") && html.contains("ed@example.com"));
    let csrf = hidden(&html, "csrf");
    for (weak, says) in [
        ("short-pw", "at least 12"),
        ("qwerty123456", "too common"),
        ("Password123456!", "too common"),
    ] {
        let res = post(&app, &b, &path, &[("csrf", &csrf), ("password", weak)]).await;
        assert_eq!(res.status(), 400, "{weak}");
        let html = res.text().await.unwrap();
        assert!(html.contains(says), "{weak}: {html}");
        assert!(html.contains("aria-describedby=\"password-error\""));
    }
    let res = post(&app, &b, &path, &[("csrf", &csrf), ("password", PASSWORD)]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/admin");
    assert_eq!(
        b.get(app.url("/admin")).send().await.unwrap().status(),
        200,
        "signed in"
    );
    // Used: gone, for reading and for posting.
    assert_eq!(b.get(app.url(&path)).send().await.unwrap().status(), 410);
    let other = browser();
    let csrf = csrf_of(&app, &other, "/admin/login").await;
    let res = post(
        &app,
        &other,
        &path,
        &[("csrf", &csrf), ("password", "another-Good-pass-77")],
    )
    .await;
    assert_eq!(res.status(), 410);
    // Expired: a link issued 30 minutes and a second ago.
    let old = accounts::issue_link(&db, a.id, now - accounts::LINK_TTL_SECS - 1)
        .await
        .unwrap();
    assert_eq!(
        b.get(app.url(&format!("/admin/password/{old}")))
            .send()
            .await
            .unwrap()
            .status(),
        410
    );
    // The password works for signing in.
    signed_in(&app, "ed@example.com").await;
}

#[tokio::test]
async fn failed_sign_ins_say_the_same_and_then_must_wait() {
    let app = spawn_app().await;
    account(&app, "owner@example.com", Role::Owner).await;
    let b = browser();
    let mut texts = Vec::new();
    for email in ["owner@example.com", "nobody@example.com"] {
        let res = sign_in_with(&app, &b, email, "wrong-password-123").await;
        assert_eq!(res.status(), 401);
        let html = res.text().await.unwrap();
        let start = html.find("id=\"login-error\"").unwrap();
        texts.push(html[start..start + 120].to_owned());
    }
    assert_eq!(texts[0], texts[1], "nothing says which was wrong");
    for _ in 1..5 {
        assert_eq!(
            sign_in_with(&app, &b, "owner@example.com", "wrong-password-123")
                .await
                .status(),
            401
        );
    }
    // Five failures: the sixth attempt, even with the right password, must wait.
    let res = sign_in_with(&app, &b, "owner@example.com", PASSWORD).await;
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["retry-after"], "1");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        sign_in_with(&app, &b, "owner@example.com", PASSWORD)
            .await
            .status(),
        303
    );
    let audit = perkgate::admin::audit::recent(&app.db().await, 50)
        .await
        .unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "sign-in failed" && e.actor == "unknown")
    );
    assert!(
        audit.iter().all(|e| !e.details.contains("wrong-password")),
        "no password in the audit log"
    );
}

async fn enrol(app: &TestApp, b: &reqwest::Client) -> String {
    let csrf = csrf_of(app, b, "/admin/account").await;
    let res = post(app, b, "/admin/account/2fa/start", &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    let start = html.find("data-testid=\"totp-secret\">").unwrap() + 26;
    let secret = html[start..start + 32].to_owned();
    assert!(
        html.contains("otpauth://totp/perkgate:") && html.contains(&format!("secret={secret}"))
    );
    let wrong = post(
        app,
        b,
        "/admin/account/2fa/confirm",
        &[("csrf", &csrf), ("code", "000000")],
    )
    .await;
    assert_eq!(wrong.status(), 400);
    let code = totp::code_at(&secret, perkgate::clock::now()).unwrap();
    let res = post(
        app,
        b,
        "/admin/account/2fa/confirm",
        &[("csrf", &csrf), ("code", &code)],
    )
    .await;
    assert_eq!(res.status(), 303);
    let page = text_of(app, b, "/admin/account").await;
    assert!(page.contains("data-testid=\"2fa-on\""));
    // The database keeps the key sealed: a copy of it does not give the codes away.
    let db = app.db().await;
    for a in accounts::list(&db).await.unwrap() {
        let stored = [a.totp_secret, a.totp_pending].into_iter().flatten();
        for value in stored {
            assert!(
                value.starts_with("v1.") && !value.contains(&secret),
                "{value}"
            );
        }
    }
    secret
}

async fn two_factor_flow(app: &TestApp) {
    account(app, "owner@example.com", Role::Owner).await;
    let b = signed_in(app, "owner@example.com").await;
    let secret = enrol(app, &b).await;
    let csrf = csrf_of(app, &b, "/admin").await;
    post(app, &b, "/admin/logout", &[("csrf", &csrf)]).await;

    let b = browser();
    let res = sign_in_with(app, &b, "owner@example.com", PASSWORD).await;
    assert_eq!(location(&res), "/admin/login/totp");
    // Half signed in opens nothing.
    let res = b.get(app.url("/admin")).send().await.unwrap();
    assert_eq!(location(&res), "/admin/login/totp");
    let page = text_of(app, &b, "/admin/login/totp").await;
    assert!(page.contains("autocomplete=\"one-time-code\""));
    let csrf = hidden(&page, "csrf");
    let res = post(
        app,
        &b,
        "/admin/login/totp",
        &[("csrf", &csrf), ("code", "123456")],
    )
    .await;
    assert_eq!(res.status(), 401);
    // The step after the confirmation's (a code is never accepted twice).
    let code = totp::code_at(&secret, perkgate::clock::now() + 30).unwrap();
    let res = post(
        app,
        &b,
        "/admin/login/totp",
        &[("csrf", &csrf), ("code", &code)],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/admin");
    assert_eq!(b.get(app.url("/admin")).send().await.unwrap().status(), 200);

    // The same code again, in another sign-in: refused.
    let again = browser();
    sign_in_with(app, &again, "owner@example.com", PASSWORD).await;
    let csrf = csrf_of(app, &again, "/admin/login/totp").await;
    let res = post(
        app,
        &again,
        "/admin/login/totp",
        &[("csrf", &csrf), ("code", &code)],
    )
    .await;
    assert_eq!(res.status(), 401, "a used code");
    let audit = perkgate::admin::audit::recent(&app.db().await, 50)
        .await
        .unwrap();
    assert!(audit.iter().any(|e| e.action == "2fa enabled"));
    assert!(audit.iter().all(|e| !e.details.contains(&secret)));
}

#[tokio::test]
async fn second_factor_on_sqlite() {
    two_factor_flow(&spawn_app().await).await;
    // With the sealing key kept outside the database.
    let key = "an-operator-key-0123456789-abcdefghij";
    let app = spawn_with(Options::default().var("PERKGATE_ADMIN_TOTP_KEY", key)).await;
    two_factor_flow(&app).await;
}

#[tokio::test]
async fn second_factor_and_accounts_on_postgres() {
    let Some(url) = fresh_postgres().await else {
        return;
    };
    let app = spawn_with(Options::default().var("PERKGATE_DATABASE_URL", &url)).await;
    two_factor_flow(&app).await;
    let Some(url) = fresh_postgres().await else {
        return;
    };
    let app = spawn_with(Options::default().var("PERKGATE_DATABASE_URL", &url)).await;
    account(&app, "owner@example.com", Role::Owner).await;
    owner_manages_accounts(&app).await;
}

#[tokio::test]
async fn accounts_on_sqlite() {
    let app = spawn_app().await;
    account(&app, "owner@example.com", Role::Owner).await;
    owner_manages_accounts(&app).await;
}

/// `owner@example.com` exists with [`PASSWORD`].
async fn owner_manages_accounts(app: &TestApp) {
    let owner = signed_in(app, "owner@example.com").await;
    let csrf = csrf_of(app, &owner, "/admin/accounts").await;
    let res = post(
        app,
        &owner,
        "/admin/accounts",
        &[
            ("csrf", &csrf),
            ("email", "Vera@Example.com"),
            ("role", "viewer"),
        ],
    )
    .await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    let start = html.find("data-testid=\"set-password-link\">").unwrap() + 32;
    let link = html[start..html[start..].find('<').unwrap() + start].to_owned();
    assert!(
        link.starts_with(&format!("{}/admin/password/", app.base)),
        "{link}"
    );
    let dup = post(
        app,
        &owner,
        "/admin/accounts",
        &[
            ("csrf", &csrf),
            ("email", "vera@example.com"),
            ("role", "viewer"),
        ],
    )
    .await;
    assert_eq!(dup.status(), 409);

    // Vera sets her password through the link and is signed in.
    let vera = browser();
    let page = vera.get(&link).send().await.unwrap().text().await.unwrap();
    let vcsrf = hidden(&page, "csrf");
    let res = vera
        .post(&link)
        .form(&[("csrf", vcsrf.as_str()), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        vera.get(app.url("/admin")).send().await.unwrap().status(),
        200
    );

    // A reset ends her sessions and gives a new link; the old password no longer works.
    let id = accounts::by_email(&app.db().await, "vera@example.com")
        .await
        .unwrap()
        .unwrap()
        .id;
    let res = post(
        app,
        &owner,
        &format!("/admin/accounts/{id}/reset"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("data-testid=\"set-password-link\"")
    );
    assert_eq!(
        vera.get(app.url("/admin")).send().await.unwrap().status(),
        303
    );
    assert_eq!(
        sign_in_with(app, &browser(), "vera@example.com", PASSWORD)
            .await
            .status(),
        401
    );

    // The last owner cannot remove themselves; Vera can be removed.
    let me = accounts::by_email(&app.db().await, "owner@example.com")
        .await
        .unwrap()
        .unwrap()
        .id;
    let res = post(
        app,
        &owner,
        &format!("/admin/accounts/{me}/remove"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(res.status(), 409);
    let res = post(
        app,
        &owner,
        &format!("/admin/accounts/{id}/remove"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert!(
        accounts::by_email(&app.db().await, "vera@example.com")
            .await
            .unwrap()
            .is_none()
    );

    let audit = owner.get(app.url("/admin/audit")).send().await.unwrap();
    assert_eq!(audit.status(), 200);
    let html = audit.text().await.unwrap();
    for action in [
        "account added",
        "password set",
        "account reset",
        "account removed",
        "sign-in",
    ] {
        assert!(html.contains(action), "{action}");
    }
    assert!(
        !html.contains(link.rsplit('/').next().unwrap()),
        "no token in the audit log"
    );
}

#[tokio::test]
async fn owners_without_a_second_factor_must_enrol_when_required() {
    let app = spawn_with(Options::default().var("PERKGATE_ADMIN_REQUIRE_2FA", "1")).await;
    account(&app, "owner@example.com", Role::Owner).await;
    account(&app, "viewer@example.com", Role::Viewer).await;
    let b = signed_in(&app, "owner@example.com").await;
    let res = b.get(app.url("/admin")).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/admin/account");
    let page = text_of(&app, &b, "/admin/account").await;
    assert!(page.contains("data-testid=\"must-enrol\""));
    enrol(&app, &b).await;
    assert_eq!(b.get(app.url("/admin")).send().await.unwrap().status(), 200);
    // Viewers are not asked.
    let v = signed_in(&app, "viewer@example.com").await;
    assert_eq!(v.get(app.url("/admin")).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_fresh_database_logs_a_link_for_the_first_owner() {
    let logs = crate::harness::logs::capture_logs();
    let app = spawn_with(Options::default().var("PERKGATE_ADMIN_EMAIL", "first@example.com")).await;
    let text = logs.text();
    let line = text
        .lines()
        .find(|l| l.contains("one-time link"))
        .expect("the link is logged");
    let start = line.find("link=").unwrap() + 5;
    let link = line[start..].split_whitespace().next().unwrap().to_owned();
    assert!(
        link.starts_with(&format!("{}/admin/password/", app.base)),
        "{line}"
    );
    let b = browser();
    let page = b.get(&link).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("first@example.com"));
    let csrf = hidden(&page, "csrf");
    let res = b
        .post(&link)
        .form(&[("csrf", csrf.as_str()), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let home = text_of(&app, &b, "/admin").await;
    assert!(home.contains(">owner<"));
}
