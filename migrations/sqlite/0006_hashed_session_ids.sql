-- Sessions are kept under a hash of their id (src/session_store/mod.rs, `stored_id`) instead
-- of the id itself, the value of the shopper's cookie. The rows already here are rehashed in
-- place by the hook that runs with this migration (src/session_store/sqlite.rs), so no
-- shopper is signed out; SQL alone has no SHA-256.
SELECT 1;
