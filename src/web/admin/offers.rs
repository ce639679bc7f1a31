//! `/admin/rules/offers` and `/admin/rules/pools/..`: the rules document as forms, one per
//! offer and per pool. A save edits the account's draft (the raw editor's: the same notice,
//! preview, publish and stale check) through `rules::edit`, which rewrites only the keys that
//! changed, and the loader validates the whole document; its problems are shown next to the
//! fields they concern, with what was typed kept. Viewers, and everyone while `PERKGATE_RULES`
//! makes the file authoritative, read the forms without saving.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::extract::{Admin, AdminForm, ConsoleError, CsrfField, Editor, Need, Viewer};
use super::rules::{MAX_DOCUMENT, draft_notice, problems};
use super::signin::record;
use super::views::{ProblemRow, page};
use crate::admin::Role;
use crate::rules::edit::fields::{BLANK_CONDITIONS, OPERATORS};
use crate::rules::edit::{
    ConditionRow, Document, EditError, FieldError, FieldsOrEdit, OfferFields, OfferRow, PoolFields,
    Target, place,
};
use crate::rules::live::{self, Mode};
use crate::rules::versions::{self, Draft};
use crate::rules::{KNOWN_GROUPS, LoadError, SUBGROUPS, community_name, diff};
use crate::web::error::AppError;
use crate::web::state::AppState;

/// How much of a diff an audit entry of a form edit keeps (as a publish does).
const AUDIT_DIFF_CHARS: usize = 2_000;

/// A posted form as its pairs: checkboxes repeat their name, condition rows are numbered.
#[derive(Deserialize, Default)]
#[serde(from = "Vec<(String, String)>")]
pub struct Posted {
    csrf: String,
    /// The token of the document the form was shown from.
    draft: String,
    pub(super) pairs: Vec<(String, String)>,
}

impl From<Vec<(String, String)>> for Posted {
    fn from(pairs: Vec<(String, String)>) -> Self {
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        Self {
            csrf: get("csrf"),
            draft: get("draft"),
            pairs,
        }
    }
}

impl CsrfField for Posted {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// The document the forms show and edit: the account's draft, else the live version.
pub(super) struct Source {
    pub(super) text: String,
    based_on: i64,
    /// The draft's notice, when the text is a draft.
    pub(super) draft: Option<String>,
    pub(super) editable: bool,
    /// Why nothing can be saved here, when the file is authoritative.
    pub(super) file_mode: Option<String>,
    mode: Mode,
}

impl Source {
    /// Changes when the document does: a form shown from an older draft is not saved over a
    /// newer one (another tab, the raw editor).
    pub(super) fn token(&self) -> String {
        crate::crypto::sha256_b64(&self.text)
    }

