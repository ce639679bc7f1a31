//! The `perkgate` binary: `perkgate` (or `perkgate serve`) runs the service.

use std::process::ExitCode;

use perkgate::{App, Config};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None => serve(),
        Some("serve") if args.len() == 1 => serve(),
        Some(_) => perkgate::cli::run(&args),
    }
}

fn serve() -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("perkgate: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    perkgate::telemetry::init(&config);
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("perkgate: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let grace = config.shutdown_grace;
    runtime.block_on(async {
        let app = match App::build(config).await {
            Ok(app) => app,
            Err(e) => {
                tracing::error!("start-up failed: {e}");
                eprintln!("perkgate: {e}");
                return ExitCode::FAILURE;
            }
        };
        // On a signal the server stops accepting and lets requests in flight finish, for at
        // most the grace period; then the process exits regardless.
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let mut server = tokio::spawn(app.serve(async {
            let _ = stopped.await;
        }));
        let ended = tokio::select! {
            () = shutdown_signal() => None,
            // The server ended by itself (it could not go on serving).
            result = &mut server => Some(result),
        };
        let _ = stop.send(());
        let outcome = match ended {
            Some(result) => Ok(result),
            None => tokio::time::timeout(grace, server).await,
        };
        match outcome {
            Ok(Ok(Ok(()))) => {
                tracing::info!("stopped");
                ExitCode::SUCCESS
            }
            Ok(Ok(Err(e))) => {
                tracing::error!("server error: {e}");
                ExitCode::FAILURE
            }
            Ok(Err(e)) => {
                tracing::error!("server task failed: {e}");
                ExitCode::FAILURE
            }
            Err(_) => {
                tracing::warn!(
                    grace_secs = grace.as_secs(),
                    "requests still in flight after the grace period; exiting"
                );
                ExitCode::SUCCESS
            }
        }
    })
}

/// Ctrl-C or SIGTERM: stop accepting, finish what is in flight.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
