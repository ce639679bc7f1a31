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
//! - `BENCH_SCENARIOS`: any of `baseline,read,flows` (the default); start-up is always measured.
//! - `BENCH_BREAKDOWN=1`: also load `/healthz` and the JSON endpoint without a cookie, which
//!   splits the read path's cost into middleware, session layer and session store.
//! - `BENCH_SESSION_URL`: also run perkgate with `PERKGATE_SESSION_URL` set to it (for example
//!   `redis://127.0.0.1:6379`); a store on loopback has its process's CPU reported too.
//! - `BENCH_PERKGATE_BIN`: another perkgate binary; `BENCH_PERKGATE_<NAME>=value` is passed to
//!   perkgate as `PERKGATE_<NAME>=value` after the bench's own ones (`BENCH_PERKGATE_LOG=info`).
//!
//! The binary only runs with `--bench` (as `cargo bench` passes it), so `cargo test
//! --all-targets` does not start a load run.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, Method, Request, StatusCode, Uri, header};
use axum::routing::{get, post};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

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
// Settings and machine facts

struct Settings {
    secs: f64,
    warmup: Duration,
    conns: usize,
    flow_conns: usize,
    client_threads: usize,
    breakdown: bool,
    /// Which of `baseline`, `read`, `flows` to run (`BENCH_SCENARIOS`, default all).
    scenarios: String,
    session_url: Option<String>,
    perkgate_bin: PathBuf,
    overrides: Vec<(String, String)>,
    clk_tck: f64,
    clk_note: &'static str,
}

fn env_num<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| {
            eprintln!("load bench: {name}={v:?} is not a number; using the default");
            default
        }),
        Err(_) => default,
    }
}

impl Settings {
    fn from_env() -> Self {
        let (clk_tck, clk_note) = match Command::new("getconf").arg("CLK_TCK").output() {
            Ok(out) if out.status.success() => {
                match String::from_utf8_lossy(&out.stdout).trim().parse::<f64>() {
                    Ok(t) if t > 0.0 => (t, "from getconf CLK_TCK"),
                    _ => (100.0, "assumed (getconf CLK_TCK unreadable)"),
                }
            }
            _ => (100.0, "assumed (getconf unavailable)"),
        };
        let overrides = std::env::vars()
            .filter_map(|(k, v)| {
                k.strip_prefix("BENCH_PERKGATE_")
                    .filter(|rest| *rest != "BIN" && !rest.is_empty())
                    .map(|rest| (format!("PERKGATE_{rest}"), v))
            })
            .collect();
        Self {
            secs: env_num("BENCH_SECS", 5.0_f64).clamp(0.2, 600.0),
            warmup: Duration::from_millis(env_num("BENCH_WARMUP_MS", 500_u64).min(30_000)),
            conns: env_num("BENCH_CONNS", 64_usize).clamp(1, 1024),
            flow_conns: env_num("BENCH_FLOW_CONNS", 32_usize).clamp(1, 1024),
            client_threads: env_num("BENCH_CLIENT_THREADS", 1_usize).clamp(1, 64),
            breakdown: env_num("BENCH_BREAKDOWN", 0_u8) != 0,
            scenarios: std::env::var("BENCH_SCENARIOS")
                .unwrap_or_else(|_| "baseline,read,flows".to_owned()),
            session_url: std::env::var("BENCH_SESSION_URL")
                .ok()
                .filter(|s| !s.is_empty()),
            perkgate_bin: std::env::var_os("BENCH_PERKGATE_BIN")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_perkgate"))),
            overrides,
            clk_tck,
            clk_note,
        }
    }

    fn wants(&self, scenario: &str) -> bool {
        self.scenarios
            .split(',')
            .any(|s| s.trim().eq_ignore_ascii_case(scenario))
    }

    fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.secs)
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

// ---------------------------------------------------------------------------------------------
// /proc readings

/// utime + stime, in clock ticks, of `/proc/<what>/stat` (`what` is a pid, `self`, or
/// `self/task/<tid>`).
fn cpu_ticks(what: &str) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{what}/stat")) else {
        return 0;
    };
    // The command name may contain spaces: fields are counted after its closing parenthesis.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Field 14 (utime) and 15 (stime) of proc(5); `rest` starts at field 3.
    let field = |n: usize| {
        fields
            .get(n - 3)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(14) + field(15)
}

/// Clock ticks of the whole machine (all CPUs), from the first line of `/proc/stat`: time
/// charged to processes (user, nice, system), and interrupt, softirq and steal time.
fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().next().filter(|l| l.starts_with("cpu ")) else {
        return (0, 0);
    };
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let sum = |idx: &[usize]| idx.iter().filter_map(|&i| v.get(i)).sum::<u64>();
    (sum(&[0, 1, 2]), sum(&[5, 6, 7]))
}