    pub(super) fn validate(&self, text: &str) -> Result<crate::rules::Loaded, Vec<LoadError>> {
        crate::rules::parse(live::EDITED, text, self.mode.base())
    }
}

pub(super) async fn source<R: Need>(
    state: &AppState,
    admin: &Admin<R>,
) -> Result<Source, ConsoleError> {
    let mode = Mode::of(&state.config);
    if let Mode::File(path) = &mode {
        return Ok(Source {
            text: live::document(&state.db, &mode, None)
                .await
                .unwrap_or_default(),
            based_on: 0,
            draft: None,
            editable: false,
            file_mode: Some(live::file_mode_reason(path)),
            mode,
        });
    }
    let live = versions::latest(&state.db).await?;
    let editable = admin.account.role >= Role::Editor;
    if editable && let Some(d) = versions::draft(&state.db, admin.account.id).await? {
        return Ok(Source {
            draft: Some(draft_notice(&d, &live)),
            text: d.document,
            based_on: d.based_on,
            editable,
            file_mode: None,
            mode,
        });
    }
    Ok(Source {
        based_on: live.as_ref().map_or(0, |v| v.summary.version),
        text: live.map(|v| v.document).unwrap_or_default(),
        draft: None,
        editable,
        file_mode: None,
        mode,
    })
}

/// Saves the edited document as the account's draft and audits the change with its diff.
pub(super) async fn save(
    state: &AppState,
    admin: &Admin<Editor>,
    src: &Source,
    text: &str,
    what: &str,
) -> Result<(), ConsoleError> {
    let draft = Draft {
        document: text.to_owned(),
        based_on: src.based_on,
        saved_at: crate::clock::now(),
    };
    versions::save_draft(&state.db, admin.account.id, &draft).await?;
    let details = format!(
        "{what} (draft based on version {})\n{}",
        src.based_on,
        diff::summary(&src.text, text, AUDIT_DIFF_CHARS)
    );
    record(
        state,
        &admin.account.email,
        admin.address,
        "draft edited",
        &details,
    )
    .await
}

/// Whether an edited document may be saved: the loader's problems, placed, when there are any
/// the edit made (or in the edited table). Problems the draft had before stay the raw editor's.
fn refused(src: &Source, text: &str, target: Target<'_>) -> Option<crate::rules::edit::Placed> {
    let errors = src.validate(text).err()?;
    let known = src.validate(&src.text).err().unwrap_or_default();
    let placed = place(text, target, &errors, &known);
    (!placed.fields.is_empty() || !placed.others.is_empty()).then_some(placed)
}

fn not_found() -> ConsoleError {
    ConsoleError::App(AppError::NotFound)
}

// ---------------------------------------------------------------------------------------------
// The list.

pub struct PoolRow {
    pub id: String,
    pub low_threshold: String,
    pub seed: String,
    pub used_by: String,
}

#[derive(Template)]
#[template(path = "admin/offers.html")]
pub struct ListPage<'a> {
    pub csrf: &'a str,
    pub is_owner: bool,
    pub can_edit: bool,
    pub file_mode: Option<String>,
    pub draft: Option<String>,
    pub notice: Option<String>,
    /// The document cannot be shown as forms (not TOML, another shape).
    pub problem: Option<String>,
    /// The loader's problems with the document as it is.
    pub problems: Vec<ProblemRow>,
    pub offers: Vec<OfferRow>,
    pub pools: Vec<PoolRow>,
    /// For the publish form (the raw editor's handler).
    pub text: String,
    pub based_on: i64,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ListQuery {
    saved: Option<String>,
    removed: Option<String>,
    unchanged: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
    admin: Admin<Viewer>,
) -> Result<Response, ConsoleError> {
    let src = source(&state, &admin).await?;
    let notice = match (q.saved, q.removed, q.unchanged) {
        (Some(what), _, _) => Some(format!(
            "{what} is saved in your draft. Preview it, then publish it below."
        )),
        (_, Some(what), _) => Some(format!("{what} is removed from your draft.")),
        (_, _, Some(what)) => Some(format!("Nothing changed in {what}.")),
        _ => None,
    };
    let (offers, pools, problem) = match Document::parse(&src.text) {
        Ok(doc) => {
            let pools = doc
                .pool_rows()
                .into_iter()
                .map(|p| PoolRow {
                    used_by: doc.pool_users(&p.id).join(", "),
                    id: p.id,
                    low_threshold: p.low_threshold,
                    seed: p.seed,
                })
                .collect();
            (doc.offer_rows(), pools, None)
        }
        Err(e) => (Vec::new(), Vec::new(), Some(e.to_string())),
    };
    let errors = src.validate(&src.text).err().unwrap_or_default();
    page(
        &ListPage {
            csrf: &admin.csrf,
            is_owner: admin.account.role == Role::Owner,
            can_edit: src.editable,
            file_mode: src.file_mode,
            draft: src.draft,
            notice,
            problem,
            problems: problems(&errors),
            offers,
            pools,
            text: src.text,
            based_on: src.based_on,
        },
        StatusCode::OK,
        None,
    )
}

// ---------------------------------------------------------------------------------------------
// The offer form.

/// A checkbox, radio button or option.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub checked: bool,
}

