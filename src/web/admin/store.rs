//! `/admin/settings`: the shop's look (name, links, logo, colour, support) as a form over the
//! draft's `[store]` table, saved, previewed and published like the offers' forms. The
//! `PERKGATE_STORE_*` settings win over it: the fields they fix are shown, read-only.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::extract::{Admin, AdminForm, ConsoleError, Editor, Viewer};
use super::offers::{
    Fields, Outcome, Posted, Source, SummaryItem, precheck, redirect, save, source, summary,
};
use super::views::{ProblemRow, page};
use crate::admin::Role;
use crate::rules::edit::{Document, FieldError};
use crate::shop::Look;
use crate::web::state::AppState;

/// One field of the look as the form shows it.
pub struct StoreField {
    pub name: &'static str,
    pub label: &'static str,
    pub hint: &'static str,
    pub value: String,
    /// The setting that fixes it on this server, and the value it sets.
    pub fixed: Option<(String, String)>,
}

fn label_and_hint(field: &str) -> (&'static str, &'static str) {
    match field {
        "name" => (
            "Store name",
            "Shown in every page's header and title, up to 80 characters.",
        ),
        "url" => (
            "Store home page",
            "Where the name and logo link to, such as https://shop.example/.",
        ),
        "logo_url" => (
            "Logo",
            "An http(s) address of an image, shown about 2rem high before the name.",
        ),
        "color" => (
            "Colour",
            "Like #0b6e4f. Buttons take it; their text is black or white, whichever reads better.",
        ),
        "privacy_url" => (
            "Privacy policy",
            "An http(s) address, linked in the footer.",
        ),
        "terms_url" => ("Terms", "An http(s) address, linked in the footer."),
        "support" => (
            "Help",
            "An e-mail address or an http(s) address, linked in the footer.",
        ),
        _ => ("", ""),
    }
}

fn setting_of(field: &str) -> String {
    format!("PERKGATE_STORE_{}", field.to_ascii_uppercase())
}

#[derive(Template)]
#[template(path = "admin/settings.html")]
pub struct SettingsPage<'a> {
    pub csrf: &'a str,
    pub is_owner: bool,
    pub can_edit: bool,
    pub file_mode: Option<String>,
    pub draft: Option<String>,
    pub token: String,
    pub fields: Vec<StoreField>,
    pub errors: Vec<FieldError>,
    pub summary: Vec<SummaryItem>,
    pub others: Vec<ProblemRow>,
    pub problem: Option<String>,
}

impl Fields for SettingsPage<'_> {
    fn errors(&self) -> &[FieldError] {
        &self.errors
    }
}

/// The form's fields: `values` in [`Look::FIELDS`]' order, each marked when a setting fixes it.
fn fields(fixed: &Look, values: &[(&'static str, String)]) -> Vec<StoreField> {
    values
        .iter()
        .map(|(name, value)| {
            let (label, hint) = label_and_hint(name);
            StoreField {
                name,
                label,
                hint,
                value: value.clone(),
                fixed: fixed.get(name).map(|v| (setting_of(name), v)),
            }
        })
        .collect()
}

fn settings_page<R>(
    state: &AppState,
    admin: &Admin<R>,
    src: &Source,
    values: &[(&'static str, String)],
    out: Outcome,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    page(
        &SettingsPage {
            csrf: &admin.csrf,
            is_owner: admin.account.role == Role::Owner,
            can_edit: src.editable,
            file_mode: src.file_mode.clone(),
            draft: src.draft.clone(),
            token: src.token(),
            fields: fields(state.looks.fixed(), values),
            summary: summary(&out.errors),
            errors: out.errors,
            others: super::rules::problems(&out.others),
            problem: out.problem,
        },
        status,
        None,
    )
}

/// The document's `[store]`, or blanks when the document cannot be read as forms.
fn current(src: &Source) -> (Vec<(&'static str, String)>, Option<String>) {
    match Document::parse(&src.text) {
        Ok(doc) => (doc.store(), None),
        Err(e) => (blank(), Some(e.to_string())),
    }
}

fn blank() -> Vec<(&'static str, String)> {
    Look::FIELDS.iter().map(|&f| (f, String::new())).collect()
}

pub async fn show(
    State(state): State<AppState>,
    admin: Admin<Viewer>,
) -> Result<Response, ConsoleError> {
    let src = source(&state, &admin).await?;
    let (values, problem) = current(&src);
    let out = Outcome {
        problem,
        ..Outcome::default()
    };
    settings_page(&state, &admin, &src, &values, out, StatusCode::OK)
}

pub async fn submit(
    State(state): State<AppState>,
    AdminForm(admin, posted): AdminForm<Editor, Posted>,
) -> Result<Response, ConsoleError> {
    let src = source(&state, &admin).await?;
    let mut doc = match Document::parse(&src.text) {
        Ok(doc) => doc,
        Err(e) => {
            let out = Outcome::problem(e.to_string());
            return settings_page(&state, &admin, &src, &blank(), out, StatusCode::CONFLICT);
        }
    };
    // A field a setting fixes is not on the form (its input is disabled): the document keeps
    // what it had there.
    let before = doc.store();
    let fixed = state.looks.fixed();
    let values: Vec<(&'static str, String)> = before
        .iter()
        .map(|(name, old)| {
            let posted_value = posted
                .pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.trim().to_owned());
            match posted_value {
                Some(v) if fixed.get(name).is_none() => (*name, v),
                _ => (*name, old.clone()),
            }
        })
        .collect();
    if let Some((out, status)) = precheck(&src, &posted) {
        return settings_page(&state, &admin, &src, &values, out, status);
    }
    doc.set_store(&values);
    let text = doc.text();
    if let Err(errors) = src.validate(&text) {
        let known = src.validate(&src.text).err().unwrap_or_default();
        let mut out = Outcome::default();
        for e in errors {
            match e.field.as_deref().and_then(|f| f.strip_prefix("store.")) {
                Some(field) if Look::FIELDS.contains(&field) => out.errors.push(FieldError {
                    field: field.to_owned(),
                    message: e.message.clone(),
                }),
                _ if !known
                    .iter()
                    .any(|k| k.field == e.field && k.message == e.message) =>
                {
                    out.others.push(e)
                }
                _ => {}
            }
        }
        if !out.errors.is_empty() || !out.others.is_empty() {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return settings_page(&state, &admin, &src, &values, out, status);
        }
    }
    if text == src.text {
        return Ok(redirect("unchanged", "the store settings"));
    }
    save(&state, &admin, &src, &text, "store settings saved").await?;
    Ok(redirect("saved", "the store settings"))
}
