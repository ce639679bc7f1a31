-- The merchant console (src/admin): accounts, one-time set-password links, console sessions,
-- sign-in throttling and the audit log. Only hashes of link tokens and session ids are kept.
-- IF NOT EXISTS: a database rewound to an earlier version (a test of the 0006 hook) already has them.
CREATE TABLE IF NOT EXISTS admin_accounts (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    email          TEXT    NOT NULL UNIQUE,
    role           TEXT    NOT NULL,
    -- Argon2id PHC string; NULL until the account's set-password link is used.
    password_hash  TEXT,
    -- Base32 TOTP secret once confirmed; `totp_pending` while an enrolment awaits its code.
    totp_secret    TEXT,
    totp_pending   TEXT,
    -- The last TOTP time step accepted: a code is never accepted twice.
    totp_last_step INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS admin_links (
    token_hash TEXT    PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES admin_accounts (id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL
);

-- `stage`: 'full' (signed in) or 'totp' (password accepted, second-factor code awaited).
CREATE TABLE IF NOT EXISTS admin_sessions (
    id_hash    TEXT    PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES admin_accounts (id) ON DELETE CASCADE,
    stage      TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS admin_sessions_account ON admin_sessions (account_id);

-- Failed sign-ins per account (a hash of the e-mail, known or not) and per address.
CREATE TABLE IF NOT EXISTS admin_throttle (
    key       TEXT    PRIMARY KEY,
    failures  INTEGER NOT NULL,
    last_at   INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS audit_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    actor   TEXT    NOT NULL,
    address TEXT    NOT NULL DEFAULT '',
    action  TEXT    NOT NULL,
    details TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at);
