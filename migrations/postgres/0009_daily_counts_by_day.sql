-- The dashboard reads a period of daily_counts by day and sums n (src/admin/dashboard.rs): with
-- n included, those reads can be index-only scans.
CREATE INDEX IF NOT EXISTS daily_counts_by_day ON daily_counts (day, event, offer_id, grp) INCLUDE (n);
