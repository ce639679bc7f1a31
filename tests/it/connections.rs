//! Connections, on the real binary: floods of idle and slow-header connections from one
//! address leave another address served quickly; the timers close idle, slow-header,
//! kept-alive and slow-body connections; the caps refuse the excess at once, without hurting
//! another address. Loopback only: every 127.0.0.0/8 address is local on Linux, so a client
//! socket bound to 127.0.0.2 is "another address".

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::harness::process::Instance;
use crate::harness::{install_crypto_provider, serial};

/// The flood of the issue: idle connections, and connections sending their head byte by byte.
const IDLE: usize = 1_500;
const SLOW: usize = 200;
/// Requests the other client makes during the flood, each on a new connection.
const PROBES: usize = 200;
/// The bound on the other client's p99.
const P99_LIMIT: Duration = Duration::from_millis(100);

/// Connects from `from` to the instance on 127.0.0.1.
async fn connect_from(from: &str, port: u16) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(from.parse().expect("an address"), 0))?;
    let to = SocketAddr::from(([127, 0, 0, 1], port));
    tokio::time::timeout(Duration::from_secs(5), socket.connect(to))
        .await
        .map_err(|_| std::io::Error::other("connect timed out"))?
}

/// Whether the server has closed the connection, without waiting: reads whatever it sent (a
/// 503 for a refusal) up to the end, a reset, or nothing more for now.
fn is_closed(stream: &TcpStream) -> bool {
    let mut buf = [0u8; 512];
    for _ in 0..16 {
        match stream.try_read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(_) => return true,
        }
    }
    false
}

/// Reads until the server closes the connection; what it sent and when, or `None` if it is
/// still open after `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<(Duration, String)> {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while let Some(left) = limit.checked_sub(started.elapsed()) {
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                return Some((
                    started.elapsed(),
                    String::from_utf8_lossy(&got).into_owned(),
                ));
            }
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return None,
        }
    }
    None
}

