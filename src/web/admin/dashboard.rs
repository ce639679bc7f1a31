//! The dashboard, `/admin/dashboard` (viewers and up): per day for the last 30 or 90 days,
//! verifications, unlocks and redemptions as charts with a summary and a table each, the
//! period's totals by community and by offer, and the pools' levels; `/admin/dashboard.csv`
//! is the same series as a file. The figures are `admin::dashboard`'s; the SVG `charts`'.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::accounts::when;
use super::charts::{level_bar, line_chart};
use super::csv;
use super::extract::{Admin, ConsoleError, Viewer};
use super::signin::record;
use super::views::page;
use crate::admin::Role;
use crate::admin::dashboard::{
    self, Breakdown, Filter, PoolHistory, SPANS, Series, VERIFICATION, iso_date, thousands,
};
use crate::clock::now;
use crate::rewards::support::{self, Level};
use crate::rules::{CodeSource, Rules, community_name};
use crate::stats::{Event, day_of};
use crate::web::error::AppError;
use crate::web::state::AppState;

/// An event's column heading, and the words its summary counts one and many of it in.
fn words(e: Event) -> (&'static str, &'static str, &'static str) {
    match e {
        Event::Started => ("Started", "verification started", "verifications started"),
        Event::Returned => (
            "Returned from ID.me",
            "returned from ID.me",
            "returned from ID.me",
        ),
        Event::Verified => ("Verified", "verified", "verified"),
        Event::Declined => (
            "Declined at ID.me",
            "declined at ID.me",
            "declined at ID.me",
        ),
        Event::Failed => (
            "Failed or not confirmed",
            "failed or not confirmed",
            "failed or not confirmed",
        ),
        Event::Unlocked => ("Benefits unlocked", "benefit unlocked", "benefits unlocked"),
        Event::Redeemed => ("Codes redeemed", "code redeemed", "codes redeemed"),
    }
}

pub struct LegendItem {
    pub label: String,
    pub class: String,
}

pub struct ChartView {
    pub id: &'static str,
    pub title: String,
    pub svg: String,
    pub legend: Vec<LegendItem>,
    pub summary: Vec<String>,
    pub note: Option<&'static str>,
    pub caption: String,
    pub columns: Vec<String>,
    /// A day (ISO) and its figures.
    pub rows: Vec<(String, Vec<String>)>,
}

pub struct BreakdownRow {
    pub name: String,
    /// The dashboard's query for this one offer or community.
    pub link: String,
    pub cells: Vec<String>,
}

pub struct PoolLevelRow {
    pub name: String,
    pub remaining: String,
    pub issued: String,
    pub total: String,
    pub state: &'static str,
    pub testid: &'static str,
    pub bar: String,
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
pub struct DashboardPage<'a> {
    pub csrf: &'a str,
    pub is_owner: bool,
    pub days: i64,
    pub spans: Vec<Choice>,
    pub offers: Vec<Choice>,
    pub groups: Vec<Choice>,
    pub errors: Vec<&'static str>,
    /// "12 Oct 2026 to 10 Nov 2026 (UTC)".
    pub period: String,
    /// What the filters narrow, in words; empty for everything.
    pub narrowed: String,
    pub charts: Vec<ChartView>,
    pub group_columns: Vec<&'static str>,
    pub by_group: Vec<BreakdownRow>,
    pub offer_columns: Vec<&'static str>,
    pub by_offer: Vec<BreakdownRow>,
    pub pools: Vec<PoolLevelRow>,
    pub pools_at: String,
    pub csv: String,
    /// Orders the shop redeemed codes for, per offer (the merchant API's redemptions).
    pub conversion: Vec<ConversionRow>,
}

/// One offer's conversion: benefits unlocked, orders, revenue, the share of unlocks that
/// became orders.
pub struct ConversionRow {
    pub name: String,
    pub unlocked: String,
    pub orders: String,
    pub revenue: String,
    pub rate: String,
}

