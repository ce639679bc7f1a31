-- Codes in the merchant console (issue 10 item 5). Numbered 0009, leaving 0008 to the rules
-- editor's migration; SQLite's runner applies the list in src/db/sqlite.rs in order, so a gap
-- in the numbers is harmless, and this one may run again (IF NOT EXISTS, and the columns are
-- added by its hook only when missing: SQLite has no ADD COLUMN IF NOT EXISTS):
--   claims.revoked_at      support revoked the code: never redeemed, never shown again.
--   claims.limit_reset_at  support reset the person's limit: the claim no longer counts.
-- The pool of an issued code (the issued-codes download, a lookup), and a person's claims
-- across offers (the lookup's count), without a scan.
CREATE INDEX IF NOT EXISTS pool_codes_claim ON pool_codes (claim_id);
CREATE INDEX IF NOT EXISTS claims_person_key ON claims (person_key);
