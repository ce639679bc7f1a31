//! `/admin/rules/preview`: who gets what under a draft (the editor's text, the saved draft, or
//! for viewers the live version), for each sandbox persona and pasted attributes, and what
//! changes against the live rules. Nothing is stored; pasted attributes are read and dropped
//! (never logged: they may carry a name or an email).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::extract::{Admin, AdminForm, ConsoleError, CsrfField, Need, Viewer};
use super::rules::{MAX_DOCUMENT, diff_rows, problems};
use super::views::{self, DiffView, page};
use crate::admin::Role;
use crate::rules::diff;
use crate::rules::explain::{facts_from_json, parse_time};
use crate::rules::live::{self, Mode};
use crate::rules::preview::{Subject, label, preview};
use crate::rules::versions;
use crate::sandbox::personas::PERSONAS;
use crate::web::state::AppState;

/// The largest attributes object accepted (ID.me's are a few hundred bytes).
pub const MAX_ATTRIBUTES: usize = 64 * 1024;
/// The preview form's body limit: a document and attributes, URL-encoded (up to 3× each).
pub const MAX_BODY: usize = 3 * (MAX_DOCUMENT + MAX_ATTRIBUTES) + 4096;
/// Unchanged lines shown around each change.
const CONTEXT: usize = 2;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PreviewForm {
    csrf: String,
    document: Option<String>,
    based_on: i64,
    at: String,
    attributes: String,
}

impl CsrfField for PreviewForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// The saved draft, or else the live document: what a GET previews.
pub async fn show(
    State(state): State<AppState>,
    admin: Admin<Viewer>,
) -> Result<Response, ConsoleError> {
    render(&state, &admin, PreviewForm::default()).await
}

pub async fn submit(
    State(state): State<AppState>,
    AdminForm(admin, form): AdminForm<Viewer, PreviewForm>,
) -> Result<Response, ConsoleError> {
    render(&state, &admin, form).await
}

async fn render<R: Need>(
    state: &AppState,
    admin: &Admin<R>,
    form: PreviewForm,
) -> Result<Response, ConsoleError> {
    let mode = Mode::of(&state.config);
    let can_edit = admin.account.role >= Role::Editor && matches!(mode, Mode::Database { .. });
    let live_document = live::document(&state.db, &mode, None).await.ok();
    let live_number = match mode {
        Mode::Database { .. } => versions::latest_number(&state.db).await?,
        Mode::File(_) => 0,
    };
    // Viewers (and everyone when the file is authoritative) preview the live version.
    let typed = form
        .document
        .filter(|d| can_edit && !d.trim().is_empty())
        .map(|d| d.replace("\r\n", "\n"));
    let (source, text, based_on) = match typed {
        Some(text) => ("the text from the editor", text, form.based_on),
        None => match can_edit {
            true => match versions::draft(&state.db, admin.account.id).await? {
                Some(d) => ("your saved draft", d.document, d.based_on),
                None => live_source(&live_document, live_number),
            },
            false => live_source(&live_document, live_number),
        },
    };
    let mut view = views::Preview {
        csrf: &admin.csrf,
        is_owner: admin.account.role == Role::Owner,
        can_edit,
        source,
        based_on,
        at: form.at.trim().to_owned(),
        attributes: form.attributes,
        at_label: String::new(),
        problems: Vec::new(),
        error: None,
        at_error: None,
        attributes_error: None,
        rows: Vec::new(),
        diff: None,
        same_as_live: false,
        text,
    };
    let status = fill(state, &mode, &mut view, live_document.as_deref());
    page(&view, status, None)
}

fn live_source(live: &Option<String>, n: i64) -> (&'static str, String, i64) {
    ("the live version", live.clone().unwrap_or_default(), n)
}

/// Validates the inputs and computes the table; the status says whether anything was refused.
fn fill(
    state: &AppState,
    mode: &Mode,
    view: &mut views::Preview<'_>,
    live_document: Option<&str>,
) -> StatusCode {
    if view.text.len() > MAX_DOCUMENT {
        view.error = Some(format!(
            "The document is larger than {} KiB.",
            MAX_DOCUMENT / 1024
        ));
        return StatusCode::BAD_REQUEST;
    }
    let at = match view.at.as_str() {
        "" => Some(crate::clock::now()),
        s => parse_time(s),
    };
    if at.is_none() {
        view.at_error = Some(
            "Give a date like 2026-12-31 or a moment like 2026-12-31T12:00:00Z, or leave it empty for now."
                .to_owned(),
        );
    }
    let mut subjects: Vec<Subject> = PERSONAS
        .iter()
        .map(|p| Subject {
            name: format!("Sandbox persona: {}", p.label),
            facts: p.facts(),
        })
        .collect();
    if view.attributes.len() > MAX_ATTRIBUTES {
        view.attributes_error = Some(format!(
            "The attributes are larger than {} KiB.",
            MAX_ATTRIBUTES / 1024
        ));
        // Not echoed back: a page that large helps nobody.
        view.attributes.clear();
    } else if !view.attributes.trim().is_empty() {
        match facts_from_json(view.attributes.as_bytes()) {
            Ok(facts) => subjects.push(Subject {
                name: "The pasted attributes".to_owned(),
                facts,
            }),
            Err(e) => view.attributes_error = Some(format!("{e}.")),
        }
    }
    let draft = match crate::rules::parse(live::EDITED, &view.text, mode.base()) {
        Ok(loaded) => loaded.rules,
        Err(errors) => {
            view.problems = problems(&errors);
            return StatusCode::UNPROCESSABLE_ENTITY;
        }
    };
    let Some(at) = at else {
        return StatusCode::UNPROCESSABLE_ENTITY;
    };
    view.at_label = when_utc(at);
    let live_rules = state.rules.get();
    view.rows = preview(&draft, Some(&live_rules), &subjects, at)
        .into_iter()
        .map(|r| views::PreviewRow {
            name: r.name,
            groups: if r.draft.groups.is_empty() {
                "none verified".to_owned()
            } else {
                r.draft.groups.clone()
            },
            live: r.live.unwrap_or_default(),
            chosen: label(r.draft.chosen.as_ref()),
            chosen_id: r.draft.chosen.map(|c| c.id).unwrap_or_default(),
            others: r.draft.others,
            changed: r.changed,
        })
        .collect();
    if let Some(live) = live_document {
        let lines = diff::lines(live, &view.text);
        let (added, removed) = diff::counts(&lines);
        view.same_as_live = added == 0 && removed == 0;
        view.diff = (!view.same_as_live).then(|| DiffView {
            from: view.based_on,
            to: 0,
            added,
            removed,
            rows: diff_rows(&lines, CONTEXT),
        });
    }
    if view.attributes_error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    }
}

/// "2026-12-31 12:00:00" (UTC).
fn when_utc(at: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(at)
        .map(|t| {
            format!(
                "{} {:02}:{:02}:{:02}",
                crate::rules::date(at),
                t.hour(),
                t.minute(),
                t.second()
            )
        })
        .unwrap_or_else(|_| at.to_string())
}