fn conversion_rows(
    conversion: &[crate::rewards::redemptions::OfferConversion],
    offers: &[Named],
) -> Vec<ConversionRow> {
    use crate::rewards::redemptions::format_amount;
    conversion
        .iter()
        .map(|c| ConversionRow {
            name: (offers.iter())
                .find(|(id, _)| *id == c.offer_id)
                .map_or_else(|| c.offer_id.clone(), |(_, name)| name.clone()),
            unlocked: thousands(c.unlocked as i64),
            orders: thousands(c.orders as i64),
            revenue: if c.revenue_minor.is_empty() {
                "—".to_owned()
            } else {
                (c.revenue_minor.iter())
                    .map(|(currency, minor)| {
                        format!("{} {currency}", format_amount(*minor, currency))
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            rate: c
                .rate()
                .map_or_else(|| "—".to_owned(), |r| format!("{:.1}%", r * 100.0)),
        })
        .collect()
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DashboardQuery {
    days: String,
    offer: String,
    group: String,
}

/// The filter asked for, checked against the offers and communities there are; what was
/// wrong, in words (the default standing in for it).
fn filter_of(
    q: &DashboardQuery,
    offers: &[Named],
    groups: &[Named],
) -> (Filter, Vec<&'static str>) {
    let mut errors = Vec::new();
    let days = match q.days.trim() {
        "" => SPANS[0],
        d => match d.parse::<i64>() {
            Ok(n) if SPANS.contains(&n) => n,
            _ => {
                errors.push("Choose a period of 30 or 90 days; showing 30.");
                SPANS[0]
            }
        },
    };
    let mut pick = |asked: &str, known: &[Named], why: &'static str| {
        let asked = asked.trim();
        if asked.is_empty() || known.iter().any(|(k, _)| k == asked) {
            asked.to_owned()
        } else {
            errors.push(why);
            String::new()
        }
    };
    let offer = pick(
        &q.offer,
        offers,
        "There is no such offer in the live rules or in the period's counts; showing every offer.",
    );
    let group = pick(
        &q.group,
        groups,
        "There is no such community in the live rules or in the period's counts; showing every community.",
    );
    (Filter { days, offer, group }, errors)
}

/// An offer's id and its title, or a community's handle and its name.
type Named = (String, String);

/// The offers (id, title) and communities (handle, name) to choose from: the live rules'
/// and any the counts name.
fn choices(rules: &Rules, b: &Breakdown) -> (Vec<Named>, Vec<Named>) {
    let mut offers: Vec<Named> = (rules.offers.iter())
        .map(|o| (o.id.clone(), format!("{} ({})", o.title, o.id)))
        .collect();
    for id in b.by_offer.keys() {
        if !offers.iter().any(|(k, _)| k == id) {
            offers.push((id.clone(), format!("{id} (no longer in the rules)")));
        }
    }
    let mut groups: Vec<Named> = Vec::new();
    let handles = (rules.offers.iter())
        .flat_map(|o| o.groups.iter())
        .chain(b.by_group.keys());
    for g in handles {
        if !groups.iter().any(|(k, _)| k == g) {
            groups.push((g.clone(), community_name(g).into_owned()));
        }
    }
    (offers, groups)
}

fn query_of(f: &Filter) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("days", &f.days.to_string());
    if !f.offer.is_empty() {
        q.append_pair("offer", &f.offer);
    }
    if !f.group.is_empty() {
        q.append_pair("group", &f.group);
    }
    q.finish()
}

fn chart(
    id: &'static str,
    title: &str,
    series: &Series,
    events: &[Event],
    note: Option<&'static str>,
) -> ChartView {
    let lines: Vec<&[i64]> = events.iter().map(|&e| series.current(e)).collect();
    let first = series.first_day();
    ChartView {
        id,
        title: title.to_owned(),
        svg: line_chart(id, title, first, &lines),
        legend: (events.iter().enumerate())
            .map(|(k, &e)| LegendItem {
                label: words(e).0.to_owned(),
                class: series_class(k),
            })
            .collect(),
        summary: (events.iter())
            .map(|&e| {
                let (_, one, many) = words(e);
                series.summary(e).sentence(one, many, series.days)
            })
            .collect(),
        note,
        caption: format!("{title}, per day (UTC)"),
        columns: events.iter().map(|&e| words(e).0.to_owned()).collect(),
        rows: (0..series.days)
            .map(|i| {
                let cells = (events.iter())
                    .map(|&e| thousands(series.current(e)[i as usize]))
                    .collect();
                (iso_date(first + i), cells)
            })
            .collect(),
    }
}

fn charts(series: &Series, f: &Filter, offers: &[Named], groups: &[Named]) -> Vec<ChartView> {
    let name = |list: &[Named], k: &str| {
        (list.iter().find(|(id, _)| id == k)).map_or(k.to_owned(), |(_, n)| n.clone())
    };
    let mut verifications = "Verifications".to_owned();
    let mut benefits = "Benefits unlocked and codes redeemed".to_owned();
    if !f.group.is_empty() {
        let g = name(groups, &f.group);
        verifications.push_str(&format!(" of {g}"));
        benefits.push_str(&format!(" ({g}: unlocked only)"));
    }
    if !f.offer.is_empty() {
        benefits.push_str(&format!(", offer {}", name(offers, &f.offer)));
    }
    let verification_note = (!f.offer.is_empty())
        .then_some("Verifications are counted per community, before an offer is chosen: the offer filter does not narrow them.");
    let benefits_note = (!f.group.is_empty()).then_some(
        "Redemptions are counted per offer (a code does not say its shopper's community): the community filter does not narrow them.",
    );
    vec![
        chart(
            "chart-verifications",
            &verifications,
            series,
            &VERIFICATION,
            verification_note,
        ),
        chart(
            "chart-benefits",
            &benefits,
            series,
            &[Event::Unlocked, Event::Redeemed],
            benefits_note,
        ),
    ]
}

/// Line `k`'s class (as `charts::line_chart` draws it).
fn series_class(k: usize) -> String {
    format!("series-{}", k % 5)
}

/// The pools the level chart shows: with an offer or a community chosen, the pools its live
/// offers draw from; else the live rules' pools and then any other counted in the period.
fn charted_pools(rules: &Rules, history: &PoolHistory, f: &Filter) -> Vec<String> {
    let mut pools: Vec<String> = Vec::new();
    if !f.offer.is_empty() || !f.group.is_empty() {
        let chosen = (rules.offers.iter())
            .filter(|o| f.offer.is_empty() || o.id == f.offer)
            .filter(|o| f.group.is_empty() || o.groups.contains(&f.group));
        for o in chosen {
            if let CodeSource::Pool(p) = &o.code
                && !pools.contains(p)
            {
                pools.push(p.clone());
            }
        }
        return pools;
    }
    pools.extend(rules.pools.keys().cloned());
    pools.sort();
    pools.extend(
        (history.pools.keys())
            .filter(|p| !rules.pools.contains_key(*p))
            .cloned(),
    );
    pools
}

/// The pools' levels per day as a chart, a sentence per pool and a table; `None` when no
/// pool is charted.
fn pool_chart(pools: &[String], history: &PoolHistory, days: i64) -> Option<ChartView> {
    if pools.is_empty() {
        return None;
    }
    let id = "chart-pools";
    let title = "Codes left per pool";
    let none = vec![None; days.max(1) as usize];
    let lines: Vec<Vec<Option<i64>>> = (pools.iter())
        .map(|p| {
            let line = history.pools.get(p).unwrap_or(&none);
            line.iter().map(|v| v.map(|v| v as i64)).collect()
        })
        .collect();
    let refs: Vec<&[Option<i64>]> = lines.iter().map(|l| &l[..]).collect();
    Some(ChartView {
        id,
        title: title.to_owned(),
        svg: line_chart(id, title, history.first_day, &refs),
        legend: (pools.iter().enumerate())
            .map(|(k, p)| LegendItem {
                label: p.clone(),
                class: series_class(k),
            })
            .collect(),
        summary: pools.iter().map(|p| history.sentence(p)).collect(),
        note: Some(
            "Each day shows the pool's last count of the day (every minute while perkgate runs); a day without a count keeps the level before it.",
        ),
        caption: format!("{title}, per day (UTC; — not counted yet)"),
        columns: pools.to_vec(),
        rows: (0..days.max(1) as usize)
            .map(|i| {
                let cells = (lines.iter())
                    .map(|l| l[i].map_or_else(|| "—".to_owned(), thousands))
                    .collect();
                (iso_date(history.first_day + i as i64), cells)
            })
            .collect(),
    })
}

const GROUP_EVENTS: [Event; 6] = [
    Event::Started,
    Event::Returned,
    Event::Verified,
    Event::Declined,
    Event::Failed,
    Event::Unlocked,
];
const OFFER_EVENTS: [Event; 2] = [Event::Unlocked, Event::Redeemed];

fn breakdown_rows(
    totals: &std::collections::BTreeMap<String, [i64; 7]>,
    names: &[Named],
    events: &[Event],
    link: impl Fn(&str) -> Filter,
) -> Vec<BreakdownRow> {
    totals
        .iter()
        .map(|(k, t)| BreakdownRow {
            name: (names.iter().find(|(id, _)| id == k)).map_or(k.clone(), |(_, n)| n.clone()),
            link: query_of(&link(k)),
            cells: events
                .iter()
                .map(|&e| thousands(Breakdown::n(t, e)))
                .collect(),
        })
        .collect()
}

fn pool_rows(rules: &Rules, levels: &dashboard::Levels) -> Vec<PoolLevelRow> {
    let row = |name: &str, remaining: u64, issued: u64, threshold: Option<u64>| {
        let (state, testid) = match threshold.map(|t| support::level(remaining, issued, t)) {
            None => ("not in the live offers", "other"),
            Some(Level::Empty) => ("empty: shoppers get no code", "empty"),
            Some(Level::Low) => ("low: add codes soon", "low"),
            Some(Level::Ok) => ("ok", "ok"),
        };
        let total = remaining + issued;
        PoolLevelRow {
            name: name.to_owned(),
            remaining: thousands(remaining as i64),
            issued: thousands(issued as i64),
            total: thousands(total as i64),
            state,
            testid,
            bar: level_bar(remaining, total),
        }
    };
    let counted = |pool: &str| levels.pools.iter().find(|p| p.pool == pool);
    let mut rows: Vec<PoolLevelRow> = (rules.pools.values())
        .map(|p| {
            let (r, i) = counted(&p.id).map_or((0, 0), |c| (c.remaining, c.issued));
            row(&p.id, r, i, Some(p.low_threshold))
        })
        .collect();
    for c in levels
        .pools
        .iter()
        .filter(|c| !rules.pools.contains_key(&c.pool))
    {
        rows.push(row(&c.pool, c.remaining, c.issued, None));
    }
    rows
}

/// The period's counts and the filter asked for, read once for the page and the file.
struct Read {
    filter: Filter,
    errors: Vec<&'static str>,
    offers: Vec<Named>,
    groups: Vec<Named>,
    breakdown: Breakdown,
    series: Series,
    /// The pools' levels over the period (the page's chart, the file's columns).
    history: PoolHistory,
}

/// `breakdown`: read the period's totals even when the filters do not need them (the page
/// shows them; the file needs them only to know an offer or community the rules do not).
async fn read(state: &AppState, q: &DashboardQuery, breakdown: bool) -> Result<Read, ConsoleError> {
    let today = day_of(now());
    let rules = state.rules();
    let (asked, _) = filter_of(q, &[], &[]);
    // The breakdown is also what the filters choose from (offers and communities counted in
    // the period, and no longer in the rules).
    let (offers, groups) = choices(&rules, &Breakdown::default());
    let unknown = |asked: &str, known: &[Named]| {
        let asked = asked.trim();
        !asked.is_empty() && !known.iter().any(|(k, _)| k == asked)
    };
    let needed = breakdown || unknown(&q.offer, &offers) || unknown(&q.group, &groups);
    let breakdown = if needed {
        state
            .dashboard
            .figures
            .breakdown(&state.db, today, asked.days, now())
            .await?
    } else {
        Breakdown::default()
    };
    let (offers, groups) = choices(&rules, &breakdown);
    let (filter, errors) = filter_of(q, &offers, &groups);
    let series = (state.dashboard.figures)
        .series(&state.db, today, &filter, now())
        .await?;
    let history = dashboard::pool_history(&state.db, today, filter.days).await?;
    Ok(Read {
        filter,
        errors,
        offers,
        groups,
        breakdown,
        series,
        history,
    })
}

pub async fn show(
    State(state): State<AppState>,
    admin: Admin<Viewer>,
    Query(q): Query<DashboardQuery>,
) -> Result<Response, ConsoleError> {
    let Read {
        filter,
        errors,
        offers,
        groups,
        breakdown,
        series,
        history,
    } = read(&state, &q, true).await?;
    let rules = state.rules();
    let levels = state.dashboard.pools.get(&state.db, now()).await?;
    let conversion =
        crate::rewards::redemptions::conversion(&state.db, series.first_day(), series.today, {
            // The period's unlocks per offer: the breakdown has summed them already.
            (breakdown.by_offer.iter()).map(|(offer, t)| {
                (
                    offer.clone(),
                    Breakdown::n(t, Event::Unlocked).max(0) as u64,
                )
            })
        })
        .await?;
    let choice = |list: &[Named], chosen: &str| -> Vec<Choice> {
        (list.iter())
            .map(|(v, l)| Choice {
                value: v.clone(),
                label: l.clone(),
                selected: v == chosen,
            })
            .collect()
    };
    let mut narrowed = Vec::new();
    if let Some((_, n)) = offers.iter().find(|(k, _)| *k == filter.offer) {
        narrowed.push(format!("offer {n}"));
    }
    if let Some((_, n)) = groups.iter().find(|(k, _)| *k == filter.group) {
        narrowed.push(format!("community {n}"));
    }
    let long = |day: i64| {
        let d = dashboard::short_date(day);
        format!("{d} {}", &iso_date(day)[..4])
    };
    let days = filter.days;
    let view = DashboardPage {
        csrf: &admin.csrf,
        is_owner: admin.account.role == Role::Owner,
        days,
        spans: (SPANS.iter())
            .map(|&d| Choice {
                value: d.to_string(),
                label: format!("the last {d} days"),
                selected: d == days,
            })
            .collect(),
        offers: choice(&offers, &filter.offer),
        groups: choice(&groups, &filter.group),
        period: format!(
            "{} to {} (UTC)",
            long(series.first_day()),
            long(series.today)
        ),
        narrowed: narrowed.join(" and "),
        charts: {
            let mut c = charts(&series, &filter, &offers, &groups);
            c.extend(pool_chart(
                &charted_pools(&rules, &history, &filter),
                &history,
                days,
            ));
            c
        },
        group_columns: GROUP_EVENTS.iter().map(|&e| words(e).0).collect(),
        by_group: breakdown_rows(&breakdown.by_group, &groups, &GROUP_EVENTS, |g| Filter {
            days,
            offer: String::new(),
            group: g.to_owned(),
        }),
        offer_columns: OFFER_EVENTS.iter().map(|&e| words(e).0).collect(),
        by_offer: breakdown_rows(&breakdown.by_offer, &offers, &OFFER_EVENTS, |o| Filter {
            days,
            offer: o.to_owned(),
            group: String::new(),
        }),
        pools: pool_rows(&rules, &levels),
        pools_at: when(levels.at),
        conversion: conversion_rows(&conversion, &offers),
        csv: query_of(&filter),
        errors,
    };
    let status = if view.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    page(&view, status, None)
}

/// The header of the download: one row per day, the filter, then every event, then each
/// charted pool's level (`remaining:POOL`).
fn csv_header(pools: &[String]) -> String {
    let mut h = String::from("day,offer,group");
    for e in Event::ALL {
        h.push(',');
        h.push_str(e.as_str());
    }
    for p in pools {
        h.push(',');
        h.push_str(&csv::field(&format!("remaining:{p}"), true));
    }
    h.push('\n');
    h
}

/// The series as CSV: a row per day of the period (zeros included), wide by event, then the
/// pools' levels (empty before a pool was first counted).
fn csv_body(series: &Series, f: &Filter, pools: &[String], history: &PoolHistory) -> String {
    let mut out = csv_header(pools);
    let (offer, group) = (csv::field(&f.offer, true), csv::field(&f.group, true));
    for i in 0..series.days {
        let day = series.first_day() + i;
        out.push_str(&format!("{},{offer},{group}", iso_date(day)));
        for e in Event::ALL {
            out.push_str(&format!(",{}", series.current(e)[i as usize]));
        }
        for p in pools {
            let level = (history.pools.get(p))
                .and_then(|l| l.get((day - history.first_day) as usize).copied().flatten());
            out.push(',');
            out.push_str(&level.map(|v| v.to_string()).unwrap_or_default());
        }
        out.push('\n');
    }
    out
}

pub async fn export(
    State(state): State<AppState>,
    admin: Admin<Viewer>,
    Query(q): Query<DashboardQuery>,
) -> Result<Response, ConsoleError> {
    let Read {
        filter,
        errors,
        series,
        history,
        ..
    } = read(&state, &q, false).await?;
    if let Some(why) = errors.first() {
        return Err(ConsoleError::App(AppError::BadRequest(why)));
    }
    let pools = charted_pools(&state.rules(), &history, &filter);
    record(
        &state,
        &admin.account.email,
        admin.address,
        "dashboard downloaded",
        &query_of(&filter),
    )
    .await?;
    let body = csv_body(&series, &filter, &pools, &history);
    Ok(csv::download("dashboard.csv", body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(days: &str, offer: &str, group: &str) -> DashboardQuery {
        DashboardQuery {
            days: days.to_owned(),
            offer: offer.to_owned(),
            group: group.to_owned(),
        }
    }

    #[test]
    fn filters_are_checked_against_what_there_is() {
        let offers = vec![("mil15".to_owned(), "Military (mil15)".to_owned())];
        let groups = vec![("military".to_owned(), "Military".to_owned())];
        let (f, e) = filter_of(&q("", "", ""), &offers, &groups);
        assert_eq!(f, Filter::default());
        assert!(e.is_empty());
        let (f, e) = filter_of(&q("90", "mil15", "military"), &offers, &groups);
        assert_eq!(
            (f.days, f.offer.as_str(), f.group.as_str()),
            (90, "mil15", "military")
        );
        assert!(e.is_empty());
        for days in ["7", "abc", "-30", "30.0", "365"] {
            let (f, e) = filter_of(&q(days, "", ""), &offers, &groups);
            assert_eq!(f.days, 30, "{days}");
            assert_eq!(e.len(), 1);
        }
        let (f, e) = filter_of(&q("30", "nope", "<b>"), &offers, &groups);
        assert_eq!((f.offer.as_str(), f.group.as_str()), ("", ""));
        assert_eq!(e.len(), 2);
    }

    #[test]
    fn the_csv_has_a_row_per_day_wide_by_event() {
        let s = Series::from_rows(
            20_769,
            30,
            [(20_769, Event::Verified, 3), (20_740, Event::Started, 1)],
        );
        let f = Filter {
            offer: "=cmd".to_owned(),
            ..Filter::default()
        };
        let history = PoolHistory::from_rows(20_740, 30, [(20_768, "=p".to_owned(), 7)]);
        let body = csv_body(&s, &f, &["=p".to_owned()], &history);
        let lines: Vec<&str> = body.lines().collect();
        assert_eq!(lines.len(), 31);
        assert_eq!(
            lines[0],
            "day,offer,group,started,returned,verified,declined,failed,unlocked,redeemed,\
             remaining:=p"
        );
        assert_eq!(lines[1], "2026-10-14,'=cmd,,1,0,0,0,0,0,0,");
        assert_eq!(lines[29], "2026-11-11,'=cmd,,0,0,0,0,0,0,0,7");
        assert_eq!(lines[30], "2026-11-12,'=cmd,,0,0,3,0,0,0,0,7");
    }

    #[test]
    fn queries_carry_only_what_is_chosen() {
        assert_eq!(query_of(&Filter::default()), "days=30");
        let f = Filter {
            days: 90,
            offer: "a b&c".to_owned(),
            group: "military".to_owned(),
        };
        assert_eq!(query_of(&f), "days=90&offer=a+b%26c&group=military");
    }
}