/// VmRSS of `/proc/<pid>/status`, in bytes.
fn rss_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// The calling thread's id, from the `/proc/thread-self` link (`<pid>/task/<tid>`).
fn current_tid() -> Option<String> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    Some(link.file_name()?.to_string_lossy().into_owned())
}

/// Per thread of `pid`: (tid, name, utime+stime ticks, context switches).
fn thread_stats(pid: u32) -> Vec<(String, String, u64, u64)> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .map(|entry| {
            let tid = entry.file_name().to_string_lossy().into_owned();
            let what = format!("{pid}/task/{tid}");
            let name = std::fs::read_to_string(format!("/proc/{what}/comm"))
                .unwrap_or_default()
                .trim()
                // "sqlx-sqlite-worker-3" (cut to 15 characters) and kin: one group per kind.
                .trim_end_matches(|c: char| c.is_ascii_digit() || c == '-')
                .to_owned();
            let switches = std::fs::read_to_string(format!("/proc/{what}/status"))
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum();
            let ticks = cpu_ticks(&what);
            (tid, name, ticks, switches)
        })
        .collect()
}

/// CPU ticks by thread name and context switches between two `thread_stats` snapshots.
fn thread_delta(
    before: &[(String, String, u64, u64)],
    after: &[(String, String, u64, u64)],
) -> (Vec<(String, u64)>, u64) {
    let mut by_name: Vec<(String, u64)> = Vec::new();
    let mut switches = 0;
    for (tid, name, ticks, sw) in after {
        let (t0, s0) = before
            .iter()
            .find(|b| &b.0 == tid)
            .map_or((0, 0), |b| (b.2, b.3));
        switches += sw.saturating_sub(s0);
        let d = ticks.saturating_sub(t0);
        match by_name.iter_mut().find(|(n, _)| n == name) {
            Some((_, total)) => *total += d,
            None => by_name.push((name.clone(), d)),
        }
    }
    by_name.sort_by_key(|b| std::cmp::Reverse(b.1));
    (by_name, switches)
}

// ---------------------------------------------------------------------------------------------
// Child processes

/// A server process this bench started; killed (by its own pid) when dropped.
struct Server {
    name: &'static str,
    child: Child,
    addr: SocketAddr,
    stderr_path: Option<PathBuf>,
    /// A process serving this one (the Redis session store), whose CPU is reported too.
    store_pid: Option<u32>,
}

impl Server {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stderr_tail(&self) -> String {
        let Some(path) = &self.stderr_path else {
            return String::new();
        };
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// SIGTERM (graceful shutdown), then SIGKILL after 5 s.
    fn stop(mut self) {
        let pid = self.pid().to_string();
        let _ = Command::new("kill")
            .args(["-TERM", &pid])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        eprintln!(
            "load bench: {} did not stop within 5 s; killing it",
            self.name
        );
        // Drop kills and reaps.
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// The process listening on a loopback URL's port (`redis://127.0.0.1:6379`), found through
/// `/proc/net/tcp*` and `/proc/*/fd`; None for a remote host or when it cannot be told.
fn local_listener_pid(url: &str) -> Option<u32> {
    let url = url::Url::parse(url).ok()?;
    if !matches!(url.host_str()?, "127.0.0.1" | "localhost" | "[::1]" | "::1") {
        return None;
    }
    let port = url.port()?;
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // local_address is ADDR:PORT in hex; state 0A is LISTEN; field 9 is the inode.
            let listening = f.get(3) == Some(&"0A");
            let same_port = f
                .get(1)
                .and_then(|a| a.rsplit_once(':'))
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
                == Some(port);
            if listening
                && same_port
                && let Some(inode) = f.get(9)
            {
                inodes.push(format!("socket:[{inode}]"));
            }
        }
    }
    if inodes.is_empty() {
        return None;
    }
    for entry in std::fs::read_dir("/proc").ok()?.filter_map(Result::ok) {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for fd in fds.filter_map(Result::ok) {
            if let Ok(target) = std::fs::read_link(fd.path())
                && inodes.iter().any(|i| target.as_os_str() == i.as_str())
            {
                return Some(pid);
            }
        }
    }
    None
}

/// A port that was free a moment ago (perkgate needs its address up front).
fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind 127.0.0.1:0: {e}"))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("local_addr: {e}"))
}

/// One blocking `GET path` on a new connection; true on a 200.
fn probe_200(addr: SocketAddr, path: &str) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let _ = s.set_nodelay(true);
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut buf = [0u8; 12];
    s.read_exact(&mut buf).is_ok() && &buf[..] == b"HTTP/1.1 200"
}

