-- Signed webhooks (issue 11 item 5): the endpoints, the outbox of events and one delivery per
-- event and subscribed endpoint. Events and their deliveries are written in the transaction
-- of what they tell (a claim, a redemption, a publish). IF NOT EXISTS throughout: SQLite's
-- runner applies the list in src/db/sqlite.rs by position, and branches merged in another
-- order may run it again. Times in seconds, except the `_ms` columns the deliverer schedules by.

-- `events` is the subscribed types between commas (",code.redeemed,pool.low,") so that one
-- LIKE picks the subscribers. The secret signs, so it is kept; it is shown once. After a
-- rotation the previous one also signs until `previous_until`.
CREATE TABLE IF NOT EXISTS webhook_endpoints (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    url             TEXT    NOT NULL,
    events          TEXT    NOT NULL,
    secret          TEXT    NOT NULL,
    previous_secret TEXT,
    previous_until  INTEGER,
    enabled         INTEGER NOT NULL DEFAULT 1,
    disabled_reason TEXT,
    disabled_at     INTEGER,
    -- The first failed attempt since the last success, and the last success: what disabling
    -- is measured by.
    failing_since   INTEGER,
    last_success_at INTEGER,
    created_at      INTEGER NOT NULL,
    created_by      TEXT    NOT NULL
);

-- `id` is the `webhook-id` every attempt of every delivery of the event carries (`msg_…`).
CREATE TABLE IF NOT EXISTS webhook_events (
    id         TEXT    PRIMARY KEY,
    type       TEXT    NOT NULL,
    payload    TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_events_age ON webhook_events (created_at);

-- One event to one endpoint. A deliverer leases due rows (`leased_until_ms`, `leased_by`):
-- a lease outlives the request's timeout, so a crashed instance's rows come due again.
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        TEXT    NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    endpoint_id     INTEGER NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    state           TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    -- Retries stop PERKGATE_WEBHOOKS_RETRY_SECS after this: the event, or its resend.
    retry_from_ms   INTEGER NOT NULL,
    leased_until_ms INTEGER,
    leased_by       TEXT,
    last_attempt_at INTEGER,
    last_status     INTEGER,
    last_error      TEXT,
    delivered_at    INTEGER,
    created_at      INTEGER NOT NULL,
    UNIQUE (event_id, endpoint_id)
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due
    ON webhook_deliveries (next_attempt_ms) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);
