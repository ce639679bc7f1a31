//! perkgate as a separate process (the real binary), for tests of several instances.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Instance {
    pub base: String,
    child: Child,
}

impl Instance {
    /// Starts the binary on a free loopback port with these variables and waits (bounded)
    /// until `/healthz` answers.
    pub async fn start(vars: &[(&str, &str)], dir: &std::path::Path) -> Self {
        super::install_crypto_provider();
        let port = free_port();
        let empty = dir.join(format!("empty-{port}.toml"));
        std::fs::write(&empty, "").expect("write empty config");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_perkgate"));
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("PERKGATE_")) {
            cmd.env_remove(k);
        }
        cmd.env("PERKGATE_LISTEN", format!("127.0.0.1:{port}"))
            .env("PERKGATE_CONFIG", &empty)
            .env("PERKGATE_LOG", "warn")
            .env("PERKGATE_RATE_LIMIT_PER_MINUTE", "0")
            .envs(vars.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let child = cmd.spawn().expect("start perkgate");
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let client = reqwest::Client::new();
        loop {
            if let Ok(res) = client.get(format!("{base}/healthz")).send().await
                && res.status() == 200
            {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "perkgate did not start"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Self { base, child }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The main listener's port (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.base
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a port in the base URL")
    }

    /// The process id, for reading `/proc/<pid>` (memory, open files).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM, as an orchestrator stopping the container would.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// SIGKILL, as a crash or an OOM kill would: nothing runs on the way out.
    pub fn kill(&mut self) {
        self.child.kill().expect("kill -9 perkgate");
        self.child.wait().expect("reap perkgate");
    }

    /// Waits (bounded) for the process to exit; its exit code, or None if it is still running.
    pub async fn exited_within(&mut self, limit: Duration) -> Option<i32> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status.code().unwrap_or(-1));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port free on 127.0.0.1 right now, for a listener a process will bind.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `VmRSS` of `/proc/<pid>/status`, in bytes (0 when unreadable: the process is gone).
pub fn rss_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}
