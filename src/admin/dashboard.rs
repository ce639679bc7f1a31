//! The dashboard's figures: the daily counts of [`crate::stats`] per day for the last 30 or 90
//! days (and the period before, for the trend), their totals by offer and by community, and
//! the pools' levels. Each is one aggregate query, written once for both databases; the rest
//! is plain arithmetic on the rows, tested here.
//!
//! Verifications are counted per community (the shopper has no offer yet), redemptions per
//! offer (a code names its offer, not the shopper's community): so the offer filter narrows
//! unlocked and redeemed, and the community filter everything but redeemed.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::store::{self, Val};
use crate::db::{Db, Error};
use crate::rewards::PoolStatus;
use crate::stats::Event;

/// The periods the dashboard shows, in days; the first is the default.
pub const SPANS: [i64; 2] = [30, 90];

/// The events of a verification, in the order a shopper meets them.
pub const VERIFICATION: [Event; 5] = [
    Event::Started,
    Event::Returned,
    Event::Verified,
    Event::Declined,
    Event::Failed,
];

/// What the merchant asked to see. Empty `offer` / `group`: all of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    pub days: i64,
    pub offer: String,
    pub group: String,
}

impl Default for Filter {
    fn default() -> Self {
        Self {
            days: SPANS[0],
            offer: String::new(),
            group: String::new(),
        }
    }
}

/// Per-day sums of each event over `days` days ending `today`, and over the `days` before
/// them (the trend's baseline). Days without rows are zeros.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Series {
    pub today: i64,
    pub days: i64,
    /// Per event (in [`Event::ALL`] order): the previous period's days, then the current's.
    values: Vec<Vec<i64>>,
}

fn index(e: Event) -> usize {
    Event::ALL.iter().position(|x| *x == e).unwrap_or(0)
}

impl Series {
    /// From `(day, event, n)` rows; rows outside both periods are ignored.
    pub fn from_rows(
        today: i64,
        days: i64,
        rows: impl IntoIterator<Item = (i64, Event, i64)>,
    ) -> Self {
        let days = days.max(1);
        let width = (2 * days) as usize;
        let mut values = vec![vec![0; width]; Event::ALL.len()];
        let start = today - 2 * days + 1;
        for (day, event, n) in rows {
            if (start..=today).contains(&day) {
                values[index(event)][(day - start) as usize] += n;
            }
        }
        Self {
            today,
            days,
            values,
        }
    }

    /// The first day of the current period.
    pub fn first_day(&self) -> i64 {
        self.today - self.days + 1
    }

    pub fn current(&self, e: Event) -> &[i64] {
        &self.values[index(e)][self.days as usize..]
    }

    pub fn previous(&self, e: Event) -> &[i64] {
        &self.values[index(e)][..self.days as usize]
    }

    pub fn summary(&self, e: Event) -> Summary {
        Summary::of(self.current(e), self.previous(e), self.first_day())
    }
}

/// A series in a sentence's worth of numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    pub total: i64,
    /// The busiest day and its count (the first of equals), when any day counted anything.
    pub peak: Option<(i64, i64)>,
    pub previous: i64,
}

impl Summary {
    pub fn of(current: &[i64], previous: &[i64], first_day: i64) -> Self {
        let mut peak: Option<(i64, i64)> = None;
        for (i, &n) in current.iter().enumerate() {
            if n > 0 && peak.is_none_or(|(_, p)| n > p) {
                peak = Some((first_day + i as i64, n));
            }
        }
        Self {
            total: current.iter().sum(),
            peak,
            previous: previous.iter().sum(),
        }
    }

    /// "1,234 verified in the last 30 days, peak 97 on 12 Nov; up 12% on the 30 days before
    /// (1,100)." `one` and `many`: what is counted, for a total of one and of any other.
    pub fn sentence(&self, one: &str, many: &str, days: i64) -> String {
        let what = if self.total == 1 { one } else { many };
        let mut s = format!("{} {what} in the last {days} days", thousands(self.total));
        if let Some((day, n)) = self.peak {
            s.push_str(&format!(", peak {} on {}", thousands(n), short_date(day)));
        }
        let trend = match (self.previous, self.total) {
            (0, 0) => "none in the days before either".to_owned(),
            (0, _) => "none in the days before".to_owned(),
            (p, t) if p == t => format!("the same as the {days} days before"),
            (p, t) => {
                let change = (t - p) as f64 / p as f64 * 100.0;
                format!(
                    "{} {}% on the {days} days before ({})",
                    if t > p { "up" } else { "down" },
                    change.abs().round() as i64,
                    thousands(p)
                )
            }
        };
        s.push_str("; ");
        s.push_str(&trend);
        s.push('.');
        s
    }
}

