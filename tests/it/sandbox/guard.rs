//! The sandbox starts beyond loopback only when told to, and then says so: at start-up and
//! whenever it answers a request from outside. Its pages share the per-client rate limit;
//! its back channel (perkgate calling itself) does not.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{authorize_url, request_id};
use crate::harness::logs::capture_logs;
use crate::harness::*;

const WARNING: &str = "the embedded ID.me sandbox answered a request from beyond this machine";

/// Runs the real binary with these settings and no ID.me; its exit code and stderr, once it
/// has exited (bounded).
fn refused_start(vars: &[(&str, &str)]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_perkgate"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("PERKGATE_")) {
        cmd.env_remove(k);
    }
    let db = format!("sqlite://{}", dir.path().join("perkgate.db").display());
    let mut child = cmd
        .env("PERKGATE_CONFIG", &empty)
        .env("PERKGATE_DATABASE_URL", &db)
        .envs(vars.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code().unwrap_or(-1);
        }
        if started.elapsed() > Duration::from_secs(15) {
            let _ = child.kill();
            panic!("perkgate started although the sandbox would serve beyond loopback");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    (code, stderr)
}

#[tokio::test]
async fn the_sandbox_refuses_to_start_beyond_loopback_without_the_setting() {
    for (vars, why) in [
        (
            vec![
                ("PERKGATE_LISTEN", "127.0.0.1:0"),
                ("PERKGATE_PUBLIC_URL", "http://shop.example:8080"),
            ],
            "PERKGATE_PUBLIC_URL is http://shop.example:8080/, not a loopback address",
        ),
        (
            vec![("PERKGATE_LISTEN", "0.0.0.0:0")],
            "PERKGATE_LISTEN is 0.0.0.0:0, every interface",
        ),
    ] {
        let (code, stderr) = refused_start(&vars);
        assert_eq!(code, 2, "{stderr}");
        for says in [
            why,
            "the embedded sandbox would answer for ID.me",
            "Set PERKGATE_IDME_URL, PERKGATE_IDME_CLIENT_ID and PERKGATE_IDME_CLIENT_SECRET, \
             or PERKGATE_ALLOW_SANDBOX=1",
        ] {
            assert!(stderr.contains(says), "{says:?} in {stderr}");
        }
    }
}

#[tokio::test]
async fn allowed_beyond_loopback_it_starts_and_warns_once_per_outsider() {
    let logs = capture_logs();
    let app = spawn_with(
        Options::default()
            .var("PERKGATE_PUBLIC_URL", "http://shop.example:8080")
            .var("PERKGATE_ALLOW_SANDBOX", "1"),
    )
    .await;
    assert!(
        logs.text().contains(
            "the embedded ID.me sandbox serves beyond this machine (PERKGATE_PUBLIC_URL is \
             http://shop.example:8080/, not a loopback address; PERKGATE_ALLOW_SANDBOX is set): \
             anyone who reaches it can verify as any persona"
        ),
        "{}",
        logs.text()
    );
    let shopper = app.shopper();
    let page = app.url("/sandbox/idme/groups");
    let get = |host: &'static str| {
        let req = shopper.client().get(&page);
        async move {
            let req = if host.is_empty() {
                req
            } else {
                req.header("host", host)
            };
            req.send().await.unwrap().status()
        }
    };
    // From loopback to a loopback Host: nothing to say.
    assert_eq!(get("").await, 400);
    assert!(!logs.text().contains(WARNING));
    // Addressed to the public host, as through a local reverse proxy: warned once per host.
    for host in ["shop.example:8080", "shop.example:8080", "other.example"] {
        assert_eq!(get(host).await, 400);
    }
    let text = logs.text();
    assert_eq!(text.matches(WARNING).count(), 2, "{text}");
    assert!(
        text.contains("from=Host shop.example:8080") && text.contains("from=Host other.example")
    );
    // The store's own pages are not the sandbox.
    let res = shopper
        .client()
        .get(app.url("/"))
        .header("host", "third.example")
        .send()
        .await;
    assert_eq!(res.unwrap().status(), 200);
    assert_eq!(logs.text().matches(WARNING).count(), 2);
}

#[tokio::test]
async fn the_sandbox_pages_have_a_flood_ceiling_and_its_back_channel_does_not() {
    // The sandbox's pages get the callback's treatment: a per-address flood ceiling (here 3,
    // with nothing refilling during the test), apart from the limits on starting verifications.
    let app = spawn_with(
        Options::default()
            .var("PERKGATE_RATE_LIMIT_PER_MINUTE", "6")
            .var("PERKGATE_RATE_LIMIT_BURST", "3")
            .var("PERKGATE_RATE_LIMIT_CALLBACK_PER_MINUTE", "3"),
    )
    .await;
    let shopper = app.shopper();
    let page = authorize_url(&app.base, &"v".repeat(43), &[]);
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(shopper.get(&page).await.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 429]);
    let res = shopper.get(&app.url("/sandbox/idme/groups")).await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    let id = request_id(&res);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("Too many attempts") && body.contains(&id),
        "{body}"
    );
    // Starting a verification is limited per browser, apart: the flood spent none of it.
    let csrf = app.csrf().await;
    assert_eq!(app.post_csrf("/verify/military", &csrf).await.status(), 303);
    // The token endpoint answers perkgate (from this same address) as before.
    let res = shopper
        .client()
        .post(app.url("/sandbox/idme/oauth/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", "unknown"),
            ("redirect_uri", "x"),
            ("code_verifier", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let json: serde_json::Value = res.json().await.unwrap();
    assert_eq!(json["error"], "invalid_client");
    assert_eq!(app.authorize_calls(), 3);
}