/// `GET /healthz` on an open connection, kept alive; the response's status line.
async fn healthz(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .expect("send a request");
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let started = Instant::now();
    while !got.ends_with(b"\r\n\r\nok") {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no answer in 5 s"
        );
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("an answer in 5 s")
            .expect("read");
        assert!(
            n > 0,
            "closed instead of answering: {:?}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    text.lines().next().unwrap_or_default().to_owned()
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// This process's open-files limit raised to its hard limit, and the flood sized to it: the
/// test holds one file per connection, plus a margin for the rest.
fn flood_size() -> (usize, usize) {
    let soft = rlimit::increase_nofile_limit(u64::MAX).expect("raise RLIMIT_NOFILE");
    let room = usize::try_from(soft.saturating_sub(512)).unwrap_or(usize::MAX);
    if room >= IDLE + SLOW {
        return (IDLE, SLOW);
    }
    let idle = room * IDLE / (IDLE + SLOW);
    eprintln!(
        "note: RLIMIT_NOFILE is {soft} here: the flood is {idle} idle and {} slow-header \
         connections instead of {IDLE} and {SLOW}",
        room - idle
    );
    (idle, room - idle)
}

struct Flood {
    idle: Vec<TcpStream>,
    slow: Vec<tokio::task::JoinHandle<Option<TcpStream>>>,
}

/// Opens `idle` connections that send nothing and `slow` ones that send a head's first line
/// and then one more byte every 500 ms until `until`, all from 127.0.0.1. A connection the
/// server refused at once still counts as opened.
async fn flood(port: u16, idle: usize, slow: usize, until: Instant) -> Flood {
    let mut idle_conns = Vec::with_capacity(idle);
    for _ in 0..idle {
        idle_conns.push(connect_from("127.0.0.1", port).await.expect("connect"));
    }
    let mut slow_conns = Vec::with_capacity(slow);
    for _ in 0..slow {
        let mut stream = connect_from("127.0.0.1", port).await.expect("connect");
        slow_conns.push(tokio::spawn(async move {
            stream
                .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                .await
                .ok()?;
            // Bounded by count as well as by time.
            for _ in 0..240 {
                if Instant::now() >= until {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
                stream.write_all(b"a").await.ok()?;
            }
            Some(stream)
        }));
    }
    Flood {
        idle: idle_conns,
        slow: slow_conns,
    }
}

/// `PROBES` requests for the store page from 127.0.0.2, each on a new connection, 5 ms apart;
/// their latencies, sorted. Every one must succeed.
async fn probe(url: String) -> Vec<Duration> {
    install_crypto_provider();
    let client = reqwest::Client::builder()
        .local_address(Some("127.0.0.2".parse().unwrap()))
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut took = Vec::with_capacity(PROBES);
    for i in 0..PROBES {
        let started = Instant::now();
        let res = client.get(&url).send().await;
        let status = res.as_ref().map(|r| r.status().as_u16());
        assert_eq!(status.as_ref().ok(), Some(&200), "probe {i}: {res:?}");
        res.unwrap().bytes().await.expect("the page");
        took.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    took.sort();
    took
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p).div_ceil(100).saturating_sub(1)]
}

/// One flood against one instance: how many of its connections the server kept, and the other
/// client's figures (printed).
async fn run_flood(label: &str, instance: &Instance, idle: usize, slow: usize) -> (usize, usize) {
    // The other client starts as the flood does and goes on while it is held.
    let probes = tokio::spawn(probe(instance.url("/")));
    let opening = Instant::now();
    let until = Instant::now() + Duration::from_secs(30);
    let flood = flood(instance.port(), idle, slow, until).await;
    let opened_in = opening.elapsed();
    let took = probes.await.expect("the probes");
    let held = flood.idle.iter().filter(|s| !is_closed(s)).count();
    let fds = open_fds(instance.pid());
    let rss = rss_mib(instance.pid());
    let (p50, p99, max) = (
        percentile(&took, 50),
        percentile(&took, 99),
        took[took.len() - 1],
    );
    println!(
        "connections ({label}): {idle} idle + {slow} slow-header connections from 127.0.0.1 \
         opened in {opened_in:.2?}; {held} of the idle ones held by the server ({fds} files \
         open, RSS {rss:.1} MiB); meanwhile {PROBES} requests for / from 127.0.0.2, each on a \
         new connection: p50 {p50:.2?}, p99 {p99:.2?}, max {max:.2?} (limit {P99_LIMIT:?})"
    );
    assert!(
        p99 < P99_LIMIT,
        "{label}: the other client's p99 is {p99:?}, over {P99_LIMIT:?}"
    );
    for task in flood.slow {
        task.abort();
    }
    (held, fds)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floods_of_idle_and_slow_header_connections_leave_another_address_served() {
    let _serial = serial().await;
    let (idle, slow) = flood_size();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("perkgate.db").display());

    // The shipping limits: the flood's address gets its 512 connections, the rest are closed
    // at once.
    let instance = Instance::start(&[("PERKGATE_DATABASE_URL", db.as_str())], dir.path()).await;
    let (held, fds) = run_flood("default limits", &instance, idle, slow).await;
    // The idle connections come first: they take the address's 512 places.
    let expected = idle.min(512);
    assert!(
        held <= expected && held + 2 >= expected,
        "{expected} of the flood's idle connections held (one address), got {held}"
    );
    assert!(fds < expected + 200, "the refused connections were closed");
    drop(instance);

    // With the per-address cap out of the way, the server holds the whole flood itself (its
    // open-files limit raised at start-up) and still serves the other client.
    let instance = Instance::start(
        &[
            ("PERKGATE_DATABASE_URL", db.as_str()),
            ("PERKGATE_MAX_CONNECTIONS_PER_ADDRESS", "5000"),
            ("PERKGATE_HEADER_TIMEOUT_SECS", "60"),
        ],
        dir.path(),
    )
    .await;
    let (held, fds) = run_flood("per-address cap raised", &instance, idle, slow).await;
    assert_eq!(held, idle, "every idle connection held");
    assert!(fds >= idle + slow, "the server holds a file per connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_slow_header_kept_alive_and_slow_body_connections_are_closed_by_their_timers() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("perkgate.db").display());
    let instance = Instance::start(
        &[
            ("PERKGATE_DATABASE_URL", db.as_str()),
            ("PERKGATE_HEADER_TIMEOUT_SECS", "1"),
            ("PERKGATE_IDLE_TIMEOUT_SECS", "2"),
            ("PERKGATE_BODY_TIMEOUT_SECS", "1"),
        ],
        dir.path(),
    )
    .await;
    let port = instance.port();
    let limit = Duration::from_secs(6);

    // Connected, nothing sent: the first request's head is due within the header timeout.
    let idle = (0..20).map(|_| async move {
        let mut s = connect_from("127.0.0.1", port).await.unwrap();
        closed_within(&mut s, limit).await
    });
    // Sending a head slowly: the header timeout counts from the start, whatever trickles in.
    let slow = (0..5).map(|_| async move {
        let mut s = connect_from("127.0.0.1", port).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        let (mut r, mut w) = s.into_split();
        let drip = tokio::spawn(async move {
            for _ in 0..30 {
                tokio::time::sleep(Duration::from_millis(200)).await;
                if w.write_all(b"X-Slow: 1\r\n").await.is_err() {
                    break;
                }
            }
        });
        let started = Instant::now();
        let mut buf = [0u8; 256];
        let closed = loop {
            match tokio::time::timeout(limit, r.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break Some(started.elapsed()),
                Ok(Ok(_)) => continue,
                Err(_) => break None,
            }
        };
        drip.abort();
        closed
    });
    // A kept-alive connection after its response: the idle timeout, not the header one.
    let kept = async {
        let mut s = connect_from("127.0.0.1", port).await.unwrap();
        assert_eq!(healthz(&mut s).await, "HTTP/1.1 200 OK");
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(
            !is_closed(&s),
            "a kept-alive connection outlives the 1 s header timeout"
        );
        closed_within(&mut s, limit)
            .await
            .map(|(t, _)| t + Duration::from_millis(1500))
    };
    // A body that trickles: 408 once the body timeout is up, and the connection closed.
    let slow_body = async {
        let mut s = connect_from("127.0.0.1", port).await.unwrap();
        s.write_all(
            b"POST /verify/military HTTP/1.1\r\nHost: x\r\n\
              Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ncsrf=",
        )
        .await
        .unwrap();
        let started = Instant::now();
        let (mut r, mut w) = s.into_split();
        let drip = tokio::spawn(async move {
            for _ in 0..30 {
                tokio::time::sleep(Duration::from_millis(200)).await;
                if w.write_all(b"a").await.is_err() {
                    break;
                }
            }
        });
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        let closed = loop {
            match tokio::time::timeout(limit, r.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break Some(started.elapsed()),
                Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
                Err(_) => break None,
            }
        };
        drip.abort();
        (closed, String::from_utf8_lossy(&got).into_owned())
    };
    let (idle, slow, kept, (body_closed, body)) =
        tokio::join!(join_all(idle), join_all(slow), kept, slow_body);

    for (i, closed) in idle.iter().enumerate() {
        let (t, sent) = closed
            .as_ref()
            .unwrap_or_else(|| panic!("idle {i} still open"));
        assert!(sent.is_empty(), "closed without an answer: {sent:?}");
        assert!(
            (Duration::from_millis(900)..Duration::from_millis(2500)).contains(t),
            "idle connection {i} closed after {t:?}, not about 1 s"
        );
    }
    for (i, closed) in slow.iter().enumerate() {
        let t = closed.unwrap_or_else(|| panic!("slow-header connection {i} still open"));
        assert!(
            (Duration::from_millis(900)..Duration::from_millis(2500)).contains(&t),
            "slow-header connection {i} closed after {t:?}, not about 1 s"
        );
    }
    let kept = kept.expect("the kept-alive connection is closed in the end");
    assert!(
        (Duration::from_millis(1900)..Duration::from_millis(3500)).contains(&kept),
        "the kept-alive connection closed {kept:?} after its response, not about 2 s"
    );
    let body_closed = body_closed.expect("the slow body's connection is closed");
    assert!(
        body.starts_with("HTTP/1.1 408 "),
        "a slow body gets a 408: {body:?}"
    );
    assert!(
        (Duration::from_millis(900)..Duration::from_millis(2500)).contains(&body_closed),
        "the slow body's connection closed after {body_closed:?}, not about 1 s"
    );
    println!(
        "timers (header 1 s, idle 2 s, body 1 s): idle closed after {:.2?}..{:.2?}, \
         slow-header after {:.2?}..{:.2?}, kept-alive {kept:.2?} after its response, \
         slow body answered 408 and closed after {body_closed:.2?}",
        idle.iter().flatten().map(|c| c.0).min().unwrap(),
        idle.iter().flatten().map(|c| c.0).max().unwrap(),
        slow.iter().flatten().min().unwrap(),
        slow.iter().flatten().max().unwrap(),
    );
}

/// Runs futures concurrently and collects their results in order.
async fn join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let tasks: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        out.push(task.await.expect("task"));
    }
    out
}

/// Opens `n` connections from `from` and has each served once, so they are held (kept alive).
async fn held_from(from: &str, port: u16, n: usize) -> Vec<TcpStream> {
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        let mut s = connect_from(from, port).await.unwrap();
        assert_eq!(healthz(&mut s).await, "HTTP/1.1 200 OK", "from {from}");
        held.push(s);
    }
    held
}

