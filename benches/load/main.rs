//! Load benchmark: perkgate against a bare axum baseline on the same machine, in one run.
//!
//! `cargo bench --bench load` (release profile). It prints figures and never asserts timing:
//! targets are marked PASS or MISS, nothing fails. Everything listens on 127.0.0.1; every loop is
//! bounded in count and in time.
//!
//! Scenarios:
//! 1. baseline: a bare axum server answering `{"verified":false}`, in a separate process (this
//!    binary re-executed with `PERKGATE_BENCH_ROLE=baseline`) so its CPU time and RSS can be
//!    read from `/proc/<pid>`.
//! 2. perkgate: the release binary as a child process, on a fresh SQLite file, against a fast
//!    fake ID.me served by this process on its own thread. Time from spawn to the first 200 on
//!    `/healthz`, on a fresh database and again on the existing one.
//! 3. read path: one verified session, then `GET /api/v1/benefit` and `GET /` with its cookie.
//! 4. complete flows: `GET /`, `POST /verify/military`, the callback, `GET /` showing the benefit,
//!    each with a new session and a new ID.me person.
//!
//! The load generator is hyper-util's client with one keep-alive connection per worker, on one
//! thread by default (`BENCH_CLIENT_THREADS`). It shares the machine with the server, so its own
//! CPU time is reported next to the server's.
//!
//! Environment:
//! - `BENCH_SECS`: measured seconds per scenario (default 5); `BENCH_WARMUP_MS` (default 500).
//! - `BENCH_CONNS` (read path, default 64), `BENCH_FLOW_CONNS` (flows, default 32),
//!   `BENCH_CLIENT_THREADS` (default 1).
//! - `BENCH_SCENARIOS`: any of `baseline,read,flows` (the default), `dashboard` and `webhooks`; start-up is
//!   always measured.
//! - `dashboard`: a database with 1,000,000 claims and their codes and a year of daily counts
//!   (`dashboard.rs`), perkgate on it, a viewer signed in, `GET /admin/dashboard?days=90`,
//!   `?days=30` and the CSV, `BENCH_DASHBOARD_REQUESTS` each (default 200) on one connection;
//!   on PostgreSQL too when `BENCH_POSTGRES_URL` (or `PERKGATE_TEST_POSTGRES_URL`) names a
//!   server (a fresh database there, dropped afterwards).
//! - `webhooks`: `BENCH_WEBHOOKS_EVENTS` (default 5,000) events in the outbox before perkgate
//!   starts, one endpoint on loopback verifying every signature with the reference library:
//!   deliveries per second while perkgate drains them (`webhooks.rs`).
//! - `BENCH_BREAKDOWN=1`: also load `/healthz` and the JSON endpoint without a cookie, which
//!   splits the read path's cost into middleware, session layer and session store.
//! - `BENCH_SESSION_URL`: also run perkgate with `PERKGATE_SESSION_URL` set to it (for example
//!   `redis://127.0.0.1:6379`); a store on loopback has its process's CPU reported too.
//! - `BENCH_PERKGATE_BIN`: another perkgate binary; `BENCH_PERKGATE_<NAME>=value` is passed to
//!   perkgate as `PERKGATE_<NAME>=value` after the bench's own ones (`BENCH_PERKGATE_LOG=info`).
//!
//! The binary only runs with `--bench` (as `cargo bench` passes it), so `cargo test
//! --all-targets` does not start a load run.

// A benchmark harness: set-up failures may panic with their reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod baseline;
mod client;
mod dashboard;
mod fake_idme;
mod flow;
mod layout;
mod measure;
mod perkgate;
mod phases;
mod procfs;
mod report;
mod server;
mod settings;
mod summary;
mod webhooks;

use std::time::Duration;

use baseline::{baseline_server, start_baseline};
use client::uri;
use fake_idme::start_fake_idme;
use measure::Bench;
use perkgate::start_perkgate;
use phases::Op;
use procfs::rss_bytes;
use report::{mib, print_measured};
use settings::{Settings, cpu_model};
use summary::{Startup, print_summary};

const ROLE_VAR: &str = "PERKGATE_BENCH_ROLE";
/// Upper bound on iterations of any one worker in one phase, whatever the clock says.
const MAX_ITERS_PER_WORKER: u64 = 5_000_000;
/// Upper bound on one request (or one whole flow).
const OP_TIMEOUT: Duration = Duration::from_secs(10);
/// Upper bound on waiting for a server to answer after spawning it.
const START_TIMEOUT: Duration = Duration::from_secs(30);
const MIB: f64 = 1024.0 * 1024.0;

fn main() {
    if std::env::var(ROLE_VAR).as_deref() == Ok("baseline") {
        baseline_server();
        return;
    }
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without it,
    // and a one-minute load run has no place in a test run.
    if !std::env::args().any(|a| a == "--bench") {
        println!("load bench: not run (no --bench argument); use `cargo bench --bench load`");
        return;
    }
    if let Err(e) = run() {
        eprintln!("load bench: {e}");
        std::process::exit(1);
    }
}

// ---------------------------------------------------------------------------------------------
// The run