/// Starts the baseline: this binary again, in the baseline role. It prints its address.
fn start_baseline() -> Result<Server, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut child = Command::new(exe)
        .env(ROLE_VAR, "baseline")
        .stdin(Stdio::piped()) // closed when we exit: the baseline exits too
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("spawn the baseline: {e}"))?;
    let stdout = child.stdout.take().ok_or("baseline stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let mut server = Server {
        name: "baseline",
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        stderr_path: None,
        store_pid: None,
    };
    let line = rx
        .recv_timeout(START_TIMEOUT)
        .map_err(|_| "the baseline did not report its address in time")?;
    server.addr = line
        .trim()
        .strip_prefix("LISTEN ")
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| format!("unexpected baseline output {line:?}"))?;
    let deadline = Instant::now() + START_TIMEOUT;
    while !probe_200(server.addr, "/healthz") {
        if Instant::now() > deadline {
            return Err("the baseline never answered 200".to_owned());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(server)
}

/// The baseline role: a bare axum server with one small static JSON answer.
fn baseline_server() {
    // Exit when the parent goes away (its end of our stdin closes).
    std::thread::spawn(|| {
        let mut buf = [0u8; 64];
        let mut stdin = std::io::stdin();
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => std::process::exit(0),
                Ok(_) => {}
            }
        }
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("baseline runtime");
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("baseline bind");
        let addr = listener.local_addr().expect("baseline addr");
        println!("LISTEN {addr}");
        let _ = std::io::stdout().flush();
        let app = Router::new()
            .route(
                "/api/v1/benefit",
                get(|| async {
                    (
                        [(
                            header::CONTENT_TYPE,
                            HeaderValue::from_static("application/json"),
                        )],
                        r#"{"verified":false}"#,
                    )
                }),
            )
            .route("/healthz", get(|| async { "ok" }));
        axum::serve(listener, app).await.expect("baseline serve");
    });
}

struct PerkgateRun {
    server: Server,
    /// Spawn to the first 200 on /healthz.
    first_200: Duration,
    rss_idle: u64,
}

/// Starts perkgate on `dir`'s database (created on first use), against the fake ID.me.
/// The inner `Err`: perkgate exited at start-up (a refused setting, say), with its stderr.
fn start_perkgate(
    settings: &Settings,
    dir: &Path,
    idme: SocketAddr,
    session_url: Option<&str>,
) -> Result<Result<PerkgateRun, String>, String> {
    let port = free_port()?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let config = dir.join("empty.toml");
    std::fs::write(&config, "").map_err(|e| format!("write {}: {e}", config.display()))?;
    let stderr_path = dir.join(format!("perkgate-{port}.stderr"));
    let stderr = std::fs::File::create(&stderr_path)
        .map_err(|e| format!("create {}: {e}", stderr_path.display()))?;
    let mut cmd = Command::new(&settings.perkgate_bin);
    // Only the bench's settings reach perkgate, whatever this shell has exported.
    for (k, _) in std::env::vars() {
        if k.starts_with("PERKGATE_") {
            cmd.env_remove(k);
        }
    }
    cmd.current_dir(dir)
        .env("PERKGATE_LISTEN", addr.to_string())
        .env(
            "PERKGATE_DATABASE_URL",
            format!("sqlite://{}", dir.join("perkgate.db").display()),
        )
        .env("PERKGATE_CONFIG", &config)
        .env("PERKGATE_LOG", "warn")
        // One load generator on one address: the per-client limit would stop it.
        .env("PERKGATE_RATE_LIMIT_PER_MINUTE", "0")
        .env("PERKGATE_IDME_URL", format!("http://{idme}"))
        .env("PERKGATE_IDME_CLIENT_ID", "bench-client")
        .env("PERKGATE_IDME_CLIENT_SECRET", "bench-secret");
    if let Some(url) = session_url {
        cmd.env("PERKGATE_SESSION_URL", url);
    }
    for (k, v) in &settings.overrides {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(stderr));
    let started = Instant::now();
    let child = cmd.spawn().map_err(|e| {
        format!(
            "spawn {}: {e} (build it with `cargo build --release`)",
            settings.perkgate_bin.display()
        )
    })?;
    let mut server = Server {
        name: "perkgate",
        child,
        addr,
        stderr_path: Some(stderr_path),
        store_pid: session_url.and_then(local_listener_pid),
    };
    loop {
        if probe_200(addr, "/healthz") {
            break;
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            return Ok(Err(format!(
                "perkgate exited at start-up ({status}):\n{}",
                server.stderr_tail()
            )));
        }
        if started.elapsed() > START_TIMEOUT {
            return Err(format!(
                "perkgate did not answer 200 on /healthz within {START_TIMEOUT:?}:\n{}",
                server.stderr_tail()
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let first_200 = started.elapsed();
    let rss_idle = rss_bytes(server.pid());
    Ok(Ok(PerkgateRun {
        server,
        first_200,
        rss_idle,
    }))
}

// ---------------------------------------------------------------------------------------------
// The fake ID.me, on its own thread so its CPU time can be told apart from the client's

struct FakeIdme {
    addr: SocketAddr,
    tid: Option<String>,
    persons: Arc<AtomicU64>,
}

fn start_fake_idme() -> Result<FakeIdme, String> {
    let persons = Arc::new(AtomicU64::new(0));
    let counter = persons.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("fake-idme".to_owned())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = tx.send(Err(format!("fake ID.me runtime: {e}")));
                    return;
                }
            };
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = tx.send(Err(format!("fake ID.me bind: {e}")));
                        return;
                    }
                };
                let addr = listener.local_addr().map_err(|e| e.to_string());
                let _ = tx.send(addr.map(|a| (a, current_tid())));
                // A run-unique prefix: every flow is a new person, in this run and the next.
                let run = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as u64);
                let app = Router::new()
                    .route(
                        "/oauth/token",
                        post(|_form: Bytes| async {
                            (
                                [(
                                    header::CONTENT_TYPE,
                                    HeaderValue::from_static("application/json"),
                                )],
                                r#"{"access_token":"t","token_type":"Bearer","expires_in":300}"#,
                            )
                        }),
                    )
                    .route(
                        "/api/public/v3/attributes.json",
                        get(move || {
                            let n = counter.fetch_add(1, Ordering::Relaxed);
                            async move {
                                (
                                    [(
                                        header::CONTENT_TYPE,
                                        HeaderValue::from_static("application/json"),
                                    )],
                                    service_member(run, n),
                                )
                            }
                        }),
                    );
                let _ = axum::serve(listener, app).await;
            });
        })
        .map_err(|e| format!("spawn the fake ID.me thread: {e}"))?;
    let (addr, tid) = rx
        .recv_timeout(START_TIMEOUT)
        .map_err(|_| "the fake ID.me did not start")??;
    Ok(FakeIdme { addr, tid, persons })
}