/// "1,234,567".
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn date(day: i64) -> Option<time::Date> {
    // Julian day 2440588 is 1970-01-01.
    i32::try_from(day + 2_440_588)
        .ok()
        .and_then(|j| time::Date::from_julian_day(j).ok())
}

/// "2026-11-12" (UTC), for tables and the CSV.
pub fn iso_date(day: i64) -> String {
    date(day).map_or_else(|| day.to_string(), |d| d.to_string())
}

/// "12 Nov", for sentences and axis labels.
pub fn short_date(day: i64) -> String {
    date(day).map_or_else(
        || day.to_string(),
        |d| {
            let month = &d.month().to_string()[..3];
            format!("{} {month}", d.day())
        },
    )
}

type SeriesRow = (i64, Event, i64);
type BreakdownRow = (Event, String, String, i64);

/// The per-day sums of days `from..=to` for `filter`, in one query.
async fn series_rows(
    db: &Db,
    from: i64,
    to: i64,
    filter: &Filter,
) -> Result<Vec<SeriesRow>, Error> {
    // The offer filter leaves verifications alone (counted without an offer), the community
    // filter redemptions (counted without a community): see the module's comment.
    const SQL: &str = "SELECT day, event, CAST(sum(n) AS BIGINT) FROM daily_counts \
         WHERE day >= $1 AND day <= $2 \
         AND ($3 = '' OR offer_id = $3 OR event NOT IN ('unlocked', 'redeemed')) \
         AND ($4 = '' OR grp = $4 OR event = 'redeemed') \
         GROUP BY day, event";
    let params = vec![
        Val::Int(from),
        Val::Int(to),
        Val::Text(filter.offer.clone()),
        Val::Text(filter.group.clone()),
    ];
    Ok(store::rows(db, SQL, params)
        .await?
        .iter()
        .filter_map(|r| Some((r[0].int(), Event::parse(r[1].text()?)?, r[2].int())))
        .collect())
}

/// The first day of the two periods (the current one and the one before, for the trend).
fn series_start(today: i64, days: i64) -> i64 {
    today - 2 * days.max(1) + 1
}

/// The per-day sums for `filter`, both periods, in one query.
pub async fn series(db: &Db, today: i64, filter: &Filter) -> Result<Series, Error> {
    let from = series_start(today, filter.days);
    let rows = series_rows(db, from, today, filter).await?;
    Ok(Series::from_rows(today, filter.days, rows))
}

/// The current period's totals per community and per offer, every event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Breakdown {
    /// Community handle → totals (in [`Event::ALL`] order); redemptions have no community.
    pub by_group: BTreeMap<String, [i64; 7]>,
    /// Offer id → totals; only unlocked and redeemed have an offer.
    pub by_offer: BTreeMap<String, [i64; 7]>,
}

impl Breakdown {
    pub fn from_rows(rows: impl IntoIterator<Item = (Event, String, String, i64)>) -> Self {
        let mut b = Self::default();
        for (event, offer, group, n) in rows {
            if !group.is_empty() {
                b.by_group.entry(group).or_default()[index(event)] += n;
            }
            if !offer.is_empty() {
                b.by_offer.entry(offer).or_default()[index(event)] += n;
            }
        }
        b
    }

    pub fn n(totals: &[i64; 7], e: Event) -> i64 {
        totals[index(e)]
    }
}

/// Each pool's level on each day of a period: the day's last count, else the last before it
/// (a level holds until codes are claimed or added); `None` before the pool was first counted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PoolHistory {
    pub first_day: i64,
    /// Pool → its levels from `first_day`, a value per day; pools by name.
    pub pools: BTreeMap<String, Vec<Option<u64>>>,
}

