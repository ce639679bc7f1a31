-- Shopper sessions, kept by perkgate's own store (src/session_store.rs) on the database
-- thread. `data` is the session's JSON; `expiry_date` is in Unix seconds.
CREATE TABLE sessions (
    id          TEXT    PRIMARY KEY,
    data        BLOB    NOT NULL,
    expiry_date INTEGER NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expiry_date);

-- The table of the tower-sessions SQLite store this one replaces.
DROP TABLE IF EXISTS tower_sessions;
