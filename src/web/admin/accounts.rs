//! The console's home, and the owner's accounts page.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::extract::{Admin, AdminForm, ConsoleError, CsrfField, Owner, Viewer};
use super::signin::{CsrfOnly, record};
use super::views::{self, AccountRow, NewLink, page};
use crate::admin::{AccountError, Role, accounts};
use crate::clock::now;
use crate::web::error::AppError;
use crate::web::state::AppState;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AddForm {
    csrf: String,
    email: String,
    role: String,
}

impl CsrfField for AddForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub async fn home(
    State(state): State<AppState>,
    admin: Admin<Viewer>,
) -> Result<Response, ConsoleError> {
    let a = &admin.account;
    let is_owner = a.role == Role::Owner;
    // Owners are told of endpoints the deliverer disabled for failing.
    let disabled_webhooks = if is_owner {
        crate::webhooks::endpoints::disabled_count(&state.db).await?
    } else {
        0
    };
    page(
        &views::Home {
            csrf: &admin.csrf,
            is_owner,
            email: &a.email,
            role: a.role.as_str(),
            has_2fa: a.has_2fa(),
            disabled_webhooks,
        },
        StatusCode::OK,
        None,
    )
}

async fn render(
    state: &AppState,
    admin: &Admin<Owner>,
    link: Option<NewLink>,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    let rows = accounts::list(&state.db)
        .await?
        .into_iter()
        .map(|a| AccountRow {
            id: a.id,
            has_password: a.password_hash.is_some(),
            has_2fa: a.has_2fa(),
            role: a.role.as_str(),
            email: a.email,
        })
        .collect();
    page(
        &views::Accounts {
            csrf: &admin.csrf,
            is_owner: true,
            accounts: rows,
            link,
            notice: None,
            error,
        },
        status,
        None,
    )
}

pub async fn list(
    State(state): State<AppState>,
    admin: Admin<Owner>,
) -> Result<Response, ConsoleError> {
    render(&state, &admin, None, None, StatusCode::OK).await
}

fn refused(e: AccountError) -> Result<(String, StatusCode), ConsoleError> {
    match e {
        AccountError::Db(e) => Err(e.into()),
        AccountError::NotFound => Err(ConsoleError::App(AppError::NotFound)),
        AccountError::Exists | AccountError::LastOwner => Ok((e.to_string(), StatusCode::CONFLICT)),
        AccountError::BadEmail(_) => Ok((e.to_string(), StatusCode::BAD_REQUEST)),
    }
}

pub async fn add(
    State(state): State<AppState>,
    AdminForm(admin, form): AdminForm<Owner, AddForm>,
) -> Result<Response, ConsoleError> {
    let Some(role) = Role::parse(&form.role) else {
        let error = Some("Choose a role: viewer, editor or owner.".to_owned());
        return render(&state, &admin, None, error, StatusCode::BAD_REQUEST).await;
    };
    let at = now();
    let account = match accounts::create(&state.db, &form.email, role, at).await {
        Ok(a) => a,
        Err(e) => {
            let (why, status) = refused(e)?;
            return render(&state, &admin, None, Some(why), status).await;
        }
    };
    let token = accounts::issue_link(&state.db, account.id, at).await?;
    let details = format!("{} ({role})", account.email);
    record(
        &state,
        &admin.account.email,
        admin.address,
        "account added",
        &details,
    )
    .await?;
    let link = NewLink {
        url: accounts::link_url(&state.console.public_url, &token),
        email: account.email,
    };
    render(&state, &admin, Some(link), None, StatusCode::OK).await
}

async fn target(state: &AppState, id: i64) -> Result<crate::admin::Account, ConsoleError> {
    accounts::by_id(&state.db, id)
        .await?
        .ok_or(ConsoleError::App(AppError::NotFound))
}

pub async fn remove(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    AdminForm(admin, _): AdminForm<Owner, CsrfOnly>,
) -> Result<Response, ConsoleError> {
    let account = target(&state, id).await?;
    if let Err(e) = accounts::remove(&state.db, &account).await {
        let (why, status) = refused(e)?;
        return render(&state, &admin, None, Some(why), status).await;
    }
    let details = format!("{} ({})", account.email, account.role);
    record(
        &state,
        &admin.account.email,
        admin.address,
        "account removed",
        &details,
    )
    .await?;
    Ok(Redirect::to("/admin/accounts").into_response())
}

pub async fn reset(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    AdminForm(admin, _): AdminForm<Owner, CsrfOnly>,
) -> Result<Response, ConsoleError> {
    let account = target(&state, id).await?;
    if let Err(e) = accounts::reset(&state.db, &account, false).await {
        let (why, status) = refused(e)?;
        return render(&state, &admin, None, Some(why), status).await;
    }
    let token = accounts::issue_link(&state.db, account.id, now()).await?;
    record(
        &state,
        &admin.account.email,
        admin.address,
        "account reset",
        &account.email,
    )
    .await?;
    let link = NewLink {
        url: accounts::link_url(&state.console.public_url, &token),
        email: account.email,
    };
    render(&state, &admin, Some(link), None, StatusCode::OK).await
}

/// "2026-12-31 12:00:00".
pub(super) fn when(at: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| at.to_string())
}