/// A verified military "Service Member" payload for person `n` of run `run`.
fn service_member(run: u64, n: u64) -> String {
    format!(
        r#"{{"attributes":[{{"handle":"fname","name":"First Name","value":"Bench"}},{{"handle":"lname","name":"Last Name","value":"Shopper"}},{{"handle":"email","name":"Email","value":"bench@example.com"}},{{"handle":"uuid","name":"Unique Identifier","value":"{run:016x}{n:016x}"}}],"status":[{{"group":"military","subgroups":["Service Member"],"verified":true}}]}}"#
    )
}

// ---------------------------------------------------------------------------------------------
// The HTTP client: hyper-util's legacy client, one keep-alive connection per worker, counting
// the connections it opens so keep-alive can be checked.

#[derive(Clone)]
struct CountingConnector {
    inner: HttpConnector,
    opened: Arc<AtomicU64>,
}

impl tower::Service<Uri> for CountingConnector {
    type Response = <HttpConnector as tower::Service<Uri>>::Response;
    type Error = <HttpConnector as tower::Service<Uri>>::Error;
    type Future = <HttpConnector as tower::Service<Uri>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        self.opened.fetch_add(1, Ordering::Relaxed);
        self.inner.call(uri)
    }
}

type HttpClient = Client<CountingConnector, Body>;

fn new_client(opened: &Arc<AtomicU64>) -> HttpClient {
    let mut inner = HttpConnector::new();
    inner.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(1)
        .pool_idle_timeout(Duration::from_secs(90))
        .build(CountingConnector {
            inner,
            opened: opened.clone(),
        })
}

struct Reply {
    status: StatusCode,
    cookie: Option<String>,
    location: Option<String>,
    body: Bytes,
}

async fn send(
    client: &HttpClient,
    method: Method,
    uri: Uri,
    cookie: Option<&str>,
    form: Option<String>,
) -> Result<Reply, String> {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(cookie) = cookie {
        req = req.header(header::COOKIE, cookie);
    }
    let body = match form {
        Some(form) => {
            req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            Body::from(form)
        }
        None => Body::empty(),
    };
    let req = req.body(body).map_err(|e| format!("request: {e}"))?;
    let res = client
        .request(req)
        .await
        .map_err(|e| format!("send: {e}"))?;
    let status = res.status();
    // The session cookie (`perkgate=`), or else the form-token cookie of a visitor without a
    // session (`perkgate-csrf=`): what the next request of the flow must send.
    let cookies: Vec<&str> = res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .collect();
    let cookie = ["perkgate=", "perkgate-csrf="]
        .iter()
        .find_map(|name| cookies.iter().rev().find(|c| c.starts_with(name)))
        .map(|c| (*c).to_owned());
    let location = res
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // Read the whole body: the connection goes back to the pool only then.
    let body = axum::body::to_bytes(Body::new(res.into_body()), 4 << 20)
        .await
        .map_err(|e| format!("body: {e}"))?;
    Ok(Reply {
        status,
        cookie,
        location,
        body,
    })
}