impl PoolHistory {
    /// From `(day, pool, remaining)` rows ordered by day; rows before `first_day` carry in.
    pub fn from_rows(
        first_day: i64,
        days: i64,
        rows: impl IntoIterator<Item = (i64, String, u64)>,
    ) -> Self {
        let width = days.max(1) as usize;
        let mut pools: BTreeMap<String, Vec<Option<u64>>> = BTreeMap::new();
        for (day, pool, left) in rows {
            let line = pools.entry(pool).or_insert_with(|| vec![None; width]);
            let from = (day - first_day).max(0) as usize;
            // Later rows overwrite from their day on: the rows come by day.
            line.iter_mut().skip(from).for_each(|v| *v = Some(left));
        }
        Self { first_day, pools }
    }

    /// "mil-codes: 1,234 left on 2 Dec, from 2,000 on 3 Nov; lowest 1,000 on 28 Nov."
    pub fn sentence(&self, pool: &str) -> String {
        let known: Vec<(i64, u64)> = (self.pools.get(pool).into_iter())
            .flat_map(|l| l.iter().enumerate())
            .filter_map(|(i, v)| v.map(|v| (self.first_day + i as i64, v)))
            .collect();
        let n = |v: u64| thousands(i64::try_from(v).unwrap_or(i64::MAX));
        let (Some(&(d0, v0)), Some(&(d1, v1))) = (known.first(), known.last()) else {
            return format!("{pool}: not counted in this period.");
        };
        let mut s = format!("{pool}: {} left on {}", n(v1), short_date(d1));
        if d0 != d1 {
            s.push_str(&format!(", from {} on {}", n(v0), short_date(d0)));
            // The first lowest day.
            if let Some(&(d, v)) = known.iter().min_by_key(|(d, v)| (*v, *d))
                && v < v1
                && v < v0
            {
                s.push_str(&format!("; lowest {} on {}", n(v), short_date(d)));
            }
        }
        s.push('.');
        s
    }
}

/// The pools' levels over the `days` days ending `today`, in one query.
pub async fn pool_history(db: &Db, today: i64, days: i64) -> Result<PoolHistory, Error> {
    let first = today - days.max(1) + 1;
    let rows = crate::rewards::level_history(db, first, today).await?;
    Ok(PoolHistory::from_rows(first, days, rows))
}

/// The totals of days `from..=to` by event, offer and community, in one query.
async fn breakdown_rows(db: &Db, from: i64, to: i64) -> Result<Vec<BreakdownRow>, Error> {
    const SQL: &str = "SELECT event, offer_id, grp, CAST(sum(n) AS BIGINT) FROM daily_counts \
         WHERE day >= $1 AND day <= $2 GROUP BY event, offer_id, grp";
    let rows = store::rows(db, SQL, vec![Val::Int(from), Val::Int(to)]).await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            Some((
                Event::parse(r[0].text()?)?,
                r[1].string(),
                r[2].string(),
                r[3].int(),
            ))
        })
        .collect())
}

/// The totals of days `today - days + 1 ..= today` by event, offer and community (not
/// filtered: it is what the filters choose from).
pub async fn breakdown(db: &Db, today: i64, days: i64) -> Result<Breakdown, Error> {
    let rows = breakdown_rows(db, today - days.max(1) + 1, today).await?;
    Ok(Breakdown::from_rows(rows))
}

/// Days this many days old and older are settled: their counts no longer change. Counts go
/// to the day they happened on, within [`crate::stats::FLUSH_EVERY`] on every instance, so
/// only today's and, just after midnight, yesterday's rows still grow.
pub const SETTLED_AFTER: i64 = 2;
/// Settled sums are read again after this many seconds all the same (counts a database that
/// was away for a day receives late, a clock put right).
pub const SETTLED_MAX_AGE: i64 = 600;
/// Filters whose settled sums are kept (the least recently read go first).
const SETTLED_ENTRIES: usize = 32;

/// One kept read: what it was for, when it was read, what it answered.
struct Kept<K, V> {
    key: K,
    at: i64,
    used: u64,
    rows: Arc<Vec<V>>,
}

fn lookup<K: PartialEq, V>(
    list: &mut [Kept<K, V>],
    key: &K,
    now: i64,
    tick: u64,
) -> Option<Arc<Vec<V>>> {
    let kept = list
        .iter_mut()
        .find(|k| k.key == *key && now - k.at < SETTLED_MAX_AGE && now >= k.at)?;
    kept.used = tick;
    Some(kept.rows.clone())
}

