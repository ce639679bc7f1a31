-- Codes in the merchant console, as migrations/sqlite/0009_console_codes.sql. Numbered 0006,
-- leaving 0005 to the rules editor's migration: sqlx applies a lower version found later.
-- revoked_at: support revoked the code; limit_reset_at: support reset the person's limit.
ALTER TABLE claims ADD COLUMN IF NOT EXISTS revoked_at BIGINT;
ALTER TABLE claims ADD COLUMN IF NOT EXISTS limit_reset_at BIGINT;
CREATE INDEX IF NOT EXISTS pool_codes_claim ON pool_codes (claim_id);
CREATE INDEX IF NOT EXISTS claims_person_key ON claims (person_key);
