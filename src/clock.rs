//! The one clock: Unix seconds, UTC. Everything that stores or compares a time uses it.

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
