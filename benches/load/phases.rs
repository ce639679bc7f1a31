//! Load phases: the operation each worker repeats, the workers, and what they came to.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode, Uri};

use crate::client::{HttpClient, send};
use crate::flow::flow;
use crate::{MAX_ITERS_PER_WORKER, OP_TIMEOUT};

#[derive(Clone)]
pub(crate) enum Op {
    /// GET this URI (with this cookie), expect a 200.
    Get(Uri, Option<Arc<str>>),
    /// A complete flow.
    Flow(SocketAddr),
}

impl Op {
    /// Ok: per-step timings for a flow, None for a single request.
    async fn once(&self, client: &HttpClient) -> Result<Option<[Duration; 4]>, String> {
        match self {
            Op::Get(uri, cookie) => {
                let r = send(client, Method::GET, uri.clone(), cookie.as_deref(), None).await?;
                if r.status == StatusCode::OK {
                    Ok(None)
                } else {
                    Err(format!("{uri} answered {}", r.status))
                }
            }
            Op::Flow(base) => flow(client, *base).await.map(|(_, steps)| Some(steps)),
        }
    }
}

#[derive(Default)]
pub(crate) struct Outcome {
    pub(crate) ok: u64,
    pub(crate) errors: u64,
    pub(crate) first_error: Option<String>,
    /// Microseconds per successful operation.
    pub(crate) latencies: Vec<u32>,
    /// Flows: total time spent in each of the four requests.
    pub(crate) steps: [Duration; 4],
    pub(crate) elapsed: Duration,
}

async fn worker(client: HttpClient, op: Op, until: Instant) -> Outcome {
    let mut out = Outcome {
        latencies: Vec::with_capacity(1 << 14),
        ..Outcome::default()
    };
    for _ in 0..MAX_ITERS_PER_WORKER {
        let t = Instant::now();
        if t >= until {
            break;
        }
        match tokio::time::timeout(OP_TIMEOUT, op.once(&client)).await {
            Ok(Ok(steps)) => {
                out.ok += 1;
                for (total, step) in out.steps.iter_mut().zip(steps.unwrap_or_default()) {
                    *total += step;
                }
                out.latencies
                    .push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
            }
            Ok(Err(e)) => {
                out.errors += 1;
                out.first_error.get_or_insert(e);
            }
            Err(_) => {
                out.errors += 1;
                out.first_error
                    .get_or_insert_with(|| format!("no answer within {OP_TIMEOUT:?}"));
            }
        }
    }
    out
}

pub(crate) async fn phase(clients: &[HttpClient], op: &Op, length: Duration) -> Outcome {
    let started = Instant::now();
    let until = started + length;
    let mut set = tokio::task::JoinSet::new();
    for client in clients {
        set.spawn(worker(client.clone(), op.clone(), until));
    }
    let mut total = Outcome::default();
    while let Some(done) = set.join_next().await {
        let Ok(out) = done else {
            total.errors += 1;
            total
                .first_error
                .get_or_insert("a worker panicked".to_owned());
            continue;
        };
        total.ok += out.ok;
        total.errors += out.errors;
        if total.first_error.is_none() {
            total.first_error = out.first_error;
        }
        total.latencies.extend(out.latencies);
        for (t, s) in total.steps.iter_mut().zip(out.steps) {
            *t += s;
        }
    }
    total.elapsed = started.elapsed();
    total.latencies.sort_unstable();
    total
}
