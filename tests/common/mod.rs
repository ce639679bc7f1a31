//! The test harness: the real app on port 0 with a real SQLite session store, a cookie-jar
//! client, and helpers that walk the flow over HTTP. Shared by every integration test file.
#![allow(dead_code)]

pub mod fake_idme;
pub mod process;
pub mod proxy;
pub mod stores;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use perkgate::sandbox::Calls;
use perkgate::{App, Config};
use reqwest::redirect::Policy;
use tokio::sync::oneshot;

pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    /// The embedded sandbox's call counters (None when a fake ID.me is configured).
    pub calls: Option<Arc<Calls>>,
    pub db_url: String,
    pub dir: Arc<tempfile::TempDir>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Settings for one test app. The database lives in `dir` unless given.
#[derive(Default, Clone)]
pub struct Options {
    pub vars: Vec<(String, String)>,
    /// Reuse another app's folder (same SQLite file): a restart.
    pub dir: Option<Arc<tempfile::TempDir>>,
    /// Rules file contents, written to the app's folder as `rules.toml`.
    pub rules: Option<String>,
}

impl Options {
    pub fn var(mut self, k: &str, v: &str) -> Self {
        self.vars.push((k.to_owned(), v.to_owned()));
        self
    }
    pub fn rules(mut self, text: &str) -> Self {
        self.rules = Some(text.to_owned());
        self
    }
    pub fn idme(self, url: &str) -> Self {
        self.var("PERKGATE_IDME_URL", url)
            .var("PERKGATE_IDME_CLIENT_ID", "test-client")
            .var("PERKGATE_IDME_CLIENT_SECRET", "test-secret-value")
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_with(Options::default()).await
}

pub async fn spawn_with(options: Options) -> TestApp {
    let dir = options
        .dir
        .unwrap_or_else(|| Arc::new(tempfile::tempdir().expect("temp dir")));
    let db_url = options
        .vars
        .iter()
        .find(|(k, _)| k == "PERKGATE_DATABASE_URL")
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("data/perkgate.db").display()));
    let empty_config = dir.path().join("perkgate.toml");
    std::fs::write(&empty_config, "").expect("write empty config");
    let mut vars = Vec::new();
    if let Some(rules) = &options.rules {
        let path = dir.path().join("rules.toml");
        std::fs::write(&path, rules).expect("write rules");
        vars.push(("PERKGATE_RULES".to_owned(), path.display().to_string()));
    }
    vars.extend([
        ("PERKGATE_LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
        ("PERKGATE_DATABASE_URL".to_owned(), db_url.clone()),
        (
            "PERKGATE_CONFIG".to_owned(),
            empty_config.display().to_string(),
        ),
        ("PERKGATE_IDME_TIMEOUT_MS".to_owned(), "2000".to_owned()),
        (
            "PERKGATE_IDME_CONNECT_TIMEOUT_MS".to_owned(),
            "1000".to_owned(),
        ),
        ("PERKGATE_RULES_POLL_MS".to_owned(), "100".to_owned()),
        // Tests drive many flows from one address; the limit has a test of its own.
        ("PERKGATE_RATE_LIMIT_PER_MINUTE".to_owned(), "0".to_owned()),
    ]);
    vars.extend(options.vars);
    let config = Config::from_vars(vars).expect("test config");
    let app = App::build(config).await.expect("app starts");
    let addr = app.local_addr();
    let calls = app.state().sandbox.as_ref().map(|s| s.calls.clone());
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        app.serve(async {
            let _ = rx.await;
        })
        .await
        .expect("serve");
    });
    TestApp {
        addr,
        base: format!("http://{addr}"),
        calls,
        db_url,
        dir,
        shutdown: Some(tx),
        task: Some(task),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stops accepting and waits for the server to finish (a restart keeps the database).
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("app stops in time")
                .expect("app task");
        }
    }

    pub fn token_calls(&self) -> u64 {
        self.calls.as_ref().map_or(0, |c| c.token())
    }

    /// A second connection to the app's database, as an operator's command would open.
    pub async fn db(&self) -> perkgate::db::Db {
        perkgate::db::connect(&self.db_url)
            .await
            .expect("open the app's database")
    }

    pub fn rules_path(&self) -> std::path::PathBuf {
        self.dir.path().join("rules.toml")
    }

    pub fn attributes_calls(&self) -> u64 {
        self.calls.as_ref().map_or(0, |c| c.attributes())
    }
}

