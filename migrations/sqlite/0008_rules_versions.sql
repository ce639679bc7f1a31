-- The rules document's versions (src/rules/versions.rs): every published version is kept. The
-- primary key on `version` is what makes a publish based on a stale version fail.
CREATE TABLE IF NOT EXISTS rules_versions (
    version  INTEGER PRIMARY KEY,
    document TEXT    NOT NULL,
    -- A console account's e-mail, "cli" or "start-up".
    author   TEXT    NOT NULL,
    at       INTEGER NOT NULL,
    note     TEXT    NOT NULL DEFAULT ''
);

-- One draft per console account, kept until it is published or discarded.
CREATE TABLE IF NOT EXISTS rules_drafts (
    account_id INTEGER PRIMARY KEY REFERENCES admin_accounts (id) ON DELETE CASCADE,
    document   TEXT    NOT NULL,
    -- The live version the draft was started from.
    based_on   INTEGER NOT NULL,
    saved_at   INTEGER NOT NULL
);
