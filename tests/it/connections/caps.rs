//! The total and per-address caps: the excess refused at once, another address unhurt.

use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::{closed_within, connect_from, healthz, is_closed};
use crate::harness::process::Instance;
use crate::harness::serial;

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
