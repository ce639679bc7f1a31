//! The figures of one measured scenario, and how they are printed as it ends.

use crate::MIB;
use crate::flow::STEPS;

/// Figures of one measured scenario.
pub(crate) struct Measured {
    pub(crate) name: String,
    pub(crate) unit: &'static str,
    pub(crate) ok: u64,
    pub(crate) errors: u64,
    pub(crate) first_error: Option<String>,
    pub(crate) per_sec: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) server_cpu_us: f64,
    pub(crate) server_cores: f64,
    pub(crate) client_cpu_us: f64,
    pub(crate) client_cores: f64,
    pub(crate) fake_cpu_us: f64,
    /// CPU of the session store's own process (Redis), per operation, when known.
    pub(crate) store_cpu_us: Option<f64>,
    pub(crate) connections: u64,
    pub(crate) rss_before: u64,
    pub(crate) rss_after: u64,
    /// Server CPU µs per operation by thread name, largest first.
    pub(crate) threads: Vec<(String, f64)>,
    /// Flows: mean milliseconds per step.
    pub(crate) step_ms: Option<[f64; 4]>,
    /// Server context switches (all threads) per operation.
    pub(crate) switches_per_op: f64,
    /// CPU used by other processes on the machine during the measurement, in cores.
    pub(crate) other_cores: f64,
    /// Interrupt, softirq and steal time on the machine during the measurement, in cores.
    pub(crate) irq_cores: f64,
}

pub(crate) fn mib(bytes: u64) -> f64 {
    bytes as f64 / MIB
}

pub(crate) fn print_measured(m: &Measured) {
    println!(
        "  {:<52} {:>9.0} {:<7} p50 {:>7.3} ms  p99 {:>7.3} ms  errors {}",
        m.name, m.per_sec, m.unit, m.p50_ms, m.p99_ms, m.errors
    );
    println!(
        "    server: {:>8.1} µs CPU per op ({:.2} cores)  RSS {:.1} -> {:.1} MiB | client: {:.1} µs/op ({:.2} cores) | fake ID.me {:.1} µs/op | {} ok, {} connections opened",
        m.server_cpu_us,
        m.server_cores,
        mib(m.rss_before),
        mib(m.rss_after),
        m.client_cpu_us,
        m.client_cores,
        m.fake_cpu_us,
        m.ok,
        m.connections
    );
    let threads: Vec<String> = m
        .threads
        .iter()
        .filter(|(_, us)| *us >= 0.05)
        .take(5)
        .map(|(name, us)| format!("{name} {us:.1} µs"))
        .collect();
    println!(
        "    server CPU by thread: {}; {:.1} context switches per op; machine: other processes {:.2} cores, irq+softirq+steal {:.2} cores{}",
        if threads.is_empty() {
            "-".to_owned()
        } else {
            threads.join(", ")
        },
        m.switches_per_op,
        m.other_cores,
        m.irq_cores,
        if m.other_cores > 0.15 {
            " (NOISY: something else ran; figures are low)"
        } else {
            ""
        }
    );
    if let Some(steps) = m.step_ms {
        let each: Vec<String> = STEPS
            .iter()
            .zip(steps)
            .map(|(name, ms)| format!("{name} {ms:.2} ms"))
            .collect();
        println!("    mean time per step: {}", each.join(", "));
    }
    if let Some(us) = m.store_cpu_us {
        println!(
            "    session store process (not in the server figures above): {us:.1} µs CPU per op"
        );
    }
    if let Some(e) = &m.first_error {
        println!("    first error: {e}");
    }
}
