//! Dates and date-times of a rules file: an offer's window and the dates conditions compare.

use toml::Spanned;
use toml::value::Datetime;

use super::Report;

/// A TOML date or offset date-time as unix seconds. A bare date means the start of that day
/// (UTC), or its last second when `end_of_day`.
pub(super) fn instant(dt: &Datetime, end_of_day: bool) -> Result<i64, &'static str> {
    let Some(d) = dt.date else {
        return Err(
            "expected a date (2026-12-31) or a date-time with an offset (2026-12-31T23:59:59Z)",
        );
    };
    let month = time::Month::try_from(d.month).map_err(|_| "invalid month")?;
    let date = time::Date::from_calendar_date(i32::from(d.year), month, d.day)
        .map_err(|_| "invalid date")?;
    let (clock, offset_secs) = match (dt.time, dt.offset) {
        (None, _) if end_of_day => (
            time::Time::from_hms(23, 59, 59).map_err(|_| "invalid time")?,
            0,
        ),
        (None, _) => (time::Time::MIDNIGHT, 0),
        (Some(_), None) => {
            return Err(
                "a date-time needs an offset (e.g. Z or -05:00) so it means one moment everywhere",
            );
        }
        (Some(t), Some(off)) => (
            time::Time::from_hms(t.hour, t.minute, t.second.unwrap_or(0))
                .map_err(|_| "invalid time")?,
            match off {
                toml::value::Offset::Z => 0,
                toml::value::Offset::Custom { minutes } => i32::from(minutes) * 60,
            },
        ),
    };
    Ok(date.with_time(clock).assume_utc().unix_timestamp() - i64::from(offset_secs))
}

pub(super) fn window(
    r: &mut Report<'_>,
    raw: &Option<Spanned<Datetime>>,
    field: &str,
    end: bool,
) -> Option<i64> {
    let v = raw.as_ref()?;
    match instant(v.get_ref(), end) {
        Ok(t) => Some(t),
        Err(why) => {
            r.error(v.span(), field, why);
            None
        }
    }
}
