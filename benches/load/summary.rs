//! The summary table: every scenario's figures against the performance targets, PASS or MISS.

use std::fmt::Write as _;
use std::time::Duration;

use crate::MIB;
use crate::dashboard::DashRow;
use crate::report::{Measured, mib};
use crate::settings::Settings;

pub(crate) struct Startup {
    /// First 200 and idle RSS with the other session store, when it ran.
    pub(crate) other: Option<(Duration, u64)>,
    pub(crate) cold_first: Duration,
    pub(crate) cold_rss: u64,
    pub(crate) warm_first: Duration,
    pub(crate) warm_rss: u64,
    pub(crate) rss_after_max: u64,
}

fn mark(ok: bool) -> &'static str {
    if ok { "PASS" } else { "MISS" }
}

pub(crate) fn print_summary(
    settings: &Settings,
    base: Option<&Measured>,
    baseline_idle: u64,
    sqlite: &[Measured],
    other: &[Measured],
    dashboard: &[DashRow],
    start: Startup,
) {
    let mut t = String::new();
    let line = "-".repeat(158);
    let _ = writeln!(
        t,
        "\n{:<52} {:>8} {:>8} {:>8} {:>10} {:>10} {:>11} {:>6}  target",
        "scenario", "per s", "p50 ms", "p99 ms", "CPU/op", "client/op", "RSS MiB", "ratio"
    );
    let _ = writeln!(t, "{line}");
    let us_or_ms = |m: &Measured, us: f64| {
        if m.unit == "flows/s" {
            format!("{:.3} ms", us / 1000.0)
        } else {
            format!("{us:.1} µs")
        }
    };
    let ratio_of = |m: &Measured| base.map(|b| m.per_sec / b.per_sec);
    let mut row = |m: &Measured, target: &str| {
        let _ = writeln!(
            t,
            "{:<52} {:>8.0} {:>8.3} {:>8.3} {:>10} {:>10} {:>11} {:>6}  {}",
            m.name,
            m.per_sec,
            m.p50_ms,
            m.p99_ms,
            us_or_ms(m, m.server_cpu_us),
            us_or_ms(m, m.client_cpu_us),
            format!("{:.1}->{:.1}", mib(m.rss_before), mib(m.rss_after)),
            ratio_of(m).map_or("-".to_owned(), |r| format!("{:.0}%", r * 100.0)),
            target
        );
    };
    if let Some(b) = base {
        row(
            b,
            &format!("reference (idle RSS {:.1} MiB)", mib(baseline_idle)),
        );
    }
    let vs = |ratio: Option<f64>, want: f64| match ratio {
        Some(r) => mark(r >= want),
        None => "n/a (no baseline)",
    };
    for set in [sqlite, other] {
        for m in set {
            let store = m
                .store_cpu_us
                .map(|us| format!(" [+ session store process {}]", us_or_ms(m, us)))
                .unwrap_or_default();
            let target = if m.name.contains(" diag ") {
                format!("diagnostic{store}")
            } else if m.name.ends_with("/api/v1/benefit") {
                format!(">= 60% of baseline: {}{store}", vs(ratio_of(m), 0.60))
            } else if m.name.ends_with("(HTML)") {
                format!(">= 50% of baseline: {}{store}", vs(ratio_of(m), 0.50))
            } else {
                // The session store's own process counts: 0.35 ms on SQLite (in process),
                // 0.45 ms with a store beside it (Redis).
                let (label, limit_us) = if m.store_cpu_us.is_some() {
                    ("0.45", 450.0)
                } else {
                    ("0.35", 350.0)
                };
                format!(
                    ">= 2,000 flows/s: {}; <= {label} ms CPU/flow: {}; errors {}{store}",
                    mark(m.per_sec >= 2000.0),
                    mark(m.server_cpu_us + m.store_cpu_us.unwrap_or(0.0) <= limit_us),
                    m.errors
                )
            };
            row(m, &target);
        }
    }
    if !dashboard.is_empty() {
        let _ = writeln!(t, "{line}");
        for d in dashboard {
            let _ = writeln!(t, "{}", d.line());
        }
    }
    let _ = writeln!(t, "{line}");
    let other_rss = start.other.map_or(0, |(_, rss)| rss);
    let _ = writeln!(
        t,
        "{:<52} {:.1} MiB (fresh database), {:.1} MiB (existing database){}   target <= 15 MiB: {}",
        "perkgate RSS idle",
        mib(start.cold_rss),
        mib(start.warm_rss),
        start
            .other
            .map(|(_, rss)| format!(", {:.1} MiB (session store URL)", mib(rss)))
            .unwrap_or_default(),
        mark(start.cold_rss.max(start.warm_rss).max(other_rss) as f64 <= 15.0 * MIB)
    );
    let _ = writeln!(
        t,
        "{:<52} {:.1} MiB (largest after any scenario)                target <= 64 MiB: {}",
        "perkgate RSS after load",
        mib(start.rss_after_max),
        mark(start.rss_after_max as f64 <= 64.0 * MIB)
    );
    let other_first = start.other.map_or(Duration::ZERO, |(d, _)| d);
    let _ = writeln!(
        t,
        "{:<52} {:.1} ms (fresh database), {:.1} ms (existing database){}   target <= 100 ms: {}",
        "perkgate first 200 after spawn",
        start.cold_first.as_secs_f64() * 1e3,
        start.warm_first.as_secs_f64() * 1e3,
        start
            .other
            .map(|(d, _)| format!(", {:.1} ms (session store URL)", d.as_secs_f64() * 1e3))
            .unwrap_or_default(),
        mark(start.cold_first.max(start.warm_first).max(other_first) <= Duration::from_millis(100))
    );
    let _ = writeln!(t, "{line}");
    let _ = writeln!(
        t,
        "CPU/op: the server process's utime+stime over the measured {} s per successful request (or flow). client/op: this \
         process's CPU (the load generator, less the fake ID.me's thread). ratio: throughput relative to the baseline.",
        settings.secs
    );
    if let Some(b) = base.filter(|b| b.client_cores >= 0.8 * b.server_cores) {
        let _ = writeln!(
            t,
            "NOTE: for the baseline the load generator used {:.2} cores and the server {:.2}: the baseline is bounded by \
             the shared machine (client CPU), not by the bare server alone, so the ratios flatter perkgate.",
            b.client_cores, b.server_cores
        );
    }
    let noisiest = base
        .into_iter()
        .chain(sqlite)
        .chain(other)
        .map(|m| m.other_cores)
        .fold(0.0_f64, f64::max);
    if noisiest > 0.15 {
        let _ = writeln!(
            t,
            "WARNING: other processes used up to {noisiest:.2} cores during the measurements; the figures are low. Run again on a quiet machine."
        );
    }
    print!("{t}");
}
