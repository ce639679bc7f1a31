-- The merchant API (issue 11 item 4): its keys, the redemptions it records, and the answers
-- it keeps for `Idempotency-Key` replays. IF NOT EXISTS throughout: SQLite's runner applies the
-- list in src/db/sqlite.rs by position, and branches merged in another order may run it again.

-- A key is shown once; only its SHA-256 is kept (`hash`), and its first characters (`prefix`)
-- so people can tell keys apart. A revoked key stays listed; its name may be used again.
CREATE TABLE IF NOT EXISTS api_keys (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL,
    scope        TEXT    NOT NULL CHECK (scope IN ('read', 'redeem')),
    hash         TEXT    NOT NULL UNIQUE,
    prefix       TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    created_by   TEXT    NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS api_keys_live_name ON api_keys (name) WHERE revoked_at IS NULL;

-- One row per code redeemed through the API, written in the same transaction as the claim's
-- `redeemed_at`: the UNIQUE code is what makes a redemption happen once. Amounts in minor
-- units (cents) of `currency`.
CREATE TABLE IF NOT EXISTS redemptions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    code         TEXT    NOT NULL UNIQUE,
    offer_id     TEXT    NOT NULL,
    order_id     TEXT    NOT NULL,
    amount_minor INTEGER NOT NULL,
    currency     TEXT    NOT NULL,
    redeemed_at  INTEGER NOT NULL,
    api_key_id   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS redemptions_day ON redemptions (redeemed_at);

-- The first answer to a request with an `Idempotency-Key`, per API key; kept 24 hours.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    api_key_id  INTEGER NOT NULL,
    key         TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    status      INTEGER NOT NULL,
    body        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (api_key_id, key)
);
CREATE INDEX IF NOT EXISTS idempotency_keys_age ON idempotency_keys (created_at);
