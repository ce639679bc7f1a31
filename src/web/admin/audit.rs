//! The owner's audit log: `/admin/audit` (filters by action and actor, pages of
//! [`AUDIT_PAGE`]) and `/admin/audit.csv` (every entry kept, with the same filters).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::accounts::when;
use super::csv;
use super::extract::{Admin, ConsoleError, Owner};
use super::signin::record;
use super::views::page;
use crate::admin::audit::{self, Filter};
use crate::web::state::AppState;

/// Entries a page shows.
const AUDIT_PAGE: i64 = 200;
/// Entries read per database call while writing the export.
const EXPORT_PAGE: i64 = 2_000;

pub struct AuditRow {
    pub at: String,
    pub actor: String,
    pub address: String,
    pub action: String,
    pub details: String,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
pub struct AuditPage<'a> {
    pub csrf: &'a str,
    pub is_owner: bool,
    pub entries: Vec<AuditRow>,
    pub actions: Vec<String>,
    pub action: &'a str,
    pub actor: &'a str,
    /// The query of the next (older) page, when there may be one.
    pub older: Option<String>,
    /// The export with the same filters.
    pub export: String,
    pub retention_days: u64,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AuditQuery {
    action: String,
    actor: String,
    before: i64,
}

impl AuditQuery {
    fn filter(&self) -> Filter {
        Filter {
            action: self.action.trim().to_owned(),
            actor: self.actor.trim().to_owned(),
            before: self.before.max(0),
        }
    }
}

fn query_string(f: &Filter, before: Option<i64>) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    if !f.action.is_empty() {
        q.append_pair("action", &f.action);
    }
    if !f.actor.is_empty() {
        q.append_pair("actor", &f.actor);
    }
    if let Some(b) = before {
        q.append_pair("before", &b.to_string());
    }
    q.finish()
}

pub async fn page_of(
    State(state): State<AppState>,
    admin: Admin<Owner>,
    Query(q): Query<AuditQuery>,
) -> Result<Response, ConsoleError> {
    let filter = q.filter();
    let entries = audit::page(&state.db, &filter, AUDIT_PAGE).await?;
    let older = (entries.len() as i64 == AUDIT_PAGE)
        .then(|| entries.last().map(|e| query_string(&filter, Some(e.id))))
        .flatten();
    let rows = entries
        .into_iter()
        .map(|e| AuditRow {
            at: when(e.at),
            actor: e.actor,
            address: e.address,
            action: e.action,
            details: e.details,
        })
        .collect();
    let export = query_string(
        &Filter {
            before: 0,
            ..filter.clone()
        },
        None,
    );
    page(
        &AuditPage {
            csrf: &admin.csrf,
            is_owner: true,
            entries: rows,
            actions: audit::actions(&state.db).await?,
            action: &filter.action,
            actor: &filter.actor,
            older,
            export,
            retention_days: state.config.admin.audit_retention_days,
        },
        StatusCode::OK,
        None,
    )
}

pub async fn export(
    State(state): State<AppState>,
    admin: Admin<Owner>,
    Query(q): Query<AuditQuery>,
) -> Result<Response, ConsoleError> {
    let mut filter = q.filter();
    let mut out = String::from("at,actor,address,action,details\n");
    let mut rows = 0u64;
    loop {
        let batch = audit::page(&state.db, &filter, EXPORT_PAGE).await?;
        let Some(last) = batch.last() else { break };
        filter.before = last.id;
        for e in &batch {
            out.push_str(&format!(
                "{},{},{},{},{}\n",
                csv::time(Some(e.at)),
                csv::field(&e.actor, true),
                csv::field(&e.address, true),
                csv::field(&e.action, true),
                csv::field(&e.details, true),
            ));
        }
        rows += batch.len() as u64;
    }
    // After the read: the export does not list itself.
    record(
        &state,
        &admin.account.email,
        admin.address,
        "audit log exported",
        &format!("{rows} entries"),
    )
    .await?;
    Ok(csv::download("audit-log.csv", out))
}
