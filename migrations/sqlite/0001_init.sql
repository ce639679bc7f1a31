-- perkgate's own tables. Sessions live in tower_sessions' table, created by its store.

-- Server-side secrets generated on first start (the key for person keys).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- One row per authorization callback state, inserted before any call to ID.me: the insert
-- is the atomic "first one wins" that keeps a duplicate callback from redeeming a code twice.
-- Only a hash of the state is kept. Rows are pruned after an hour.
CREATE TABLE callback_claims (
    state_hash TEXT PRIMARY KEY,
    outcome    TEXT NOT NULL DEFAULT 'running',
    claimed_at INTEGER NOT NULL
);

-- What was unlocked, for the merchant. Nothing personal: no person key, no code.
CREATE TABLE unlock_events (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    offer_id TEXT NOT NULL,
    grp      TEXT NOT NULL,
    at       INTEGER NOT NULL
);
CREATE INDEX unlock_events_at ON unlock_events (at);
