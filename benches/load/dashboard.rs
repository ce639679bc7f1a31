//! The dashboard scenario (`BENCH_SCENARIOS=dashboard`): a database with 1,000,000 claims and
//! their codes and a year of daily counts, made by one generator statement per table (in one
//! transaction), then the real perkgate on it, signed in to the console as a viewer, and
//! `GET /admin/dashboard?days=90`, `?days=30` and the CSV one after another on one
//! keep-alive connection: p50 and p95 against the target of p95 <= 100 ms. On SQLite always,
//! and on PostgreSQL when `BENCH_POSTGRES_URL` (or `PERKGATE_TEST_POSTGRES_URL`) names a
//! server: a fresh database is created there and dropped afterwards.
//!
//! The counts are every day × event × offer (and none) × community (and none) of the shipped
//! rules: more rows than the app writes (it never counts a verification with an offer), so
//! the queries read at least as much as a real year's.

use std::path::Path;
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};

use ::perkgate::admin::{Role, accounts, password};
use ::perkgate::db::Db;

use crate::client::{contains, hidden_csrf, new_client, send, uri};
use crate::fake_idme::FakeIdme;
use crate::perkgate::start_perkgate;
use crate::procfs::{cpu_ticks, machine_ticks};
use crate::settings::Settings;

pub(crate) const CLAIMS: i64 = 1_000_000;
/// Codes left in the pool besides the issued ones.
const FREE_CODES: i64 = 100_000;
const EMAIL: &str = "bench-viewer@example.com";
const PASSWORD: &str = "bench-Dashboard-2026-lantern";

/// One measured target.
pub(crate) struct DashRow {
    pub(crate) name: String,
    pub(crate) n: usize,
    pub(crate) first_ms: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p95_ms: f64,
    pub(crate) max_ms: f64,
    pub(crate) errors: u64,
    /// perkgate's CPU per request.
    pub(crate) cpu_ms: f64,
    /// CPU used meanwhile by every other process (PostgreSQL's included), in cores.
    pub(crate) other_cores: f64,
}

impl DashRow {
    pub(crate) fn line(&self) -> String {
        format!(
            "{:<52} {:>5} req  first {:>6.1} ms  p50 {:>6.2} ms  p95 {:>6.2} ms  max {:>6.1} ms  CPU {:>5.2} ms/req  others {:.2} cores  errors {}   target p95 <= 100 ms: {}",
            self.name,
            self.n,
            self.first_ms,
            self.p50_ms,
            self.p95_ms,
            self.max_ms,
            self.cpu_ms,
            self.other_cores,
            self.errors,
            if self.errors == 0 && self.p95_ms <= 100.0 {
                "PASS"
            } else {
                "MISS"
            }
        )
    }
}

const OFFERS: [&str; 8] = [
    "",
    "veterans",
    "military",
    "students",
    "teachers",
    "responders",
    "nurses",
    "state-alumni",
];
const GROUPS: [&str; 7] = [
    "",
    "military",
    "student",
    "teacher",
    "responder",
    "nurse",
    "alumni",
];

fn list(items: &[&str], sqlite: bool) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("'{s}'")).collect();
    if sqlite {
        quoted
            .iter()
            .map(|q| format!("({q})"))
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        quoted.join(", ")
    }
}

