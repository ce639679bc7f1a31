-- The table of callback states was called "claims"; that word belongs to the ledger.
ALTER TABLE callback_claims RENAME TO callback_states;
