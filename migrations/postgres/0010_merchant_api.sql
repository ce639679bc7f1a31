-- The merchant API (issue 11 item 4), as migrations/sqlite/0013_merchant_api.sql.

-- A key is shown once; only its SHA-256 is kept (`hash`), and its first characters (`prefix`)
-- so people can tell keys apart. A revoked key stays listed; its name may be used again.
CREATE TABLE IF NOT EXISTS api_keys (
    id           BIGSERIAL PRIMARY KEY,
    name         TEXT    NOT NULL,
    scope        TEXT    NOT NULL CHECK (scope IN ('read', 'redeem')),
    hash         TEXT    NOT NULL UNIQUE,
    prefix       TEXT    NOT NULL,
    created_at   BIGINT NOT NULL,
    created_by   TEXT    NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE UNIQUE INDEX IF NOT EXISTS api_keys_live_name ON api_keys (name) WHERE revoked_at IS NULL;

-- One row per code redeemed through the API, written in the same transaction as the claim's
-- `redeemed_at`: the UNIQUE code is what makes a redemption happen once. Amounts in minor
-- units (cents) of `currency`.
CREATE TABLE IF NOT EXISTS redemptions (
    id           BIGSERIAL PRIMARY KEY,
    code         TEXT    NOT NULL UNIQUE,
    offer_id     TEXT    NOT NULL,
    order_id     TEXT    NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency     TEXT    NOT NULL,
    redeemed_at  BIGINT NOT NULL,
    api_key_id   BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS redemptions_day ON redemptions (redeemed_at);

-- The first answer to a request with an `Idempotency-Key`, per API key; kept 24 hours.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    api_key_id  BIGINT NOT NULL,
    key         TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    status      BIGINT NOT NULL,
    body        TEXT    NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (api_key_id, key)
);
CREATE INDEX IF NOT EXISTS idempotency_keys_age ON idempotency_keys (created_at);
