//! The timers, short: header 1 s, idle 2 s, body 1 s.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{closed_within, connect_from, healthz, is_closed};
use crate::harness::process::Instance;
use crate::harness::serial;

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
