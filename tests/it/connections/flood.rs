//! Floods of idle and slow-header connections from one address, while another address is
//! served: with the default caps, and with the per-address cap out of the way.

use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::{connect_from, is_closed, open_fds, rss_mib};
use crate::harness::process::Instance;
use crate::harness::{install_crypto_provider, serial};

/// The flood of the issue: idle connections, and connections sending their head byte by byte.
const IDLE: usize = 1_500;
const SLOW: usize = 200;
/// Requests the other client makes during the flood, each on a new connection.
const PROBES: usize = 200;
/// The bound on the other client's p99.
const P99_LIMIT: Duration = Duration::from_millis(100);

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
