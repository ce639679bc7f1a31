//! A shopper: one browser (a cookie jar) on one perkgate, and what a shopper does there.

use std::time::Duration;

use reqwest::redirect::Policy;

use super::{hidden, install_crypto_provider, location};

/// One browser on one perkgate: its own cookie jar, no automatic redirects (tests follow them
/// by hand), and the base URL it talks to. Clones share the jar.
#[derive(Clone)]
pub struct Shopper {
    client: reqwest::Client,
    base: String,
}

impl Shopper {
    /// A browser with an empty cookie jar, on the perkgate at `base` (this process's app or
    /// another process).
    pub fn new(base: &str) -> Self {
        install_crypto_provider();
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(Policy::none())
            .timeout(Duration::from_secs(15))
            .build()
            .expect("client");
        Self {
            client,
            base: base.to_owned(),
        }
    }

    /// The same browser (the same cookie jar) on the perkgate at `base`: another instance, or
    /// the app again after a restart. Cookies are per host, not per port.
    pub fn at(&self, base: &str) -> Self {
        Self {
            client: self.client.clone(),
            base: base.to_owned(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The cookie-jar client itself, for requests the methods below do not make.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// GET a path on this perkgate (`/...`) or a full URL (a callback, a sandbox page).
    pub async fn get(&self, path_or_url: &str) -> reqwest::Response {
        let url = match path_or_url.starts_with('/') {
            true => self.url(path_or_url),
            false => path_or_url.to_owned(),
        };
        self.client
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"))
    }

    /// GET / and return (status, body).
    pub async fn home(&self) -> (u16, String) {
        let res = self.get("/").await;
        (res.status().as_u16(), res.text().await.expect("body"))
    }

    /// Loads the store and returns the CSRF token of its forms.
    pub async fn csrf(&self) -> String {
        hidden(&self.home().await.1, "csrf")
    }

    /// Submits a form that carries only the CSRF token.
    pub async fn post_csrf(&self, path: &str, csrf: &str) -> reqwest::Response {
        let url = self.url(path);
        self.client
            .post(&url)
            .form(&[("csrf", csrf)])
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {url}: {e}"))
    }

    /// Loads the store and submits the verify form for `group`; returns the redirect to ID.me.
    pub async fn start_verify(&self, group: &str) -> String {
        let csrf = self.csrf().await;
        let res = self.post_csrf(&format!("/verify/{group}"), &csrf).await;
        assert_eq!(res.status(), 303, "verify redirects to ID.me");
        location(&res)
    }

    /// Loads the store and submits the one "Verify with ID.me"; returns the redirect (to the
    /// groups endpoint).
    pub async fn start_any(&self) -> String {
        let csrf = self.csrf().await;
        let res = self.post_csrf("/verify", &csrf).await;
        assert_eq!(res.status(), 303, "verify redirects to ID.me");
        location(&res)
    }

    /// On the sandbox's groups page, picks a community; returns its authorize URL.
    pub async fn sandbox_community(&self, groups_url: &str, group: &str) -> String {
        let page = self.get(groups_url).await.text().await.expect("body");
        let marker = format!("data-testid=\"community-{group}\"");
        let link = page
            .lines()
            .find(|l| l.contains(&marker))
            .unwrap_or_else(|| panic!("no community {group} on the groups page:\n{page}"));
        let href = link
            .split("href=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("the community link's href")
            .replace("&#38;", "&")
            .replace("&amp;", "&");
        self.url(&href)
    }

    /// On the sandbox's page, picks a persona; returns the callback URL ID.me would send back.
    pub async fn sandbox_pick(&self, authorize_url: &str, persona: &str) -> String {
        let page = self.get(authorize_url).await.text().await.expect("body");
        let request = hidden(&page, "request");
        let base = authorize_url.split('?').next().expect("url");
        let res = self
            .client
            .post(base)
            .form(&[("request", request.as_str()), ("persona", persona)])
            .send()
            .await
            .expect("sandbox consent");
        assert_eq!(res.status(), 303, "sandbox redirects back");
        location(&res)
    }

    /// ID.me's redirect back with `code` for the authorization `state` (a fake ID.me's flow).
    pub async fn callback(&self, code: &str, state: &str) -> reqwest::Response {
        self.get(&format!("/auth/idme/callback?code={code}&state={state}"))
            .await
    }

    /// The whole flow on the sandbox for `persona`; returns the callback's response.
    pub async fn verify_as(&self, group: &str, persona: &str) -> reqwest::Response {
        let authorize = self.start_verify(group).await;
        let callback = self.sandbox_pick(&authorize, persona).await;
        self.get(&callback).await
    }

    /// GET /api/v1/benefit, as JSON.
    pub async fn benefit(&self) -> serde_json::Value {
        self.get("/api/v1/benefit")
            .await
            .json()
            .await
            .expect("the benefit as JSON")
    }
}
