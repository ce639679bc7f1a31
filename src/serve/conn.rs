//! One connection: hyper's HTTP/1 under our timers.
//!
//! hyper's own header timeout starts as soon as a connection waits for a request, so on a
//! kept-alive connection it is the idle timeout as well. We want the two apart, as Go's
//! net/http has them: a short limit on sending a request's head (a slow-header client holds a
//! file and a buffer for nothing) and a longer keep-alive, above a proxy's, so that a proxy
//! never reuses a connection we are closing. A watchdog in the connection's own task closes it
//! at whichever deadline applies, from what the socket and the service record in [`Activity`];
//! a request's body has its own deadline ([`DeadlineBody`]).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::{Body as _, Incoming};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{Notify, watch};
use tower::ServiceExt;

use super::admission::Permit;
use super::body::{DeadlineBody, body_timeout_response};

/// The timers of every connection (see `config::Connections`).
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    pub header: Duration,
    pub idle: Duration,
    pub body: Duration,
}

/// A request's head and whatever arrives with it are buffered up to this; a larger head is
/// refused (431). It bounds what a slow-header client makes us hold: hyper's default is ~400 KiB.
const MAX_BUF: usize = 64 * 1024;

pub fn builder() -> http1::Builder {
    let mut builder = http1::Builder::new();
    builder
        .max_buf_size(MAX_BUF)
        // Ours instead: see the module comment.
        .header_read_timeout(None)
        .keep_alive(true);
    builder
}

/// `u64::MAX` in a millisecond field: not yet.
const NONE: u64 = u64::MAX;

/// What the connection is doing, in milliseconds since it was accepted.
#[derive(Debug)]
struct Activity {
    accepted: Instant,
    busy: AtomicBool,
    /// Since when it waits for a request: its opening, or the end of the last response.
    waiting_since: AtomicU64,
    /// When the awaited head sent its first byte. The opening counts as that for the first
    /// request: a client that connects must send its request in time.
    head_since: AtomicU64,
    body_timed_out: AtomicBool,
    /// When the watchdog is set to look next. A deadline that moves later needs no wake-up
    /// (the watchdog looks, finds it later and sleeps again); only one that moves earlier
    /// does. So a busy kept-alive connection costs no timer work per request.
    armed: AtomicU64,
    timeouts: Timeouts,
    /// Wakes the watchdog when a deadline moves earlier than it is set to look.
    changed: Notify,
}

/// The timer that closes an idle connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    Header,
    Idle,
}

impl Expiry {
    pub fn label(self) -> &'static str {
        match self {
            Self::Header => "header",
            Self::Idle => "idle",
        }
    }
}

/// When a connection that is not serving a request is closed, in milliseconds since it was
/// accepted, and why. A head being sent has the header timeout; otherwise the idle one runs.
fn deadline(waiting_since: u64, head_since: u64, t: &Timeouts) -> (u64, Expiry) {
    if head_since != NONE {
        (head_since.saturating_add(millis(t.header)), Expiry::Header)
    } else {
        (waiting_since.saturating_add(millis(t.idle)), Expiry::Idle)
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(NONE)
}

impl Activity {
    fn new(timeouts: Timeouts) -> Self {
        Self {
            armed: AtomicU64::new(millis(timeouts.header)),
            timeouts,
            accepted: Instant::now(),
            busy: AtomicBool::new(false),
            waiting_since: AtomicU64::new(0),
            head_since: AtomicU64::new(0),
            body_timed_out: AtomicBool::new(false),
            changed: Notify::new(),
        }
    }

    fn now(&self) -> u64 {
        millis(self.accepted.elapsed())
    }

    /// Bytes came in: the first of a head starts its timer.
    fn bytes_in(&self) {
        if !self.busy.load(Ordering::Relaxed) && self.head_since.load(Ordering::Relaxed) == NONE {
            self.head_since.store(self.now(), Ordering::Relaxed);
            self.moved();
        }
    }

    /// While a request is served no timer runs (its body has its own deadline): the
    /// watchdog, if it looks, finds nothing due and looks again later.
    fn begin(self: &Arc<Self>) -> Busy {
        self.busy.store(true, Ordering::Relaxed);
        self.head_since.store(NONE, Ordering::Relaxed);
        self.body_timed_out.store(false, Ordering::Relaxed);
        Busy(self.clone())
    }

    /// The deadline moved: wake the watchdog only if it is now earlier than it will look.
    fn moved(&self) {
        let (at, _) = deadline(
            self.waiting_since.load(Ordering::Relaxed),
            self.head_since.load(Ordering::Relaxed),
            &self.timeouts,
        );
        if at < self.armed.load(Ordering::Relaxed) {
            self.changed.notify_one();
        }
    }

    /// `None` while a request is served (its body has a deadline of its own).
    fn deadline(&self, t: &Timeouts) -> Option<(Instant, Expiry)> {
        if self.busy.load(Ordering::Relaxed) {
            return None;
        }
        let (at, why) = deadline(
            self.waiting_since.load(Ordering::Relaxed),
            self.head_since.load(Ordering::Relaxed),
            t,
        );
        Some((self.accepted + Duration::from_millis(at), why))
    }
}

/// A request in service; when it is dropped (answered, or abandoned) the wait for the next
/// one begins.
struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        let a = &self.0;
        a.waiting_since.store(a.now(), Ordering::Relaxed);
        a.busy.store(false, Ordering::Relaxed);
        a.moved();
    }
}

