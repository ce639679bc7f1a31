//! The browser itself: finding Chromium and ChromeDriver, running ChromeDriver on a loopback
//! port (killed with its browser when dropped), and a WebDriver session that reaches only
//! loopback.

use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdTcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long chromedriver may take to start answering.
const DRIVER_START_LIMIT: Duration = Duration::from_secs(10);

/// `chromedriver` and the Chromium binary, or None (after saying why) when the test is skipped.
pub(super) fn browser_binaries() -> Option<(PathBuf, PathBuf)> {
    let required = std::env::var("PERKGATE_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
    let driver = find_binary(&["chromedriver"]);
    let browser = find_binary(&["chromium", "chromium-browser"]);
    match (driver, browser) {
        (Some(driver), Some(browser)) => Some((driver, browser)),
        (driver, _) => {
            let missing = if driver.is_none() {
                "chromium-driver"
            } else {
                "chromium"
            };
            assert!(
                !required,
                "PERKGATE_REQUIRE_BROWSER=1 but {missing} is not installed \
                 (apt-get install chromium chromium-driver)"
            );
            eprintln!(
                "skipping browser test: {missing} not installed (apt-get install chromium chromium-driver)"
            );
            None
        }
    }
}

/// `/usr/bin/<name>`, else the first `<name>` on PATH.
fn find_binary(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::iter::once(PathBuf::from("/usr/bin"))
        .chain(std::env::split_paths(&path))
        .collect();
    names
        .iter()
        .flat_map(|name| dirs.iter().map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// A chromedriver child process on a free loopback port, killed (with the Chromium it started)
/// when dropped, also when the test panics.
pub(super) struct Chromedriver {
    child: Child,
    port: u16,
}

impl Chromedriver {
    pub(super) async fn start(binary: &Path) -> Self {
        let port = {
            let probe = StdTcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .expect("bind 127.0.0.1:0 to find a free port for chromedriver");
            probe.local_addr().expect("probe port").port()
        };
        let mut command = Command::new(binary);
        command
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Its own process group, so Drop can end chromedriver and the browser it started.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let driver = Self { child, port };
        driver.wait_until_ready().await;
        driver
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Polls `GET /status` until chromedriver says it is ready.
    async fn wait_until_ready(&self) {
        let deadline = Instant::now() + DRIVER_START_LIMIT;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        loop {
            if let Ok(Ok(body)) = tokio::time::timeout(Duration::from_secs(2), status(addr)).await
                && body.contains("\"ready\":true")
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer on {addr} within {DRIVER_START_LIMIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        #[cfg(unix)]
        {
            // The group chromedriver leads (see `process_group(0)`): it and its browser.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", self.child.id())])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A bare `GET /status`; returns the response as far as the `ready` field (chromedriver may
/// keep the connection open, so reading to the end is not an option).
async fn status(addr: SocketAddr) -> std::io::Result<String> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream
        .write_all(b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await?;
    let mut response = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await?;
        response.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&response);
        if n == 0 || text.contains("\"ready\":true") || text.contains("\"ready\":false") {
            return Ok(text.into_owned());
        }
    }
}

/// A WebDriver session on a fresh headless Chromium that reaches only loopback.
pub(super) async fn connect(driver: &Chromedriver, browser: &Path, profile: &Path) -> Client {
    let args = vec![
        "--headless=new".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        "--disable-quic".to_owned(),
        "--no-first-run".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        "--window-size=1200,900".to_owned(),
        // Nothing leaves the machine: no proxy, and every host but 127.0.0.1 (and localhost, the
        // merchant shop's origin in `shop`) fails to resolve.
        "--no-proxy-server".to_owned(),
        "--host-resolver-rules=MAP localhost 127.0.0.1, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"
            .to_owned(),
        format!("--user-data-dir={}", profile.display()),
    ];
    let mut capabilities = fantoccini::wd::Capabilities::new();
    capabilities.insert("browserName".to_owned(), json!("chrome"));
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        json!({
            "binary": browser.display().to_string(),
            "args": args,
        }),
    );
    let mut builder = ClientBuilder::new(HttpConnector::new());
    builder.capabilities(capabilities);
    let connecting = tokio::time::timeout(Duration::from_secs(30), builder.connect(&driver.url()))
        .await
        .unwrap_or_else(|_| panic!("chromedriver took more than 30 s to start Chromium"));
    match connecting {
        Ok(client) => client,
        Err(e) => panic!(
            "cannot open a WebDriver session on chromedriver at {} with {}: {e}",
            driver.url(),
            browser.display()
        ),
    }
}
