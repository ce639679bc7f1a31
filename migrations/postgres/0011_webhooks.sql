-- Signed webhooks (issue 11 item 5), as migrations/sqlite/0014_webhooks.sql. Times in seconds,
-- except the `_ms` columns the deliverer schedules by.

-- `events` is the subscribed types between commas (",code.redeemed,pool.low,") so that one
-- LIKE picks the subscribers. The secret signs, so it is kept; it is shown once. After a
-- rotation the previous one also signs until `previous_until`.
CREATE TABLE IF NOT EXISTS webhook_endpoints (
    id              BIGSERIAL PRIMARY KEY,
    url             TEXT    NOT NULL,
    events          TEXT    NOT NULL,
    secret          TEXT    NOT NULL,
    previous_secret TEXT,
    previous_until  BIGINT,
    enabled         BIGINT  NOT NULL DEFAULT 1,
    disabled_reason TEXT,
    disabled_at     BIGINT,
    -- The first failed attempt since the last success, and the last success: what disabling
    -- is measured by.
    failing_since   BIGINT,
    last_success_at BIGINT,
    created_at      BIGINT  NOT NULL,
    created_by      TEXT    NOT NULL
);

-- `id` is the `webhook-id` every attempt of every delivery of the event carries (`msg_…`).
CREATE TABLE IF NOT EXISTS webhook_events (
    id         TEXT    PRIMARY KEY,
    type       TEXT    NOT NULL,
    payload    TEXT    NOT NULL,
    created_at BIGINT  NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_events_age ON webhook_events (created_at);

-- One event to one endpoint. A deliverer leases due rows (`leased_until_ms`, `leased_by`):
-- a lease outlives the request's timeout, so a crashed instance's rows come due again.
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id              BIGSERIAL PRIMARY KEY,
    event_id        TEXT    NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    endpoint_id     BIGINT  NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    state           TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_ms BIGINT  NOT NULL,
    -- Retries stop PERKGATE_WEBHOOKS_RETRY_SECS after this: the event, or its resend.
    retry_from_ms   BIGINT  NOT NULL,
    leased_until_ms BIGINT,
    leased_by       TEXT,
    last_attempt_at BIGINT,
    last_status     BIGINT,
    last_error      TEXT,
    delivered_at    BIGINT,
    created_at      BIGINT  NOT NULL,
    UNIQUE (event_id, endpoint_id)
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due
    ON webhook_deliveries (next_attempt_ms) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);
