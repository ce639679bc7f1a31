-- perkgate's tables on PostgreSQL: the same schema as migrations/sqlite (0001 + 0002).
-- Sessions live in tower_sessions' own schema, created by its store.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- One row per callback state, inserted before any call to ID.me: the insert is the atomic
-- "first one wins" across every instance. Only a hash of the state is kept.
CREATE TABLE callback_claims (
    state_hash TEXT PRIMARY KEY,
    outcome    TEXT NOT NULL DEFAULT 'running',
    claimed_at BIGINT NOT NULL
);

-- What was unlocked, for the merchant. Nothing personal.
CREATE TABLE unlock_events (
    id       BIGSERIAL PRIMARY KEY,
    offer_id TEXT NOT NULL,
    grp      TEXT NOT NULL,
    at       BIGINT NOT NULL,
    kind     TEXT NOT NULL DEFAULT 'claimed'
);
CREATE INDEX unlock_events_at ON unlock_events (at);

CREATE TABLE pool_codes (
    pool        TEXT   NOT NULL,
    code        TEXT   NOT NULL,
    imported_at BIGINT NOT NULL,
    claim_id    BIGINT,
    PRIMARY KEY (pool, code)
);
CREATE INDEX pool_codes_free ON pool_codes (pool, claim_id);

CREATE TABLE claims (
    id          BIGSERIAL PRIMARY KEY,
    offer_id    TEXT   NOT NULL,
    person_key  TEXT   NOT NULL,
    code        TEXT,
    claimed_at  BIGINT NOT NULL,
    redeemed_at BIGINT
);
CREATE INDEX claims_person ON claims (offer_id, person_key, claimed_at);
CREATE INDEX claims_code ON claims (code);