/// A browser-like client: a cookie jar, no automatic redirects (tests follow them by hand).
pub fn browser() -> reqwest::Client {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .timeout(Duration::from_secs(15))
        .build()
        .expect("client")
}

pub fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no location on {}", res.status()))
        .to_owned()
}

/// The value of `name=` in the first hidden input of that name.
pub fn hidden(html: &str, name: &str) -> String {
    let needle = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&needle)
        .unwrap_or_else(|| panic!("no hidden {name} in page:\n{html}"))
        + needle.len();
    html[start..start + html[start..].find('"').expect("closing quote")].to_owned()
}

pub fn query_param(url: &str, name: &str) -> Option<String> {
    let url = reqwest::Url::parse(url).ok()?;
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// GET / and return (status, body).
pub async fn home(client: &reqwest::Client, app: &TestApp) -> (u16, String) {
    let res = client.get(app.url("/")).send().await.expect("GET /");
    (res.status().as_u16(), res.text().await.expect("body"))
}

/// Submits a form that carries only the CSRF token.
pub async fn post_csrf(client: &reqwest::Client, url: &str, csrf: &str) -> reqwest::Response {
    client
        .post(url)
        .form(&[("csrf", csrf)])
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {url}: {e}"))
}

/// Loads the store at `base` and submits the verify form for `group`; returns the redirect to
/// ID.me. For the in-process app and for separate processes alike.
pub async fn begin_at(client: &reqwest::Client, base: &str, group: &str) -> String {
    let page = client
        .get(format!("{base}/"))
        .send()
        .await
        .expect("GET /")
        .text()
        .await
        .expect("body");
    let csrf = hidden(&page, "csrf");
    let res = post_csrf(client, &format!("{base}/verify/{group}"), &csrf).await;
    assert_eq!(res.status(), 303, "verify redirects to ID.me");
    location(&res)
}

/// Loads the store and submits the verify form for `group`; returns the redirect to ID.me.
pub async fn start_verify(client: &reqwest::Client, app: &TestApp, group: &str) -> String {
    begin_at(client, &app.base, group).await
}

/// On the sandbox's page, picks a persona; returns the callback URL ID.me would send back.
pub async fn sandbox_pick(client: &reqwest::Client, authorize_url: &str, persona: &str) -> String {
    let page = client
        .get(authorize_url)
        .send()
        .await
        .expect("sandbox authorize")
        .text()
        .await
        .expect("body");
    let request = hidden(&page, "request");
    let base = authorize_url.split('?').next().expect("url");
    let res = client
        .post(base)
        .form(&[("request", request.as_str()), ("persona", persona)])
        .send()
        .await
        .expect("sandbox consent");
    assert_eq!(res.status(), 303, "sandbox redirects back");
    location(&res)
}

/// The whole flow on the sandbox for `persona`; returns the callback's response.
pub async fn verify_as(
    client: &reqwest::Client,
    app: &TestApp,
    group: &str,
    persona: &str,
) -> reqwest::Response {
    let authorize = start_verify(client, app, group).await;
    let callback = sandbox_pick(client, &authorize, persona).await;
    client.get(&callback).send().await.expect("callback")
}

pub fn assert_verified(page: &str, code: &str) {
    assert!(
        page.contains("data-testid=\"benefit\""),
        "benefit shown:\n{page}"
    );
    assert!(page.contains(code), "code {code} shown");
    assert!(
        !page.contains("data-testid=\"verify-"),
        "no verify button once unlocked"
    );
}
