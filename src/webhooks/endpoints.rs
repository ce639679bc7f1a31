//! The endpoints (registered in the console or with `perkgate webhooks add`) and their
//! delivery log. Secrets leave here only from [`create`] and [`rotate`], to be shown once.

use super::{EventType, sign, target};
use crate::admin::store::{self, Exec, Row, Val};
use crate::config::WebhookSettings;
use crate::db::{Db, Error};

/// An endpoint as listed: no secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub id: i64,
    pub url: String,
    pub events: Vec<EventType>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<i64>,
    pub failing_since: Option<i64>,
    pub created_at: i64,
    pub created_by: String,
    /// The previous secret still signs until then (after a rotation).
    pub previous_until: Option<i64>,
}

/// The columns [`endpoint`] reads (a macro: `concat!` takes literals only).
macro_rules! columns {
    () => {
        "id, url, events, enabled, disabled_reason, disabled_at, failing_since, created_at, \
         created_by, previous_until"
    };
}

fn endpoint(r: &Row) -> Endpoint {
    let opt = |v: &Val| matches!(v, Val::Int(_)).then(|| v.int());
    Endpoint {
        id: r[0].int(),
        url: r[1].string(),
        events: r[2]
            .string()
            .split(',')
            .filter_map(EventType::parse)
            .collect(),
        enabled: r[3].int() != 0,
        disabled_reason: r[4].text().map(str::to_owned),
        disabled_at: opt(&r[5]),
        failing_since: opt(&r[6]),
        created_at: r[7].int(),
        created_by: r[8].string(),
        previous_until: opt(&r[9]),
    }
}

/// ",a,b," for the `LIKE` in `outbox`.
fn stored_events(events: &[EventType]) -> String {
    let names: Vec<&str> = events.iter().map(|e| e.as_str()).collect();
    format!(",{},", names.join(","))
}

/// Why an endpoint was not registered.
#[derive(Debug)]
pub enum AddError {
    Target(target::Refused),
    Events(String),
    Db(Error),
}

impl std::fmt::Display for AddError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Target(why) => write!(f, "URL refused: {why}"),
            Self::Events(why) => f.write_str(why),
            Self::Db(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for AddError {}

impl From<Error> for AddError {
    fn from(e: Error) -> Self {
        Self::Db(e)
    }
}

/// Registers an endpoint after checking its URL (form, and where its name resolves now).
/// Returns it and its secret, which is shown once.
pub async fn create(
    db: &Db,
    settings: &WebhookSettings,
    url: &str,
    events: &[EventType],
    by: &str,
    now: i64,
) -> Result<(Endpoint, String), AddError> {
    if events.is_empty() {
        return Err(AddError::Events(
            "choose at least one event to send".to_owned(),
        ));
    }
    let policy = target::Policy::of(settings);
    let url = target::check(url, policy).map_err(AddError::Target)?;
    target::resolves(&url, policy)
        .await
        .map_err(AddError::Target)?;
    let secret = sign::new_secret();
    let row = store::one(
        db,
        "INSERT INTO webhook_endpoints (url, events, secret, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
        vec![
            url.as_str().into(),
            stored_events(events).into(),
            secret.as_str().into(),
            Val::Int(now),
            by.into(),
        ],
    )
    .await?
    .ok_or_else(|| Error::Other("the endpoint was not recorded".to_owned()))?;
    let made = get(db, row[0].int())
        .await?
        .ok_or_else(|| Error::Other("the endpoint vanished".to_owned()))?;
    Ok((made, secret))
}

pub async fn list(db: &Db) -> Result<Vec<Endpoint>, Error> {
    const SQL: &str = concat!("SELECT ", columns!(), " FROM webhook_endpoints ORDER BY id");
    Ok(store::rows(db, SQL, vec![])
        .await?
        .iter()
        .map(endpoint)
        .collect())
}

pub async fn get(db: &Db, id: i64) -> Result<Option<Endpoint>, Error> {
    const SQL: &str = concat!(
        "SELECT ",
        columns!(),
        " FROM webhook_endpoints WHERE id = $1"
    );
    Ok(store::one(db, SQL, vec![Val::Int(id)])
        .await?
        .as_ref()
        .map(endpoint))
}

/// Endpoints disabled for failing (the console's notice to owners).
pub async fn disabled_count(db: &Db) -> Result<i64, Error> {
    Ok(store::one(
        db,
        "SELECT count(*) FROM webhook_endpoints WHERE enabled = 0",
        vec![],
    )
    .await?
    .map_or(0, |r| r[0].int()))
}

/// Deletes an endpoint and its deliveries. False when there was none.
pub async fn remove(db: &Db, id: i64) -> Result<bool, Error> {
    Ok(store::exec(
        db,
        "DELETE FROM webhook_endpoints WHERE id = $1 RETURNING id",
        vec![Val::Int(id)],
    )
    .await?
        > 0)
}

/// A new secret; the current one becomes the previous, which keeps signing alongside for
/// `grace`. Returns the new secret (shown once), `None` when there is no such endpoint.
pub async fn rotate(
    db: &Db,
    id: i64,
    grace: std::time::Duration,
    now: i64,
) -> Result<Option<String>, Error> {
    let secret = sign::new_secret();
    let rotated = store::exec(
        db,
        "UPDATE webhook_endpoints SET previous_secret = secret, previous_until = $1, \
         secret = $2 WHERE id = $3 RETURNING id",
        vec![
            Val::Int(now + grace.as_secs() as i64),
            secret.as_str().into(),
            Val::Int(id),
        ],
    )
    .await?;
    Ok((rotated > 0).then_some(secret))
}

/// Disables (by an owner, `reason`) or enables an endpoint. Enabling gives its pending
/// deliveries a fresh retry period, due now. False when there is no such endpoint.
pub async fn set_enabled(
    db: &Db,
    id: i64,
    enabled: bool,
    reason: &str,
    now: i64,
) -> Result<bool, Error> {
    let (id, reason) = (id, reason.to_owned());
    let changed = super::transaction!(db, |tx| async move {
        let changed = if enabled {
            let n = tx
                .rows(
                    "UPDATE webhook_endpoints SET enabled = 1, disabled_reason = NULL, \
                     disabled_at = NULL, failing_since = NULL WHERE id = $1 RETURNING id",
                    vec![Val::Int(id)],
                )
                .await?
                .len();
            let now_ms = now * 1000;
            tx.rows(
                "UPDATE webhook_deliveries SET next_attempt_ms = $1, retry_from_ms = $1 \
                 WHERE endpoint_id = $2 AND state = 'pending'",
                vec![Val::Int(now_ms), Val::Int(id)],
            )
            .await?;
            n
        } else {
            tx.rows(
                "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = $1, \
                 disabled_at = $2 WHERE id = $3 RETURNING id",
                vec![reason.as_str().into(), Val::Int(now), Val::Int(id)],
            )
            .await?
            .len()
        };
        Ok::<_, Error>(changed > 0)
    })?;
    if enabled && changed {
        super::wake();
    }
    Ok(changed)
}

/// One delivery, for the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub id: i64,
    /// The `webhook-id`.
    pub event_id: String,
    pub event_type: String,
    pub state: String,
    pub attempts: i64,
    pub last_attempt_at: Option<i64>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    /// Milliseconds; meaningful while pending.
    pub next_attempt_ms: i64,
    pub delivered_at: Option<i64>,
    pub created_at: i64,
}