pub struct ConditionView {
    pub n: usize,
    pub attribute: String,
    pub value: String,
    pub ops: Vec<Choice>,
}

/// An error summary entry: a link to the field.
pub struct SummaryItem {
    pub field: String,
    pub message: String,
}

#[derive(Template)]
#[template(path = "admin/offer.html")]
pub struct OfferPage<'a> {
    pub csrf: &'a str,
    pub is_owner: bool,
    pub heading: String,
    pub action: String,
    pub can_edit: bool,
    pub file_mode: Option<String>,
    pub draft: Option<String>,
    pub token: String,
    pub f: OfferFields,
    pub groups: Vec<Choice>,
    pub other_groups: String,
    pub subgroups: Vec<Choice>,
    pub other_subgroups: String,
    pub discounts: Vec<Choice>,
    pub codes: Vec<Choice>,
    pub pools: Vec<Choice>,
    pub conditions: Vec<ConditionView>,
    pub errors: Vec<FieldError>,
    pub summary: Vec<SummaryItem>,
    pub others: Vec<ProblemRow>,
    pub problem: Option<String>,
    /// The remove page, for an offer that exists.
    pub remove: Option<String>,
}

/// What `OfferPage` and `PoolPage` share for their fields' errors.
pub trait Fields {
    fn errors(&self) -> &[FieldError];

    fn error(&self, field: &str) -> Option<&str> {
        self.errors()
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }

    /// The ids a field is described by: its hint and its error.
    fn described(&self, field: &str, hint: bool) -> String {
        let mut ids = Vec::new();
        if hint {
            ids.push(format!("offer-{field}-hint"));
        }
        if self.error(field).is_some() {
            ids.push(format!("offer-{field}-error"));
        }
        ids.join(" ")
    }
}

impl Fields for OfferPage<'_> {
    fn errors(&self) -> &[FieldError] {
        &self.errors
    }
}

/// Checkboxes for the documented handles, then text for the rest.
fn checkboxes(known: &[(String, String)], chosen: &[String]) -> (Vec<Choice>, String) {
    let boxes = known
        .iter()
        .map(|(value, label)| Choice {
            checked: chosen.iter().any(|c| c.eq_ignore_ascii_case(value)),
            value: value.clone(),
            label: label.clone(),
        })
        .collect();
    let others: Vec<&str> = chosen
        .iter()
        .filter(|c| !known.iter().any(|(k, _)| k.eq_ignore_ascii_case(c)))
        .map(String::as_str)
        .collect();
    (boxes, others.join(", "))
}

fn radios(options: &[(&str, &str)], chosen: &str) -> Vec<Choice> {
    options
        .iter()
        .map(|(value, label)| Choice {
            value: (*value).to_owned(),
            label: (*label).to_owned(),
            checked: *value == chosen,
        })
        .collect()
}

/// What the offer page shows besides the fields: problems, a refusal, its status.
#[derive(Default)]
pub(super) struct Outcome {
    pub(super) errors: Vec<FieldError>,
    pub(super) others: Vec<LoadError>,
    pub(super) problem: Option<String>,
}

impl Outcome {
    pub(super) fn problem(why: impl Into<String>) -> Self {
        Self {
            problem: Some(why.into()),
            ..Default::default()
        }
    }
}

pub(super) fn summary(errors: &[FieldError]) -> Vec<SummaryItem> {
    // The summary links to the first element of a group of checkboxes or radios.
    errors
        .iter()
        .map(|e| SummaryItem {
            field: e.field.clone(),
            message: e.message.clone(),
        })
        .collect()
}