fn uri(base: SocketAddr, path_and_query: &str) -> Result<Uri, String> {
    format!("http://{base}{path_and_query}")
        .parse()
        .map_err(|e| format!("uri {path_and_query}: {e}"))
}

fn hidden_csrf(html: &[u8]) -> Option<String> {
    let html = std::str::from_utf8(html).ok()?;
    let needle = "name=\"csrf\" value=\"";
    let start = html.find(needle)? + needle.len();
    let end = start + html[start..].find('"')?;
    Some(html[start..end].to_owned())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The four requests of a flow, for per-step timings.
const STEPS: [&str; 4] = [
    "GET /",
    "POST /verify/military",
    "GET /auth/idme/callback",
    "GET / (verified)",
];

/// One complete shopper flow on a new session. Ok: the final page shows the benefit; the
/// verified session's cookie and the time each request took.
async fn flow(client: &HttpClient, base: SocketAddr) -> Result<(String, [Duration; 4]), String> {
    let mut steps = [Duration::ZERO; 4];
    let t = Instant::now();
    let home = send(client, Method::GET, uri(base, "/")?, None, None).await?;
    steps[0] = t.elapsed();
    if home.status != StatusCode::OK {
        return Err(format!("GET / answered {}", home.status));
    }
    // A first look stores no session: only the cookie behind the form's token.
    let csrf_cookie = home.cookie.ok_or("GET / set no form-token cookie")?;
    let csrf = hidden_csrf(&home.body).ok_or("no csrf field on the storefront")?;
    let t = Instant::now();
    let start = send(
        client,
        Method::POST,
        uri(base, "/verify/military")?,
        Some(&csrf_cookie),
        Some(format!("csrf={csrf}")),
    )
    .await?;
    steps[1] = t.elapsed();
    if start.status != StatusCode::SEE_OTHER {
        return Err(format!("POST /verify/military answered {}", start.status));
    }
    let cookie = start
        .cookie
        .filter(|c| c.starts_with("perkgate="))
        .ok_or("POST /verify/military set no session cookie")?;
    let authorize = start.location.ok_or("POST /verify/military: no Location")?;
    let state = url::Url::parse(&authorize)
        .ok()
        .and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == "state")
                .map(|(_, v)| v.into_owned())
        })
        .ok_or_else(|| format!("no state in {authorize}"))?;
    // The state is URL-safe base64: no escaping needed.
    let t = Instant::now();
    let back = send(
        client,
        Method::GET,
        uri(base, &format!("/auth/idme/callback?code=x&state={state}"))?,
        Some(&cookie),
        None,
    )
    .await?;
    steps[2] = t.elapsed();
    if back.status != StatusCode::SEE_OTHER || back.location.as_deref() != Some("/") {
        return Err(format!(
            "callback answered {} to {:?}",
            back.status, back.location
        ));
    }
    let verified = back.cookie.ok_or("callback set no new perkgate cookie")?;
    let t = Instant::now();
    let page = send(client, Method::GET, uri(base, "/")?, Some(&verified), None).await?;
    steps[3] = t.elapsed();
    if page.status != StatusCode::OK {
        return Err(format!("GET / after the callback answered {}", page.status));
    }
    if !contains(&page.body, b"data-testid=\"benefit\"") {
        return Err("GET / after the callback shows no benefit".to_owned());
    }
    Ok((verified, steps))
}

// ---------------------------------------------------------------------------------------------
// Load phases

#[derive(Clone)]
enum Op {
    /// GET this URI (with this cookie), expect a 200.
    Get(Uri, Option<Arc<str>>),
    /// A complete flow.
    Flow(SocketAddr),
}

impl Op {
    /// Ok: per-step timings for a flow, None for a single request.
    async fn once(&self, client: &HttpClient) -> Result<Option<[Duration; 4]>, String> {
        match self {
            Op::Get(uri, cookie) => {
                let r = send(client, Method::GET, uri.clone(), cookie.as_deref(), None).await?;
                if r.status == StatusCode::OK {
                    Ok(None)
                } else {
                    Err(format!("{uri} answered {}", r.status))
                }
            }
            Op::Flow(base) => flow(client, *base).await.map(|(_, steps)| Some(steps)),
        }
    }
}

