//! Writing events to the outbox, inside the caller's transaction.

use super::Event;
use crate::admin::store::{Exec, Val};
use crate::db::{Db, Error};

/// Subscribers of a type: `events` holds the types between commas.
const SUBSCRIBED: &str =
    "SELECT count(*) FROM webhook_endpoints WHERE enabled = 1 AND events LIKE $1";
const INSERT_EVENT: &str =
    "INSERT INTO webhook_events (id, type, payload, created_at) VALUES ($1, $2, $3, $4)";
const FAN_OUT: &str = "INSERT INTO webhook_deliveries \
     (event_id, endpoint_id, next_attempt_ms, retry_from_ms, created_at) \
     SELECT $1, id, $2, $2, $3 FROM webhook_endpoints WHERE enabled = 1 AND events LIKE $4 \
     RETURNING id";

/// The `LIKE` pattern of an event type's subscribers.
pub(super) fn subscribers_of(kind: super::EventType) -> String {
    format!("%,{},%", kind.as_str())
}

/// Whether an enabled endpoint subscribes to any of `kinds` (so that work only they need,
/// such as counting a pool, is skipped otherwise).
pub(crate) async fn subscribed<E: Exec>(
    tx: &mut E,
    kinds: &[super::EventType],
) -> Result<bool, Error> {
    for kind in kinds {
        let n = tx
            .one(SUBSCRIBED, vec![subscribers_of(*kind).into()])
            .await?
            .map_or(0, |r| r[0].int());
        if n > 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Writes `event` and a delivery per enabled endpoint subscribed to its type, in the caller's
/// transaction (nothing at all when no one subscribes). Returns the deliveries written; wakes
/// this process's deliverer when there are some (on PostgreSQL the caller wakes it again after
/// its commit, which the deliverer might otherwise look before).
pub(crate) async fn enqueue<E: Exec>(tx: &mut E, event: &Event) -> Result<usize, Error> {
    let pattern = subscribers_of(event.kind);
    let subscribers = tx
        .one(SUBSCRIBED, vec![pattern.as_str().into()])
        .await?
        .map_or(0, |r| r[0].int());
    if subscribers == 0 {
        return Ok(0);
    }
    tx.rows(
        INSERT_EVENT,
        vec![
            event.id.as_str().into(),
            event.kind.as_str().into(),
            event.payload.as_str().into(),
            Val::Int(event.at),
        ],
    )
    .await?;
    // Due at once: the event's own time in milliseconds may be a second behind the clock.
    let now_ms = crate::clock::now_ms();
    let written = tx
        .rows(
            FAN_OUT,
            vec![
                event.id.as_str().into(),
                Val::Int(now_ms),
                Val::Int(event.at),
                pattern.into(),
            ],
        )
        .await?
        .len();
    super::wake();
    Ok(written)
}

/// Writes `event` in a transaction of its own (events that are not part of another write).
pub async fn enqueue_alone(db: &Db, event: Event) -> Result<usize, Error> {
    let written = super::transaction!(db, |tx| async move { enqueue(tx, &event).await })?;
    super::wake();
    Ok(written)
}

/// Forgets events older than `keep_secs` whose deliveries are all finished (the delivery log
/// goes with them). Returns the events deleted.
pub async fn prune(db: &Db, now: i64, keep_secs: i64) -> Result<usize, Error> {
    crate::admin::store::exec(
        db,
        "DELETE FROM webhook_events WHERE created_at < $1 AND NOT EXISTS \
         (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_events.id \
         AND d.state = 'pending') RETURNING id",
        vec![Val::Int(now - keep_secs)],
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::WebhookSettings;
    use crate::webhooks::{EventType, endpoints};

    async fn count(db: &Db, sql: &'static str) -> i64 {
        crate::admin::store::one(db, sql, vec![])
            .await
            .unwrap()
            .unwrap()[0]
            .int()
    }

    #[tokio::test]
    async fn events_fan_out_to_subscribers_only_and_finished_ones_are_pruned() {
        let db = crate::db::connect("sqlite::memory:").await.unwrap();
        // No subscriber: nothing written at all.
        let lonely = Event::pool_empty("spring", 100);
        assert_eq!(enqueue_alone(&db, lonely).await.unwrap(), 0);
        assert_eq!(count(&db, "SELECT count(*) FROM webhook_events").await, 0);

        let open = WebhookSettings {
            allow_http: true,
            allow_private: true,
            ..WebhookSettings::default()
        };
        let url = "http://127.0.0.1:9/a";
        let pools = [EventType::PoolLow, EventType::PoolEmpty];
        endpoints::create(&db, &open, url, &pools, "t", 0)
            .await
            .unwrap();
        let unlocks = [EventType::BenefitUnlocked];
        endpoints::create(&db, &open, url, &unlocks, "t", 0)
            .await
            .unwrap();
        let (off, _) = endpoints::create(&db, &open, url, &pools, "t", 0)
            .await
            .unwrap();
        endpoints::set_enabled(&db, off.id, false, "paused", 0)
            .await
            .unwrap();
        // One enabled subscriber of pool.empty: one delivery; the disabled one gets none.
        let old = Event::pool_empty("spring", 100);
        assert_eq!(enqueue_alone(&db, old).await.unwrap(), 1);
        let recent = Event::benefit_unlocked("military", "military", None, 10_000);
        assert_eq!(enqueue_alone(&db, recent).await.unwrap(), 1);

        // Pending deliveries keep their event however old.
        assert_eq!(prune(&db, 10_000, 1_000).await.unwrap(), 0);
        crate::admin::store::exec(
            &db,
            "UPDATE webhook_deliveries SET state = 'delivered' RETURNING id",
            vec![],
        )
        .await
        .unwrap();
        assert_eq!(prune(&db, 10_000, 1_000).await.unwrap(), 1);
        assert_eq!(count(&db, "SELECT count(*) FROM webhook_events").await, 1);
        assert_eq!(
            count(&db, "SELECT count(*) FROM webhook_deliveries").await,
            1
        );
    }
}