fn offer_page<R>(
    admin: &Admin<R>,
    src: &Source,
    doc: Option<&Document>,
    id: Option<&str>,
    f: OfferFields,
    out: Outcome,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    let groups: Vec<(String, String)> = KNOWN_GROUPS
        .iter()
        .map(|g| ((*g).to_owned(), format!("{} ({g})", community_name(g))))
        .collect();
    let (groups, other_groups) = checkboxes(&groups, &f.groups);
    let mut names: Vec<(String, String)> = Vec::new();
    for (group, subs) in SUBGROUPS {
        for s in *subs {
            names.push(((*s).to_owned(), format!("{s} ({})", community_name(group))));
        }
    }
    let (subgroups, other_subgroups) = checkboxes(&names, &f.subgroups);
    let mut pool_names: Vec<String> = doc
        .map(|d| d.pool_rows().into_iter().map(|p| p.id).collect())
        .unwrap_or_default();
    if !f.code_pool.is_empty() && !pool_names.contains(&f.code_pool) {
        pool_names.push(f.code_pool.clone());
    }
    let pools = pool_names
        .into_iter()
        .map(|p| Choice {
            checked: p == f.code_pool,
            label: p.clone(),
            value: p,
        })
        .collect();
    let mut rows = f.conditions.clone();
    rows.extend((0..BLANK_CONDITIONS).map(|_| ConditionRow {
        op: "equals".to_owned(),
        ..Default::default()
    }));
    let conditions = rows
        .into_iter()
        .enumerate()
        .map(|(n, r)| ConditionView {
            n,
            ops: radios(OPERATORS, &r.op),
            attribute: r.attribute,
            value: r.value,
        })
        .collect();
    let heading = match id {
        Some(id) => format!("Offer {id}"),
        None => "A new offer".to_owned(),
    };
    page(
        &OfferPage {
            csrf: &admin.csrf,
            is_owner: admin.account.role == Role::Owner,
            heading,
            action: match id {
                Some(id) => format!("/admin/rules/offers/{id}"),
                None => "/admin/rules/offers/new".to_owned(),
            },
            can_edit: src.editable,
            file_mode: src.file_mode.clone(),
            draft: src.draft.clone(),
            token: src.token(),
            discounts: radios(
                &[
                    ("percent", "A percentage off"),
                    ("amount", "An amount off"),
                    ("free_shipping", "Free shipping"),
                ],
                &f.discount,
            ),
            codes: radios(
                &[
                    ("static", "One code everyone shares"),
                    ("pool", "Single-use codes from a pool"),
                    ("generated", "A unique generated code per claim"),
                    ("none", "No code (applied by status through the API)"),
                ],
                &f.code,
            ),
            groups,
            other_groups,
            subgroups,
            other_subgroups,
            pools,
            conditions,
            summary: summary(&out.errors),
            errors: out.errors,
            others: problems(&out.others),
            problem: out.problem,
            remove: id
                .filter(|_| src.editable)
                .map(|id| format!("/admin/rules/offers/{id}/remove")),
            f,
        },
        status,
        None,
    )
}

/// A GET shows the document's problems with this offer too (a raw edit may have left some).
fn current_problems(src: &Source, target: Target<'_>) -> Outcome {
    match src.validate(&src.text) {
        Ok(_) => Outcome::default(),
        Err(errors) => {
            let placed = place(&src.text, target, &errors, &errors);
            Outcome {
                errors: placed.fields,
                ..Default::default()
            }
        }
    }
}

pub async fn offer(
    State(state): State<AppState>,
    Path(id): Path<String>,
    admin: Admin<Viewer>,
) -> Result<Response, ConsoleError> {
    let src = source(&state, &admin).await?;
    let doc = Document::parse(&src.text).map_err(|_| not_found())?;
    let f = doc.offer(&id).ok_or_else(not_found)?;
    let out = current_problems(&src, Target::Offer(&f));
    offer_page(&admin, &src, Some(&doc), Some(&id), f, out, StatusCode::OK)
}

pub async fn new_offer(
    State(state): State<AppState>,
    admin: Admin<Viewer>,
) -> Result<Response, ConsoleError> {
    let src = source(&state, &admin).await?;
    let doc = Document::parse(&src.text).ok();
    let f = OfferFields {
        discount: "percent".to_owned(),
        code: "static".to_owned(),
        ..Default::default()
    };
    offer_page(
        &admin,
        &src,
        doc.as_ref(),
        None,
        f,
        Outcome::default(),
        StatusCode::OK,
    )
}