/// The endpoint's latest deliveries, newest first.
pub async fn deliveries(db: &Db, endpoint: i64, limit: i64) -> Result<Vec<Delivery>, Error> {
    let rows = store::rows(
        db,
        "SELECT d.id, d.event_id, e.type, d.state, d.attempts, d.last_attempt_at, \
         d.last_status, d.last_error, d.next_attempt_ms, d.delivered_at, d.created_at \
         FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id \
         WHERE d.endpoint_id = $1 ORDER BY d.id DESC LIMIT $2",
        vec![Val::Int(endpoint), Val::Int(limit)],
    )
    .await?;
    let opt = |v: &Val| matches!(v, Val::Int(_)).then(|| v.int());
    Ok(rows
        .iter()
        .map(|r| Delivery {
            id: r[0].int(),
            event_id: r[1].string(),
            event_type: r[2].string(),
            state: r[3].string(),
            attempts: r[4].int(),
            last_attempt_at: opt(&r[5]),
            last_status: opt(&r[6]),
            last_error: r[7].text().map(str::to_owned),
            next_attempt_ms: r[8].int(),
            delivered_at: opt(&r[9]),
            created_at: r[10].int(),
        })
        .collect())
}

/// Sends a delivery again: the same event, so the same `webhook-id` and body, due now with a
/// fresh retry period. Returns its `webhook-id`; `None` when the endpoint has no such
/// delivery.
pub async fn resend(
    db: &Db,
    endpoint: i64,
    delivery: i64,
    now_ms: i64,
) -> Result<Option<String>, Error> {
    let row = store::one(
        db,
        "UPDATE webhook_deliveries SET state = 'pending', next_attempt_ms = $1, \
         retry_from_ms = $1, leased_until_ms = NULL, leased_by = NULL \
         WHERE id = $2 AND endpoint_id = $3 RETURNING event_id",
        vec![Val::Int(now_ms), Val::Int(delivery), Val::Int(endpoint)],
    )
    .await?;
    super::wake();
    Ok(row.map(|r| r[0].string()))
}
