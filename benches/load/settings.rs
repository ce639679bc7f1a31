//! Settings (from `BENCH_*` variables) and machine facts.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

pub(crate) struct Settings {
    pub(crate) secs: f64,
    pub(crate) warmup: Duration,
    pub(crate) conns: usize,
    pub(crate) flow_conns: usize,
    pub(crate) client_threads: usize,
    pub(crate) breakdown: bool,
    /// Which of `baseline`, `read`, `flows` to run (`BENCH_SCENARIOS`, default all).
    pub(crate) scenarios: String,
    pub(crate) session_url: Option<String>,
    pub(crate) perkgate_bin: PathBuf,
    pub(crate) overrides: Vec<(String, String)>,
    pub(crate) clk_tck: f64,
    pub(crate) clk_note: &'static str,
}

fn env_num<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| {
            eprintln!("load bench: {name}={v:?} is not a number; using the default");
            default
        }),
        Err(_) => default,
    }
}

impl Settings {
    pub(crate) fn from_env() -> Self {
        let (clk_tck, clk_note) = match Command::new("getconf").arg("CLK_TCK").output() {
            Ok(out) if out.status.success() => {
                match String::from_utf8_lossy(&out.stdout).trim().parse::<f64>() {
                    Ok(t) if t > 0.0 => (t, "from getconf CLK_TCK"),
                    _ => (100.0, "assumed (getconf CLK_TCK unreadable)"),
                }
            }
            _ => (100.0, "assumed (getconf unavailable)"),
        };
        let overrides = std::env::vars()
            .filter_map(|(k, v)| {
                k.strip_prefix("BENCH_PERKGATE_")
                    .filter(|rest| *rest != "BIN" && !rest.is_empty())
                    .map(|rest| (format!("PERKGATE_{rest}"), v))
            })
            .collect();
        Self {
            secs: env_num("BENCH_SECS", 5.0_f64).clamp(0.2, 600.0),
            warmup: Duration::from_millis(env_num("BENCH_WARMUP_MS", 500_u64).min(30_000)),
            conns: env_num("BENCH_CONNS", 64_usize).clamp(1, 1024),
            flow_conns: env_num("BENCH_FLOW_CONNS", 32_usize).clamp(1, 1024),
            client_threads: env_num("BENCH_CLIENT_THREADS", 1_usize).clamp(1, 64),
            breakdown: env_num("BENCH_BREAKDOWN", 0_u8) != 0,
            scenarios: std::env::var("BENCH_SCENARIOS")
                .unwrap_or_else(|_| "baseline,read,flows".to_owned()),
            session_url: std::env::var("BENCH_SESSION_URL")
                .ok()
                .filter(|s| !s.is_empty()),
            perkgate_bin: std::env::var_os("BENCH_PERKGATE_BIN")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_perkgate"))),
            overrides,
            clk_tck,
            clk_note,
        }
    }

    pub(crate) fn wants(&self, scenario: &str) -> bool {
        self.scenarios
            .split(',')
            .any(|s| s.trim().eq_ignore_ascii_case(scenario))
    }

    pub(crate) fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.secs)
    }
}

pub(crate) fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}