/// A connection from `from` is closed at once, with a 503.
async fn refused_from(from: &str, port: u16) {
    let mut s = connect_from(from, port).await.unwrap();
    let (t, sent) = closed_within(&mut s, Duration::from_secs(2))
        .await
        .unwrap_or_else(|| panic!("a connection from {from} over the cap was kept"));
    assert!(
        sent.is_empty() || sent.starts_with("HTTP/1.1 503 "),
        "refused with {sent:?}"
    );
    assert!(
        t < Duration::from_secs(1),
        "refused after {t:?}, not at once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_caps_refuse_the_excess_at_once_without_hurting_another_address() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("perkgate.db").display());
    let instance = Instance::start(
        &[
            ("PERKGATE_DATABASE_URL", db.as_str()),
            ("PERKGATE_MAX_CONNECTIONS", "40"),
            ("PERKGATE_MAX_CONNECTIONS_PER_ADDRESS", "20"),
        ],
        dir.path(),
    )
    .await;
    let port = instance.port();
    // The health checks of the start-up have closed: wait (bounded) until the server agrees.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut first = held_from("127.0.0.1", port, 20).await;
    for _ in 0..10 {
        refused_from("127.0.0.1", port).await;
    }
    // Another address is served as if nothing happened, up to the total cap.
    let second = held_from("127.0.0.2", port, 20).await;
    refused_from("127.0.0.3", port).await;
    for s in &first {
        assert!(
            !is_closed(s),
            "the held connections are untouched by the refusals"
        );
    }

    // Closing connections gives their places back.
    first.truncate(15);
    let started = Instant::now();
    let again = loop {
        let mut s = connect_from("127.0.0.1", port).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        match closed_within(&mut s, Duration::from_millis(300)).await {
            None => break s,
            Some(_) => {
                assert!(
                    started.elapsed() < Duration::from_secs(5),
                    "no place came back"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    drop((first, second, again));

    // The refusals are counted, by cap.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let metrics = reqwest::get(instance.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let count = |cap: &str| -> u64 {
        let line =
            format!("perkgate_connections_refused_total{{listener=\"main\",cap=\"{cap}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&line)?.trim().parse().ok())
            .unwrap_or(0)
    };
    assert!(
        count("per_address") >= 10,
        "per-address refusals counted:\n{metrics}"
    );
    assert!(
        count("total") >= 1,
        "total-cap refusals counted:\n{metrics}"
    );
}
