//! The baseline: a bare axum server, this binary re-executed in the baseline role.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::routing::get;

use crate::server::{Server, probe_200};
use crate::{ROLE_VAR, START_TIMEOUT};

/// Starts the baseline: this binary again, in the baseline role. It prints its address.
pub(crate) fn start_baseline() -> Result<Server, String> {
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
pub(crate) fn baseline_server() {
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
