//! Connections, on the real binary: floods of idle and slow-header connections from one
//! address leave another address served quickly; the timers close idle, slow-header,
//! kept-alive and slow-body connections; the caps refuse the excess at once, without hurting
//! another address. Loopback only: every 127.0.0.0/8 address is local on Linux, so a client
//! socket bound to 127.0.0.2 is "another address".
//!
//! `flood`: 1,500 idle and 200 slow-header connections from one address while another is
//! served; `timers`: the header, idle and body timeouts; `caps`: the total and per-address caps.

mod caps;
mod flood;
mod timers;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Connects from `from` to the instance on 127.0.0.1.
pub async fn connect_from(from: &str, port: u16) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(from.parse().expect("an address"), 0))?;
    let to = SocketAddr::from(([127, 0, 0, 1], port));
    tokio::time::timeout(Duration::from_secs(5), socket.connect(to))
        .await
        .map_err(|_| std::io::Error::other("connect timed out"))?
}

/// Whether the server has closed the connection, without waiting: reads whatever it sent (a
/// 503 for a refusal) up to the end, a reset, or nothing more for now.
pub fn is_closed(stream: &TcpStream) -> bool {
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
pub async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<(Duration, String)> {
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
pub async fn healthz(stream: &mut TcpStream) -> String {
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

pub fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

pub fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}