/// The generator for SQLite: claims (40% from the pool offer, with their pool codes; the
/// rest with the static or generated codes of their offers), the pool's free codes, and the
/// year of counts and of the pool's levels.
fn sqlite_generator(now: i64) -> String {
    let today = now.div_euclid(86_400);
    let events = list(&::perkgate::stats::Event::ALL.map(|e| e.as_str()), true);
    format!(
        "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {CLAIMS}) \
         INSERT INTO claims (id, offer_id, person_key, code, claimed_at, redeemed_at) \
         SELECT i, \
           CASE WHEN i % 10 < 4 THEN 'veterans' WHEN i % 10 = 4 THEN 'military' \
                WHEN i % 10 = 5 THEN 'students' WHEN i % 10 = 6 THEN 'teachers' \
                WHEN i % 10 = 7 THEN 'responders' WHEN i % 10 = 8 THEN 'nurses' \
                ELSE 'state-alumni' END, \
           printf('%016x%016x', i, i * 7919), \
           CASE WHEN i % 10 < 4 THEN printf('VET-%07d', i) WHEN i % 10 = 4 THEN 'SALUTE15' \
                WHEN i % 10 = 5 THEN 'STUDY10' WHEN i % 10 = 6 THEN printf('TEACH-%08X', i) \
                WHEN i % 10 = 7 THEN 'RESPOND15' WHEN i % 10 = 8 THEN 'CARE10' END, \
           {now} - (i % 365) * 86400 - (i % 86400), \
           CASE WHEN i % 3 = 0 THEN {now} - (i % 365) * 86400 + 3600 END \
         FROM s; \
         INSERT INTO pool_codes (pool, code, imported_at, claim_id) \
         SELECT 'veteran-codes', code, claimed_at - 2592000, id FROM claims WHERE offer_id = 'veterans'; \
         WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {FREE_CODES}) \
         INSERT INTO pool_codes (pool, code, imported_at) SELECT 'veteran-codes', printf('VET-FREE-%07d', i), {now} FROM s; \
         WITH RECURSIVE d(day) AS (SELECT {first} UNION ALL SELECT day + 1 FROM d WHERE day < {today}), \
           e(event) AS (VALUES {events}), o(offer_id) AS (VALUES {offers}), g(grp) AS (VALUES {groups}) \
         INSERT INTO daily_counts (day, event, offer_id, grp, n) \
         SELECT day, event, offer_id, grp, abs(random() % 60) FROM d, e, o, g; \
         WITH RECURSIVE d(day) AS (SELECT {first} UNION ALL SELECT day + 1 FROM d WHERE day < {today}) \
         INSERT INTO pool_levels (day, pool, remaining) \
         SELECT day, 'veteran-codes', {FREE_CODES} + ({today} - day) * 1000 FROM d; \
         ANALYZE;",
        first = today - 364,
        offers = list(&OFFERS, true),
        groups = list(&GROUPS, true),
    )
}

/// The same for PostgreSQL.
fn postgres_generator(now: i64) -> String {
    let today = now.div_euclid(86_400);
    let events = list(&::perkgate::stats::Event::ALL.map(|e| e.as_str()), false);
    format!(
        "INSERT INTO claims (id, offer_id, person_key, code, claimed_at, redeemed_at) \
         SELECT i, \
           CASE WHEN i % 10 < 4 THEN 'veterans' WHEN i % 10 = 4 THEN 'military' \
                WHEN i % 10 = 5 THEN 'students' WHEN i % 10 = 6 THEN 'teachers' \
                WHEN i % 10 = 7 THEN 'responders' WHEN i % 10 = 8 THEN 'nurses' \
                ELSE 'state-alumni' END, \
           lpad(to_hex(i), 16, '0') || lpad(to_hex(i * 7919), 16, '0'), \
           CASE WHEN i % 10 < 4 THEN 'VET-' || lpad(i::text, 7, '0') WHEN i % 10 = 4 THEN 'SALUTE15' \
                WHEN i % 10 = 5 THEN 'STUDY10' WHEN i % 10 = 6 THEN 'TEACH-' || upper(lpad(to_hex(i), 8, '0')) \
                WHEN i % 10 = 7 THEN 'RESPOND15' WHEN i % 10 = 8 THEN 'CARE10' END, \
           {now} - (i % 365) * 86400 - (i % 86400), \
           CASE WHEN i % 3 = 0 THEN {now} - (i % 365) * 86400 + 3600 END \
         FROM generate_series(1::bigint, {CLAIMS}::bigint) i; \
         SELECT setval(pg_get_serial_sequence('claims', 'id'), {CLAIMS}); \
         INSERT INTO pool_codes (pool, code, imported_at, claim_id) \
         SELECT 'veteran-codes', code, claimed_at - 2592000, id FROM claims WHERE offer_id = 'veterans'; \
         INSERT INTO pool_codes (pool, code, imported_at) \
         SELECT 'veteran-codes', 'VET-FREE-' || lpad(i::text, 7, '0'), {now} FROM generate_series(1, {FREE_CODES}) i; \
         INSERT INTO daily_counts (day, event, offer_id, grp, n) \
         SELECT d, e, o, g, floor(random() * 60)::bigint \
         FROM generate_series({first}::bigint, {today}::bigint) d, unnest(ARRAY[{events}]) e, \
              unnest(ARRAY[{offers}]) o, unnest(ARRAY[{groups}]) g; \
         INSERT INTO pool_levels (day, pool, remaining) \
         SELECT d, 'veteran-codes', {FREE_CODES} + ({today} - d) * 1000 \
         FROM generate_series({first}::bigint, {today}::bigint) d; \
         ANALYZE;",
        first = today - 364,
        offers = list(&OFFERS, false),
        groups = list(&GROUPS, false),
    )
}

