//! The rules pages: the live version and its document, the raw editor (validate, drafts,
//! publish), the history, diffs and rollback. The logic is in `rules::live` and
//! `rules::versions`; these translate forms to calls and results to pages.

use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::accounts::when;
use super::extract::{Admin, AdminForm, ConsoleError, CsrfField, Editor, Need, Viewer};
use super::signin::CsrfOnly;
use super::views::{self, DiffRow, DiffView, ProblemRow, VersionRow, page};
use crate::admin::Role;
use crate::rules::diff::{self, Line};
use crate::rules::live::{self, Mode, Publish, Refused};
use crate::rules::versions::{self, Draft, Summary};
use crate::web::error::AppError;
use crate::web::state::AppState;

/// How long a publish waits for this instance to serve the new version before answering.
const SERVED_WITHIN: Duration = Duration::from_secs(2);
/// Unchanged lines shown around each change in a diff.
const CONTEXT: usize = 3;
/// The largest document the editor accepts (the form limit is the edge's).
pub const MAX_DOCUMENT: usize = 512 * 1024;

fn row(s: Summary) -> VersionRow {
    VersionRow {
        version: s.version,
        at: when(s.at),
        author: s.author,
        note: s.note,
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RulesQuery {
    published: Option<i64>,
    discarded: Option<u8>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RulesForm {
    csrf: String,
    document: String,
    based_on: i64,
    note: String,
    action: String,
}

impl CsrfField for RulesForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RollbackForm {
    csrf: String,
    based_on: i64,
}

impl CsrfField for RollbackForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// The editor as a GET shows it: the account's draft if any, else the live document.
async fn editor_now(
    state: &AppState,
    account: i64,
    live: &Option<versions::Version>,
) -> Result<views::Editor, ConsoleError> {
    let live_n = live.as_ref().map_or(0, |v| v.summary.version);
    Ok(match versions::draft(&state.db, account).await? {
        Some(d) => views::Editor {
            draft: Some(draft_notice(&d, live)),
            text: d.document,
            based_on: d.based_on,
            ..Default::default()
        },
        None => views::Editor {
            text: live
                .as_ref()
                .map(|v| v.document.clone())
                .unwrap_or_default(),
            based_on: live_n,
            ..Default::default()
        },
    })
}

pub(super) fn draft_notice(d: &Draft, live: &Option<versions::Version>) -> String {
    let mut notice = format!(
        "This is your draft, saved {} UTC, based on version {}. It is not published.",
        when(d.saved_at),
        d.based_on
    );
    if let Some(v) = live.as_ref().filter(|v| v.summary.version != d.based_on) {
        notice.push_str(&format!(
            " The live version is now {} by {}: compare before publishing.",
            v.summary.version, v.summary.author
        ));
    }
    notice
}

/// Renders the rules page; `editor` is used only where the account may edit.
async fn render<R: Need>(
    state: &AppState,
    admin: &Admin<R>,
    editor: Option<views::Editor>,
    notice: Option<String>,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    let mode = Mode::of(&state.config);
    let is_owner = admin.account.role == Role::Owner;
    let (live, file_mode, document, editor) = match &mode {
        Mode::File(path) => {
            let document = live::document(&state.db, &mode, None)
                .await
                .unwrap_or_else(|e| e);
            (None, Some(live::file_mode_reason(path)), document, None)
        }
        Mode::Database { .. } => {
            let live = versions::latest(&state.db).await?;
            let editor = match editor {
                _ if admin.account.role < Role::Editor => None,
                Some(e) => Some(e),
                None => Some(editor_now(state, admin.account.id, &live).await?),
            };
            let document = live
                .as_ref()
                .map(|v| v.document.clone())
                .unwrap_or_default();
            (live.map(|v| row(v.summary)), None, document, editor)
        }
    };
    page(
        &views::RulesPage {
            csrf: &admin.csrf,
            is_owner,
            live,
            file_mode,
            document,
            editor,
            notice,
        },
        status,
        None,
    )
}

pub async fn show(
    State(state): State<AppState>,
    Query(q): Query<RulesQuery>,
    admin: Admin<Viewer>,
) -> Result<Response, ConsoleError> {
    let notice = match (q.published, q.discarded) {
        (Some(n), _) => Some(format!("Version {n} is published and live.")),
        (None, Some(_)) => Some("The draft is discarded.".to_owned()),
        _ => None,
    };
    render(&state, &admin, None, notice, StatusCode::OK).await
}

pub fn problems(errors: &[crate::rules::LoadError]) -> Vec<ProblemRow> {
    errors
        .iter()
        .map(|e| ProblemRow {
            line: e.line,
            column: e.column,
            field: e.field.clone().unwrap_or_default(),
            message: e.message.clone(),
        })
        .collect()
}

/// Validate, save a draft, or publish: whatever happens, the text comes back in the editor.
pub async fn submit(
    State(state): State<AppState>,
    AdminForm(admin, form): AdminForm<Editor, RulesForm>,
) -> Result<Response, ConsoleError> {
    let mode = Mode::of(&state.config);
    if matches!(mode, Mode::File(_)) {
        return render(&state, &admin, None, None, StatusCode::FORBIDDEN).await;
    }
    let mut editor = views::Editor {
        text: form.document.replace("\r\n", "\n"),
        based_on: form.based_on,
        note: form.note.trim().to_owned(),
        ..Default::default()
    };
    if editor.text.len() > MAX_DOCUMENT {
        editor.error = Some(format!(
            "The document is larger than {} KiB.",
            MAX_DOCUMENT / 1024
        ));
        return render(&state, &admin, Some(editor), None, StatusCode::BAD_REQUEST).await;
    }
    let account = admin.account.id;
    match form.action.as_str() {
        "validate" => {
            let notice = match crate::rules::parse(live::EDITED, &editor.text, mode.base()) {
                Ok(loaded) => Some(format!(
                    "The document is valid: {} offer(s), {} pool(s){}. It is not published yet.",
                    loaded.rules.offers.len(),
                    loaded.rules.pools.len(),
                    if loaded.warnings.is_empty() {
                        String::new()
                    } else {
                        format!("; {} warning(s)", loaded.warnings.len())
                    }
                )),
                Err(errors) => {
                    editor.problems = problems(&errors);
                    None
                }
            };
            let status = if editor.problems.is_empty() {
                StatusCode::OK
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            render(&state, &admin, Some(editor), notice, status).await
        }
        "draft" => {
            save_draft(&state, account, &editor).await?;
            let live = versions::latest(&state.db).await?;
            let saved = versions::draft(&state.db, account).await?;
            editor.draft = saved.as_ref().map(|d| draft_notice(d, &live));
            let notice =
                Some("Draft saved. It stays here until you publish or discard it.".to_owned());
            render(&state, &admin, Some(editor), notice, StatusCode::OK).await
        }
        "publish" => publish(&state, &admin, &mode, editor).await,
        _ => Err(ConsoleError::App(AppError::BadRequest("unknown action"))),
    }
}

async fn save_draft(state: &AppState, account: i64, e: &views::Editor) -> Result<(), ConsoleError> {
    let draft = Draft {
        document: e.text.clone(),
        based_on: e.based_on,
        saved_at: crate::clock::now(),
    };
    Ok(versions::save_draft(&state.db, account, &draft).await?)
}

async fn publish(
    state: &AppState,
    admin: &Admin<Editor>,
    mode: &Mode,
    mut editor: views::Editor,
) -> Result<Response, ConsoleError> {
    if editor.note.is_empty() {
        editor.error =
            Some("Write a note saying what changed and why: it goes in the history.".to_owned());
        return render(state, admin, Some(editor), None, StatusCode::BAD_REQUEST).await;
    }
    let address = admin.address.to_string();
    let published = live::publish(
        &state.db,
        mode,
        Publish {
            name: live::EDITED,
            document: &editor.text,
            based_on: Some(editor.based_on),
            author: &admin.account.email,
            address: &address,
            note: &editor.note,
            action: "rules published",
        },
    )
    .await;
    match published {
        Ok(p) => {
            versions::discard_draft(&state.db, admin.account.id).await?;
            served(state, p.version).await;
            Ok(Redirect::to(&format!("/admin/rules?published={}", p.version)).into_response())
        }
        Err(Refused::Invalid(errors)) => {
            editor.problems = problems(&errors);
            render(
                state,
                admin,
                Some(editor),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(Refused::Stale(live)) => {
            // Nothing lost: the text is kept as the account's draft, now based on the live
            // version, so publishing it again (after a look at what changed) is a decision.
            editor.error = Some(format!(
                "{} Your text is kept as a draft below; compare version {} with version {} in the history, then publish again.",
                Refused::Stale(live.clone()),
                editor.based_on,
                live.version
            ));
            editor.based_on = live.version;
            save_draft(state, admin.account.id, &editor).await?;
            editor.draft = Some(format!(
                "Your draft is saved, now based on version {}.",
                live.version
            ));
            render(state, admin, Some(editor), None, StatusCode::CONFLICT).await
        }
        Err(Refused::FileMode(_)) => render(state, admin, None, None, StatusCode::FORBIDDEN).await,
        Err(Refused::Db(e)) => Err(e.into()),
    }
}

/// Has this instance swap the new version in before answering, so the next page shows it
/// (the others follow within their poll interval).
async fn served(state: &AppState, version: i64) {
    state.rules.nudge();
    if !state.rules.wait_for(version, SERVED_WITHIN).await {
        tracing::warn!(version, "published rules version not live here yet");
    }
}

pub async fn discard(
    State(state): State<AppState>,
    AdminForm(admin, _): AdminForm<Editor, CsrfOnly>,
) -> Result<Response, ConsoleError> {
    versions::discard_draft(&state.db, admin.account.id).await?;
    Ok(Redirect::to("/admin/rules?discarded=1").into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DiffQuery {
    from: Option<String>,
    to: Option<String>,
}

/// Diff rows with `context` unchanged lines around each change; a gap is one "…" row.
pub fn diff_rows(lines: &[Line], context: usize) -> Vec<DiffRow> {
    let changed: Vec<usize> = (0..lines.len())
        .filter(|&i| !matches!(lines[i], Line::Same(_)))
        .collect();
    let near = |i: usize| {
        changed
            .iter()
            .any(|&c| i + context >= c && i <= c + context)
    };
    let (mut old, mut new) = (0usize, 0usize);
    let mut rows = Vec::new();
    let mut skipped = false;
    for (i, l) in lines.iter().enumerate() {
        let (o, n) = match l {
            Line::Same(_) => {
                old += 1;
                new += 1;
                (old.to_string(), new.to_string())
            }
            Line::Removed(_) => {
                old += 1;
                (old.to_string(), String::new())
            }
            Line::Added(_) => {
                new += 1;
                (String::new(), new.to_string())
            }
        };
        if !near(i) {
            skipped = true;
            continue;
        }
        if skipped {
            rows.push(gap());
            skipped = false;
        }
        rows.push(DiffRow {
            sign: l.sign(),
            change: match l {
                Line::Same(_) => "unchanged",
                Line::Removed(_) => "removed",
                Line::Added(_) => "added",
            },
            old: o,
            new: n,
            text: l.text().to_owned(),
        });
    }
    if skipped && !rows.is_empty() {
        rows.push(gap());
    }
    rows
}

fn gap() -> DiffRow {
    DiffRow {
        sign: "…",
        change: "unchanged lines not shown",
        old: String::new(),
        new: String::new(),
        text: String::new(),
    }
}

pub async fn history(
    State(state): State<AppState>,
    Query(q): Query<DiffQuery>,
    admin: Admin<Viewer>,
) -> Result<Response, ConsoleError> {
    let mode = Mode::of(&state.config);
    let all = versions::list(&state.db).await?;
    let (mut diff, mut error) = (None, None);
    let (from, to) = (q.from.unwrap_or_default(), q.to.unwrap_or_default());
    if !from.is_empty() || !to.is_empty() {
        match (from.trim().parse::<i64>(), to.trim().parse::<i64>()) {
            (Ok(f), Ok(t)) => {
                match (
                    versions::get(&state.db, f).await?,
                    versions::get(&state.db, t).await?,
                ) {
                    (Some(a), Some(b)) => {
                        let lines = diff::lines(&a.document, &b.document);
                        let (added, removed) = diff::counts(&lines);
                        diff = Some(DiffView {
                            from: f,
                            to: t,
                            added,
                            removed,
                            rows: diff_rows(&lines, CONTEXT),
                        });
                    }
                    _ => {
                        error = Some(format!(
                            "There is no version {}.",
                            if versions::get(&state.db, f).await?.is_none() {
                                f
                            } else {
                                t
                            }
                        ))
                    }
                }
            }
            _ => error = Some("Give two version numbers to compare.".to_owned()),
        }
    }
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    page(
        &views::Versions {
            csrf: &admin.csrf,
            is_owner: admin.account.role == Role::Owner,
            versions: all.into_iter().map(row).collect(),
            file_mode: match &mode {
                Mode::File(path) => Some(live::file_mode_reason(path)),
                Mode::Database { .. } => None,
            },
            diff,
            error,
            from,
            to,
        },
        status,
        None,
    )
}

async fn version_or_404(state: &AppState, n: i64) -> Result<versions::Version, ConsoleError> {
    versions::get(&state.db, n)
        .await?
        .ok_or(ConsoleError::App(AppError::NotFound))
}

pub async fn version(
    State(state): State<AppState>,
    Path(n): Path<i64>,
    admin: Admin<Viewer>,
) -> Result<Response, ConsoleError> {
    let v = version_or_404(&state, n).await?;
    let live = versions::latest_number(&state.db).await?;
    let db_mode = matches!(Mode::of(&state.config), Mode::Database { .. });
    page(
        &views::VersionPage {
            csrf: &admin.csrf,
            is_owner: admin.account.role == Role::Owner,
            can_roll_back: db_mode && admin.account.role >= Role::Editor && n != live,
            live,
            document: v.document,
            version: row(v.summary),
        },
        StatusCode::OK,
        None,
    )
}

/// Rollback needs the database to be authoritative.
fn database_mode(state: &AppState) -> Result<Mode, ConsoleError> {
    match Mode::of(&state.config) {
        Mode::File(_) => Err(ConsoleError::Forbidden),
        mode => Ok(mode),
    }
}

pub async fn rollback_page(
    State(state): State<AppState>,
    Path(n): Path<i64>,
    admin: Admin<Editor>,
) -> Result<Response, ConsoleError> {
    database_mode(&state)?;
    let v = version_or_404(&state, n).await?;
    let live = versions::latest_number(&state.db).await?;
    page(
        &views::Rollback {
            csrf: &admin.csrf,
            is_owner: admin.account.role == Role::Owner,
            version: row(v.summary),
            live,
            error: None,
        },
        StatusCode::OK,
        None,
    )
}

pub async fn rollback(
    State(state): State<AppState>,
    Path(n): Path<i64>,
    AdminForm(admin, form): AdminForm<Editor, RollbackForm>,
) -> Result<Response, ConsoleError> {
    let mode = database_mode(&state)?;
    let v = version_or_404(&state, n).await?;
    let address = admin.address.to_string();
    let note = format!("rollback to {n}");
    let published = live::publish(
        &state.db,
        &mode,
        Publish {
            name: &format!("rules version {n}"),
            document: &v.document,
            based_on: Some(form.based_on),
            author: &admin.account.email,
            address: &address,
            note: &note,
            action: "rules rolled back",
        },
    )
    .await;
    match published {
        Ok(p) => {
            served(&state, p.version).await;
            Ok(Redirect::to(&format!("/admin/rules?published={}", p.version)).into_response())
        }
        Err(Refused::Stale(live)) => page(
            &views::Rollback {
                csrf: &admin.csrf,
                is_owner: admin.account.role == Role::Owner,
                error: Some(format!(
                    "{}: nothing was rolled back. Check the change, then confirm again.",
                    Refused::Stale(live.clone())
                )),
                version: row(v.summary),
                live: live.version,
            },
            StatusCode::CONFLICT,
            None,
        ),
        // An old version may no longer validate (a pool since removed, a newer check).
        Err(Refused::Invalid(errors)) => page(
            &views::Rollback {
                csrf: &admin.csrf,
                is_owner: admin.account.role == Role::Owner,
                error: Some(format!(
                    "Version {n} does not validate any more, nothing was rolled back: {}",
                    Refused::Invalid(errors)
                )),
                version: row(v.summary),
                live: versions::latest_number(&state.db).await?,
            },
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
        ),
        Err(Refused::FileMode(_)) => Err(ConsoleError::Forbidden),
        Err(Refused::Db(e)) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_rows_keep_context_number_lines_and_mark_gaps() {
        let from = "a\nb\nc\nd\ne\nf\ng\nh\n";
        let to = "a\nb\nc\nd\ne\nf\nG\nh\n";
        let rows = diff_rows(&diff::lines(from, to), 1);
        let shown: Vec<_> = rows
            .iter()
            .map(|r| (r.sign, r.old.as_str(), r.new.as_str(), r.text.as_str()))
            .collect();
        assert_eq!(
            shown,
            [
                ("…", "", "", ""),
                (" ", "6", "6", "f"),
                ("-", "7", "", "g"),
                ("+", "", "7", "G"),
                (" ", "8", "8", "h"),
            ]
        );
        assert!(diff_rows(&diff::lines(from, from), 3).is_empty());
    }
}