pub async fn save_offer(
    State(state): State<AppState>,
    Path(id): Path<String>,
    AdminForm(admin, posted): AdminForm<Editor, Posted>,
) -> Result<Response, ConsoleError> {
    offer_post(&state, &admin, Some(&id), posted).await
}

pub async fn create_offer(
    State(state): State<AppState>,
    AdminForm(admin, posted): AdminForm<Editor, Posted>,
) -> Result<Response, ConsoleError> {
    offer_post(&state, &admin, None, posted).await
}

/// Why a form cannot be saved before the fields are looked at: read-only, another draft.
pub(super) fn precheck(src: &Source, posted: &Posted) -> Option<(Outcome, StatusCode)> {
    if !src.editable {
        let why = src.file_mode.clone().unwrap_or_default();
        return Some((Outcome::problem(why), StatusCode::FORBIDDEN));
    }
    if posted.draft != src.token() {
        return Some((
            Outcome::problem(
                "Your draft changed since this page was shown (in another tab or the raw \
                 editor), so nothing was saved. What you typed is below: saving it again puts \
                 these values in the draft as it is now, over any change made to this offer \
                 meanwhile (compare in the raw editor first).",
            ),
            StatusCode::CONFLICT,
        ));
    }
    None
}

async fn offer_post(
    state: &AppState,
    admin: &Admin<Editor>,
    id: Option<&str>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    let f = OfferFields::from_form(&posted.pairs);
    let form = Edit {
        id,
        what: format!("offer {}", f.id),
        exists: |doc: &Document, id: &str| doc.offer(id).is_some(),
        target: Target::Offer(&f),
        edit: |doc: &mut Document| {
            let shown = doc.offer_rows();
            doc.set_offer(id, &f)?;
            Ok(if id.is_some() || shown.iter().any(|o| o.id == f.id) {
                "saved".to_owned()
            } else {
                "added".to_owned()
            })
        },
        render: |src: &Source, doc: Option<&Document>, out: Outcome, status: StatusCode| {
            offer_page(admin, src, doc, id, f.clone(), out, status)
        },
    };
    form_post(state, admin, &posted, form).await
}

/// One form's save, the steps offers and pools share: the document, the pre-checks, the
/// edit, its validation, then the draft. `render` shows the form again with an outcome.
struct Edit<'a, X, E, R> {
    id: Option<&'a str>,
    /// "offer military", for the redirect and the audit entry.
    what: String,
    exists: X,
    target: Target<'a>,
    /// Puts the fields in the document; says what was done ("saved", "added", ...).
    edit: E,
    render: R,
}

async fn form_post<X, E, R>(
    state: &AppState,
    admin: &Admin<Editor>,
    posted: &Posted,
    form: Edit<'_, X, E, R>,
) -> Result<Response, ConsoleError>
where
    X: Fn(&Document, &str) -> bool,
    E: FnOnce(&mut Document) -> Result<String, FieldsOrEdit>,
    R: Fn(&Source, Option<&Document>, Outcome, StatusCode) -> Result<Response, ConsoleError>,
{
    let Edit {
        id,
        what,
        exists,
        target,
        edit,
        render,
    } = form;
    let src = source(state, admin).await?;
    let mut doc = match Document::parse(&src.text) {
        Ok(doc) => doc,
        Err(e) => {
            return render(
                &src,
                None,
                Outcome::problem(e.to_string()),
                StatusCode::CONFLICT,
            );
        }
    };
    if let Some(id) = id
        && !exists(&doc, id)
    {
        return Err(not_found());
    }
    if let Some((out, status)) = precheck(&src, posted) {
        return render(&src, Some(&doc), out, status);
    }
    let verb = match edit(&mut doc) {
        Ok(verb) => verb,
        Err(FieldsOrEdit::Fields(errors)) => {
            let out = Outcome {
                errors,
                ..Default::default()
            };
            let doc = Document::parse(&src.text).ok();
            return render(&src, doc.as_ref(), out, StatusCode::UNPROCESSABLE_ENTITY);
        }
        Err(FieldsOrEdit::Edit(EditError::NotFound)) => return Err(not_found()),
        Err(FieldsOrEdit::Edit(e)) => {
            return render(
                &src,
                None,
                Outcome::problem(e.to_string()),
                StatusCode::CONFLICT,
            );
        }
    };
    let text = doc.text();
    if text.len() > MAX_DOCUMENT {
        let out = Outcome::problem(format!(
            "The document would be larger than {} KiB.",
            MAX_DOCUMENT / 1024
        ));
        return render(&src, Some(&doc), out, StatusCode::UNPROCESSABLE_ENTITY);
    }
    if let Some(placed) = refused(&src, &text, target) {
        let out = Outcome {
            errors: placed.fields,
            others: placed.others,
            problem: None,
        };
        return render(&src, Some(&doc), out, StatusCode::UNPROCESSABLE_ENTITY);
    }
    if text == src.text {
        return Ok(redirect("unchanged", &what));
    }
    save(state, admin, &src, &text, &format!("{what} {verb}")).await?;
    Ok(redirect("saved", &what))
}