/// Migrates `url`, fills it, and adds the viewer account; how long the filling took.
async fn generate(url: &str) -> Result<Duration, String> {
    let db = ::perkgate::db::connect(url).await?;
    let now = ::perkgate::clock::now();
    let started = Instant::now();
    match &db {
        Db::Sqlite(s) => {
            let sql = sqlite_generator(now);
            s.call(move |c| Ok(c.execute_batch(&sql)?))
                .await
                .map_err(|e| format!("generate on SQLite: {e}"))?;
        }
        Db::Postgres(p) => {
            sqlx::raw_sql(&postgres_generator(now))
                .execute(p)
                .await
                .map_err(|e| format!("generate on PostgreSQL: {e}"))?;
            // What autovacuum does soon after: index-only scans need the visibility map.
            sqlx::raw_sql("VACUUM ANALYZE daily_counts")
                .execute(p)
                .await
                .map_err(|e| format!("vacuum on PostgreSQL: {e}"))?;
        }
    }
    let took = started.elapsed();
    let account = accounts::create(&db, EMAIL, Role::Viewer, now)
        .await
        .map_err(|e| format!("viewer account: {e}"))?;
    let hash = password::hash_blocking(PASSWORD).map_err(|e| format!("hash: {e}"))?;
    accounts::set_password(&db, account.id, &hash)
        .await
        .map_err(|e| format!("viewer password: {e}"))?;
    if let Db::Postgres(p) = db {
        p.close().await;
    }
    Ok(took)
}

/// A fresh database on the PostgreSQL server at `admin_url`: (its URL, its name).
async fn fresh_postgres(admin_url: &str) -> Result<(String, String), String> {
    let name = format!(
        "perkgate_bench_dashboard_{}_{}",
        std::process::id(),
        rand::random::<u32>()
    );
    let admin = sqlx::PgPool::connect(admin_url)
        .await
        .map_err(|e| format!("connect to {admin_url}: {e}"))?;
    sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .map_err(|e| format!("create database {name}: {e}"))?;
    admin.close().await;
    let mut url = url::Url::parse(admin_url).map_err(|e| format!("{admin_url}: {e}"))?;
    url.set_path(&name);
    Ok((url.to_string(), name))
}