fn keep<K, V>(list: &mut Vec<Kept<K, V>>, key: K, now: i64, tick: u64, rows: Arc<Vec<V>>) {
    let full = list.len() >= SETTLED_ENTRIES;
    if let Some(oldest) = (0..list.len())
        .min_by_key(|&i| list[i].used)
        .filter(|_| full)
    {
        list.swap_remove(oldest);
    }
    list.push(Kept {
        key,
        at: now,
        used: tick,
        rows,
    });
}

#[derive(Default)]
struct SettledState {
    tick: u64,
    /// (today, days, offer, group) → the series' rows of the settled days.
    series: Vec<Kept<(i64, Filter), SeriesRow>>,
    /// (today, days) → the breakdown's rows of the settled days.
    breakdown: Vec<Kept<(i64, i64), BreakdownRow>>,
}

/// The dashboard's sums, the settled days' read once per filter and day and kept, so a view
/// reads only the last [`SETTLED_AFTER`] days' rows: a year of counts costs a view no more
/// than a day's.
#[derive(Clone, Default)]
pub struct Figures(Arc<Mutex<SettledState>>);

impl Figures {
    fn state(&self) -> std::sync::MutexGuard<'_, SettledState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What [`series`] answers.
    pub async fn series(
        &self,
        db: &Db,
        today: i64,
        filter: &Filter,
        now: i64,
    ) -> Result<Series, Error> {
        let (from, recent) = (series_start(today, filter.days), today - SETTLED_AFTER + 1);
        let key = (today, filter.clone());
        let kept = {
            let mut st = self.state();
            st.tick += 1;
            let tick = st.tick;
            lookup(&mut st.series, &key, now, tick)
        };
        let settled = match kept {
            Some(rows) => rows,
            None => {
                let rows = Arc::new(series_rows(db, from, recent - 1, filter).await?);
                let mut st = self.state();
                let tick = st.tick;
                keep(&mut st.series, key, now, tick, rows.clone());
                rows
            }
        };
        let fresh = series_rows(db, recent.max(from), today, filter).await?;
        Ok(Series::from_rows(
            today,
            filter.days,
            settled.iter().copied().chain(fresh),
        ))
    }

    /// What [`breakdown`] answers.
    pub async fn breakdown(
        &self,
        db: &Db,
        today: i64,
        days: i64,
        now: i64,
    ) -> Result<Breakdown, Error> {
        let (from, recent) = (today - days.max(1) + 1, today - SETTLED_AFTER + 1);
        let key = (today, days);
        let kept = {
            let mut st = self.state();
            st.tick += 1;
            let tick = st.tick;
            lookup(&mut st.breakdown, &key, now, tick)
        };
        let settled = match kept {
            Some(rows) => rows,
            None => {
                let rows = Arc::new(breakdown_rows(db, from, recent - 1).await?);
                let mut st = self.state();
                let tick = st.tick;
                keep(&mut st.breakdown, key, now, tick, rows.clone());
                rows
            }
        };
        let fresh = breakdown_rows(db, recent.max(from), today).await?;
        Ok(Breakdown::from_rows(settled.iter().cloned().chain(fresh)))
    }
}

/// What the dashboard keeps between views, one per app.
#[derive(Clone, Default)]
pub struct Cache {
    pub figures: Figures,
    pub pools: PoolLevelCache,
}

/// The pools' levels as last counted, and when.
#[derive(Clone, Debug, Default)]
pub struct Levels {
    pub at: i64,
    pub pools: Arc<Vec<PoolStatus>>,
}

#[derive(Default)]
struct Cached {
    levels: Option<Levels>,
    counting: bool,
}

/// The pools' levels for the dashboard, counted again in the background once older than
/// [`LEVELS_MAX_AGE`]. Counting a pool is a scan of its codes (a million issued codes take
/// about 100 ms on SQLite, whose one connection everything else waits for meanwhile), so a
/// page view never pays for it after the first, and no two counts run at once.
#[derive(Clone, Default)]
pub struct PoolLevelCache(Arc<Mutex<Cached>>);

/// Seconds the dashboard's pool levels may be old before they are counted again.
pub const LEVELS_MAX_AGE: i64 = 15;

