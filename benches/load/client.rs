//! The HTTP client: hyper-util's legacy client, one keep-alive connection per worker, counting
//! the connections it opens so keep-alive can be checked.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{Method, Request, StatusCode, Uri, header};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

#[derive(Clone)]
pub(crate) struct CountingConnector {
    inner: HttpConnector,
    opened: Arc<AtomicU64>,
}

impl tower::Service<Uri> for CountingConnector {
    type Response = <HttpConnector as tower::Service<Uri>>::Response;
    type Error = <HttpConnector as tower::Service<Uri>>::Error;
    type Future = <HttpConnector as tower::Service<Uri>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        self.opened.fetch_add(1, Ordering::Relaxed);
        self.inner.call(uri)
    }
}

pub(crate) type HttpClient = Client<CountingConnector, Body>;

pub(crate) fn new_client(opened: &Arc<AtomicU64>) -> HttpClient {
    let mut inner = HttpConnector::new();
    inner.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(1)
        .pool_idle_timeout(Duration::from_secs(90))
        .build(CountingConnector {
            inner,
            opened: opened.clone(),
        })
}

pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) cookie: Option<String>,
    pub(crate) location: Option<String>,
    pub(crate) body: Bytes,
}

pub(crate) async fn send(
    client: &HttpClient,
    method: Method,
    uri: Uri,
    cookie: Option<&str>,
    form: Option<String>,
) -> Result<Reply, String> {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(cookie) = cookie {
        req = req.header(header::COOKIE, cookie);
    }
    let body = match form {
        Some(form) => {
            req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            Body::from(form)
        }
        None => Body::empty(),
    };
    let req = req.body(body).map_err(|e| format!("request: {e}"))?;
    let res = client
        .request(req)
        .await
        .map_err(|e| format!("send: {e}"))?;
    let status = res.status();
    // The session cookie (`perkgate=`), or else the form-token cookie of a visitor without a
    // session (`perkgate-csrf=`): what the next request of the flow must send; the console's
    // own (`perkgate-admin=`) for the dashboard scenario.
    let cookies: Vec<&str> = res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .collect();
    let cookie = ["perkgate=", "perkgate-csrf=", "perkgate-admin="]
        .iter()
        .find_map(|name| cookies.iter().rev().find(|c| c.starts_with(name)))
        .map(|c| (*c).to_owned());
    let location = res
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // Read the whole body: the connection goes back to the pool only then.
    let body = axum::body::to_bytes(Body::new(res.into_body()), 4 << 20)
        .await
        .map_err(|e| format!("body: {e}"))?;
    Ok(Reply {
        status,
        cookie,
        location,
        body,
    })
}

pub(crate) fn uri(base: SocketAddr, path_and_query: &str) -> Result<Uri, String> {
    format!("http://{base}{path_and_query}")
        .parse()
        .map_err(|e| format!("uri {path_and_query}: {e}"))
}

pub(crate) fn hidden_csrf(html: &[u8]) -> Option<String> {
    let html = std::str::from_utf8(html).ok()?;
    let needle = "name=\"csrf\" value=\"";
    let start = html.find(needle)? + needle.len();
    let end = start + html[start..].find('"')?;
    Some(html[start..end].to_owned())
}

pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
