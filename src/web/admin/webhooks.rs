//! The webhooks pages: endpoints and their delivery log. Owners register (the secret shown
//! once, on the answer to the form), rotate, disable, enable, remove and resend; everyone
//! signed in may read the endpoints and the log. Audited as the command line's.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::accounts::when;
use super::extract::{Admin, AdminForm, ConsoleError, CsrfField, Owner, Viewer};
use super::signin::{CsrfOnly, record};
use super::views::page;
use crate::admin::Role;
use crate::clock::now;
use crate::web::error::AppError;
use crate::web::state::AppState;
use crate::webhooks::EventType;
use crate::webhooks::endpoints::{self, AddError, Endpoint};

/// Deliveries the endpoint page lists.
const LOG_ROWS: i64 = 50;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AddForm {
    csrf: String,
    url: String,
    // One checkbox per event type (a form cannot send a list in one field).
    #[serde(rename = "benefit.unlocked")]
    benefit_unlocked: Option<String>,
    #[serde(rename = "code.redeemed")]
    code_redeemed: Option<String>,
    #[serde(rename = "pool.low")]
    pool_low: Option<String>,
    #[serde(rename = "pool.empty")]
    pool_empty: Option<String>,
    #[serde(rename = "rules.published")]
    rules_published: Option<String>,
}

impl CsrfField for AddForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl AddForm {
    fn events(&self) -> Vec<EventType> {
        [
            (&self.benefit_unlocked, EventType::BenefitUnlocked),
            (&self.code_redeemed, EventType::CodeRedeemed),
            (&self.pool_low, EventType::PoolLow),
            (&self.pool_empty, EventType::PoolEmpty),
            (&self.rules_published, EventType::RulesPublished),
        ]
        .into_iter()
        .filter(|(on, _)| on.is_some())
        .map(|(_, t)| t)
        .collect()
    }
}

/// An event type as a checkbox.
pub struct EventChoice {
    pub name: &'static str,
    pub describe: &'static str,
    pub checked: bool,
}

fn choices(checked: &[EventType]) -> Vec<EventChoice> {
    EventType::ALL
        .into_iter()
        .map(|t| EventChoice {
            name: t.as_str(),
            describe: t.describe(),
            checked: checked.contains(&t),
        })
        .collect()
}

/// An endpoint as listed.
pub struct Row {
    pub id: i64,
    pub url: String,
    pub events: String,
    pub enabled: bool,
    pub disabled_reason: String,
    pub created: String,
}

impl Row {
    fn of(e: Endpoint) -> Self {
        Self {
            id: e.id,
            events: events_text(&e.events),
            enabled: e.enabled,
            disabled_reason: e.disabled_reason.unwrap_or_default(),
            created: format!("{} by {}", when(e.created_at), e.created_by),
            url: e.url,
        }
    }
}

fn events_text(events: &[EventType]) -> String {
    events
        .iter()
        .map(|e| e.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A secret just made: shown on this answer only.
pub struct NewSecret {
    pub id: i64,
    pub secret: String,
}

#[derive(Template)]
#[template(path = "admin/webhooks.html")]
pub struct List<'a> {
    pub csrf: &'a str,
    pub is_owner: bool,
    pub endpoints: Vec<Row>,
    pub events: Vec<EventChoice>,
    pub url: String,
    pub created: Option<NewSecret>,
    pub error: Option<String>,
}

/// A delivery as the log lists it.
pub struct LogRow {
    pub id: i64,
    pub event_id: String,
    pub event_type: String,
    pub state: String,
    pub attempts: i64,
    pub answer: String,
    pub last_attempt: String,
    pub next_attempt: String,
}

#[derive(Template)]
#[template(path = "admin/webhook.html")]
pub struct Detail<'a> {
    pub csrf: &'a str,
    pub is_owner: bool,
    pub endpoint: Row,
    pub rotated_until: Option<String>,
    pub log: Vec<LogRow>,
    pub secret: Option<NewSecret>,
    pub notice: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/webhook_remove.html")]
pub struct Remove<'a> {
    pub csrf: &'a str,
    pub is_owner: bool,
    pub id: i64,
    pub url: &'a str,
}

