-- What happened per day, offer and community, counted as it happens (src/stats.rs): the
-- dashboard reads these sums, never per-person rows. `day` is days since 1970-01-01 (UTC);
-- `offer_id` and `grp` are '' where the event has none.
CREATE TABLE IF NOT EXISTS daily_counts (
    day BIGINT NOT NULL,
    event TEXT NOT NULL,
    offer_id TEXT NOT NULL DEFAULT '',
    grp TEXT NOT NULL DEFAULT '',
    n BIGINT NOT NULL,
    PRIMARY KEY (day, event, offer_id, grp)
);
