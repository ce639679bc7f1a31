//! What every answer carries and how errors look: JSONP, CSRF, unknown groups, security headers,
//! request ids, health, wrong methods and paths, metrics (rate limits: `tests/it/limits.rs`).

use crate::harness::*;

#[tokio::test]
async fn jsonp_is_served_for_safe_names_and_refused_otherwise() {
    let app = spawn_app().await;
    app.verify_as("military", "service_member").await;
    let res = app.get("/api/v1/benefit?callback=shop.onBenefit_1").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"],
        "application/javascript; charset=utf-8"
    );
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    let body = res.text().await.unwrap();
    assert!(
        body.starts_with("/**/shop.onBenefit_1({\"verified\":true"),
        "{body}"
    );
    assert!(body.ends_with("});"));

    for bad in ["alert(1)", "a-b", "1x", "x..y", "%3Cscript%3E", ""] {
        let res = app.get(&format!("/api/v1/benefit?callback={bad}")).await;
        assert_eq!(res.status(), 400, "{bad}");
        assert_eq!(res.headers()["content-type"], "application/json");
        let json: serde_json::Value = res.json().await.unwrap();
        assert_eq!(json["error"], "bad_request");
        assert!(
            json["correlation_id"]
                .as_str()
                .is_some_and(|s| !s.is_empty())
        );
    }
    // Without a session: not verified, and no session is created by the API.
    let res = reqwest::Client::new()
        .get(app.url("/api/v1/benefit"))
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("set-cookie").is_none());
    let json: serde_json::Value = res.json().await.unwrap();
    assert_eq!(json["verified"], false);
    assert!(json["benefit"].is_null());
}

#[tokio::test]
async fn forms_without_the_csrf_token_are_refused() {
    let app = spawn_app().await;
    let shopper = app.shopper();
    let _ = shopper.home().await;
    for (path, body) in [
        ("/verify/military", vec![]),
        ("/verify/military", vec![("csrf", "forged")]),
        ("/reset", vec![]),
        ("/reset", vec![("csrf", "")]),
    ] {
        let res = shopper
            .client()
            .post(shopper.url(path))
            .form(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{path} {body:?}");
        assert!(res.headers().get("location").is_none());
        assert!(res.text().await.unwrap().contains("This form has expired"));
    }
    // A real token from another session is no better.
    let other = app.shopper();
    let csrf = other.csrf().await;
    let res = shopper.post_csrf("/verify/military", &csrf).await;
    assert_eq!(res.status(), 403);
    // Once a form has made a session, the session's token rules, and the same forgeries fail.
    let own = shopper.csrf().await;
    let res = shopper.post_csrf("/verify/military", &own).await;
    assert_eq!(res.status(), 303);
    for token in ["forged", "", csrf.as_str()] {
        let res = shopper.post_csrf("/reset", token).await;
        assert_eq!(res.status(), 403, "{token:?}");
    }
    assert_eq!(app.token_calls() + app.authorize_calls(), 0);
}

#[tokio::test]
async fn an_unknown_group_is_not_found() {
    let app = spawn_app().await;
    let csrf = app.csrf().await;
    for group in ["government", "mil.itary", "military%20student", "MILITARY"] {
        let res = app.post_csrf(&format!("/verify/{group}"), &csrf).await;
        assert_eq!(res.status(), 404, "{group}");
    }
}

#[tokio::test]
async fn pages_carry_security_headers_and_no_store() {
    let app = spawn_app().await;
    let authorize = app.start_verify("military").await;
    let callback = app.sandbox_pick(&authorize, "service_member").await;
    for path in [
        "/",
        "/api/v1/benefit",
        "/auth/idme/callback?state=x",
        "/nope",
    ] {
        let res = app.get(path).await;
        let h = res.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
            "{path}"
        );
        assert!(!csp.contains("unsafe-inline"));
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(h["cache-control"], "no-store", "{path}");
        assert!(h.contains_key("x-request-id"));
    }
    let res = app.get(&callback).await;
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(res.headers()["referrer-policy"], "no-referrer");
    // Static files may be cached; the page has no inline script to allow.
    let res = app.get("/static/app.js").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let (_, page) = app.home().await;
    assert!(!page.contains("<script>") && page.contains("<script src=\"/static/app.js\""));
}
#[tokio::test]
async fn an_incoming_request_id_is_kept_and_shown_as_the_correlation_id() {
    let app = spawn_app().await;
    let res = reqwest::Client::new()
        .get(app.url("/auth/idme/callback?code=x&state=y"))
        .header("x-request-id", "lb-1234_abc")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "lb-1234_abc");
    let page = res.text().await.unwrap();
    assert!(
        page.contains("<code data-testid=\"correlation-id\">lb-1234_abc</code>"),
        "{page}"
    );
    // A header that could forge log lines is replaced.
    let res = reqwest::Client::new()
        .get(app.url("/healthz"))
        .header("x-request-id", "evil id\tx")
        .send()
        .await
        .unwrap();
    assert_ne!(res.headers()["x-request-id"], "evil id\tx");
}

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    let res = client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("set-cookie").is_none());
    let res = client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let json: serde_json::Value = res.json().await.unwrap();
    assert_eq!(json["status"], "ready");
    assert_eq!(json["database"], "ok");
    assert_eq!(json["rules"]["offers"], 7);
}

#[tokio::test]
async fn wrong_methods_and_unknown_paths_get_a_page() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    let res = client.post(app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 405);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("data-testid=\"message\"")
    );
    let res = client
        .get(app.url("/verify/military"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    let res = client.get(app.url("/no/such/page")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert!(res.text().await.unwrap().contains("Page not found"));
}

#[tokio::test]
async fn metrics_count_requests_verifications_and_idme_calls_without_personal_data() {
    let app = spawn_app().await;
    app.verify_as("military", "service_member").await;
    app.shopper().verify_as("military", "unverified").await;
    let res = reqwest::get(app.url("/metrics")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = res.text().await.unwrap();
    for expected in [
        r#"http_requests_total{method="GET",route="/",status="200"}"#,
        r#"http_requests_total{method="POST",route="/verify/{group}",status="303"}"#,
        r#"perkgate_verifications_total{outcome="unlocked",group="military"}"#,
        r#"perkgate_verifications_total{outcome="not_verified",group="military"}"#,
        r#"perkgate_idme_request_duration_seconds_count{endpoint="token"}"#,
        r#"perkgate_claims_total{offer="military",result="issued"}"#,
        r#"perkgate_pool_codes_remaining{pool="veteran-codes"}"#,
        "http_request_duration_seconds_bucket",
    ] {
        assert!(text.contains(expected), "missing {expected} in:\n{text}");
    }
    // Labels are templates and handles: no persona data, no codes, no tokens.
    for secret in [
        "Sergio",
        "Testerman",
        "sandbox.invalid",
        "5a0dbe7e",
        "SALUTE15",
        "state=",
    ] {
        assert!(!text.contains(secret), "metrics contain {secret}");
    }
}