pub(super) fn redirect(key: &str, what: &str) -> Response {
    let what: String = url::form_urlencoded::byte_serialize(what.as_bytes()).collect();
    Redirect::to(&format!("/admin/rules/offers?{key}={what}")).into_response()
}

// ---------------------------------------------------------------------------------------------
// Pools.

#[derive(Template)]
#[template(path = "admin/pool.html")]
pub struct PoolPage<'a> {
    pub csrf: &'a str,
    pub is_owner: bool,
    pub heading: String,
    pub action: String,
    pub can_edit: bool,
    pub file_mode: Option<String>,
    pub draft: Option<String>,
    pub token: String,
    pub f: PoolFields,
    pub used_by: String,
    pub errors: Vec<FieldError>,
    pub summary: Vec<SummaryItem>,
    pub others: Vec<ProblemRow>,
    pub problem: Option<String>,
    pub remove: Option<String>,
}

impl Fields for PoolPage<'_> {
    fn errors(&self) -> &[FieldError] {
        &self.errors
    }
}

fn pool_page<R>(
    admin: &Admin<R>,
    src: &Source,
    doc: Option<&Document>,
    id: Option<&str>,
    f: PoolFields,
    out: Outcome,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    page(
        &PoolPage {
            csrf: &admin.csrf,
            is_owner: admin.account.role == Role::Owner,
            heading: match id {
                Some(id) => format!("Pool {id}"),
                None => "A new pool".to_owned(),
            },
            action: match id {
                Some(id) => format!("/admin/rules/pools/{id}"),
                None => "/admin/rules/pools/new".to_owned(),
            },
            can_edit: src.editable,
            file_mode: src.file_mode.clone(),
            draft: src.draft.clone(),
            token: src.token(),
            used_by: match (doc, id) {
                (Some(doc), Some(id)) => doc.pool_users(id).join(", "),
                _ => String::new(),
            },
            summary: summary(&out.errors),
            errors: out.errors,
            others: problems(&out.others),
            problem: out.problem,
            remove: id
                .filter(|_| src.editable)
                .map(|id| format!("/admin/rules/pools/{id}/remove")),
            f,
        },
        status,
        None,
    )
}

pub async fn pool(
    State(state): State<AppState>,
    Path(id): Path<String>,
    admin: Admin<Viewer>,
) -> Result<Response, ConsoleError> {
    let src = source(&state, &admin).await?;
    let doc = Document::parse(&src.text).map_err(|_| not_found())?;
    let f = doc.pool(&id).ok_or_else(not_found)?;
    let out = current_problems(&src, Target::Pool(&f));
    pool_page(&admin, &src, Some(&doc), Some(&id), f, out, StatusCode::OK)
}

