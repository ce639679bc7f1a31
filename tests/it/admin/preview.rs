//! The preview before publishing: each sandbox persona and pasted attributes under a draft,
//! why not the other offers, what changes against the live version, a date to preview, and
//! the refusals (an invalid draft, bad attributes or date, no CSRF token, no session).

use perkgate::admin::Role;

use super::{account, csrf_of, post, signed_in, text_of};
use crate::harness::{TestApp, location, spawn_app};

const EXAMPLE: &str = include_str!("../../../config/rules.toml");
const SERVICE_MEMBER: &str = "Sandbox persona: Military service member";
const VETERAN: &str = "Sandbox persona: Military veteran";

async fn preview(app: &TestApp, b: &reqwest::Client, form: &[(&str, &str)]) -> (u16, String) {
    let csrf = csrf_of(app, b, "/admin/rules").await;
    let mut fields = vec![("csrf", csrf.as_str()), ("based_on", "1")];
    fields.extend_from_slice(form);
    let res = post(app, b, "/admin/rules/preview", &fields).await;
    (res.status().as_u16(), res.text().await.unwrap())
}

/// The table row of this shopper.
fn row<'h>(html: &'h str, name: &str) -> &'h str {
    let start = html
        .find(&format!("<th scope=\"row\">{name}</th>"))
        .unwrap_or_else(|| panic!("a row for {name}: {html}"));
    html[start..].split("</tr>").next().unwrap_or_default()
}

/// The draft's offer, the live one and the change marker of a row.
fn cells(row: &str) -> (String, String, String) {
    let cell = |id: &str| {
        let i = row.find(&format!("data-testid=\"{id}\"")).unwrap();
        let from = i + row[i..].find('>').unwrap() + 1;
        let to = from + row[from..].find("</td>").unwrap();
        row[from..to]
            .replace("<strong>", "")
            .replace("</strong>", "")
    };
    (
        cell("preview-draft"),
        cell("preview-live"),
        cell("preview-change"),
    )
}

#[tokio::test]
async fn a_draft_raising_the_military_percentage_previews_each_persona_and_marks_the_change() {
    let app = spawn_app().await;
    account(&app, "ed@example.com", Role::Editor).await;
    let b = signed_in(&app, "ed@example.com").await;
    let editor = text_of(&app, &b, "/admin/rules").await;
    assert!(
        editor.contains("formaction=\"/admin/rules/preview\""),
        "the editor's Preview button works without JavaScript"
    );
    let draft = EXAMPLE.replacen("percent = 15", "percent = 25", 1);
    let (status, html) = preview(&app, &b, &[("document", &draft)]).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Previewing the text from the editor"));
    assert!(html.contains("<caption>Who gets what on "));
    assert_eq!(
        html.matches("data-testid=\"preview-row\"").count(),
        perkgate::sandbox::personas::PERSONAS.len(),
        "one row per persona"
    );
    assert_eq!(
        cells(row(&html, SERVICE_MEMBER)),
        (
            "Military: 15% off — 25% off, code SALUTE15".to_owned(),
            "Military: 15% off — 15% off, code SALUTE15".to_owned(),
            "changed".to_owned()
        )
    );
    // The veteran keeps the veterans' offer; the military one is explained as ranked lower.
    let veteran = row(&html, VETERAN);
    assert_eq!(cells(veteran).2, "same");
    assert!(veteran.contains("military (Veteran)"), "{veteran}");
    assert!(
        veteran.contains("<code>military</code> (Military: 15% off): eligible, ranked lower (priority 0, worth $25.00)"),
        "{veteran}"
    );
    let student = row(&html, "Sandbox persona: Student");
    assert!(cells(student).2 == "same" && student.contains("student (Student)"));
    assert!(
        row(
            &html,
            "Sandbox persona: Not verified (ID.me could not confirm a status)"
        )
        .contains("none verified")
    );
    assert!(html.contains("1 line(s) added, 1 removed against the live version"));
    assert!(
        html.contains("<code>percent = 25</code>") && html.contains("<code>percent = 15</code>")
    );
    // The text stays in the form, to preview again or save as a draft.
    assert!(html.contains("percent = 25") && html.contains("formaction=\"/admin/rules\""));
    // Nothing was published or saved.
    let db = app.db().await;
    assert_eq!(
        perkgate::rules::versions::latest_number(&db).await.unwrap(),
        1
    );
}

#[tokio::test]
async fn a_draft_removing_an_offer_shows_why_not_and_a_date_previews_a_future_window() {
    let app = spawn_app().await;
    account(&app, "ed@example.com", Role::Editor).await;
    let b = signed_in(&app, "ed@example.com").await;
    let start = EXAMPLE.find("# Every other military member").unwrap();
    let end = EXAMPLE.find("# Students: 10%").unwrap();
    let draft = format!("{}{}", &EXAMPLE[..start], &EXAMPLE[end..]);
    let (status, html) = preview(&app, &b, &[("document", &draft), ("at", "2025-06-01")]).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("Who gets what on 2025-06-01 00:00:00 UTC"),
        "{html}"
    );
    let member = row(&html, SERVICE_MEMBER);
    assert_eq!(
        cells(member),
        (
            "nothing".to_owned(),
            "Military: 15% off — 15% off, code SALUTE15".to_owned(),
            "changed".to_owned()
        )
    );
    assert!(
        member.contains("<code>veterans</code> (Veterans and retirees: 20% off): the shopper&#39;s subgroups are not among the offer&#39;s"),
        "{member}"
    );
    assert!(member.contains("<code>nurses</code> (Nurses: 10% off): not for the shopper"));
    // Before the students' window opens.
    let student = row(&html, "Sandbox persona: Student");
    assert_eq!(cells(student).0, "nothing");
    assert!(
        student.contains("not started yet (starts 2026-01-01)"),
        "{student}"
    );

    let (status, html) = preview(&app, &b, &[("document", &draft), ("at", "next tuesday")]).await;
    assert_eq!(status, 422);
    assert!(html.contains("aria-describedby=\"at-error\"") && html.contains("id=\"at-error\""));
    assert!(!html.contains("data-testid=\"preview-table\""));
    let (status, html) = preview(
        &app,
        &b,
        &[("document", &draft), ("at", "2031-01-01T12:00:00+01:00")],
    )
    .await;
    assert_eq!(status, 200);
    // 11:00 UTC on the day after the veterans' inclusive end.
    assert!(row(&html, VETERAN).contains("ended on 2030-12-31"));
}

