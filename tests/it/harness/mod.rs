//! The test harness: the real app on port 0 with a real SQLite session store ([`TestApp`]),
//! shoppers that walk the flow over HTTP with a cookie jar each ([`Shopper`]), the rules
//! fixtures, and a few page helpers.

pub mod fake_idme;
pub mod logs;
pub mod process;
pub mod proxy;
mod shopper;
pub mod stores;

pub use shopper::Shopper;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, MutexGuard, oneshot};

// Everything the harness takes from perkgate, in one place.
use perkgate::db::{Db, connect};
use perkgate::sandbox::{Calls, Sandbox, Stored};
use perkgate::{App, Config};

/// Installs the process-wide TLS provider the test clients need (reqwest is built without
/// one). The same provider `App::build` installs (keep the two alike); a second install is a
/// no-op.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// Held by the tests that load the machine (the soak, the real browser, several processes)
/// or that measure time, so that none of them overlaps another: one binary runs every test in
/// parallel threads, on two cores in CI.
pub async fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::const_new(());
    LOCK.lock().await
}

/// The text of `tests/fixtures/rules/<name>.toml`.
pub fn rules_fixture(name: &str) -> String {
    let path = rules_fixture_path(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("read the rules fixture {}: {e}", path.display()))
}

/// The path of `tests/fixtures/rules/<name>.toml`, for a process that only reads it.
pub fn rules_fixture_path(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/rules"))
        .join(format!("{name}.toml"))
}

/// The app, in this process, serving on a loopback port until stopped or dropped.
pub struct TestApp {
    pub base: String,
    /// The embedded sandbox's call counters (None when a fake ID.me is configured).
    calls: Option<Arc<Calls>>,
    sandbox: Option<Arc<Sandbox>>,
    db_url: String,
    pub dir: Arc<tempfile::TempDir>,
    /// The shopper behind the app's own `home()`, `verify_as()`, ...: one cookie jar.
    shopper: Shopper,
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
    /// Serves a copy of `tests/fixtures/rules/<name>.toml` (a copy: tests may rewrite it).
    pub fn rules_fixture(mut self, name: &str) -> Self {
        self.rules = Some(rules_fixture(name));
        self
    }
    /// The built-in rate limits, which the harness otherwise turns off.
    pub fn default_rate_limits(self) -> Self {
        let per_minute = Config::default().rate_limit.per_minute.to_string();
        self.var("PERKGATE_RATE_LIMIT_PER_MINUTE", &per_minute)
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
    let base = format!("http://{}", app.local_addr());
    let sandbox = app.state().sandbox.clone();
    let calls = sandbox.as_ref().map(|s| s.calls.clone());
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        app.serve(async {
            let _ = rx.await;
        })
        .await
        .expect("serve");
    });
    TestApp {
        shopper: Shopper::new(&base),
        base,
        calls,
        sandbox,
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

    /// A new shopper on this app: a browser with an empty cookie jar.
    pub fn shopper(&self) -> Shopper {
        Shopper::new(&self.base)
    }

    /// The app's own shopper, the one the delegates below drive.
    pub fn default_shopper(&self) -> &Shopper {
        &self.shopper
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

    /// Token calls the embedded sandbox answered (0 with a fake ID.me: ask the fake).
    pub fn token_calls(&self) -> u64 {
        self.calls.as_ref().map_or(0, |c| c.token())
    }

    pub fn attributes_calls(&self) -> u64 {
        self.calls.as_ref().map_or(0, |c| c.attributes())
    }

    /// Authorize pages the embedded sandbox served.
    pub fn authorize_calls(&self) -> u64 {
        self.calls
            .as_ref()
            .expect("the test app runs the embedded sandbox")
            .authorize
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The embedded sandbox itself: what it holds (`stored()`), its client's credentials.
    pub fn sandbox(&self) -> &Sandbox {
        self.sandbox
            .as_deref()
            .expect("the test app runs the embedded sandbox")
    }

    /// What the embedded sandbox holds now: requests, codes, tokens.
    pub fn sandbox_stored(&self) -> Stored {
        self.sandbox().stored()
    }

    /// JWKS fetches the embedded sandbox served.
    pub fn jwks_calls(&self) -> u64 {
        self.calls
            .as_ref()
            .expect("the test app runs the embedded sandbox")
            .jwks()
    }

    /// A second connection to the app's database, as an operator's command would open.
    pub async fn db(&self) -> Db {
        connect(&self.db_url)
            .await
            .expect("open the app's database")
    }

    pub fn rules_path(&self) -> PathBuf {
        self.dir.path().join("rules.toml")
    }

    // The app's own shopper, for tests with one browser: see [`Shopper`].

    pub async fn home(&self) -> (u16, String) {
        self.shopper.home().await
    }

    pub async fn csrf(&self) -> String {
        self.shopper.csrf().await
    }

    pub async fn get(&self, path_or_url: &str) -> reqwest::Response {
        self.shopper.get(path_or_url).await
    }

    pub async fn post_csrf(&self, path: &str, csrf: &str) -> reqwest::Response {
        self.shopper.post_csrf(path, csrf).await
    }

    pub async fn start_verify(&self, group: &str) -> String {
        self.shopper.start_verify(group).await
    }

    pub async fn sandbox_pick(&self, authorize_url: &str, persona: &str) -> String {
        self.shopper.sandbox_pick(authorize_url, persona).await
    }

    pub async fn callback(&self, code: &str, state: &str) -> reqwest::Response {
        self.shopper.callback(code, state).await
    }

    pub async fn verify_as(&self, group: &str, persona: &str) -> reqwest::Response {
        self.shopper.verify_as(group, persona).await
    }

    pub async fn benefit(&self) -> serde_json::Value {
        self.shopper.benefit().await
    }
}

/// The store as a browser presenting only the session id `id` sees it (a fixated, stolen or
/// stored id, tried as a cookie).
pub async fn store_page_with_session(app: &TestApp, id: &str) -> String {
    reqwest::Client::new()
        .get(app.url("/"))
        .header("cookie", format!("perkgate={id}"))
        .send()
        .await
        .expect("GET / with a session cookie")
        .text()
        .await
        .expect("body")
}

/// The value of the cookie `name` that a response sets, if any.
pub fn set_cookie_value(res: &reqwest::Response, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    res.headers().get_all("set-cookie").iter().find_map(|v| {
        let rest = v.to_str().ok()?.strip_prefix(prefix.as_str())?;
        Some(rest.split(';').next()?.to_owned())
    })
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