pub async fn new_pool(
    State(state): State<AppState>,
    admin: Admin<Viewer>,
) -> Result<Response, ConsoleError> {
    let src = source(&state, &admin).await?;
    let f = PoolFields::default();
    pool_page(
        &admin,
        &src,
        None,
        None,
        f,
        Outcome::default(),
        StatusCode::OK,
    )
}

pub async fn save_pool(
    State(state): State<AppState>,
    Path(id): Path<String>,
    AdminForm(admin, posted): AdminForm<Editor, Posted>,
) -> Result<Response, ConsoleError> {
    pool_post(&state, &admin, Some(&id), posted).await
}

pub async fn create_pool(
    State(state): State<AppState>,
    AdminForm(admin, posted): AdminForm<Editor, Posted>,
) -> Result<Response, ConsoleError> {
    pool_post(&state, &admin, None, posted).await
}

async fn pool_post(
    state: &AppState,
    admin: &Admin<Editor>,
    id: Option<&str>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    let f = PoolFields::from_form(&posted.pairs);
    let form = Edit {
        id,
        what: format!("pool {}", f.id),
        exists: |doc: &Document, id: &str| doc.pool(id).is_some(),
        target: Target::Pool(&f),
        edit: |doc: &mut Document| {
            let existed = doc.pool(&f.id).is_some();
            doc.set_pool(id, &f)?;
            Ok(match id {
                Some(old) if old != f.id => format!("renamed from {old}"),
                _ if existed || id.is_some() => "saved".to_owned(),
                _ => "added".to_owned(),
            })
        },
        render: |src: &Source, doc: Option<&Document>, out: Outcome, status: StatusCode| {
            pool_page(admin, src, doc, id, f.clone(), out, status)
        },
    };
    form_post(state, admin, &posted, form).await
}

// ---------------------------------------------------------------------------------------------
// Removing.

#[derive(Template)]
#[template(path = "admin/offer_remove.html")]
pub struct RemovePage<'a> {
    pub csrf: &'a str,
    pub is_owner: bool,
    pub what: String,
    pub action: String,
    pub back: String,
    pub token: String,
    pub explain: &'static str,
    pub error: Option<String>,
}

#[derive(Clone, Copy)]
enum Kind {
    Offer,
    Pool,
}

impl Kind {
    fn path(self, id: &str) -> String {
        match self {
            Self::Offer => format!("/admin/rules/offers/{id}"),
            Self::Pool => format!("/admin/rules/pools/{id}"),
        }
    }

    fn what(self, id: &str) -> String {
        match self {
            Self::Offer => format!("offer {id}"),
            Self::Pool => format!("pool {id}"),
        }
    }

    fn exists(self, doc: &Document, id: &str) -> bool {
        match self {
            Self::Offer => doc.offer(id).is_some(),
            Self::Pool => doc.pool(id).is_some(),
        }
    }
}

fn remove_page(
    admin: &Admin<Editor>,
    src: &Source,
    kind: Kind,
    id: &str,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    page(
        &RemovePage {
            csrf: &admin.csrf,
            is_owner: admin.account.role == Role::Owner,
            what: kind.what(id),
            action: format!("{}/remove", kind.path(id)),
            back: kind.path(id),
            token: src.token(),
            explain: match kind {
                Kind::Offer => {
                    "It is removed from your draft, with the comments above it; shoppers keep \
                     it until the draft is published. Codes already given out stay valid."
                }
                Kind::Pool => {
                    "It is removed from your draft; the codes stored for it stay in the \
                     database (the codes page still lists them) until you remove them."
                }
            },
            error,
        },
        status,
        None,
    )
}

/// The document to remove from, and the entry exists; read-only modes refuse.
async fn removable(
    state: &AppState,
    admin: &Admin<Editor>,
    kind: Kind,
    id: &str,
) -> Result<(Source, Document), ConsoleError> {
    let src = source(state, admin).await?;
    if !src.editable {
        return Err(ConsoleError::Forbidden);
    }
    let doc = Document::parse(&src.text).map_err(|_| not_found())?;
    if !kind.exists(&doc, id) {
        return Err(not_found());
    }
    Ok((src, doc))
}

