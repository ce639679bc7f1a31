-- What a retry of a callback needs (see src/verification/handover.rs): a keyed hash binding
-- the state to the browser that began it (its session id and ID.me's code), and, once
-- verified, the new session id sealed under those two, so only that browser can open it.
-- The outcome gains 'noted' (a notice the shopper was never sent to) and 'abandoned' (never
-- finished: a crash, or running past every timeout).
ALTER TABLE callback_states ADD COLUMN binding TEXT;
ALTER TABLE callback_states ADD COLUMN handover TEXT;
