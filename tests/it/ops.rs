//! Operations: the ops listener (`PERKGATE_OPS_LISTEN`) takes `/metrics` and the detailed
//! `/readyz` off the main listener; HSTS behind an https public URL (`PERKGATE_HSTS`).

use crate::harness::process::{Instance, free_port};
use crate::harness::*;

async fn get(url: &str) -> (u16, String) {
    let res = reqwest::get(url).await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

#[tokio::test]
async fn with_an_ops_listener_metrics_and_details_leave_the_main_listener() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("perkgate.db").display());
    let ops = format!("127.0.0.1:{}", free_port());
    let instance = Instance::start(
        &[
            ("PERKGATE_DATABASE_URL", db.as_str()),
            ("PERKGATE_OPS_LISTEN", ops.as_str()),
        ],
        dir.path(),
    )
    .await;
    let ops = |path: &str| format!("http://{ops}{path}");

    assert_eq!(get(&instance.url("/")).await.0, 200);
    assert_eq!(get(&instance.url("/healthz")).await, (200, "ok".to_owned()));
    let (status, _) = get(&instance.url("/metrics")).await;
    assert_eq!(status, 404, "no metrics on the main listener");
    let (status, body) = get(&instance.url("/readyz")).await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap(),
        serde_json::json!({ "status": "ready" }),
        "the main listener's readiness is the bare status"
    );

    let (status, metrics) = get(&ops("/metrics")).await;
    assert_eq!(status, 200);
    for expected in [
        "http_requests_total{method=\"GET\",route=\"/\",status=\"200\"}",
        "perkgate_pool_codes_remaining{pool=",
        "perkgate_connections_open{listener=\"main\"}",
    ] {
        assert!(
            metrics.contains(expected),
            "ops /metrics has {expected}:\n{metrics}"
        );
    }
    let (status, body) = get(&ops("/readyz")).await;
    assert_eq!(status, 200);
    let ready: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["database"], "ok");
    assert_eq!(
        ready["rules"]["offers"], 7,
        "the details on the ops listener: {ready}"
    );
    assert_eq!(get(&ops("/healthz")).await, (200, "ok".to_owned()));
    assert_eq!(
        get(&ops("/")).await.0,
        404,
        "the ops listener serves nothing else"
    );
}

/// `Strict-Transport-Security` on a page, a health check and an error page.
async fn hsts(vars: &[(&str, &str)]) -> Vec<Option<String>> {
    let mut options = Options::default();
    for (k, v) in vars {
        options = options.var(k, v);
    }
    let app = spawn_with(options).await;
    let mut seen = Vec::new();
    for path in ["/", "/healthz", "/no-such-page"] {
        let res = reqwest::get(app.url(path)).await.unwrap();
        seen.push(
            res.headers()
                .get("strict-transport-security")
                .map(|v| v.to_str().unwrap().to_owned()),
        );
    }
    app.stop().await;
    seen
}

#[tokio::test]
async fn hsts_is_sent_behind_https_only_and_configurable() {
    const HTTPS: (&str, &str) = ("PERKGATE_PUBLIC_URL", "https://shop.example");
    const SANDBOX: (&str, &str) = ("PERKGATE_ALLOW_SANDBOX", "1");
    let year = Some("max-age=31536000".to_owned());
    assert_eq!(
        hsts(&[HTTPS, SANDBOX]).await,
        vec![year.clone(); 3],
        "on by default"
    );
    assert_eq!(
        hsts(&[HTTPS, SANDBOX, ("PERKGATE_HSTS", "on")]).await,
        vec![year; 3]
    );
    assert_eq!(
        hsts(&[HTTPS, SANDBOX, ("PERKGATE_HSTS", "600")]).await,
        vec![Some("max-age=600".to_owned()); 3]
    );
    assert_eq!(
        hsts(&[HTTPS, SANDBOX, ("PERKGATE_HSTS", "off")]).await,
        vec![None; 3]
    );
    // Over http browsers ignore it, so it is never sent.
    assert_eq!(hsts(&[]).await, vec![None; 3]);
    assert_eq!(hsts(&[("PERKGATE_HSTS", "600")]).await, vec![None; 3]);
}