fn run() -> Result<(), String> {
    let settings = Settings::from_env();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("perkgate load bench");
    println!("machine: {cores} CPUs (nproc), {}", cpu_model());
    println!(
        "settings: {} s measured per scenario after {} ms warm-up; {} connections (read path), {} (flows); client on {} thread(s); clock ticks {} per s, {}",
        settings.secs,
        settings.warmup.as_millis(),
        settings.conns,
        settings.flow_conns,
        settings.client_threads,
        settings.clk_tck,
        settings.clk_note
    );
    println!("perkgate binary: {}", settings.perkgate_bin.display());
    if !settings.overrides.is_empty() {
        let list: Vec<String> = settings
            .overrides
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        println!("perkgate overrides: {}", list.join(" "));
    }
    println!(
        "note: CPU times come from /proc at {} Hz ({} ms resolution); the client and the server share the same CPUs.",
        settings.clk_tck,
        1000.0 / settings.clk_tck
    );

    let runtime = if settings.client_threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(settings.client_threads)
            .enable_all()
            .build()
    }
    .map_err(|e| format!("client runtime: {e}"))?;
    let fake = start_fake_idme()?;
    let bench = Bench {
        settings: &settings,
        runtime,
        fake: &fake,
    };

    // 1. Baseline.
    let mut base = None;
    let mut baseline_idle = 0;
    if settings.wants("baseline") {
        println!("\n[1] baseline: bare axum, {{\"verified\":false}}, separate process");
        let baseline = start_baseline()?;
        baseline_idle = rss_bytes(baseline.pid());
        let m = bench.measure(
            "baseline GET /api/v1/benefit",
            "req/s",
            &baseline,
            Op::Get(uri(baseline.addr, "/api/v1/benefit")?, None),
            settings.conns,
        );
        print_measured(&m);
        println!("    idle RSS {:.1} MiB", mib(baseline_idle));
        baseline.stop();
        base = Some(m);
    }

    // 2. perkgate start-up, on a fresh database, then again on the existing one.
    println!("\n[2] perkgate start-up (SQLite, PERKGATE_LOG=warn, fake ID.me)");
    let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let cold = start_perkgate(&settings, dir.path(), fake.addr, None, None)??;
    println!(
        "  fresh database:    first 200 after {:>6.1} ms, idle RSS {:.1} MiB",
        cold.first_200.as_secs_f64() * 1e3,
        mib(cold.rss_idle)
    );
    let cold_first = cold.first_200;
    let cold_rss = cold.rss_idle;
    cold.server.stop();
    let warm = start_perkgate(&settings, dir.path(), fake.addr, None, None)??;
    println!(
        "  existing database: first 200 after {:>6.1} ms, idle RSS {:.1} MiB",
        warm.first_200.as_secs_f64() * 1e3,
        mib(warm.rss_idle)
    );
    println!("{}", layout::line(&settings.perkgate_bin));

    // 3 and 4. Read path and flows.
    println!("\n[3,4] perkgate read path and complete flows (sessions in SQLite)");
    let sqlite = bench.read_and_flows("perkgate", &warm.server);
    if sqlite.is_err() {
        let tail = warm.server.stderr_tail();
        if !tail.is_empty() {
            println!("  perkgate stderr:\n{tail}");
        }
    }
    let sqlite = sqlite?;
    let warm_rss_end = rss_bytes(warm.server.pid());
    warm.server.stop();

    // The same on another session store, when asked.
    let mut other = Vec::new();
    let mut other_start = None;
    if let Some(url) = &settings.session_url {
        println!("\n[3,4 again] sessions at PERKGATE_SESSION_URL={url}");
        let dir2 = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        match start_perkgate(&settings, dir2.path(), fake.addr, Some(url), None)? {
            Err(why) => println!(
                "  skipped: perkgate did not start with PERKGATE_SESSION_URL (not supported yet, or the store is unreachable):\n  {}",
                why.replace('\n', "\n  ")
            ),
            Ok(run) => {
                other_start = Some((run.first_200, run.rss_idle));
                println!(
                    "  first 200 after {:.1} ms, idle RSS {:.1} MiB; session store process: {}",
                    run.first_200.as_secs_f64() * 1e3,
                    mib(run.rss_idle),
                    run.server
                        .store_pid
                        .map_or("not found (its CPU is not counted)".to_owned(), |p| {
                            format!("pid {p} (its CPU is reported apart)")
                        })
                );
                match bench.read_and_flows("perkgate+sessions", &run.server) {
                    Ok(m) => other = m,
                    Err(e) => println!(
                        "  skipped after an error: {e}\n{}",
                        run.server.stderr_tail()
                    ),
                }
                run.server.stop();
            }
        }
    } else {
        println!("\n(BENCH_SESSION_URL not set: the read path runs on SQLite sessions only)");
    }

    // The dashboard on a year of counts and a million claims, when asked.
    let mut dash = Vec::new();
    if settings.wants("dashboard") {
        println!("\n[dashboard] 1,000,000 claims and a year of daily counts, one viewer signed in");
        let dir3 = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        match dashboard::run(&settings, &bench.runtime, &fake, dir3.path()) {
            Ok(rows) => dash = rows,
            Err(e) => println!("  failed: {e}"),
        }
    }

    // Webhook deliveries draining a backlog, when asked.
    if settings.wants("webhooks") {
        println!("\n[webhooks] a backlog of benefit.unlocked events, one endpoint on loopback");
        let dir4 = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        match webhooks::run(&settings, &bench.runtime, &fake, dir4.path()) {
            Ok(line) => println!("  {line}"),
            Err(e) => println!("  failed: {e}"),
        }
    }

    // 5. Summary.
    let rss_after_max = sqlite
        .iter()
        .chain(&other)
        .map(|m| m.rss_after)
        .max()
        .unwrap_or(0)
        .max(warm_rss_end);
    print_summary(
        &settings,
        base.as_ref(),
        baseline_idle,
        &sqlite,
        &other,
        &dash,
        Startup {
            cold_first,
            cold_rss,
            warm_first: warm.first_200,
            warm_rss: warm.rss_idle,
            other: other_start,
            rss_after_max,
        },
    );
    Ok(())
}