async fn render_list(
    state: &AppState,
    csrf: &str,
    is_owner: bool,
    form: (String, Vec<EventType>),
    created: Option<NewSecret>,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    let endpoints = endpoints::list(&state.db)
        .await?
        .into_iter()
        .map(Row::of)
        .collect();
    page(
        &List {
            csrf,
            is_owner,
            endpoints,
            events: choices(&form.1),
            url: form.0,
            created,
            error,
        },
        status,
        None,
    )
}

pub async fn list(
    State(state): State<AppState>,
    admin: Admin<Viewer>,
) -> Result<Response, ConsoleError> {
    let is_owner = admin.account.role == Role::Owner;
    let form = (String::new(), Vec::new());
    render_list(
        &state,
        &admin.csrf,
        is_owner,
        form,
        None,
        None,
        StatusCode::OK,
    )
    .await
}

pub async fn add(
    State(state): State<AppState>,
    AdminForm(admin, form): AdminForm<Owner, AddForm>,
) -> Result<Response, ConsoleError> {
    let events = form.events();
    let url = form.url.trim().to_owned();
    let settings = &state.config.webhooks;
    let made = endpoints::create(
        &state.db,
        settings,
        &url,
        &events,
        &admin.account.email,
        now(),
    );
    let (endpoint, secret) = match made.await {
        Ok(made) => made,
        Err(AddError::Db(e)) => return Err(e.into()),
        Err(e) => {
            let form = (url, events);
            let error = Some(e.to_string());
            let status = StatusCode::BAD_REQUEST;
            return render_list(&state, &admin.csrf, true, form, None, error, status).await;
        }
    };
    let details = format!(
        "endpoint {} {} ({})",
        endpoint.id,
        endpoint.url,
        events_text(&endpoint.events)
    );
    let (actor, address) = (&admin.account.email, admin.address);
    record(&state, actor, address, "webhook endpoint added", &details).await?;
    let created = Some(NewSecret {
        id: endpoint.id,
        secret,
    });
    let form = (String::new(), Vec::new());
    render_list(
        &state,
        &admin.csrf,
        true,
        form,
        created,
        None,
        StatusCode::OK,
    )
    .await
}

async fn endpoint(state: &AppState, id: i64) -> Result<Endpoint, ConsoleError> {
    endpoints::get(&state.db, id)
        .await?
        .ok_or(ConsoleError::App(AppError::NotFound))
}

async fn render_detail(
    state: &AppState,
    csrf: &str,
    is_owner: bool,
    id: i64,
    secret: Option<NewSecret>,
    notice: Option<String>,
) -> Result<Response, ConsoleError> {
    let e = endpoint(state, id).await?;
    let now = now();
    let rotated_until = e.previous_until.filter(|u| *u > now).map(when);
    let log = endpoints::deliveries(&state.db, id, LOG_ROWS)
        .await?
        .into_iter()
        .map(|d| LogRow {
            id: d.id,
            answer: match (d.last_status, &d.last_error) {
                (_, Some(error)) => error.clone(),
                (Some(status), None) => format!("HTTP {status}"),
                (None, None) => "not tried yet".to_owned(),
            },
            last_attempt: d.last_attempt_at.map(when).unwrap_or_default(),
            next_attempt: if d.state == "pending" {
                when(d.next_attempt_ms / 1000)
            } else {
                String::new()
            },
            event_id: d.event_id,
            event_type: d.event_type,
            state: d.state,
            attempts: d.attempts,
        })
        .collect();
    page(
        &Detail {
            csrf,
            is_owner,
            endpoint: Row::of(e),
            rotated_until,
            log,
            secret,
            notice,
        },
        StatusCode::OK,
        None,
    )
}

pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    admin: Admin<Viewer>,
) -> Result<Response, ConsoleError> {
    let is_owner = admin.account.role == Role::Owner;
    render_detail(&state, &admin.csrf, is_owner, id, None, None).await
}

pub async fn rotate(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    AdminForm(admin, _): AdminForm<Owner, CsrfOnly>,
) -> Result<Response, ConsoleError> {
    let grace = state.config.webhooks.rotation_grace;
    let secret = endpoints::rotate(&state.db, id, grace, now())
        .await?
        .ok_or(ConsoleError::App(AppError::NotFound))?;
    let (actor, address) = (&admin.account.email, admin.address);
    let details = format!("endpoint {id}");
    record(&state, actor, address, "webhook secret rotated", &details).await?;
    let shown = Some(NewSecret { id, secret });
    render_detail(&state, &admin.csrf, true, id, shown, None).await
}

pub async fn enable(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    AdminForm(admin, _): AdminForm<Owner, CsrfOnly>,
) -> Result<Response, ConsoleError> {
    switch(state, id, admin, true).await
}

pub async fn disable(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    AdminForm(admin, _): AdminForm<Owner, CsrfOnly>,
) -> Result<Response, ConsoleError> {
    switch(state, id, admin, false).await
}

async fn switch(
    state: AppState,
    id: i64,
    admin: Admin<Owner>,
    on: bool,
) -> Result<Response, ConsoleError> {
    let reason = format!("disabled by {}", admin.account.email);
    if !endpoints::set_enabled(&state.db, id, on, &reason, now()).await? {
        return Err(ConsoleError::App(AppError::NotFound));
    }
    let action = if on {
        "webhook endpoint enabled"
    } else {
        "webhook endpoint disabled"
    };
    let (actor, address) = (&admin.account.email, admin.address);
    record(&state, actor, address, action, &format!("endpoint {id}")).await?;
    let notice = if on {
        "Enabled: deliveries resume, pending ones first."
    } else {
        "Disabled: nothing is sent, and new events are not queued for it, until it is enabled."
    };
    render_detail(&state, &admin.csrf, true, id, None, Some(notice.to_owned())).await
}

pub async fn remove_page(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    admin: Admin<Owner>,
) -> Result<Response, ConsoleError> {
    let e = endpoint(&state, id).await?;
    page(
        &Remove {
            csrf: &admin.csrf,
            is_owner: true,
            id,
            url: &e.url,
        },
        StatusCode::OK,
        None,
    )
}

pub async fn remove(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    AdminForm(admin, _): AdminForm<Owner, CsrfOnly>,
) -> Result<Response, ConsoleError> {
    let e = endpoint(&state, id).await?;
    if !endpoints::remove(&state.db, id).await? {
        return Err(ConsoleError::App(AppError::NotFound));
    }
    let (actor, address) = (&admin.account.email, admin.address);
    let details = format!("endpoint {id} {}", e.url);
    record(&state, actor, address, "webhook endpoint removed", &details).await?;
    let form = (String::new(), Vec::new());
    render_list(&state, &admin.csrf, true, form, None, None, StatusCode::OK).await
}

pub async fn resend(
    State(state): State<AppState>,
    Path((id, delivery)): Path<(i64, i64)>,
    AdminForm(admin, _): AdminForm<Owner, CsrfOnly>,
) -> Result<Response, ConsoleError> {
    let event_id = endpoints::resend(&state.db, id, delivery, crate::clock::now_ms())
        .await?
        .ok_or(ConsoleError::App(AppError::NotFound))?;
    let (actor, address) = (&admin.account.email, admin.address);
    let details = format!("endpoint {id}, {event_id}");
    record(&state, actor, address, "webhook resent", &details).await?;
    let notice = format!("{event_id} is queued again, under the same webhook-id.");
    render_detail(&state, &admin.csrf, true, id, None, Some(notice)).await
}