async fn confirm(
    state: &AppState,
    admin: &Admin<Editor>,
    kind: Kind,
    id: &str,
) -> Result<Response, ConsoleError> {
    let (src, _) = removable(state, admin, kind, id).await?;
    remove_page(admin, &src, kind, id, None, StatusCode::OK)
}

async fn remove(
    state: &AppState,
    admin: &Admin<Editor>,
    kind: Kind,
    id: &str,
    posted: &Posted,
) -> Result<Response, ConsoleError> {
    let (src, mut doc) = removable(state, admin, kind, id).await?;
    if posted.draft != src.token() {
        let why = "Your draft changed since this page was shown: nothing was removed. Check, then confirm again.";
        return remove_page(
            admin,
            &src,
            kind,
            id,
            Some(why.to_owned()),
            StatusCode::CONFLICT,
        );
    }
    let removed = match kind {
        Kind::Offer => doc.remove_offer(id),
        Kind::Pool => doc.remove_pool(id),
    };
    match removed {
        Ok(()) => {}
        Err(EditError::NotFound) => return Err(not_found()),
        Err(e) => {
            return remove_page(
                admin,
                &src,
                kind,
                id,
                Some(e.to_string()),
                StatusCode::CONFLICT,
            );
        }
    }
    let text = doc.text();
    if let Err(errors) = src.validate(&text) {
        let known = src.validate(&src.text).err().unwrap_or_default();
        let new: Vec<String> = errors
            .iter()
            .filter(|e| {
                !known
                    .iter()
                    .any(|k| k.field == e.field && k.message == e.message)
            })
            .map(|e| e.message.clone())
            .collect();
        if !new.is_empty() {
            let why = format!(
                "Nothing was removed: without it the rules would not be valid ({}).",
                new.join("; ")
            );
            return remove_page(
                admin,
                &src,
                kind,
                id,
                Some(why),
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    }
    let what = kind.what(id);
    save(state, admin, &src, &text, &format!("{what} removed")).await?;
    Ok(redirect("removed", &what))
}

pub async fn remove_offer_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    admin: Admin<Editor>,
) -> Result<Response, ConsoleError> {
    confirm(&state, &admin, Kind::Offer, &id).await
}

pub async fn remove_offer(
    State(state): State<AppState>,
    Path(id): Path<String>,
    AdminForm(admin, posted): AdminForm<Editor, Posted>,
) -> Result<Response, ConsoleError> {
    remove(&state, &admin, Kind::Offer, &id, &posted).await
}

pub async fn remove_pool_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    admin: Admin<Editor>,
) -> Result<Response, ConsoleError> {
    confirm(&state, &admin, Kind::Pool, &id).await
}

pub async fn remove_pool(
    State(state): State<AppState>,
    Path(id): Path<String>,
    AdminForm(admin, posted): AdminForm<Editor, Posted>,
) -> Result<Response, ConsoleError> {
    remove(&state, &admin, Kind::Pool, &id, &posted).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_posted_form_keeps_repeated_names_and_finds_its_tokens() {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(
            b"csrf=t&draft=d&group=military&group=student&cond_attribute_0=a",
        )
        .into_owned()
        .collect();
        let posted = Posted::from(pairs);
        assert_eq!((posted.csrf.as_str(), posted.draft.as_str()), ("t", "d"));
        let f = OfferFields::from_form(&posted.pairs);
        assert_eq!(f.groups, ["military", "student"]);
        assert_eq!(f.conditions[0].attribute, "a");
    }

    #[test]
    fn documented_handles_are_boxes_and_others_text() {
        let known = vec![("military".to_owned(), "Military".to_owned())];
        let (boxes, others) = checkboxes(&known, &["Military".into(), "navy_league".into()]);
        assert!(boxes[0].checked);
        assert_eq!(others, "navy_league");
    }
}
