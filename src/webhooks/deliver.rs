//! The deliverer: a task beside the server that leases due deliveries, signs and sends them,
//! and records what came of each attempt.
//!
//! A lease (`leased_until_ms`, `leased_by`) is taken in one statement, with `FOR UPDATE SKIP
//! LOCKED` on PostgreSQL, so of several instances exactly one sends a delivery at a time; it
//! outlives an attempt's timeout, so the deliveries of an instance that died come due again
//! when it passes (at once on SQLite, one instance per file, whose leases start-up clears).
//! Success is a 2xx answer; anything else is retried after an exponential backoff with full
//! jitter until the retry period is over, when the delivery has failed. An endpoint with no
//! success for `disable_after` is disabled, and the console tells its owners.

use std::error::Error as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Notify, Semaphore};

use super::{EventType, outbox, sign, target};
use crate::admin::store::{self, Exec, Val};
use crate::config::WebhookSettings;
use crate::db::{Db, Error};

/// Deliveries in flight at once, per instance.
const CONCURRENCY: usize = 32;
/// At most this much of an answer is read (and thrown away): the status is what counts.
const MAX_ANSWER: usize = 64 * 1024;
/// Finished events are kept this long (the delivery log) after their retry period.
const KEEP_LOG_SECS: i64 = 30 * 86_400;

macro_rules! lease {
    ($lock:literal) => {
        concat!(
            "UPDATE webhook_deliveries SET leased_until_ms = $1, leased_by = $2 WHERE id IN (",
            "SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id ",
            "WHERE d.state = 'pending' AND e.enabled = 1 AND d.next_attempt_ms <= $3 ",
            "AND (d.leased_until_ms IS NULL OR d.leased_until_ms < $3) ",
            "ORDER BY d.next_attempt_ms LIMIT $4",
            $lock,
            ") RETURNING id"
        )
    };
}

const LEASED: &str = "SELECT d.id, d.event_id, d.endpoint_id, d.retry_from_ms, e.url, e.secret, \
     e.previous_secret, e.previous_until, v.type, v.payload, d.attempts \
     FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
     JOIN webhook_events v ON v.id = d.event_id \
     WHERE d.leased_by = $1 AND d.state = 'pending'";

/// A leased delivery with what sending it takes.
#[derive(Clone, Debug)]
struct Due {
    id: i64,
    event_id: String,
    endpoint_id: i64,
    retry_from_ms: i64,
    url: String,
    secret: String,
    previous_secret: Option<String>,
    previous_until: Option<i64>,
    kind: &'static str,
    payload: String,
    /// Attempts before this one.
    attempts: i64,
}

/// What one attempt came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub status: Option<u16>,
    pub error: Option<String>,
}

