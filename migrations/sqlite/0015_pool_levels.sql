-- How many codes each pool had left, per day (src/rewards/levels.rs): the last count of the
-- day, written when it changes. The dashboard charts it; a pool's codes are never summed here.
-- `day` is days since 1970-01-01 (UTC).
CREATE TABLE IF NOT EXISTS pool_levels (
    day INTEGER NOT NULL,
    pool TEXT NOT NULL,
    remaining INTEGER NOT NULL,
    PRIMARY KEY (day, pool)
);