#[derive(Default)]
struct Outcome {
    ok: u64,
    errors: u64,
    first_error: Option<String>,
    /// Microseconds per successful operation.
    latencies: Vec<u32>,
    /// Flows: total time spent in each of the four requests.
    steps: [Duration; 4],
    elapsed: Duration,
}

async fn worker(client: HttpClient, op: Op, until: Instant) -> Outcome {
    let mut out = Outcome {
        latencies: Vec::with_capacity(1 << 14),
        ..Outcome::default()
    };
    for _ in 0..MAX_ITERS_PER_WORKER {
        let t = Instant::now();
        if t >= until {
            break;
        }
        match tokio::time::timeout(OP_TIMEOUT, op.once(&client)).await {
            Ok(Ok(steps)) => {
                out.ok += 1;
                for (total, step) in out.steps.iter_mut().zip(steps.unwrap_or_default()) {
                    *total += step;
                }
                out.latencies
                    .push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
            }
            Ok(Err(e)) => {
                out.errors += 1;
                out.first_error.get_or_insert(e);
            }
            Err(_) => {
                out.errors += 1;
                out.first_error
                    .get_or_insert_with(|| format!("no answer within {OP_TIMEOUT:?}"));
            }
        }
    }
    out
}

async fn phase(clients: &[HttpClient], op: &Op, length: Duration) -> Outcome {
    let started = Instant::now();
    let until = started + length;
    let mut set = tokio::task::JoinSet::new();
    for client in clients {
        set.spawn(worker(client.clone(), op.clone(), until));
    }
    let mut total = Outcome::default();
    while let Some(done) = set.join_next().await {
        let Ok(out) = done else {
            total.errors += 1;
            total
                .first_error
                .get_or_insert("a worker panicked".to_owned());
            continue;
        };
        total.ok += out.ok;
        total.errors += out.errors;
        if total.first_error.is_none() {
            total.first_error = out.first_error;
        }
        total.latencies.extend(out.latencies);
        for (t, s) in total.steps.iter_mut().zip(out.steps) {
            *t += s;
        }
    }
    total.elapsed = started.elapsed();
    total.latencies.sort_unstable();
    total
}

/// Figures of one measured scenario.
struct Measured {
    name: String,
    unit: &'static str,
    ok: u64,
    errors: u64,
    first_error: Option<String>,
    per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    server_cpu_us: f64,
    server_cores: f64,
    client_cpu_us: f64,
    client_cores: f64,
    fake_cpu_us: f64,
    /// CPU of the session store's own process (Redis), per operation, when known.
    store_cpu_us: Option<f64>,
    connections: u64,
    rss_before: u64,
    rss_after: u64,
    /// Server CPU µs per operation by thread name, largest first.
    threads: Vec<(String, f64)>,
    /// Flows: mean milliseconds per step.
    step_ms: Option<[f64; 4]>,
    /// Server context switches (all threads) per operation.
    switches_per_op: f64,
    /// CPU used by other processes on the machine during the measurement, in cores.
    other_cores: f64,
    /// Interrupt, softirq and steal time on the machine during the measurement, in cores.
    irq_cores: f64,
}

struct Bench<'a> {
    settings: &'a Settings,
    runtime: tokio::runtime::Runtime,
    fake: &'a FakeIdme,
}

