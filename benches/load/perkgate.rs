//! Starting perkgate, the release binary, as a child process against the fake ID.me.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::START_TIMEOUT;
use crate::procfs::rss_bytes;
use crate::server::{Server, free_port, local_listener_pid, probe_200};
use crate::settings::Settings;

pub(crate) struct PerkgateRun {
    pub(crate) server: Server,
    /// Spawn to the first 200 on /healthz.
    pub(crate) first_200: Duration,
    pub(crate) rss_idle: u64,
}

/// Starts perkgate on `dir`'s database (created on first use), or on `database_url`, against
/// the fake ID.me. The inner `Err`: perkgate exited at start-up (a refused setting, say), with
/// its stderr.
pub(crate) fn start_perkgate(
    settings: &Settings,
    dir: &Path,
    idme: SocketAddr,
    session_url: Option<&str>,
    database_url: Option<&str>,
) -> Result<Result<PerkgateRun, String>, String> {
    start_perkgate_with(settings, dir, idme, session_url, database_url, &[])
}

/// [`start_perkgate`] with a scenario's own variables (before the `BENCH_PERKGATE_*` ones).
pub(crate) fn start_perkgate_with(
    settings: &Settings,
    dir: &Path,
    idme: SocketAddr,
    session_url: Option<&str>,
    database_url: Option<&str>,
    extra: &[(&str, &str)],
) -> Result<Result<PerkgateRun, String>, String> {
    let port = free_port()?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let config = dir.join("empty.toml");
    std::fs::write(&config, "").map_err(|e| format!("write {}: {e}", config.display()))?;
    let stderr_path = dir.join(format!("perkgate-{port}.stderr"));
    let stderr = std::fs::File::create(&stderr_path)
        .map_err(|e| format!("create {}: {e}", stderr_path.display()))?;
    let mut cmd = Command::new(&settings.perkgate_bin);
    // Only the bench's settings reach perkgate, whatever this shell has exported.
    for (k, _) in std::env::vars() {
        if k.starts_with("PERKGATE_") {
            cmd.env_remove(k);
        }
    }
    cmd.current_dir(dir)
        .env("PERKGATE_LISTEN", addr.to_string())
        .env(
            "PERKGATE_DATABASE_URL",
            database_url.map_or_else(
                || format!("sqlite://{}", dir.join("perkgate.db").display()),
                str::to_owned,
            ),
        )
        .env("PERKGATE_CONFIG", &config)
        .env("PERKGATE_LOG", "warn")
        // One load generator on one address: the per-client limit would stop it.
        .env("PERKGATE_RATE_LIMIT_PER_MINUTE", "0")
        .env("PERKGATE_IDME_URL", format!("http://{idme}"))
        .env("PERKGATE_IDME_CLIENT_ID", "bench-client")
        .env("PERKGATE_IDME_CLIENT_SECRET", "bench-secret");
    if let Some(url) = session_url {
        cmd.env("PERKGATE_SESSION_URL", url);
    }
    for (k, v) in extra {
        cmd.env(k, v);
    }
    for (k, v) in &settings.overrides {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(stderr));
    let started = Instant::now();
    let child = cmd.spawn().map_err(|e| {
        format!(
            "spawn {}: {e} (build it with `cargo build --release`)",
            settings.perkgate_bin.display()
        )
    })?;
    let mut server = Server {
        name: "perkgate",
        child,
        addr,
        stderr_path: Some(stderr_path),
        store_pid: session_url.and_then(local_listener_pid),
    };
    loop {
        if probe_200(addr, "/healthz") {
            break;
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            return Ok(Err(format!(
                "perkgate exited at start-up ({status}):\n{}",
                server.stderr_tail()
            )));
        }
        if started.elapsed() > START_TIMEOUT {
            return Err(format!(
                "perkgate did not answer 200 on /healthz within {START_TIMEOUT:?}:\n{}",
                server.stderr_tail()
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let first_200 = started.elapsed();
    let rss_idle = rss_bytes(server.pid());
    Ok(Ok(PerkgateRun {
        server,
        first_200,
        rss_idle,
    }))
}