impl PoolLevelCache {
    pub async fn get(&self, db: &Db, now: i64) -> Result<Levels, Error> {
        let stale = {
            let mut c = self.0.lock().unwrap_or_else(|e| e.into_inner());
            match &c.levels {
                Some(l) if now - l.at < LEVELS_MAX_AGE => return Ok(l.clone()),
                Some(l) => {
                    let l = l.clone();
                    let count = !c.counting;
                    c.counting = true;
                    Some((l, count))
                }
                None => None,
            }
        };
        match stale {
            // Nothing counted yet: this request waits for the count.
            None => self.count(db, now).await,
            Some((old, start)) => {
                if start {
                    let (me, db) = (self.clone(), db.clone());
                    tokio::spawn(async move {
                        if let Err(e) = me.count(&db, now).await {
                            tracing::warn!(error = %e, "could not count the pools for the dashboard");
                        }
                    });
                }
                Ok(old)
            }
        }
    }

    /// Counts now (after codes were added here, say).
    pub async fn count(&self, db: &Db, now: i64) -> Result<Levels, Error> {
        let counted = crate::rewards::pool_status(db).await;
        let mut c = self.0.lock().unwrap_or_else(|e| e.into_inner());
        c.counting = false;
        let levels = Levels {
            at: now,
            pools: Arc::new(counted?),
        };
        c.levels = Some(levels.clone());
        Ok(levels)
    }

    /// The next view counts again, and waits for it.
    pub fn forget(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).levels = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_without_rows_are_zeros_and_the_periods_split() {
        let s = Series::from_rows(
            100,
            3,
            [
                (100, Event::Verified, 4),
                (98, Event::Verified, 1),
                (98, Event::Verified, 2),
                (97, Event::Verified, 5),
                (95, Event::Started, 9),
                (94, Event::Started, 50),  // before both periods
                (101, Event::Started, 50), // after
            ],
        );
        assert_eq!(s.first_day(), 98);
        assert_eq!(s.current(Event::Verified), &[3, 0, 4]);
        assert_eq!(s.previous(Event::Verified), &[0, 0, 5]);
        assert_eq!(s.previous(Event::Started), &[9, 0, 0]);
        assert_eq!(s.current(Event::Redeemed), &[0, 0, 0]);
        let sum = s.summary(Event::Verified);
        assert_eq!(
            sum,
            Summary {
                total: 7,
                peak: Some((100, 4)),
                previous: 5
            }
        );
    }

    #[test]
    fn pool_levels_carry_forward_and_start_when_first_counted() {
        let rows = [
            (90, "a".to_owned(), 50), // before the period: carries in
            (101, "a".to_owned(), 40),
            (101, "a".to_owned(), 30), // the day's later count
            (102, "b".to_owned(), 9),
            (104, "a".to_owned(), 45),
        ];
        let h = PoolHistory::from_rows(100, 5, rows);
        assert_eq!(
            h.pools["a"],
            vec![Some(50), Some(30), Some(30), Some(30), Some(45)]
        );
        assert_eq!(h.pools["b"], vec![None, None, Some(9), Some(9), Some(9)]);
        // Day 100 is 1970-04-11.
        assert_eq!(
            h.sentence("a"),
            "a: 45 left on 15 Apr, from 50 on 11 Apr; lowest 30 on 12 Apr."
        );
        assert_eq!(h.sentence("b"), "b: 9 left on 15 Apr, from 9 on 13 Apr.");
        assert_eq!(h.sentence("c"), "c: not counted in this period.");
        let one = PoolHistory::from_rows(100, 1, [(100, "a".to_owned(), 3)]);
        assert_eq!(one.sentence("a"), "a: 3 left on 11 Apr.");
    }