impl Bench<'_> {
    fn ticks_to_us(&self, ticks: u64) -> f64 {
        ticks as f64 / self.settings.clk_tck * 1e6
    }

    /// Warm-up, then the measured phase, with CPU and RSS around it.
    fn measure(
        &self,
        name: &str,
        unit: &'static str,
        server: &Server,
        op: Op,
        conns: usize,
    ) -> Measured {
        let opened = Arc::new(AtomicU64::new(0));
        let clients: Vec<HttpClient> = {
            let _guard = self.runtime.enter();
            (0..conns).map(|_| new_client(&opened)).collect()
        };
        let pid = server.pid();
        if !self.settings.warmup.is_zero() {
            self.runtime
                .block_on(phase(&clients, &op, self.settings.warmup));
        }
        let rss_before = rss_bytes(pid);
        let fake_what = self.fake.tid.as_ref().map(|t| format!("self/task/{t}"));
        let fake_ticks = || fake_what.as_deref().map_or(0, cpu_ticks);
        let threads0 = thread_stats(pid);
        let store_pid = server.store_pid;
        let store_what = store_pid.map(|p| p.to_string());
        let store_ticks = || store_what.as_deref().map_or(0, cpu_ticks);
        let (s0, c0, f0, r0) = (
            cpu_ticks(&pid.to_string()),
            cpu_ticks("self"),
            fake_ticks(),
            store_ticks(),
        );
        let m0 = machine_ticks();
        let out = self
            .runtime
            .block_on(phase(&clients, &op, self.settings.duration()));
        let m1 = machine_ticks();
        let (s1, c1, f1, r1) = (
            cpu_ticks(&pid.to_string()),
            cpu_ticks("self"),
            fake_ticks(),
            store_ticks(),
        );
        let (by_thread, switches) = thread_delta(&threads0, &thread_stats(pid));
        let rss_after = rss_bytes(pid);
        drop(clients);
        let secs = out.elapsed.as_secs_f64();
        let n = out.ok.max(1) as f64;
        let pct = |q: usize| {
            let v = &out.latencies;
            if v.is_empty() {
                f64::NAN
            } else {
                v[(v.len() * q / 100).min(v.len() - 1)] as f64 / 1000.0
            }
        };
        let fake = f1.saturating_sub(f0);
        let client = c1.saturating_sub(c0).saturating_sub(fake);
        let server = s1.saturating_sub(s0);
        let store = r1.saturating_sub(r0);
        // What else the machine did meanwhile: other processes (someone's build), and
        // interrupt, softirq (loopback TCP, when accounted apart) and steal time.
        let others = (m1.0.saturating_sub(m0.0))
            .saturating_sub(server)
            .saturating_sub(store)
            .saturating_sub(c1.saturating_sub(c0));
        let irq = m1.1.saturating_sub(m0.1);
        Measured {
            other_cores: self.ticks_to_us(others) / 1e6 / secs,
            irq_cores: self.ticks_to_us(irq) / 1e6 / secs,
            name: name.to_owned(),
            unit,
            ok: out.ok,
            errors: out.errors,
            first_error: out.first_error,
            per_sec: out.ok as f64 / secs,
            p50_ms: pct(50),
            p99_ms: pct(99),
            server_cpu_us: self.ticks_to_us(server) / n,
            server_cores: self.ticks_to_us(server) / 1e6 / secs,
            client_cpu_us: self.ticks_to_us(client) / n,
            client_cores: self.ticks_to_us(client) / 1e6 / secs,
            fake_cpu_us: self.ticks_to_us(fake) / n,
            store_cpu_us: store_pid.map(|_| self.ticks_to_us(store) / n),
            connections: opened.load(Ordering::Relaxed),
            rss_before,
            rss_after,
            threads: by_thread
                .into_iter()
                .map(|(name, ticks)| (name, self.ticks_to_us(ticks) / n))
                .collect(),
            switches_per_op: switches as f64 / n,
            step_ms: matches!(op, Op::Flow(_))
                .then(|| out.steps.map(|d| d.as_secs_f64() * 1e3 / n)),
        }
    }

    /// One full flow, for a verified session cookie.
    fn verified_cookie(&self, server: &Server) -> Result<String, String> {
        let opened = Arc::new(AtomicU64::new(0));
        let client = {
            let _guard = self.runtime.enter();
            new_client(&opened)
        };
        let addr = server.addr;
        let check = uri(addr, "/api/v1/benefit")?;
        self.runtime.block_on(async move {
            let (cookie, _) = tokio::time::timeout(OP_TIMEOUT, flow(&client, addr))
                .await
                .map_err(|_| "the first flow timed out".to_owned())??;
            let json = send(&client, Method::GET, check, Some(&cookie), None).await?;
            if !contains(&json.body, b"\"verified\":true") {
                return Err(format!(
                    "the verified session reads as {:?}",
                    String::from_utf8_lossy(&json.body)
                ));
            }
            Ok(cookie)
        })
    }

    fn read_and_flows(&self, label: &str, server: &Server) -> Result<Vec<Measured>, String> {
        let mut out = Vec::new();
        if self.settings.wants("read") {
            let cookie: Arc<str> = self.verified_cookie(server)?.into();
            let mut gets = vec![
                (
                    "GET /api/v1/benefit",
                    "/api/v1/benefit",
                    Some(cookie.clone()),
                ),
                ("GET / (HTML)", "/", Some(cookie)),
            ];
            if self.settings.breakdown {
                // Where the read path's time goes: the middleware stack alone (no session
                // layer), then the session layer without a cookie (no store read).
                gets.push(("diag GET /healthz (middleware only)", "/healthz", None));
                gets.push((
                    "diag GET /api/v1/benefit, no cookie",
                    "/api/v1/benefit",
                    None,
                ));
            }
            for (name, path, cookie) in gets {
                let m = self.measure(
                    &format!("{label} {name}"),
                    "req/s",
                    server,
                    Op::Get(uri(server.addr, path)?, cookie),
                    self.settings.conns,
                );
                print_measured(&m);
                out.push(m);
            }
        }
        if self.settings.wants("flows") {
            let before = self.fake.persons.load(Ordering::Relaxed);
            let m = self.measure(
                &format!("{label} complete flows"),
                "flows/s",
                server,
                Op::Flow(server.addr),
                self.settings.flow_conns,
            );
            print_measured(&m);
            println!(
                "    fake ID.me: {} attribute calls (new persons) during warm-up and measurement",
                self.fake.persons.load(Ordering::Relaxed) - before
            );
            out.push(m);
        }
        Ok(out)
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / MIB
}

