//! One complete shopper flow: the storefront, the verification, ID.me's callback and the
//! page that shows the benefit.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};

use crate::client::{HttpClient, contains, hidden_csrf, send, uri};

/// The four requests of a flow, for per-step timings.
pub(crate) const STEPS: [&str; 4] = [
    "GET /",
    "POST /verify/military",
    "GET /auth/idme/callback",
    "GET / (verified)",
];

/// One complete shopper flow on a new session. Ok: the final page shows the benefit; the
/// verified session's cookie and the time each request took.
pub(crate) async fn flow(
    client: &HttpClient,
    base: SocketAddr,
) -> Result<(String, [Duration; 4]), String> {
    let mut steps = [Duration::ZERO; 4];
    let t = Instant::now();
    let home = send(client, Method::GET, uri(base, "/")?, None, None).await?;
    steps[0] = t.elapsed();
    if home.status != StatusCode::OK {
        return Err(format!("GET / answered {}", home.status));
    }
    // A first look stores no session: only the cookie behind the form's token.
    let csrf_cookie = home.cookie.ok_or("GET / set no form-token cookie")?;
    let csrf = hidden_csrf(&home.body).ok_or("no csrf field on the storefront")?;
    let t = Instant::now();
    let start = send(
        client,
        Method::POST,
        uri(base, "/verify/military")?,
        Some(&csrf_cookie),
        Some(format!("csrf={csrf}")),
    )
    .await?;
    steps[1] = t.elapsed();
    if start.status != StatusCode::SEE_OTHER {
        return Err(format!("POST /verify/military answered {}", start.status));
    }
    let cookie = start
        .cookie
        .filter(|c| c.starts_with("perkgate="))
        .ok_or("POST /verify/military set no session cookie")?;
    let authorize = start.location.ok_or("POST /verify/military: no Location")?;
    let state = url::Url::parse(&authorize)
        .ok()
        .and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == "state")
                .map(|(_, v)| v.into_owned())
        })
        .ok_or_else(|| format!("no state in {authorize}"))?;
    // The state is URL-safe base64: no escaping needed.
    let t = Instant::now();
    let back = send(
        client,
        Method::GET,
        uri(base, &format!("/auth/idme/callback?code=x&state={state}"))?,
        Some(&cookie),
        None,
    )
    .await?;
    steps[2] = t.elapsed();
    if back.status != StatusCode::SEE_OTHER || back.location.as_deref() != Some("/") {
        return Err(format!(
            "callback answered {} to {:?}",
            back.status, back.location
        ));
    }
    let verified = back.cookie.ok_or("callback set no new perkgate cookie")?;
    let t = Instant::now();
    let page = send(client, Method::GET, uri(base, "/")?, Some(&verified), None).await?;
    steps[3] = t.elapsed();
    if page.status != StatusCode::OK {
        return Err(format!("GET / after the callback answered {}", page.status));
    }
    if !contains(&page.body, b"data-testid=\"benefit\"") {
        return Err("GET / after the callback shows no benefit".to_owned());
    }
    Ok((verified, steps))
}
