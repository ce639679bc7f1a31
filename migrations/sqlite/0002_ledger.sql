-- The ledger: code pools, claims, and redemption marks.

-- Single-use codes, imported per pool. A code is handed out by setting claim_id, once.
CREATE TABLE pool_codes (
    pool        TEXT    NOT NULL,
    code        TEXT    NOT NULL,
    imported_at INTEGER NOT NULL,
    claim_id    INTEGER,
    PRIMARY KEY (pool, code)
);
CREATE INDEX pool_codes_free ON pool_codes (pool, claim_id);

-- One row per claim: which offer, which person (keyed hash, never the ID.me uuid), which code.
CREATE TABLE claims (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    offer_id    TEXT    NOT NULL,
    person_key  TEXT    NOT NULL,
    code        TEXT,
    claimed_at  INTEGER NOT NULL,
    -- Set when the merchant reports the code as used at checkout (`perkgate codes redeemed`).
    redeemed_at INTEGER
);
CREATE INDEX claims_person ON claims (offer_id, person_key, claimed_at);
CREATE INDEX claims_code ON claims (code);

-- 'claimed' for a new claim, 'reshown' when a returning shopper is shown their earlier code.
ALTER TABLE unlock_events ADD COLUMN kind TEXT NOT NULL DEFAULT 'claimed';
