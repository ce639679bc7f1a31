#!/usr/bin/env bash
# Regenerates link/order.txt: the release binary's functions in the order start-up, then a
# shopper's requests (storefront, API, three sandbox verifications, a refreshed callback), then
# shutdown first run them, as callgrind records them: on the sandbox, going live (start-up and
# pages), and with ORDER_REDIS_URL with sessions in Redis. build.rs hands the file to the
# linker.
#
# Run it after upgrading Rust or a dependency (a symbol's name carries a hash of both; names
# that no longer exist are skipped, so a stale file costs memory, never correctness), then
# `cargo build --release` again. Needs valgrind and curl; takes a few minutes.
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

# One recording: the binary under callgrind on the embedded defaults (SQLite, the sandbox, the
# example rules) plus the given settings; a dump after start-up, one after the requests, the
# last at exit: $work/NAME.1, NAME.2, NAME.
record() {
    local name=$1 flows=$2
    shift 2
    (cd "$work" && exec env -i PATH="$PATH" HOME="$work" PERKGATE_LISTEN="$h" \
        PERKGATE_DATABASE_URL="sqlite://$work/$name.db" "$@" \
        valgrind --tool=callgrind --demangle=no --dump-instr=no \
        --callgrind-out-file="$work/$name" "$bin" >"$work/$name.log" 2>&1) &
    pid=$!
    for _ in $(seq 1 240); do
        curl -fs -m 2 -o /dev/null "http://$h/healthz" && break
        sleep 0.5
    done
    curl -fs -m 2 -o /dev/null "http://$h/healthz" || { cat "$work/$name.log"; exit 1; }
    callgrind_control -d "$pid" >/dev/null 2>&1

    for _ in 1 2 3; do
        for path in / /api/v1/benefit /static/app.css /readyz /embed.js "/lang/fr-CA?next=/"; do
            curl -s -m 10 -o /dev/null "http://$h$path"
        done
    done
    for persona in veteran service_member student; do
        [ "$flows" = flows ] || break
        jar=$work/$name-$persona.jar
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
}

runs=(sqlite idme)
record sqlite flows
# Going live, start-up builds the ID.me client instead of the sandbox (nothing is called).
record idme pages PERKGATE_IDME_URL=http://127.0.0.1:9 PERKGATE_IDME_CLIENT_ID=order \
    PERKGATE_IDME_CLIENT_SECRET=order
# Sessions in Redis run code of their own at start-up and per request: recorded when a Redis
# is at hand (ORDER_REDIS_URL, e.g. redis://127.0.0.1:6379).
if [ -n "${ORDER_REDIS_URL:-}" ]; then
    runs+=(redis)
    record redis flows PERKGATE_SESSION_URL="$ORDER_REDIS_URL"
fi

# Each dump's functions (callgrind names a function once per file, then by number): every
# run's start-up first, then their requests, then their exits; each once, kept only where
# the binary defines it as code.
nm --defined-only "$bin" | awk '$2 ~ /^[tTwW]$/ { print $3 }' >"$work/code"
files=()
for suffix in .1 .2 ''; do
    for run in "${runs[@]}"; do files+=("$work/$run$suffix"); done
done
for f in "${files[@]}"; do
    grep -hoE '^c?fn=\([0-9]+\) .+' "$f" | sed -E "s/^c?fn=\([0-9]+\) //; s/'[0-9]+\$//"
done | awk 'NR == FNR { code[$0] = 1; next } code[$0] && !seen[$0]++' "$work/code" - \
    >link/order.txt
echo "link/order.txt: $(wc -l <link/order.txt) functions"
