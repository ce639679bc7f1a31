-- The dashboard reads a period of daily_counts by day and sums n (src/admin/dashboard.rs): with
-- n in the index too those reads never touch the table (about 3x faster on a year of counts).
CREATE INDEX IF NOT EXISTS daily_counts_by_day ON daily_counts (day, event, offer_id, grp, n);