#[tokio::test]
async fn pasted_attributes_get_a_row_and_bad_ones_a_clear_error() {
    let app = spawn_app().await;
    account(&app, "viewer@example.com", Role::Viewer).await;
    let b = signed_in(&app, "viewer@example.com").await;
    let alumni = r#"{"attributes":[{"handle":"uuid","value":"x1"},{"handle":"alumni_school_name","value":"State University"},{"handle":"alumni_graduation_date","value":"2010-05-20"}],"status":[{"group":"alumni","subgroups":[],"verified":true}]}"#;
    // A viewer previews the live version: a document in the form is ignored.
    let draft = EXAMPLE.replacen("percent = 15", "percent = 25", 1);
    let (status, html) = preview(&app, &b, &[("attributes", alumni), ("document", &draft)]).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Previewing the live version"));
    assert!(!html.contains("name=\"document\""), "no editor for viewers");
    let pasted = row(&html, "The pasted attributes");
    assert_eq!(
        cells(pasted).0,
        "State University alumni: free shipping — Free shipping, no code"
    );
    assert!(html.contains("The document is the same as the live version."));
    assert!(!html.contains("changed</strong>"));

    let secret = r#"{"attributes": [{"handle": "email", "value": "someone@example.com""#;
    let (status, html) = preview(&app, &b, &[("attributes", secret)]).await;
    assert_eq!(status, 422);
    assert!(
        html.contains("aria-describedby=\"attributes-error\"")
            && html.contains("data-testid=\"attributes-error\"")
    );
    assert!(
        html.contains("not the JSON ID.me documents (truncated error at line 1"),
        "{html}"
    );
    // The personas are still previewed, and the pasted text kept for correction.
    assert!(html.contains(SERVICE_MEMBER) && html.contains("someone@example.com"));
    let huge = format!(
        "{{\"attributes\": [], \"pad\": \"{}\"}}",
        "x".repeat(70_000)
    );
    let (status, html) = preview(&app, &b, &[("attributes", &huge)]).await;
    assert_eq!(status, 422);
    assert!(html.contains("The attributes are larger than 64 KiB."));

    let res = b.get(app.url("/admin/rules/preview")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn an_invalid_draft_shows_its_errors_and_keeps_the_text() {
    let app = spawn_app().await;
    account(&app, "ed@example.com", Role::Editor).await;
    let b = signed_in(&app, "ed@example.com").await;
    let bad = EXAMPLE.replacen("percent = 15", "percent = 150", 1);
    let (status, html) = preview(&app, &b, &[("document", &bad)]).await;
    assert_eq!(status, 422);
    let line = EXAMPLE.lines().position(|l| l == "percent = 15").unwrap() + 1;
    assert!(
        html.contains(&format!(
            "Line {line}, column 11, field <code>percent</code>"
        )),
        "{html}"
    );
    assert!(
        html.contains("aria-describedby=\"preview-problems\"")
            && html.contains("id=\"preview-problems\"")
    );
    assert!(html.contains("percent = 150"), "the text is kept");
    assert!(!html.contains("data-testid=\"preview-table\""));
}

#[tokio::test]
async fn the_saved_draft_is_previewed_and_the_form_needs_its_token_and_a_session() {
    let app = spawn_app().await;
    account(&app, "ed@example.com", Role::Editor).await;
    let b = signed_in(&app, "ed@example.com").await;
    let draft = EXAMPLE.replacen("percent = 15", "percent = 30", 1);
    let csrf = csrf_of(&app, &b, "/admin/rules").await;
    let res = post(
        &app,
        &b,
        "/admin/rules",
        &[
            ("csrf", &csrf),
            ("action", "draft"),
            ("document", &draft),
            ("based_on", "1"),
        ],
    )
    .await;
    assert_eq!(res.status(), 200);
    let html = text_of(&app, &b, "/admin/rules/preview").await;
    assert!(html.contains("Previewing your saved draft"), "{html}");
    assert!(cells(row(&html, SERVICE_MEMBER)).0.contains("30% off"));

    for token in ["", "forged"] {
        let res = post(
            &app,
            &b,
            "/admin/rules/preview",
            &[("csrf", token), ("document", &draft)],
        )
        .await;
        assert_eq!(res.status(), 403, "{token:?}");
    }
    let res = super::browser()
        .post(app.url("/admin/rules/preview"))
        .form(&[("csrf", "x"), ("document", &draft)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        (res.status().as_u16(), location(&res)),
        (303, "/admin/login".to_owned())
    );
}