/// The socket, reporting what it reads to the connection's [`Activity`].
struct Watched {
    io: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.bytes_in();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Serves one accepted connection until the client closes it, a timer does, or shutdown
/// has let its request in flight finish.
pub async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    builder: Arc<http1::Builder>,
    timeouts: Timeouts,
    mut stopping: watch::Receiver<bool>,
    _permit: Permit,
) {
    let activity = Arc::new(Activity::new(timeouts));
    let io = TokioIo::new(Watched {
        io: stream,
        activity: activity.clone(),
    });
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |mut req: Request<Incoming>| {
            let busy = activity.begin();
            // The peer's address, for the per-client rate limits (`ConnectInfo`).
            req.extensions_mut().insert(ConnectInfo(peer));
            let req = if req.body().is_end_stream() {
                req.map(Body::new)
            } else {
                let deadline = tokio::time::Instant::now() + timeouts.body;
                let activity = activity.clone();
                req.map(|inner| {
                    Body::new(DeadlineBody::new(inner, deadline, move || {
                        activity.body_timed_out.store(true, Ordering::Relaxed);
                    }))
                })
            };
            let router = router.clone();
            async move {
                let res = router.oneshot(req).await;
                let timed_out = busy.0.body_timed_out.load(Ordering::Relaxed);
                drop(busy);
                if timed_out {
                    crate::metrics::connection_timed_out("body");
                    return Ok::<_, Infallible>(body_timeout_response());
                }
                res
            }
        })
    };
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let watchdog = tokio::time::sleep(timeouts.header);
    tokio::pin!(watchdog);
    let mut draining = false;
    loop {
        tokio::select! {
            ended = conn.as_mut() => {
                if let Err(e) = ended {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            _ = stopping.changed(), if !draining => {
                // hyper closes an idle connection at once, a busy one after its response.
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
            () = activity.changed.notified() => {
                rearm(watchdog.as_mut(), &activity, activity.deadline(&timeouts));
            }
            () = &mut watchdog => {
                match activity.deadline(&timeouts) {
                    Some((at, why)) if at <= Instant::now() => {
                        crate::metrics::connection_timed_out(why.label());
                        // No request is in flight: dropping the connection closes the socket.
                        return;
                    }
                    next => rearm(watchdog.as_mut(), &activity, next),
                }
            }
        }
    }
}

fn rearm(
    watchdog: Pin<&mut tokio::time::Sleep>,
    activity: &Activity,
    next: Option<(Instant, Expiry)>,
) {
    // Busy: look again a header timeout from now (the end of the request moves the deadline
    // later, which needs no wake-up; the body has its own deadline).
    let at = next.map_or_else(|| Instant::now() + activity.timeouts.header, |(at, _)| at);
    activity.armed.store(
        millis(at.saturating_duration_since(activity.accepted)),
        Ordering::Relaxed,
    );
    watchdog.reset(at.into());
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Timeouts = Timeouts {
        header: Duration::from_secs(10),
        idle: Duration::from_secs(75),
        body: Duration::from_secs(10),
    };

    #[test]
    fn a_new_connection_must_send_its_head_within_the_header_timeout() {
        assert_eq!(deadline(0, 0, &T), (10_000, Expiry::Header));
    }

    #[test]
    fn a_kept_alive_connection_idles_until_the_idle_timeout() {
        // The last response ended 5 s in; nothing since.
        assert_eq!(deadline(5_000, NONE, &T), (80_000, Expiry::Idle));
    }

    #[test]
    fn a_head_started_after_idling_has_the_header_timeout_from_its_first_byte() {
        assert_eq!(deadline(5_000, 60_000, &T), (70_000, Expiry::Header));
        // Even when that comes before the idle deadline would have.
        assert_eq!(deadline(5_000, 6_000, &T), (16_000, Expiry::Header));
    }

    #[test]
    fn activity_follows_requests_and_bytes() {
        let a = Arc::new(Activity::new(T));
        assert_eq!(a.deadline(&T).unwrap().1, Expiry::Header);
        let busy = a.begin();
        assert!(
            a.deadline(&T).is_none(),
            "no timer while a request is served"
        );
        a.bytes_in();
        assert_eq!(
            a.head_since.load(Ordering::Relaxed),
            NONE,
            "body bytes start nothing"
        );
        drop(busy);
        assert_eq!(a.deadline(&T).unwrap().1, Expiry::Idle);
        a.bytes_in();
        assert_eq!(a.deadline(&T).unwrap().1, Expiry::Header);
    }
}
