//! Prometheus metrics. Every label is a bounded, non-personal value: a route template, a
//! status code, a group handle from the rules, an offer id, a pool name, an outcome label.

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide recorder once (several apps in one test process share it).
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let latency = [
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ];
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &latency)
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            describe();
            // Without the exporter's own runtime, histograms need a periodic upkeep.
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("metrics-upkeep".to_owned())
                .spawn(move || {
                    loop {
                        std::thread::sleep(Duration::from_secs(1));
                        upkeep.run_upkeep();
                    }
                })
                .ok()?;
            Some(handle)
        })
        .as_ref()
}

pub fn render() -> String {
    install().map(|h| h.render()).unwrap_or_default()
}

fn describe() {
    metrics::describe_counter!(
        "http_requests_total",
        "HTTP requests by method, route and status"
    );
    metrics::describe_histogram!(
        "http_request_duration_seconds",
        metrics::Unit::Seconds,
        "HTTP request latency by method, route and status"
    );
    metrics::describe_counter!(
        "perkgate_webhook_attempts_total",
        "Webhook delivery attempts by event type and result (delivered, retrying, failed)"
    );
    metrics::describe_counter!(
        "perkgate_webhook_endpoints_disabled_total",
        "Webhook endpoints disabled for failing too long"
    );
    metrics::describe_counter!(
        "perkgate_verifications_total",
        "Finished verifications by outcome and requested group"
    );
    metrics::describe_histogram!(
        "perkgate_idme_request_duration_seconds",
        metrics::Unit::Seconds,
        "Latency of calls to ID.me by endpoint"
    );
    metrics::describe_counter!(
        "perkgate_idme_errors_total",
        "Failed calls to ID.me by endpoint and kind"
    );
    metrics::describe_counter!(
        "perkgate_claims_total",
        "Claim attempts by offer and result"
    );
    metrics::describe_gauge!("perkgate_pool_codes_remaining", "Unclaimed codes per pool");
    metrics::describe_gauge!(
        "perkgate_connections_open",
        "Open client connections by listener"
    );
    metrics::describe_counter!(
        "perkgate_connections_refused_total",
        "Connections closed unserved, over the total or the per-address cap, by listener"
    );
    metrics::describe_counter!(
        "perkgate_connections_timed_out_total",
        "Connections closed by a timer: header, idle or body"
    );
}

/// Label values for the common cases without an allocation per request.
fn method_label(method: &str) -> metrics::SharedString {
    match method {
        "GET" => "GET".into(),
        "POST" => "POST".into(),
        "HEAD" => "HEAD".into(),
        other => other.to_owned().into(),
    }
}

fn status_label(status: u16) -> metrics::SharedString {
    match status {
        200 => "200".into(),
        204 => "204".into(),
        303 => "303".into(),
        400 => "400".into(),
        403 => "403".into(),
        404 => "404".into(),
        429 => "429".into(),
        502 => "502".into(),
        503 => "503".into(),
        other => other.to_string().into(),
    }
}

/// The request metrics' handles by (method, status) and route, for the common methods: the
/// registry would build, allocate and hash the labels on every request; here that happens
/// once per combination.
type HttpHandles =
    HashMap<(&'static str, u16), HashMap<Box<str>, (metrics::Counter, metrics::Histogram)>>;
static HTTP: OnceLock<RwLock<HttpHandles>> = OnceLock::new();

pub fn http(method: &str, route: &str, status: u16, elapsed: Duration) {
    let make = || {
        let labels = vec![
            metrics::Label::new("method", method_label(method)),
            metrics::Label::new("route", route.to_owned()),
            metrics::Label::new("status", status_label(status)),
        ];
        (
            metrics::counter!("http_requests_total", labels.clone()),
            metrics::histogram!("http_request_duration_seconds", labels),
        )
    };
    let common = ["GET", "POST", "HEAD"].into_iter().find(|m| *m == method);
    let (counter, histogram) = match common {
        None => make(),
        Some(method) => {
            let handles = HTTP.get_or_init(RwLock::default);
            let known = handles
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(&(method, status))
                .and_then(|routes| routes.get(route))
                .cloned();
            known.unwrap_or_else(|| {
                let made = make();
                handles
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .entry((method, status))
                    .or_default()
                    .insert(route.into(), made.clone());
                made
            })
        }
    };
    counter.increment(1);
    histogram.record(elapsed.as_secs_f64());
}

pub fn verification(outcome: &'static str, group: &str) {
    metrics::counter!("perkgate_verifications_total", "outcome" => outcome, "group" => group.to_owned())
        .increment(1);
}

pub fn idme_call(endpoint: &'static str, elapsed: Duration, error: Option<&'static str>) {
    metrics::histogram!("perkgate_idme_request_duration_seconds", "endpoint" => endpoint)
        .record(elapsed.as_secs_f64());
    if let Some(kind) = error {
        metrics::counter!("perkgate_idme_errors_total", "endpoint" => endpoint, "kind" => kind)
            .increment(1);
    }
}

pub fn claim(offer: &str, result: &'static str) {
    metrics::counter!("perkgate_claims_total", "offer" => offer.to_owned(), "result" => result)
        .increment(1);
}

pub fn pool_remaining(pool: &str, remaining: u64) {
    metrics::gauge!("perkgate_pool_codes_remaining", "pool" => pool.to_owned())
        .set(remaining as f64);
}

pub fn connection_refused(listener: &'static str, cap: &'static str) {
    metrics::counter!("perkgate_connections_refused_total", "listener" => listener, "cap" => cap)
        .increment(1);
}

pub fn connection_timed_out(timer: &'static str) {
    metrics::counter!("perkgate_connections_timed_out_total", "timer" => timer).increment(1);
}

/// A webhook delivery attempt: `result` is `delivered`, `retrying` or `failed` (given up).
pub fn webhook_attempt(event: &'static str, result: &'static str) {
    metrics::counter!("perkgate_webhook_attempts_total", "event" => event, "result" => result)
        .increment(1);
}

pub fn webhook_endpoint_disabled() {
    metrics::counter!("perkgate_webhook_endpoints_disabled_total").increment(1);
}
