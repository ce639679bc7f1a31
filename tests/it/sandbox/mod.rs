//! The embedded sandbox cannot be abused: what it stores stays at its caps however many sign-in
//! pages are requested (`bounds`), over-long fields are refused with its own page, its pages
//! share the per-client rate limit, and it starts beyond loopback only when told to, warning
//! whenever it answers from there (`guard`).

mod bounds;
mod guard;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// A state as perkgate makes them (43 URL-safe characters).
pub const STATE: &str = "sandbox-test-state-0123456789abcdefghijklmn";

/// The sandbox's authorize URL on the perkgate at `base`, as perkgate sends a browser there,
/// with the PKCE challenge of `verifier`, and `extra` parameters replacing or adding to
/// perkgate's.
pub fn authorize_url(base: &str, verifier: &str, extra: &[(&str, &str)]) -> String {
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let callback = format!("{base}/auth/idme/callback");
    let mut params: Vec<(&str, &str)> = vec![
        ("client_id", "perkgate-sandbox"),
        ("redirect_uri", &callback),
        ("response_type", "code"),
        ("scope", "military"),
        ("state", STATE),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ];
    for (k, v) in extra {
        match params.iter_mut().find(|(key, _)| key == k) {
            Some(p) => p.1 = v,
            None => params.push((k, v)),
        }
    }
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    format!("{base}/sandbox/idme/oauth/authorize?{query}")
}

/// The sandbox's error page, with this response's request id as its reference; the message.
pub async fn sandbox_refusal(res: reqwest::Response, status: u16) -> String {
    assert_eq!(res.status(), status);
    let id = request_id(&res);
    assert_eq!(content_type(&res), "text/html; charset=utf-8");
    let page = res.text().await.unwrap();
    assert!(page.contains("Sandbox refused the request"), "{page}");
    assert!(
        page.contains(&format!("data-testid=\"correlation-id\">{id}</code>")),
        "{page}"
    );
    let start = page
        .find("data-testid=\"message\" role=\"alert\">")
        .expect("message")
        + 35;
    page[start..start + page[start..].find("</p>").unwrap()].to_owned()
}

pub fn request_id(res: &reqwest::Response) -> String {
    res.headers()["x-request-id"].to_str().unwrap().to_owned()
}

pub fn content_type(res: &reqwest::Response) -> String {
    res.headers()["content-type"].to_str().unwrap().to_owned()
}

/// `VmRSS` of the process in MiB (0 when unreadable).
pub fn rss_mib(pid: u32) -> f64 {
    crate::harness::process::rss_bytes(pid) as f64 / (1024.0 * 1024.0)
}
