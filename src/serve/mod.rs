//! Serving connections: the accept loop, with the caps of [`admission`] and the timers of
//! [`conn`]. `axum::serve` sets no timer at all, so an idle or slow client could hold a
//! connection, and one of the process's open files, for ever; enough of them and the process
//! stops accepting anyone (`Too many open files`).
//!
//! HTTP/1.1 only (axum is built without `http2`): browsers speak HTTP/2 only over TLS, which a
//! proxy in front terminates, so there are no HTTP/2 limits to set here.

mod admission;
mod body;
mod conn;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub use admission::{Admission, Refused};

use crate::address::address_key;
pub use conn::Timeouts;

use crate::config::Connections;

/// How every listener serves its connections.
#[derive(Clone, Debug)]
pub struct Settings {
    pub timeouts: Timeouts,
    /// The main listener's cap.
    pub max: usize,
    pub max_per_address: usize,
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl Settings {
    /// At start-up: raises the open-files limit (and logs it), then fits `max` to it.
    pub fn at_start_up(c: &Connections, trusted_proxies: &[ipnet::IpNet]) -> Self {
        let open_files = match raise_open_files_limit() {
            Ok(f) => {
                tracing::info!(
                    soft_before = f.before,
                    soft = f.soft,
                    hard = f.hard,
                    "open files limit"
                );
                Some(f.soft)
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read or raise the open files limit");
                None
            }
        };
        Self::new(c, trusted_proxies, open_files)
    }

    /// From the configuration, with `max` lowered to what `open_files` (the soft limit) allows.
    pub fn new(c: &Connections, trusted_proxies: &[ipnet::IpNet], open_files: Option<u64>) -> Self {
        let max = match open_files {
            Some(limit) => connection_cap(c.max, limit),
            None => c.max,
        };
        if max < c.max {
            tracing::warn!(
                configured = c.max,
                allowed = max,
                open_files = open_files.unwrap_or_default(),
                "PERKGATE_MAX_CONNECTIONS lowered to what the open-files limit allows \
                 (raise the hard limit: ulimit -n, LimitNOFILE=, docker run --ulimit nofile=)"
            );
        }
        Self {
            timeouts: Timeouts {
                header: c.header_timeout,
                idle: c.idle_timeout,
                body: c.body_timeout,
            },
            max,
            max_per_address: c.max_per_address,
            trusted_proxies: trusted_proxies.to_vec(),
        }
    }
}

/// Files kept for everything but client connections: the database, the session store's
/// pool, calls to ID.me, the rules file, the logs.
const RESERVED_FILES: u64 = 256;

/// The most connections an open-files limit leaves room for.
pub fn connection_cap(configured: usize, open_files: u64) -> usize {
    let room = if open_files > 2 * RESERVED_FILES {
        open_files - RESERVED_FILES
    } else {
        open_files / 2
    };
    configured.min(usize::try_from(room).unwrap_or(usize::MAX))
}

/// The open-files limit before and after [`raise_open_files_limit`].
#[derive(Clone, Copy, Debug)]
pub struct OpenFiles {
    pub before: u64,
    pub soft: u64,
    pub hard: u64,
}

/// Raises this process's soft `RLIMIT_NOFILE` to its hard limit: the soft default is often
/// 1,024 while the hard one is far larger, and each connection takes a file.
pub fn raise_open_files_limit() -> std::io::Result<OpenFiles> {
    let (before, hard) = rlimit::Resource::NOFILE.get()?;
    let soft = rlimit::increase_nofile_limit(hard)?;
    Ok(OpenFiles { before, soft, hard })
}

/// Binds a listener with an accept queue of 1,024 (the kernel caps it at `somaxconn`) instead
/// of the usual 128: a burst of new connections, a flood's or a busy minute's, then waits for
/// the accept loop instead of having its SYNs dropped and retried a second later.
pub fn bind(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match addr {
        std::net::SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        std::net::SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    // As std does: a restart can bind again while old connections linger in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Connections the ops listener takes at most: a scraper and a few health checks need no
/// more, and its files come out of the same open-files limit.
pub const OPS_MAX_CONNECTIONS: usize = 64;

/// A listener and what it serves.
pub struct Listener {
    /// For logs and metrics: `main` or `ops`.
    pub name: &'static str,
    pub listener: TcpListener,
    pub router: Router,
    /// Its own cap: each listener counts apart, so a flood of one never locks out the other.
    pub max_connections: usize,
}

/// Serves every listener until `shutdown` resolves; then stops accepting at once (the
/// listeners are closed), lets the requests in flight finish, and returns when every
/// connection has closed.
pub async fn serve(
    listeners: Vec<Listener>,
    settings: Settings,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop, stopping) = watch::channel(false);
    let settings = Arc::new(settings);
    let loops: Vec<_> = listeners
        .into_iter()
        .map(|l| tokio::spawn(accept_loop(l, settings.clone(), stopping.clone())))
        .collect();
    drop(stopping);
    shutdown.await;
    let _ = stop.send(true);
    for accepting in loops {
        let _ = accepting.await;
    }
    // Every connection's task holds a receiver.
    stop.closed().await;
    Ok(())
}

async fn accept_loop(l: Listener, settings: Arc<Settings>, mut stopping: watch::Receiver<bool>) {
    let admission = Admission::new(
        l.max_connections,
        settings.max_per_address.min(l.max_connections),
        settings.trusted_proxies.clone(),
        metrics::gauge!("perkgate_connections_open", "listener" => l.name),
    );
    let builder = Arc::new(conn::builder());
    let mut refusals = Throttled::default();
    let mut errors = Throttled::default();
    loop {
        let accepted = tokio::select! {
            biased;
            _ = stopping.changed() => return,
            accepted = l.listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // A client gone before we took it is nothing; anything else (out of files or
                // memory) needs connections to close first: a short wait instead of spinning.
                use std::io::ErrorKind::{ConnectionAborted, ConnectionReset};
                if matches!(e.kind(), ConnectionAborted | ConnectionReset) {
                    continue;
                }
                if errors.due() {
                    tracing::error!(listener = l.name, error = %e, repeated = errors.take(), "accept failed");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        match admission.admit(peer.ip()) {
            Ok(permit) => {
                let _ = stream.set_nodelay(true);
                tokio::spawn(conn::serve(
                    stream,
                    peer,
                    l.router.clone(),
                    builder.clone(),
                    settings.timeouts,
                    stopping.clone(),
                    permit,
                ));
            }
            Err(why) => {
                crate::metrics::connection_refused(l.name, why.label());
                if refusals.due() {
                    tracing::warn!(
                        listener = l.name,
                        peer = %address_key(peer.ip()),
                        cap = why.label(),
                        open = admission.open(),
                        repeated = refusals.take(),
                        "connection refused: over the cap"
                    );
                }
                refuse(stream);
            }
        }
    }
}

/// Tells the client why (best effort, without waiting) and closes the connection.
fn refuse(stream: TcpStream) {
    const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\n\
        Content-Length: 0\r\nConnection: close\r\n\r\n";
    let _ = stream.try_write(BUSY);
}

/// At most one log line per 10 s for a repeated event, with how often it happened between.
#[derive(Default)]
struct Throttled {
    last: Option<Instant>,
    since: u64,
}

impl Throttled {
    fn due(&mut self) -> bool {
        self.since += 1;
        let due = self
            .last
            .is_none_or(|at| at.elapsed() >= Duration::from_secs(10));
        if due {
            self.last = Some(Instant::now());
        }
        due
    }

    fn take(&mut self) -> u64 {
        std::mem::take(&mut self.since)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_cap_leaves_files_for_everything_else() {
        assert_eq!(connection_cap(8192, 1_048_576), 8192);
        assert_eq!(connection_cap(8192, 1024), 768);
        assert_eq!(connection_cap(8192, 8192), 7936);
        // A tiny limit: half of it.
        assert_eq!(connection_cap(8192, 256), 128);
    }

    #[test]
    fn a_repeated_event_is_logged_once_per_period_with_its_count() {
        let mut t = Throttled::default();
        assert!(t.due());
        assert_eq!(t.take(), 1);
        assert!(!t.due());
        assert!(!t.due());
        assert_eq!(t.take(), 2);
    }
}