impl Attempt {
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// The HTTP client of the deliverer: timeouts, no redirects, no proxy, and the resolver that
/// hands out only the addresses the policy allows.
pub fn client(settings: &WebhookSettings) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .connect_timeout(settings.connect_timeout)
        .timeout(settings.timeout)
        // A redirect would lead the signed request to a target never checked.
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .https_only(!settings.allow_http)
        .dns_resolver(target::Resolver(target::Policy::of(settings)))
        .user_agent(concat!("perkgate-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// The delay before the attempt after `failed` failed ones: uniform in [0, ceiling] ("full
/// jitter", `u` in [0, 1)), the ceiling doubling from `base` up to `cap`.
pub fn backoff(failed: u32, base: Duration, cap: Duration, u: f64) -> Duration {
    let doublings = failed.saturating_sub(1).min(40);
    let ceiling = base.saturating_mul(1u32 << doublings.min(31)).min(cap);
    ceiling.mul_f64(u.clamp(0.0, 1.0))
}

pub struct Deliverer {
    db: Db,
    settings: WebhookSettings,
    client: reqwest::Client,
    /// Names this instance's leases.
    me: String,
    rounds: std::sync::atomic::AtomicU64,
    slots: Arc<Semaphore>,
    /// A delivery finished: a slot is free.
    freed: Arc<Notify>,
}

impl Deliverer {
    pub fn new(db: Db, settings: WebhookSettings) -> Result<Arc<Self>, reqwest::Error> {
        let client = client(&settings)?;
        let me: [u8; 8] = rand::random();
        Ok(Arc::new(Self {
            db,
            settings,
            client,
            me: me.iter().map(|b| format!("{b:02x}")).collect(),
            rounds: Default::default(),
            slots: Arc::new(Semaphore::new(CONCURRENCY)),
            freed: Arc::new(Notify::new()),
        }))
    }

    /// Delivers until aborted (the server stopped): when this instance writes to the outbox,
    /// when a delivery finishes, and every `poll` (other instances' events, retries coming
    /// due). Old finished events are pruned hourly.
    pub async fn run(self: Arc<Self>) {
        if let Db::Sqlite(_) = self.db {
            // One instance per SQLite file: leases left are a previous run's.
            if let Err(e) = store::exec(
                &self.db,
                "UPDATE webhook_deliveries SET leased_until_ms = NULL, leased_by = NULL \
                 WHERE state = 'pending' AND leased_by IS NOT NULL RETURNING id",
                vec![],
            )
            .await
            {
                tracing::warn!(error = %e, "could not release the webhook leases of the last run");
            }
        }
        let mut wakes = super::wakes();
        let mut pruned = Instant::now();
        loop {
            if pruned.elapsed() > Duration::from_secs(3600) {
                pruned = Instant::now();
                let keep = self.settings.retry_for.as_secs() as i64 + KEEP_LOG_SECS;
                if let Err(e) = outbox::prune(&self.db, crate::clock::now(), keep).await {
                    tracing::warn!(error = %e, "could not prune old webhook events");
                }
            }
            wakes.borrow_and_update();
            let free = self.slots.available_permits();
            let started = if free > 0 {
                match self.start_due(free).await {
                    Ok(n) => n,
                    Err(e) => {
                        tracing::warn!(error = %e, "could not look for due webhook deliveries");
                        0
                    }
                }
            } else {
                0
            };
            if started > 0 && started == free {
                // There may be more due: look again once a slot frees.
                self.freed.notified().await;
                continue;
            }
            tokio::select! {
                _ = wakes.changed() => {}
                _ = self.freed.notified(), if started > 0 => {}
                _ = tokio::time::sleep(self.settings.poll) => {}
            }
        }
    }

    /// Leases up to `n` due deliveries and starts sending each; returns how many.
    async fn start_due(self: &Arc<Self>, n: usize) -> Result<usize, Error> {
        let due = self.lease(n).await?;
        let count = due.len();
        for d in due {
            let Ok(permit) = self.slots.clone().acquire_owned().await else {
                break;
            };
            let me = self.clone();
            tokio::spawn(async move {
                me.deliver(d).await;
                drop(permit);
                me.freed.notify_one();
            });
        }
        Ok(count)
    }

    /// Leases due deliveries, for this round alone (`leased_by`).
    async fn lease(&self, n: usize) -> Result<Vec<Due>, Error> {
        let round = self
            .rounds
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let token = format!("{}-{round}", self.me);
        let now_ms = crate::clock::now_ms();
        let sql = match self.db {
            Db::Sqlite(_) => lease!(""),
            Db::Postgres(_) => lease!(" FOR UPDATE OF d SKIP LOCKED"),
        };
        let until = now_ms + self.settings.lease.as_millis() as i64;
        let leased = store::exec(
            &self.db,
            sql,
            vec![
                Val::Int(until),
                token.as_str().into(),
                Val::Int(now_ms),
                Val::Int(n as i64),
            ],
        )
        .await?;
        if leased == 0 {
            return Ok(Vec::new());
        }
        let rows = store::rows(&self.db, LEASED, vec![token.into()]).await?;
        Ok(rows
            .into_iter()
            .map(|r| Due {
                id: r[0].int(),
                event_id: r[1].string(),
                endpoint_id: r[2].int(),
                retry_from_ms: r[3].int(),
                url: r[4].string(),
                secret: r[5].string(),
                previous_secret: r[6].text().map(str::to_owned),
                previous_until: matches!(r[7], Val::Int(_)).then(|| r[7].int()),
                kind: EventType::parse(&r[8].string()).map_or("unknown", EventType::as_str),
                payload: r[9].string(),
                attempts: r[10].int(),
            })
            .collect())
    }

    async fn deliver(&self, d: Due) {
        let attempt = self.attempt(&d).await;
        if let Err(e) = self.record(&d, &attempt).await {
            // The lease runs out and the delivery is tried again: at least once.
            tracing::warn!(error = %e, delivery = d.id, "could not record a webhook attempt");
        }
    }

    /// Signs and sends one delivery.
    async fn attempt(&self, d: &Due) -> Attempt {
        let refused = |why: String| Attempt {
            status: None,
            error: Some(why),
        };
        // Again at every attempt: the settings may have changed since it was registered.
        let url = match target::check(&d.url, target::Policy::of(&self.settings)) {
            Ok(url) => url,
            Err(why) => return refused(format!("refused: {why}")),
        };
        let now = crate::clock::now();
        let mut secrets = vec![d.secret.as_str()];
        if let (Some(previous), Some(until)) = (&d.previous_secret, d.previous_until)
            && until > now
        {
            secrets.push(previous);
        }
        let signature = sign::header(&secrets, &d.event_id, now, &d.payload);
        let sent = self
            .client
            .post(url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &d.event_id)
            .header("webhook-timestamp", now.to_string())
            .header("webhook-signature", signature)
            .body(d.payload.clone())
            .send()
            .await;
        let mut answer = match sent {
            Ok(a) => a,
            Err(e) => return refused(describe(&e)),
        };
        let status = answer.status().as_u16();
        // Read (a bounded part of) the answer so the connection can be reused.
        let mut read = 0;
        while read < MAX_ANSWER {
            match answer.chunk().await {
                Ok(Some(chunk)) => read += chunk.len(),
                Ok(None) => break,
                Err(e) => {
                    return Attempt {
                        status: Some(status),
                        error: Some(describe(&e)),
                    };
                }
            }
        }
        Attempt {
            status: Some(status),
            error: None,
        }
    }

    /// Records an attempt in one transaction: the delivery's state and schedule, the
    /// endpoint's failing streak, and its disabling when the streak is too long.
    async fn record(&self, d: &Due, attempt: &Attempt) -> Result<(), Error> {
        let now_ms = crate::clock::now_ms();
        let now = now_ms / 1000;
        let succeeded = attempt.succeeded();
        let s = &self.settings;
        let retry_until = d.retry_from_ms + s.retry_for.as_millis() as i64;
        // The attempts so far (this one included) set the next delay.
        let delay = backoff(
            (d.attempts + 1) as u32,
            s.backoff_base,
            s.backoff_cap,
            rand::random::<f64>(),
        );
        let next_ms = now_ms + delay.as_millis() as i64;
        let gives_up = !succeeded && next_ms > retry_until;
        let record = Record {
            delivery: d.id,
            endpoint: d.endpoint_id,
            succeeded,
            gives_up,
            now,
            status: attempt.status.map(i64::from),
            error: attempt.error.as_ref().map(|e| truncate(e, 300)),
            next_ms,
            disable_before: now - s.disable_after.as_secs() as i64,
            retry_from: d.retry_from_ms / 1000,
            reasons: [
                format!("no successful delivery for {}", span(s.disable_after)),
                format!(
                    "a delivery failed for its whole retry period ({}) without a success meanwhile",
                    span(s.retry_for)
                ),
            ],
        };
        let disabled =
            super::transaction!(&self.db, |tx| async move { record_in(tx, &record).await })?;
        let result = match (succeeded, gives_up) {
            (true, _) => "delivered",
            (false, true) => "failed",
            (false, false) => "retrying",
        };
        crate::metrics::webhook_attempt(d.kind, result);
        if gives_up {
            tracing::warn!(
                endpoint = d.endpoint_id,
                delivery = d.id,
                event = d.kind,
                "webhook delivery failed for good"
            );
        }
        if disabled {
            crate::metrics::webhook_endpoint_disabled();
            tracing::warn!(
                endpoint = d.endpoint_id,
                "webhook endpoint disabled: failing too long"
            );
            let details = format!("endpoint {}: failing too long", d.endpoint_id);
            crate::admin::audit::record(
                &self.db,
                "webhooks",
                "",
                "webhook endpoint disabled",
                &details,
                now,
            )
            .await?;
        }
        Ok(())
    }
}

/// "5 days", "3 hours", "90 seconds".
fn span(d: Duration) -> String {
    match d.as_secs() {
        s if s >= 2 * 86_400 && s % 86_400 == 0 => format!("{} days", s / 86_400),
        s if s >= 2 * 3600 && s % 3600 == 0 => format!("{} hours", s / 3600),
        s => format!("{s} seconds"),
    }
}

/// An attempt's outcome, as written.
struct Record {
    delivery: i64,
    endpoint: i64,
    succeeded: bool,
    gives_up: bool,
    now: i64,
    status: Option<i64>,
    error: Option<String>,
    next_ms: i64,
    /// An endpoint failing since before this is disabled.
    disable_before: i64,
    /// When the delivery's retry period began (its event, or its resend).
    retry_from: i64,
    /// Why, for each of the two rules.
    reasons: [String; 2],
}

/// Returns whether the endpoint was disabled by this attempt.
async fn record_in<E: Exec>(tx: &mut E, r: &Record) -> Result<bool, Error> {
    let status = r.status.map_or(Val::Null, Val::Int);
    if r.succeeded {
        tx.rows(
            "UPDATE webhook_deliveries SET state = 'delivered', attempts = attempts + 1, \
             last_attempt_at = $1, last_status = $2, last_error = NULL, delivered_at = $1, \
             leased_until_ms = NULL, leased_by = NULL WHERE id = $3",
            vec![Val::Int(r.now), status, Val::Int(r.delivery)],
        )
        .await?;
        tx.rows(
            "UPDATE webhook_endpoints SET failing_since = NULL, last_success_at = $1 WHERE id = $2",
            vec![Val::Int(r.now), Val::Int(r.endpoint)],
        )
        .await?;
        return Ok(false);
    }
    tx.rows(
        "UPDATE webhook_deliveries SET state = $1, attempts = attempts + 1, last_attempt_at = $2, \
         last_status = $3, last_error = $4, next_attempt_ms = $5, leased_until_ms = NULL, \
         leased_by = NULL WHERE id = $6",
        vec![
            (if r.gives_up { "failed" } else { "pending" }).into(),
            Val::Int(r.now),
            status,
            r.error.clone().into(),
            Val::Int(r.next_ms),
            Val::Int(r.delivery),
        ],
    )
    .await?;
    tx.rows(
        "UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, $1) WHERE id = $2",
        vec![Val::Int(r.now), Val::Int(r.endpoint)],
    )
    .await?;
    // Failing for `disable_after`; or a delivery given up with no success since its retry
    // period began.
    let disabled = tx
        .rows(
            "UPDATE webhook_endpoints SET enabled = 0, disabled_at = $1, disabled_reason = \
             CASE WHEN failing_since <= $2 THEN $3 ELSE $4 END \
             WHERE id = $5 AND enabled = 1 AND (failing_since <= $2 OR \
             ($6 = 1 AND (last_success_at IS NULL OR last_success_at < $7))) RETURNING id",
            vec![
                Val::Int(r.now),
                Val::Int(r.disable_before),
                r.reasons[0].as_str().into(),
                r.reasons[1].as_str().into(),
                Val::Int(r.endpoint),
                Val::Int(i64::from(r.gives_up)),
                Val::Int(r.retry_from),
            ],
        )
        .await?;
    Ok(!disabled.is_empty())
}

/// What went wrong, for the delivery log: never the payload or the secret.
fn describe(e: &reqwest::Error) -> String {
    let mut source = e.source();
    let mut innermost = None;
    while let Some(s) = source {
        if let Some(refused) = s.downcast_ref::<target::Refused>() {
            return format!("refused: {refused}");
        }
        innermost = Some(s.to_string());
        source = s.source();
    }
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the answer broke off"
    } else {
        "the request failed"
    };
    match innermost {
        Some(why) if !e.is_timeout() => format!("{what}: {why}"),
        _ => what.to_owned(),
    }
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_full_jitter_up_to_the_cap() {
        let (base, cap) = (Duration::from_secs(5), Duration::from_secs(3600));
        for failed in 1..60u32 {
            let ceiling = (base * 2u32.pow((failed - 1).min(20))).min(cap);
            assert_eq!(backoff(failed, base, cap, 0.0), Duration::ZERO);
            let top = backoff(failed, base, cap, 0.999_999);
            assert!(
                top <= ceiling && top >= ceiling.mul_f64(0.999),
                "{failed}: {top:?}"
            );
            let mid = backoff(failed, base, cap, 0.5);
            assert!(mid <= ceiling / 2 + Duration::from_millis(1));
        }
        assert_eq!(backoff(1, base, cap, 1.0), base);
        assert_eq!(backoff(2, base, cap, 1.0), base * 2);
        assert_eq!(backoff(60, base, cap, 1.0), cap);
        // Within 3 days the capped schedule still makes dozens of attempts.
        let three_days = Duration::from_secs(3 * 86_400);
        let (mut spent, mut attempts) = (Duration::ZERO, 0);
        let cap = Duration::from_secs(6 * 3600);
        while spent < three_days {
            attempts += 1;
            spent += backoff(attempts, base, cap, 1.0);
        }
        assert!((15..60).contains(&attempts), "{attempts}");
    }

    #[test]
    fn errors_are_cut_short() {
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("abcdef", 3), "abc…");
    }
}
