# perkgate container image.
#
#   docker build -t perkgate .
#   docker run --rm -p 3000:3000 -v perkgate-data:/data -e PERKGATE_ALLOW_SANDBOX=1 perkgate
#
# (PERKGATE_ALLOW_SANDBOX=1: the embedded ID.me sandbox on the image's 0.0.0.0 listen address, on
# purpose. It is not an image default: an image deployed with PERKGATE_IDME_* forgotten must
# refuse to start rather than let anyone verify as any persona.)
#
# Two stages: a Rust builder and a small Debian runtime. Both are Debian 12 (bookworm) so the
# glibc the binary was linked against is the one it runs on (the binary links glibc, libm and
# libgcc_s dynamically; TLS is rustls, so no libssl).
#
# Runtime choice: debian:bookworm-slim plus ca-certificates, not gcr.io/distroless/cc-debian12.
# Distroless would be smaller and has no shell, but then the HEALTHCHECK would need an HTTP
# client inside the image: perkgate has no health subcommand and we add no extra binary. The
# slim image has bash, whose /dev/tcp makes the check (deploy/healthcheck.sh), and lets an
# operator `docker exec` into the container to run `perkgate codes import ...`.
# ca-certificates is needed: reqwest verifies ID.me's certificate against the system roots.

# The Rust that link/order.txt was made with: a symbol's name carries a hash of the compiler
# version, so another Rust still builds, but without the code layout that keeps an idle
# instance's memory low (build.rs; regenerate the file with link/order.sh after upgrading).
ARG RUST_VERSION=1.95

# ---------------------------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-slim-bookworm AS builder
WORKDIR /build
# No database is reachable at build time: sqlx's macros must never try one (perkgate uses no
# query! macros; if it ever does, commit `cargo sqlx prepare`'s .sqlx/ and COPY it below).
ENV SQLX_OFFLINE=true \
    CARGO_TERM_COLOR=never

# 1. Dependencies only, against a dummy crate: this layer is rebuilt only when Cargo.toml or
#    Cargo.lock change, not on every source edit. deploy/cargo-stubs.sh writes an empty
#    src/lib.rs and src/main.rs plus a stub for each target Cargo.toml declares (the load
#    bench, ...): cargo refuses a manifest whose targets have no file. The stubs outside src/
#    stay for step 2; `cargo build` never builds benches, tests or examples.
COPY Cargo.toml Cargo.lock ./
COPY deploy/cargo-stubs.sh /usr/local/bin/cargo-stubs
RUN sh /usr/local/bin/cargo-stubs \
    && cargo build --release --locked \
    && rm -rf src

# 2. The real crate. Besides src/, the build reads at compile time: migrations/ (embedded by
#    sqlx::migrate!), config/rules.toml (the built-in example rules), static/, locales/ (the
#    message catalogs), templates/ (include_str! and askama), and build.rs with link/ (the
#    code layout). The dummy's fingerprints must go: COPY keeps the files' own
#    (older) timestamps, and cargo would take the dummy build for up to date and ship an
#    empty `fn main() {}` binary.
COPY migrations migrations
COPY config config
COPY static static
COPY locales locales
COPY templates templates
COPY build.rs build.rs
COPY link link
COPY src src
RUN rm -rf target/release/.fingerprint/perkgate-* \
    && cargo build --release --locked \
    && install -D -m 0755 target/release/perkgate /out/perkgate

# ---------------------------------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime

RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 perkgate \
    && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin perkgate \
    && mkdir -p /data \
    && chown 10001:10001 /data \
    && chmod 0750 /data

WORKDIR /app
COPY --from=builder /out/perkgate /app/perkgate
# The merchant's offers and the code pool seed they reference (config/codes/). Owned by root:
# the service only reads them. Mount your own folder over /app/config to change the offers.
COPY config /app/config
COPY deploy/healthcheck.sh /usr/local/bin/perkgate-healthcheck

# Image defaults; every PERKGATE_* setting can be overridden with -e / environment:.
# PERKGATE_RULES is not set: the offers live in the database (edited in the console), and
# /app/config/rules.toml is their first version on a new database. Set
# PERKGATE_RULES=/app/config/rules.toml to keep the file authoritative instead (GitOps).
ENV PATH=/app:$PATH \
    PERKGATE_LISTEN=0.0.0.0:3000 \
    PERKGATE_DATABASE_URL=sqlite:///data/perkgate.db \
    PERKGATE_LOG_FORMAT=json

# SQLite database (with its -wal and -shm files) and nothing else; owned by the service user.
VOLUME ["/data"]
EXPOSE 3000
USER 10001:10001

# GET /healthz must answer 200 (liveness: the process serves HTTP). `/readyz` also checks the
# database: `perkgate-healthcheck /readyz` if you prefer that meaning.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["bash", "/usr/local/bin/perkgate-healthcheck"]

# perkgate runs as PID 1 and handles SIGTERM itself (stops accepting, finishes requests in
# flight), so the exec form matters: no shell in between to swallow the signal.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/app/perkgate"]
# `docker run IMAGE codes status`, `... rules check /app/config/rules.toml` run the CLI instead.
CMD ["serve"]