    #[test]
    fn summaries_say_total_peak_and_trend() {
        // 2026-11-12 is day 20769.
        assert_eq!(iso_date(20_769), "2026-11-12");
        assert_eq!(short_date(20_769), "12 Nov");
        let s = Summary::of(&[0, 97, 1137], &[1000, 100], 20_768);
        assert_eq!(
            s.sentence("verified", "verified", 30),
            "1,234 verified in the last 30 days, peak 1,137 on 13 Nov; up 12% on the 30 days \
             before (1,100)."
        );
        let down = Summary::of(&[5, 5], &[20, 0], 20_769);
        assert_eq!(
            down.sentence("started", "started", 90),
            "10 started in the last 90 days, peak 5 on 12 Nov; down 50% on the 90 days before (20)."
        );
        let none = Summary::of(&[0, 0], &[0, 0], 20_769);
        assert_eq!(none.peak, None);
        assert_eq!(
            none.sentence("redeemed", "redeemed", 30),
            "0 redeemed in the last 30 days; none in the days before either."
        );
        let same = Summary::of(&[3], &[3], 20_769);
        assert!(
            same.sentence("x", "x", 30)
                .ends_with("the same as the 30 days before.")
        );
        let new = Summary::of(&[3], &[0], 20_769);
        assert_eq!(
            new.sentence("code", "codes", 30),
            "3 codes in the last 30 days, peak 3 on 12 Nov; none in the days before."
        );
        let one = Summary::of(&[1], &[0], 20_769);
        assert!(one.sentence("code", "codes", 30).starts_with("1 code in"));
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(-12_345), "-12,345");
    }

    #[test]
    fn the_breakdown_keeps_offers_and_communities_apart() {
        let b = Breakdown::from_rows([
            (Event::Started, String::new(), "military".to_owned(), 5),
            (
                Event::Unlocked,
                "mil15".to_owned(),
                "military".to_owned(),
                2,
            ),
            (Event::Unlocked, "mil15".to_owned(), "veteran".to_owned(), 1),
            (Event::Redeemed, "mil15".to_owned(), String::new(), 1),
        ]);
        assert_eq!(b.by_group.len(), 2);
        assert_eq!(Breakdown::n(&b.by_group["military"], Event::Started), 5);
        assert_eq!(Breakdown::n(&b.by_group["military"], Event::Unlocked), 2);
        assert_eq!(b.by_offer.len(), 1);
        assert_eq!(Breakdown::n(&b.by_offer["mil15"], Event::Unlocked), 3);
        assert_eq!(Breakdown::n(&b.by_offer["mil15"], Event::Redeemed), 1);
    }

    #[tokio::test]
    async fn one_query_reads_both_periods_with_the_filters() {
        let db = Db::Sqlite(crate::db::Sqlite::open("sqlite::memory:").unwrap());
        let counts = crate::stats::Counts::default();
        let day = |d: i64| d * 86_400;
        counts.add_n(day(100), Event::Started, "", "military", 3);
        counts.add_n(day(100), Event::Started, "", "student", 2);
        counts.add_n(day(99), Event::Unlocked, "mil15", "military", 2);
        counts.add_n(day(99), Event::Unlocked, "stu10", "student", 1);
        counts.add_n(day(100), Event::Redeemed, "mil15", "", 1);
        counts.add_n(day(70), Event::Started, "", "military", 7);
        counts.add_n(day(40), Event::Started, "", "military", 100); // before both periods
        counts.flush(&db).await.unwrap();

        let all = series(&db, 100, &Filter::default()).await.unwrap();
        assert_eq!(all.current(Event::Started).len(), 30);
        assert_eq!(all.summary(Event::Started).total, 5);
        assert_eq!(all.summary(Event::Started).previous, 7);
        assert_eq!(all.summary(Event::Unlocked).total, 3);

        let mil = Filter {
            group: "military".to_owned(),
            ..Filter::default()
        };
        let s = series(&db, 100, &mil).await.unwrap();
        assert_eq!(s.summary(Event::Started).total, 3);
        assert_eq!(s.summary(Event::Unlocked).total, 2);
        assert_eq!(
            s.summary(Event::Redeemed).total,
            1,
            "redemptions have no community"
        );

        let stu = Filter {
            offer: "stu10".to_owned(),
            ..Filter::default()
        };
        let s = series(&db, 100, &stu).await.unwrap();
        assert_eq!(
            s.summary(Event::Started).total,
            5,
            "verifications have no offer"
        );
        assert_eq!(s.summary(Event::Unlocked).total, 1);
        assert_eq!(s.summary(Event::Redeemed).total, 0);

        let ninety = Filter {
            days: 90,
            ..Filter::default()
        };
        let s = series(&db, 100, &ninety).await.unwrap();
        assert_eq!(s.summary(Event::Started).total, 112);

        let b = breakdown(&db, 100, 30).await.unwrap();
        assert_eq!(Breakdown::n(&b.by_group["military"], Event::Started), 3);
        assert_eq!(Breakdown::n(&b.by_offer["mil15"], Event::Redeemed), 1);
        assert!(breakdown(&db, 10, 30).await.unwrap().by_group.is_empty());
    }

    #[tokio::test]
    async fn settled_days_are_read_once_and_recent_days_every_time() {
        let db = Db::Sqlite(crate::db::Sqlite::open("sqlite::memory:").unwrap());
        let counts = crate::stats::Counts::default();
        let (today, now) = (100, 100 * 86_400 + 3_600);
        let add = |day: i64, event: Event, offer: &str, group: &str, n: i64| {
            counts.add_n(day * 86_400, event, offer, group, n);
        };
        add(90, Event::Started, "", "military", 5);
        add(60, Event::Started, "", "military", 7); // the period before
        add(99, Event::Unlocked, "mil15", "military", 1);
        counts.flush(&db).await.unwrap();
        let figures = Figures::default();
        let f = Filter::default();
        let check = |s: &Series, started: i64, before: i64, unlocked: i64| {
            assert_eq!(s.summary(Event::Started).total, started);
            assert_eq!(s.summary(Event::Started).previous, before);
            assert_eq!(s.summary(Event::Unlocked).total, unlocked);
        };
        let first = figures.series(&db, today, &f, now).await.unwrap();
        assert_eq!(
            first,
            series(&db, today, &f).await.unwrap(),
            "the same as uncached"
        );
        check(&first, 5, 7, 1);
        let b = figures.breakdown(&db, today, 30, now).await.unwrap();
        assert_eq!(b, breakdown(&db, today, 30).await.unwrap());

        // Today and yesterday are read every time; a settled day that changes anyway (a
        // database that was away) shows once the kept sums are old.
        add(100, Event::Unlocked, "mil15", "military", 2);
        add(99, Event::Started, "", "military", 1);
        add(80, Event::Started, "", "military", 100);
        counts.flush(&db).await.unwrap();
        check(
            &figures.series(&db, today, &f, now + 1).await.unwrap(),
            6,
            7,
            3,
        );
        let b = figures.breakdown(&db, today, 30, now + 1).await.unwrap();
        assert_eq!(Breakdown::n(&b.by_group["military"], Event::Started), 6);
        let later = now + SETTLED_MAX_AGE;
        check(
            &figures.series(&db, today, &f, later).await.unwrap(),
            106,
            7,
            3,
        );
        // Each filter and day has its own.
        let mil = Filter {
            group: "student".to_owned(),
            ..Filter::default()
        };
        check(
            &figures.series(&db, today, &mil, now).await.unwrap(),
            0,
            0,
            0,
        );
        check(
            &figures.series(&db, today + 1, &f, now).await.unwrap(),
            106,
            7,
            3,
        );
        // Few periods: one day, still right.
        let one = figures
            .series(
                &db,
                today,
                &Filter {
                    days: 1,
                    ..f.clone()
                },
                now,
            )
            .await;
        assert_eq!(one.unwrap().summary(Event::Unlocked).total, 2);
    }

    #[tokio::test]
    async fn pool_levels_are_counted_once_then_again_when_old() {
        let db = Db::Sqlite(crate::db::Sqlite::open("sqlite::memory:").unwrap());
        let cache = PoolLevelCache::default();
        let codes = ["AAA-1".to_owned(), "AAA-2".to_owned()];
        crate::rewards::import(&db, "p", &codes, 0).await.unwrap();
        let first = cache.get(&db, 1_000).await.unwrap();
        assert_eq!(first.pools.len(), 1);
        assert_eq!(first.pools[0].remaining, 2);
        crate::rewards::import(&db, "q", &codes, 0).await.unwrap();
        // Fresh: the same figures, however the pools changed.
        assert_eq!(cache.get(&db, 1_001).await.unwrap().pools.len(), 1);
        // Old: the old figures at once, the new ones soon after.
        let old = cache.get(&db, 1_000 + LEVELS_MAX_AGE).await.unwrap();
        assert_eq!(old.at, 1_000);
        for _ in 0..100 {
            let l = cache.get(&db, 1_000 + LEVELS_MAX_AGE).await.unwrap();
            if l.pools.len() == 2 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("never counted again");
    }
}
