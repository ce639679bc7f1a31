-- Codes in the merchant console, as migrations/sqlite/0009_console_codes.sql. Numbered 0006,
-- leaving 0005 to the rules editor's migration: sqlx applies a lower version found later.
ALTER TABLE claims ADD COLUMN revoked_at BIGINT;
ALTER TABLE claims ADD COLUMN limit_reset_at BIGINT;
CREATE INDEX pool_codes_claim ON pool_codes (claim_id);
CREATE INDEX claims_person_key ON claims (person_key);
