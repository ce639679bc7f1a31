//! The owner's API keys page: the merchant API's keys, making one (shown once, on the answer
//! to the form) and revoking one after a confirmation. Audited as the command line's.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::accounts::when;
use super::extract::{Admin, AdminForm, ConsoleError, CsrfField, Owner};
use super::signin::{CsrfOnly, record};
use super::views::{self, KeyRow, NewKey, page};
use crate::admin::api_keys::{self, KeyError, Scope};
use crate::clock::now;
use crate::web::error::AppError;
use crate::web::state::AppState;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct KeyForm {
    csrf: String,
    name: String,
    scope: String,
}

impl CsrfField for KeyForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

struct Shown<'a> {
    created: Option<NewKey>,
    notice: Option<&'a str>,
    error: Option<String>,
    status: StatusCode,
}

async fn render(
    state: &AppState,
    admin: &Admin<Owner>,
    shown: Shown<'_>,
) -> Result<Response, ConsoleError> {
    let keys = api_keys::list(&state.db)
        .await?
        .into_iter()
        .map(|k| KeyRow {
            id: k.id,
            scope: k.scope.as_str(),
            prefix: k.prefix,
            created: when(k.created_at),
            created_by: k.created_by,
            last_used: k.last_used_at.map_or_else(|| "never".to_owned(), when),
            revoked: k.revoked_at.map(when),
            name: k.name,
        })
        .collect();
    page(
        &views::Keys {
            csrf: &admin.csrf,
            is_owner: true,
            keys,
            created: shown.created,
            notice: shown.notice,
            error: shown.error,
        },
        shown.status,
        None,
    )
}

pub async fn list(
    State(state): State<AppState>,
    admin: Admin<Owner>,
) -> Result<Response, ConsoleError> {
    let shown = Shown {
        created: None,
        notice: None,
        error: None,
        status: StatusCode::OK,
    };
    render(&state, &admin, shown).await
}

pub async fn add(
    State(state): State<AppState>,
    AdminForm(admin, form): AdminForm<Owner, KeyForm>,
) -> Result<Response, ConsoleError> {
    let refused = |error: String, status| Shown {
        created: None,
        notice: None,
        error: Some(error),
        status,
    };
    let Some(scope) = Scope::parse(&form.scope) else {
        let shown = refused(
            "Choose a scope: read or redeem.".to_owned(),
            StatusCode::BAD_REQUEST,
        );
        return render(&state, &admin, shown).await;
    };
    let name = form.name.trim();
    let made = api_keys::create(&state.db, name, scope, &admin.account.email, now()).await;
    let (key, secret) = match made {
        Ok(made) => made,
        Err(KeyError::Db(e)) => return Err(e.into()),
        Err(e @ KeyError::Exists) => {
            return render(&state, &admin, refused(e.to_string(), StatusCode::CONFLICT)).await;
        }
        Err(e) => {
            return render(
                &state,
                &admin,
                refused(e.to_string(), StatusCode::BAD_REQUEST),
            )
            .await;
        }
    };
    let details = format!("{} ({scope}, {}…)", key.name, key.prefix);
    record(
        &state,
        &admin.account.email,
        admin.address,
        "api key added",
        &details,
    )
    .await?;
    let shown = Shown {
        created: Some(NewKey {
            name: key.name,
            scope: scope.as_str(),
            secret,
        }),
        notice: None,
        error: None,
        status: StatusCode::OK,
    };
    render(&state, &admin, shown).await
}

async fn live(state: &AppState, id: i64) -> Result<api_keys::ApiKey, ConsoleError> {
    api_keys::by_id(&state.db, id)
        .await?
        .filter(|k| k.revoked_at.is_none())
        .ok_or(ConsoleError::App(AppError::NotFound))
}

pub async fn revoke_page(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    admin: Admin<Owner>,
) -> Result<Response, ConsoleError> {
    let key = live(&state, id).await?;
    page(
        &views::KeyRevoke {
            csrf: &admin.csrf,
            is_owner: true,
            id: key.id,
            name: &key.name,
            scope: key.scope.as_str(),
            prefix: &key.prefix,
        },
        StatusCode::OK,
        None,
    )
}

pub async fn revoke(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    AdminForm(admin, _): AdminForm<Owner, CsrfOnly>,
) -> Result<Response, ConsoleError> {
    let key = match api_keys::revoke(&state.db, id, now()).await {
        Ok(key) => key,
        Err(KeyError::Db(e)) => return Err(e.into()),
        Err(_) => return Err(ConsoleError::App(AppError::NotFound)),
    };
    let details = format!("{} ({}, {}…)", key.name, key.scope, key.prefix);
    record(
        &state,
        &admin.account.email,
        admin.address,
        "api key revoked",
        &details,
    )
    .await?;
    let notice = format!("Key {} is revoked: it is refused from now on.", key.name);
    let shown = Shown {
        created: None,
        notice: Some(&notice),
        error: None,
        status: StatusCode::OK,
    };
    render(&state, &admin, shown).await
}