async fn drop_postgres(admin_url: &str, name: &str) {
    if let Ok(admin) = sqlx::PgPool::connect(admin_url).await {
        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        if let Err(e) = sqlx::raw_sql(&sql).execute(&admin).await {
            println!("  could not drop the bench database {name}: {e}");
        }
        admin.close().await;
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Signs in through the console's form and measures the three targets on one connection.
async fn measure(
    server: &crate::server::Server,
    clk_tck: f64,
    label: &str,
    requests: usize,
) -> Result<Vec<DashRow>, String> {
    let addr = server.addr;
    let pid = server.pid().to_string();
    let opened = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let client = new_client(&opened);
    let login = send(&client, Method::GET, uri(addr, "/admin/login")?, None, None).await?;
    let nonce = login.cookie.ok_or("the sign-in page set no cookie")?;
    let csrf = hidden_csrf(&login.body).ok_or("the sign-in page has no form token")?;
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("csrf", &csrf)
        .append_pair("email", EMAIL)
        .append_pair("password", PASSWORD)
        .finish();
    let signed = send(
        &client,
        Method::POST,
        uri(addr, "/admin/login")?,
        Some(&nonce),
        Some(form),
    )
    .await?;
    if signed.status != StatusCode::SEE_OTHER {
        return Err(format!("sign-in answered {}", signed.status));
    }
    let cookie = signed.cookie.ok_or("signing in set no session cookie")?;
    let mut rows = Vec::new();
    for (path, needle) in [
        (
            "/admin/dashboard?days=90",
            &b"data-testid=\"dashboard-chart\""[..],
        ),
        (
            "/admin/dashboard?days=30",
            &b"data-testid=\"dashboard-chart\""[..],
        ),
        (
            "/admin/dashboard.csv?days=90",
            &b"day,offer,group,started"[..],
        ),
    ] {
        let target = uri(addr, path)?;
        let mut times = Vec::with_capacity(requests);
        let mut errors = 0;
        let mut first_ms = 0.0;
        let (mut cpu0, mut machine0, mut self0, mut started) = (0, 0, 0, Instant::now());
        // The first of each also shows the cold figures (the pools counted for the first).
        for i in 0..requests + 5 {
            if i == 5 {
                (cpu0, machine0, self0) = (cpu_ticks(&pid), machine_ticks().0, cpu_ticks("self"));
                started = Instant::now();
            }
            let t = Instant::now();
            let r = send(&client, Method::GET, target.clone(), Some(&cookie), None).await?;
            let ms = t.elapsed().as_secs_f64() * 1e3;
            if r.status != StatusCode::OK || (i == 0 && !contains(&r.body, needle)) {
                errors += 1;
                if errors == 1 {
                    println!("  {path} answered {}", r.status);
                }
            }
            match i {
                0 => first_ms = ms,
                // A short warm-up.
                1..5 => {}
                _ => times.push(ms),
            }
        }
        let secs = started.elapsed().as_secs_f64();
        let cpu = cpu_ticks(&pid).saturating_sub(cpu0);
        let others = (machine_ticks().0.saturating_sub(machine0))
            .saturating_sub(cpu)
            .saturating_sub(cpu_ticks("self").saturating_sub(self0));
        times.sort_by(f64::total_cmp);
        let row = DashRow {
            cpu_ms: cpu as f64 / clk_tck * 1e3 / times.len().max(1) as f64,
            other_cores: others as f64 / clk_tck / secs,
            name: format!("dashboard {label} GET {path}"),
            n: times.len(),
            first_ms,
            p50_ms: percentile(&times, 50.0),
            p95_ms: percentile(&times, 95.0),
            max_ms: times.last().copied().unwrap_or(f64::NAN),
            errors,
        };
        println!("  {}", row.line());
        rows.push(row);
    }
    Ok(rows)
}

/// Generates, starts perkgate on it, measures; on SQLite in `dir`, and on PostgreSQL when
/// a server is named.
pub(crate) fn run(
    settings: &Settings,
    runtime: &tokio::runtime::Runtime,
    fake: &FakeIdme,
    dir: &Path,
) -> Result<Vec<DashRow>, String> {
    let requests = std::env::var("BENCH_DASHBOARD_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_usize)
        .clamp(20, 100_000);
    let mut rows = Vec::new();
    let sqlite_url = format!("sqlite://{}", dir.join("dashboard.db").display());
    let pg = std::env::var("BENCH_POSTGRES_URL")
        .or_else(|_| std::env::var("PERKGATE_TEST_POSTGRES_URL"))
        .ok()
        .filter(|u| !u.is_empty());
    let mut backends = vec![("SQLite", sqlite_url, None)];
    if let Some(admin) = &pg {
        let (url, name) = runtime.block_on(fresh_postgres(admin))?;
        backends.push(("PostgreSQL", url, Some((admin.clone(), name))));
    } else {
        println!("  (BENCH_POSTGRES_URL not set: the dashboard is measured on SQLite only)");
    }
    for (label, url, drop) in backends {
        let took = runtime.block_on(generate(&url));
        let outcome = took.and_then(|took| {
            println!(
                "  {label}: {CLAIMS} claims, {} pool codes ({FREE_CODES} free), {} daily counts generated in {:.1} s",
                CLAIMS * 4 / 10 + FREE_CODES,
                365 * 7 * OFFERS.len() * GROUPS.len(),
                took.as_secs_f64()
            );
            let run = start_perkgate(settings, dir, fake.addr, None, Some(&url))??;
            let measured =
                runtime.block_on(measure(&run.server, settings.clk_tck, label, requests));
            if measured.is_err() {
                println!("  perkgate stderr:\n{}", run.server.stderr_tail());
            }
            run.server.stop();
            measured
        });
        if let Some((admin, name)) = drop {
            runtime.block_on(drop_postgres(&admin, &name));
        }
        rows.extend(outcome?);
    }
    Ok(rows)
}
