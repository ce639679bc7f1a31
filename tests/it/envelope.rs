//! Every error in the envelope: rejections that axum would answer in plain text (a repeated
//! query key, a path that is not UTF-8, a missing or wrongly typed form field, a body too large
//! or of the wrong type) get the project's page, JSON under `/api/`, the sandbox's page, or
//! OAuth's JSON error on the sandbox's token endpoint: each with the right status and the
//! request id as its correlation id.

use crate::harness::*;
use crate::sandbox::authorize_url;

/// Over the 16 KiB body limit.
fn oversized() -> String {
    format!("csrf={}", "a".repeat(17 * 1024))
}

/// Our HTML error page with the request id as reference; returns the message.
async fn page(res: reqwest::Response, status: u16) -> String {
    assert_eq!(res.status(), status, "{}", res.url());
    assert_eq!(
        res.headers()["content-type"],
        "text/html; charset=utf-8",
        "{}",
        res.url()
    );
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body = res.text().await.unwrap();
    assert!(
        body.contains(&format!("data-testid=\"correlation-id\">{id}</code>")),
        "{body}"
    );
    let start = body.find("data-testid=\"message\"").expect("a message");
    let start = start + body[start..].find('>').unwrap() + 1;
    body[start..start + body[start..].find("</p>").unwrap()].to_owned()
}

/// A JSON error with the request id as `correlation_id`.
async fn json(res: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(res.status(), status, "{}", res.url());
    assert_eq!(res.headers()["content-type"], "application/json");
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["correlation_id"], id.as_str(), "{body}");
    body
}

#[tokio::test]
async fn repeated_query_keys_and_a_non_utf8_path_get_our_page_or_json() {
    let app = spawn_app().await;
    let shopper = app.shopper();
    let res = shopper
        .get("/auth/idme/callback?code=c&state=aaaaaaaaaaaaaaaaaaaa&state=bbbbbbbbbbbbbbbbbbbb")
        .await;
    assert!(page(res, 400).await.contains("or had them more than once"));

    let res = shopper.get("/api/v1/benefit?callback=a&callback=b").await;
    let body = json(res, 400).await;
    assert_eq!(body["error"], "bad_request");

    let csrf = shopper.csrf().await;
    let res = shopper.post_csrf("/verify/%FF", &csrf).await;
    assert_eq!(page(res, 400).await, "Go back to the store and try again.");
    let res = shopper.get("/static/%FF").await;
    assert_eq!(page(res, 400).await, "Go back to the store and try again.");
    assert_eq!(app.authorize_calls() + app.token_calls(), 0);
}

#[tokio::test]
async fn oversized_and_wrongly_typed_bodies_get_413_and_415() {
    let app = spawn_app().await;
    let shopper = app.shopper();
    let csrf = shopper.csrf().await;
    for path in ["/verify/military", "/verify", "/reset"] {
        let res = shopper
            .client()
            .post(shopper.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(oversized())
            .send()
            .await
            .unwrap();
        assert!(
            page(res, 413).await.contains("larger than we accept"),
            "{path}"
        );
        let res = shopper
            .client()
            .post(shopper.url(path))
            .json(&serde_json::json!({ "csrf": csrf }))
            .send()
            .await
            .unwrap();
        assert!(
            page(res, 415).await.contains("takes a form submission"),
            "{path}"
        );
    }
    // Under the limit a form is read as before: the right token still works.
    assert_eq!(
        shopper.post_csrf("/verify/military", &csrf).await.status(),
        303
    );
}

#[tokio::test]
async fn the_sandbox_refuses_bad_forms_with_its_page_and_its_token_endpoint_in_oauth_json() {
    let app = spawn_app().await;
    let shopper = app.shopper();
    let consent = app.url("/sandbox/idme/oauth/authorize");
    // The persona page's form, without a persona.
    let sign_in = shopper
        .get(&authorize_url(&app.base, &"v".repeat(43), &[]))
        .await
        .text()
        .await
        .unwrap();
    let request = hidden(&sign_in, "request");
    let res = shopper
        .client()
        .post(&consent)
        .form(&[("request", request.as_str())])
        .send()
        .await
        .unwrap();
    let says = crate::sandbox::sandbox_refusal(res, 400).await;
    assert_eq!(
        says,
        "The form is incomplete or malformed: missing field `persona`."
    );
    let res = shopper
        .client()
        .post(&consent)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(oversized())
        .send()
        .await
        .unwrap();
    let says = crate::sandbox::sandbox_refusal(res, 413).await;
    assert_eq!(says, "The request body is larger than the sandbox accepts.");
    let res = shopper
        .client()
        .post(&consent)
        .json(&serde_json::json!({ "request": request, "persona": "veteran" }))
        .send()
        .await
        .unwrap();
    let says = crate::sandbox::sandbox_refusal(res, 415).await;
    assert!(says.contains("The sandbox takes a form"), "{says}");

    let token = app.url("/sandbox/idme/oauth/token");
    let post = |body: reqwest::RequestBuilder| async move { body.send().await.unwrap() };
    let client = shopper.client();
    let sandbox = app.sandbox();
    let (id, secret) = (sandbox.client_id.as_str(), sandbox.client_secret.expose());
    for (res, status, description) in [
        // A missing parameter, once the client is authenticated (before, it is invalid_client).
        (
            post(client.post(&token).form(&[
                ("grant_type", "authorization_code"),
                ("client_id", id),
                ("client_secret", secret),
            ]))
            .await,
            400,
            "missing parameter: code",
        ),
        (
            post(client.post(&token).form(&[
                ("grant_type", "authorization_code"),
                ("code", "a"),
                ("code", "b"),
                ("redirect_uri", "x"),
                ("code_verifier", "x"),
            ]))
            .await,
            400,
            "The form is incomplete or malformed: duplicate field `code`.",
        ),
        (
            post(
                client
                    .post(&token)
                    .json(&serde_json::json!({"grant_type": "authorization_code"})),
            )
            .await,
            415,
            "The sandbox takes a form (Content-Type: application/x-www-form-urlencoded).",
        ),
        (
            post(
                client
                    .post(&token)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(oversized()),
            )
            .await,
            413,
            "The request body is larger than the sandbox accepts.",
        ),
    ] {
        assert_eq!(res.headers()["cache-control"], "no-store");
        let body = json(res, status).await;
        assert_eq!(body["error"], "invalid_request", "{body}");
        assert_eq!(body["error_description"], description);
    }
    // The endpoint's own OAuth errors carry the correlation id too.
    let res = post(client.post(&token).form(&[
        ("grant_type", "authorization_code"),
        ("code", "a"),
        ("redirect_uri", "x"),
        ("code_verifier", "x"),
    ]))
    .await;
    assert_eq!(json(res, 401).await["error"], "invalid_client");
    assert_eq!(app.sandbox_stored().codes, 0);
}
