//! The one clock: Unix seconds, UTC. Everything that stores or compares a time uses it.

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Unix milliseconds, for waits of a second or two (the console's sign-in delays), where whole
/// seconds would make a 1 s wait anything from 0 to 1 s.
pub fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}
