//! Measuring a scenario: warm-up, then the measured phase with CPU and RSS around it; the read
//! path and complete flows on one perkgate.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::Method;

use crate::OP_TIMEOUT;
use crate::client::{HttpClient, contains, new_client, send, uri};
use crate::fake_idme::FakeIdme;
use crate::flow::flow;
use crate::phases::{Op, phase};
use crate::procfs::{cpu_ticks, machine_ticks, rss_bytes, thread_delta, thread_stats};
use crate::report::{Measured, print_measured};
use crate::server::Server;
use crate::settings::Settings;

pub(crate) struct Bench<'a> {
    pub(crate) settings: &'a Settings,
    pub(crate) runtime: tokio::runtime::Runtime,
    pub(crate) fake: &'a FakeIdme,
}

impl Bench<'_> {
    fn ticks_to_us(&self, ticks: u64) -> f64 {
        ticks as f64 / self.settings.clk_tck * 1e6
    }

    /// Warm-up, then the measured phase, with CPU and RSS around it.
    pub(crate) fn measure(
        &self,
        name: &str,
        unit: &'static str,
        server: &Server,
        op: Op,
        conns: usize,
    ) -> Measured {
        let opened = Arc::new(AtomicU64::new(0));
        let clients: Vec<HttpClient> = {
            let _guard = self.runtime.enter();
            (0..conns).map(|_| new_client(&opened)).collect()
        };
        let pid = server.pid();
        if !self.settings.warmup.is_zero() {
            self.runtime
                .block_on(phase(&clients, &op, self.settings.warmup));
        }
        let rss_before = rss_bytes(pid);
        let fake_what = self.fake.tid.as_ref().map(|t| format!("self/task/{t}"));
        let fake_ticks = || fake_what.as_deref().map_or(0, cpu_ticks);
        let threads0 = thread_stats(pid);
        let store_pid = server.store_pid;
        let store_what = store_pid.map(|p| p.to_string());
        let store_ticks = || store_what.as_deref().map_or(0, cpu_ticks);
        let (s0, c0, f0, r0) = (
            cpu_ticks(&pid.to_string()),
            cpu_ticks("self"),
            fake_ticks(),
            store_ticks(),
        );
        let m0 = machine_ticks();
        let out = self
            .runtime
            .block_on(phase(&clients, &op, self.settings.duration()));
        let m1 = machine_ticks();
        let (s1, c1, f1, r1) = (
            cpu_ticks(&pid.to_string()),
            cpu_ticks("self"),
            fake_ticks(),
            store_ticks(),
        );
        let (by_thread, switches) = thread_delta(&threads0, &thread_stats(pid));
        let rss_after = rss_bytes(pid);
        drop(clients);
        let secs = out.elapsed.as_secs_f64();
        let n = out.ok.max(1) as f64;
        let pct = |q: usize| {
            let v = &out.latencies;
            if v.is_empty() {
                f64::NAN
            } else {
                v[(v.len() * q / 100).min(v.len() - 1)] as f64 / 1000.0
            }
        };
        let fake = f1.saturating_sub(f0);
        let client = c1.saturating_sub(c0).saturating_sub(fake);
        let server = s1.saturating_sub(s0);
        let store = r1.saturating_sub(r0);
        // What else the machine did meanwhile: other processes (someone's build), and
        // interrupt, softirq (loopback TCP, when accounted apart) and steal time.
        let others = (m1.0.saturating_sub(m0.0))
            .saturating_sub(server)
            .saturating_sub(store)
            .saturating_sub(c1.saturating_sub(c0));
        let irq = m1.1.saturating_sub(m0.1);
        Measured {
            other_cores: self.ticks_to_us(others) / 1e6 / secs,
            irq_cores: self.ticks_to_us(irq) / 1e6 / secs,
            name: name.to_owned(),
            unit,
            ok: out.ok,
            errors: out.errors,
            first_error: out.first_error,
            per_sec: out.ok as f64 / secs,
            p50_ms: pct(50),
            p99_ms: pct(99),
            server_cpu_us: self.ticks_to_us(server) / n,
            server_cores: self.ticks_to_us(server) / 1e6 / secs,
            client_cpu_us: self.ticks_to_us(client) / n,
            client_cores: self.ticks_to_us(client) / 1e6 / secs,
            fake_cpu_us: self.ticks_to_us(fake) / n,
            store_cpu_us: store_pid.map(|_| self.ticks_to_us(store) / n),
            connections: opened.load(Ordering::Relaxed),
            rss_before,
            rss_after,
            threads: by_thread
                .into_iter()
                .map(|(name, ticks)| (name, self.ticks_to_us(ticks) / n))
                .collect(),
            switches_per_op: switches as f64 / n,
            step_ms: matches!(op, Op::Flow(_))
                .then(|| out.steps.map(|d| d.as_secs_f64() * 1e3 / n)),
        }
    }

    /// One full flow, for a verified session cookie.
    fn verified_cookie(&self, server: &Server) -> Result<String, String> {
        let opened = Arc::new(AtomicU64::new(0));
        let client = {
            let _guard = self.runtime.enter();
            new_client(&opened)
        };
        let addr = server.addr;
        let check = uri(addr, "/api/v1/benefit")?;
        self.runtime.block_on(async move {
            let (cookie, _) = tokio::time::timeout(OP_TIMEOUT, flow(&client, addr))
                .await
                .map_err(|_| "the first flow timed out".to_owned())??;
            let json = send(&client, Method::GET, check, Some(&cookie), None).await?;
            if !contains(&json.body, b"\"verified\":true") {
                return Err(format!(
                    "the verified session reads as {:?}",
                    String::from_utf8_lossy(&json.body)
                ));
            }
            Ok(cookie)
        })
    }

    pub(crate) fn read_and_flows(
        &self,
        label: &str,
        server: &Server,
    ) -> Result<Vec<Measured>, String> {
        let mut out = Vec::new();
        if self.settings.wants("read") {
            let cookie: Arc<str> = self.verified_cookie(server)?.into();
            let mut gets = vec![
                (
                    "GET /api/v1/benefit",
                    "/api/v1/benefit",
                    Some(cookie.clone()),
                ),
                ("GET / (HTML)", "/", Some(cookie)),
            ];
            if self.settings.breakdown {
                // Where the read path's time goes: the middleware stack alone (no session
                // layer), then the session layer without a cookie (no store read).
                gets.push(("diag GET /healthz (middleware only)", "/healthz", None));
                gets.push((
                    "diag GET /api/v1/benefit, no cookie",
                    "/api/v1/benefit",
                    None,
                ));
            }
            for (name, path, cookie) in gets {
                let m = self.measure(
                    &format!("{label} {name}"),
                    "req/s",
                    server,
                    Op::Get(uri(server.addr, path)?, cookie),
                    self.settings.conns,
                );
                print_measured(&m);
                out.push(m);
            }
        }
        if self.settings.wants("flows") {
            let before = self.fake.persons.load(Ordering::Relaxed);
            let m = self.measure(
                &format!("{label} complete flows"),
                "flows/s",
                server,
                Op::Flow(server.addr),
                self.settings.flow_conns,
            );
            print_measured(&m);
            println!(
                "    fake ID.me: {} attribute calls (new persons) during warm-up and measurement",
                self.fake.persons.load(Ordering::Relaxed) - before
            );
            out.push(m);
        }
        Ok(out)
    }
}
