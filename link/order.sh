#!/usr/bin/env bash
# Regenerates link/order.txt: the release binary's functions in the order start-up, then a
# shopper's requests (storefront, API, three sandbox verifications, a refreshed callback), then
# shutdown first run them, as callgrind records them. build.rs hands the file to the linker.
#
# Run it after upgrading Rust or a dependency (a symbol's name carries a hash of both; names
# that no longer exist are skipped, so a stale file costs memory, never correctness), then
# `cargo build --release` again. Needs valgrind and curl; takes about two minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
cargo build --release --bin perkgate
bin=$(cd "$target/release" && pwd)/perkgate
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
port=${ORDER_PORT:-39917}
h=127.0.0.1:$port

# A clean environment: the embedded defaults (SQLite, the sandbox, the example rules).
(cd "$work" && exec env -i PATH="$PATH" HOME="$work" PERKGATE_LISTEN="$h" \
    PERKGATE_DATABASE_URL="sqlite://$work/perkgate.db" \
    valgrind --tool=callgrind --demangle=no --dump-instr=no \
    --callgrind-out-file="$work/cg.out" "$bin" >"$work/log" 2>&1) &
pid=$!
for _ in $(seq 1 240); do
    curl -fs -m 2 -o /dev/null "http://$h/healthz" && break
    sleep 0.5
done
curl -fs -m 2 -o /dev/null "http://$h/healthz" || { cat "$work/log"; exit 1; }
callgrind_control -d "$pid" >/dev/null 2>&1

for _ in 1 2 3; do
    for path in / /api/v1/benefit /static/app.css /readyz /embed.js "/lang/fr-CA?next=/"; do
        curl -s -m 10 -o /dev/null "http://$h$path"
    done
done
for persona in veteran service_member student; do
    jar=$work/$persona.jar
    c() { curl -s -m 30 -c "$jar" -b "$jar" "$@"; }
    csrf=$(c "http://$h/" | grep -o 'name="csrf" value="[^"]*"' | head -1 | sed 's/.*value="//; s/"//')
    authorize=$(c -o /dev/null -w '%{redirect_url}' -d "csrf=$csrf" "http://$h/verify")
    request=$(c "$authorize" | grep -o 'name="request" value="[^"]*"' | sed 's/.*value="//; s/"//')
    callback=$(c -o /dev/null -w '%{redirect_url}' -d "request=$request&persona=$persona" \
        "http://$h/sandbox/idme/oauth/authorize")
    c -o /dev/null "$callback"
    c -o /dev/null "http://$h/"
    c -o /dev/null "http://$h/api/v1/benefit"
    c -o /dev/null "$callback"
done
callgrind_control -d "$pid" >/dev/null 2>&1
kill -INT "$pid"
wait "$pid" || true
pid=

# Each dump's functions (callgrind names a function once per file, then by number), in
# dump order, each once, kept only where the binary defines it as code.
nm --defined-only "$bin" | awk '$2 ~ /^[tTwW]$/ { print $3 }' >"$work/code"
for f in "$work/cg.out.1" "$work/cg.out.2" "$work/cg.out"; do
    grep -hoE '^c?fn=\([0-9]+\) .+' "$f" | sed -E "s/^c?fn=\([0-9]+\) //; s/'[0-9]+\$//"
done | awk 'NR == FNR { code[$0] = 1; next } code[$0] && !seen[$0]++' "$work/code" - \
    >link/order.txt
echo "link/order.txt: $(wc -l <link/order.txt) functions"
