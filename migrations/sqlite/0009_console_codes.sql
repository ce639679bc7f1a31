-- Codes in the merchant console (issue 10 item 5). Numbered 0009, leaving 0008 to the rules
-- editor's migration; SQLite's runner applies the list in src/db/sqlite.rs in order, so a gap
-- in the numbers is harmless.
-- `revoked_at`: support revoked the code: never redeemed, never shown again.
-- `limit_reset_at`: support reset the person's limit: the claim no longer counts towards it.
ALTER TABLE claims ADD COLUMN revoked_at INTEGER;
ALTER TABLE claims ADD COLUMN limit_reset_at INTEGER;
-- The pool of an issued code (the issued-codes download, a lookup), and a person's claims
-- across offers (the lookup's count), without a scan.
CREATE INDEX pool_codes_claim ON pool_codes (claim_id);
CREATE INDEX claims_person_key ON claims (person_key);
