-- The rules document's versions and the console's drafts, as migrations/sqlite/0008_rules_versions.sql.
CREATE TABLE rules_versions (
    version  BIGINT PRIMARY KEY,
    document TEXT   NOT NULL,
    author   TEXT   NOT NULL,
    at       BIGINT NOT NULL,
    note     TEXT   NOT NULL DEFAULT ''
);

CREATE TABLE rules_drafts (
    account_id BIGINT PRIMARY KEY REFERENCES admin_accounts (id) ON DELETE CASCADE,
    document   TEXT   NOT NULL,
    based_on   BIGINT NOT NULL,
    saved_at   BIGINT NOT NULL
);
