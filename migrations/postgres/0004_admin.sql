-- The merchant console (src/admin), as migrations/sqlite/0007_admin.sql: accounts, one-time
-- set-password links, console sessions, sign-in throttling and the audit log.
CREATE TABLE admin_accounts (
    id             BIGSERIAL PRIMARY KEY,
    email          TEXT    NOT NULL UNIQUE,
    role           TEXT    NOT NULL,
    -- Argon2id PHC string; NULL until the account's set-password link is used.
    password_hash  TEXT,
    -- Base32 TOTP secret once confirmed; `totp_pending` while an enrolment awaits its code.
    totp_secret    TEXT,
    totp_pending   TEXT,
    -- The last TOTP time step accepted: a code is never accepted twice.
    totp_last_step BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL
);

CREATE TABLE admin_links (
    token_hash TEXT    PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES admin_accounts (id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL
);

-- `stage`: 'full' (signed in) or 'totp' (password accepted, second-factor code awaited).
CREATE TABLE admin_sessions (
    id_hash    TEXT    PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES admin_accounts (id) ON DELETE CASCADE,
    stage      TEXT    NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL
);
CREATE INDEX admin_sessions_account ON admin_sessions (account_id);

-- Failed sign-ins per account (a hash of the e-mail, known or not) and per address.
CREATE TABLE admin_throttle (
    key       TEXT    PRIMARY KEY,
    failures  BIGINT  NOT NULL,
    last_at   BIGINT NOT NULL
);

CREATE TABLE audit_log (
    id      BIGSERIAL PRIMARY KEY,
    at      BIGINT NOT NULL,
    actor   TEXT    NOT NULL,
    address TEXT    NOT NULL DEFAULT '',
    action  TEXT    NOT NULL,
    details TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at ON audit_log (at);