fn print_measured(m: &Measured) {
    println!(
        "  {:<52} {:>9.0} {:<7} p50 {:>7.3} ms  p99 {:>7.3} ms  errors {}",
        m.name, m.per_sec, m.unit, m.p50_ms, m.p99_ms, m.errors
    );
    println!(
        "    server: {:>8.1} µs CPU per op ({:.2} cores)  RSS {:.1} -> {:.1} MiB | client: {:.1} µs/op ({:.2} cores) | fake ID.me {:.1} µs/op | {} ok, {} connections opened",
        m.server_cpu_us,
        m.server_cores,
        mib(m.rss_before),
        mib(m.rss_after),
        m.client_cpu_us,
        m.client_cores,
        m.fake_cpu_us,
        m.ok,
        m.connections
    );
    let threads: Vec<String> = m
        .threads
        .iter()
        .filter(|(_, us)| *us >= 0.05)
        .take(5)
        .map(|(name, us)| format!("{name} {us:.1} µs"))
        .collect();
    println!(
        "    server CPU by thread: {}; {:.1} context switches per op; machine: other processes {:.2} cores, irq+softirq+steal {:.2} cores{}",
        if threads.is_empty() {
            "-".to_owned()
        } else {
            threads.join(", ")
        },
        m.switches_per_op,
        m.other_cores,
        m.irq_cores,
        if m.other_cores > 0.15 {
            " (NOISY: something else ran; figures are low)"
        } else {
            ""
        }
    );
    if let Some(steps) = m.step_ms {
        let each: Vec<String> = STEPS
            .iter()
            .zip(steps)
            .map(|(name, ms)| format!("{name} {ms:.2} ms"))
            .collect();
        println!("    mean time per step: {}", each.join(", "));
    }
    if let Some(us) = m.store_cpu_us {
        println!(
            "    session store process (not in the server figures above): {us:.1} µs CPU per op"
        );
    }
    if let Some(e) = &m.first_error {
        println!("    first error: {e}");
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
    let cold = start_perkgate(&settings, dir.path(), fake.addr, None)??;
    println!(
        "  fresh database:    first 200 after {:>6.1} ms, idle RSS {:.1} MiB",
        cold.first_200.as_secs_f64() * 1e3,
        mib(cold.rss_idle)
    );
    let cold_first = cold.first_200;
    let cold_rss = cold.rss_idle;
    cold.server.stop();
    let warm = start_perkgate(&settings, dir.path(), fake.addr, None)??;
    println!(
        "  existing database: first 200 after {:>6.1} ms, idle RSS {:.1} MiB",
        warm.first_200.as_secs_f64() * 1e3,
        mib(warm.rss_idle)
    );

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
        match start_perkgate(&settings, dir2.path(), fake.addr, Some(url))? {
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

struct Startup {
    /// First 200 and idle RSS with the other session store, when it ran.
    other: Option<(Duration, u64)>,
    cold_first: Duration,
    cold_rss: u64,
    warm_first: Duration,
    warm_rss: u64,
    rss_after_max: u64,
}

fn mark(ok: bool) -> &'static str {
    if ok { "PASS" } else { "MISS" }
}

fn print_summary(
    settings: &Settings,
    base: Option<&Measured>,
    baseline_idle: u64,
    sqlite: &[Measured],
    other: &[Measured],
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
                format!(">= 50% of baseline: {}{store}", vs(ratio_of(m), 0.50))
            } else if m.name.ends_with("(HTML)") {
                format!(">= 35% of baseline: {}{store}", vs(ratio_of(m), 0.35))
            } else {
                format!(
                    ">= 2,000 flows/s: {}; <= 0.5 ms CPU/flow: {}; errors {}{store}",
                    mark(m.per_sec >= 2000.0),
                    mark(m.server_cpu_us + m.store_cpu_us.unwrap_or(0.0) <= 500.0),
                    m.errors
                )
            };
            row(m, &target);
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
