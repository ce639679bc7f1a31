//! The fake ID.me, on its own thread so its CPU time can be told apart from the client's.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderValue, header};
use axum::routing::{get, post};

use crate::START_TIMEOUT;
use crate::procfs::current_tid;

pub(crate) struct FakeIdme {
    pub(crate) addr: SocketAddr,
    pub(crate) tid: Option<String>,
    pub(crate) persons: Arc<AtomicU64>,
}

pub(crate) fn start_fake_idme() -> Result<FakeIdme, String> {
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
