//! How the store offers verification: one "Verify with ID.me" for every community through
//! ID.me's groups endpoint, or one section and button per community where there is none.

use crate::harness::fake_idme::FakeIdme;
use crate::harness::*;

/// The values of `data-testid="verify…"` attributes on a page, in order.
fn verify_buttons(page: &str) -> Vec<String> {
    page.split("data-testid=\"verify")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn one_button_goes_to_the_groups_endpoint_and_the_offer_follows_the_community_picked() {
    let app = spawn_with(
        Options::default()
            .rules_fixture("communities")
            .var("PERKGATE_VERIFY_BUTTON", "unified"),
    )
    .await;
    let (_, page) = app.home().await;
    assert_eq!(
        verify_buttons(&page),
        [""],
        "exactly one data-testid=\"verify\""
    );
    assert!(page.contains(">Verify with ID.me</button>"));
    // Every offer is listed, with who it is for, in words.
    for text in [
        "Military: 15% off",
        "Students: 10% off",
        "For First responders, Nurses",
    ] {
        assert!(page.contains(text), "{text}:\n{page}");
    }

    // The groups endpoint, with ID.me's parameters: `scopes`, plural and comma-separated.
    let groups = app.shopper();
    let url = groups.start_any().await;
    assert!(url.starts_with(&app.url("/sandbox/idme/groups?")), "{url}");
    assert_eq!(
        query_param(&url, "scopes").as_deref(),
        Some("military,student,responder,nurse,teacher")
    );
    assert_eq!(query_param(&url, "scope"), None);
    assert_eq!(
        query_param(&url, "client_id").as_deref(),
        Some("perkgate-sandbox")
    );
    assert_eq!(
        query_param(&url, "redirect_uri").as_deref(),
        Some(app.url("/auth/idme/callback").as_str())
    );
    assert_eq!(query_param(&url, "response_type").as_deref(), Some("code"));
    assert_eq!(
        query_param(&url, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert!(query_param(&url, "state").is_some_and(|s| s.len() >= 43));

    // The shopper picks "Students" at ID.me, then a persona; the students' offer unlocks.
    let authorize = groups.sandbox_community(&url, "student").await;
    assert_eq!(query_param(&authorize, "scope").as_deref(), Some("student"));
    let callback = groups.sandbox_pick(&authorize, "student").await;
    let res = groups.get(&callback).await;
    assert_eq!(res.status(), 303);
    let (_, page) = groups.home().await;
    assert_verified(&page, "LEARN10");
    assert!(page.contains("Verified with ID.me as <strong>Students (Student)</strong>"));
    assert_eq!((app.token_calls(), app.attributes_calls()), (1, 1));

    // Another shopper picks "First responders": the shared offer.
    let other = app.shopper();
    let url = other.start_any().await;
    let authorize = other.sandbox_community(&url, "responder").await;
    let callback = other.sandbox_pick(&authorize, "responder").await;
    assert_eq!(other.get(&callback).await.status(), 303);
    assert_verified(&other.home().await.1, "THANKS");
}

#[tokio::test]
async fn the_groups_endpoint_takes_scopes_not_scope() {
    let app = spawn_with(Options::default().var("PERKGATE_VERIFY_BUTTON", "unified")).await;
    let url = app.shopper().start_any().await;
    let res = app
        .get(&format!(
            "{}&scope=military",
            url.replace("scopes=", "x-scopes=")
        ))
        .await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("not `scope`"));
}

#[tokio::test]
async fn a_production_like_idme_defaults_to_the_one_button_and_its_groups_host() {
    let idme = FakeIdme::start().await;
    let groups = format!("{}/groups", idme.url());
    let app = spawn_with(
        Options::default()
            .idme(&idme.url())
            .var("PERKGATE_IDME_GROUPS_URL", &groups),
    )
    .await;
    let res = app.get("/").await;
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let page = res.text().await.unwrap();
    assert_eq!(verify_buttons(&page), [""]);
    let url = app.shopper().start_any().await;
    assert!(url.starts_with(&format!("{groups}?")), "{url}");
    assert_eq!(
        query_param(&url, "scopes").as_deref(),
        Some("military,student,teacher,responder,nurse,alumni")
    );
    // The browser may be sent there after the form.
    assert!(
        csp.contains(&format!("form-action 'self' {}", idme.url())),
        "{csp}"
    );

    // ID.me production: groups.id.me unless set otherwise.
    let config = perkgate::Config::from_vars([
        (
            "PERKGATE_IDME_URL".to_owned(),
            "https://api.id.me".to_owned(),
        ),
        ("PERKGATE_IDME_CLIENT_ID".to_owned(), "id".to_owned()),
        ("PERKGATE_IDME_CLIENT_SECRET".to_owned(), "s".to_owned()),
        ("PERKGATE_CONFIG".to_owned(), "/dev/null".to_owned()),
    ])
    .unwrap();
    assert_eq!(
        config.groups_url().map(|u| u.to_string()).as_deref(),
        Some("https://groups.id.me/")
    );
    let sandbox = perkgate::Config::from_vars([
        (
            "PERKGATE_IDME_URL".to_owned(),
            "https://api.idmelabs.com".to_owned(),
        ),
        ("PERKGATE_IDME_CLIENT_ID".to_owned(), "id".to_owned()),
        ("PERKGATE_IDME_CLIENT_SECRET".to_owned(), "s".to_owned()),
        ("PERKGATE_CONFIG".to_owned(), "/dev/null".to_owned()),
    ])
    .unwrap();
    assert_eq!(
        sandbox.groups_url(),
        None,
        "ID.me's sandbox has no groups endpoint"
    );
}

#[tokio::test]
async fn without_a_groups_endpoint_each_community_has_its_section_and_button() {
    let idme = FakeIdme::start().await;
    let app = spawn_with(
        Options::default()
            .idme(&idme.url())
            .rules_fixture("communities"),
    )
    .await;
    let (_, page) = app.home().await;
    assert_eq!(
        verify_buttons(&page),
        ["-military", "-student", "-responder", "-nurse", "-teacher"]
    );
    // No two buttons read alike: each names its community, inside its accessible name.
    for (group, name) in [
        ("military", "Military"),
        ("student", "Students"),
        ("responder", "First responders"),
        ("nurse", "Nurses"),
    ] {
        assert!(
            page.contains(&format!(
                "data-testid=\"verify-{group}\">Verify with ID.me <span class=\"community-name\">{name}</span></button>"
            )),
            "{group}:\n{page}"
        );
        assert!(page.contains(&format!("data-testid=\"community-{group}\"")));
    }
    // The shared offer sits under both of its communities.
    assert_eq!(page.matches("data-testid=\"offer-helpers\"").count(), 2);
    // A community's button asks for that scope only.
    let authorize = app.start_verify("nurse").await;
    assert_eq!(query_param(&authorize, "scope").as_deref(), Some("nurse"));
    assert!(authorize.starts_with(&format!("{}/oauth/authorize?", idme.url())));
    // PERKGATE_VERIFY_BUTTON overrides the choice: one button, ID.me's authorize with every
    // scope when there is no groups endpoint.
    let one = spawn_with(
        Options::default()
            .idme(&idme.url())
            .var("PERKGATE_VERIFY_BUTTON", "unified"),
    )
    .await;
    let url = one.shopper().start_any().await;
    assert!(
        url.starts_with(&format!("{}/oauth/authorize?", idme.url())),
        "{url}"
    );
    assert_eq!(
        query_param(&url, "scope").as_deref(),
        Some("military student teacher responder nurse alumni")
    );
}

#[tokio::test]
async fn the_embedded_sandbox_keeps_a_button_per_community_by_default() {
    let app = spawn_app().await;
    let (_, page) = app.home().await;
    let buttons = verify_buttons(&page);
    assert!(buttons.contains(&"-military".to_owned()), "{buttons:?}");
    assert!(!buttons.contains(&String::new()));
    // Both routes exist: POST /verify asks for every community at once.
    let url = app.shopper().start_any().await;
    assert!(
        url.starts_with(&app.url("/sandbox/idme/oauth/authorize?")),
        "{url}"
    );
}
