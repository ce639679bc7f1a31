#!/usr/bin/env bash
# Builds perkgate in release mode and runs the load benchmark (benches/load/main.rs), which prints
# its figures and a PASS/MISS table against the performance targets. It never fails on timing.
#
#   benches/run.sh                                      # 5 s per scenario, sessions in SQLite
#   BENCH_SECS=10 benches/run.sh                        # longer runs
#   BENCH_SESSION_URL=redis://127.0.0.1:6379 benches/run.sh   # also the read path and flows on Redis sessions
#   BENCH_BREAKDOWN=1 benches/run.sh                    # also /healthz and the JSON API without a cookie
#   BENCH_PERKGATE_LOG=info benches/run.sh              # any PERKGATE_X for perkgate as BENCH_PERKGATE_X
#   BENCH_SCENARIOS=dashboard BENCH_POSTGRES_URL=postgres://… benches/run.sh   # the dashboard on 1,000,000 claims and a year of counts
#
# Other knobs (see the top of benches/load/main.rs): BENCH_WARMUP_MS, BENCH_CONNS, BENCH_FLOW_CONNS,
# BENCH_CLIENT_THREADS, BENCH_SCENARIOS (baseline,read,flows; or dashboard), BENCH_DASHBOARD_REQUESTS, BENCH_POSTGRES_URL,
# BENCH_PERKGATE_BIN.
# Run it on a quiet machine: the load generator and the server share the CPUs, and the bench
# warns when other processes used CPU during a measurement.
set -euo pipefail
cd "$(dirname "$0")/.."
export BENCH_SECS="${BENCH_SECS:-5}"
cargo build --release --bin perkgate
cargo bench --bench load
