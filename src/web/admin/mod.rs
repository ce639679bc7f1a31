//! The merchant console's HTTP side, under `/admin`: sign-in, the account page, and the owner's
//! accounts and audit pages. Its own cookie and sessions (never the shoppers' session layer),
//! its own CSRF tokens; the edge middleware adds the CSP, security headers and `no-store`.
//!
//! Every route takes an [`Admin`] guard (or, before signing in, a [`Visitor`]): the role a
//! route needs is in its handler's signature.

mod account;
mod accounts;
mod audit;
mod charts;
mod codes;
mod csv;
mod dashboard;
mod extract;
mod keys;
mod offers;
mod preview;
mod rules;
mod signin;
mod store;
mod views;
mod webhooks;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, HeaderValue};
use axum::routing::{get, post};
use base64::Engine;
use subtle::ConstantTimeEq;

pub use extract::{Admin, ConsoleError, Editor, Owner, Viewer, Visitor};

use super::limits::ClientIp;
use super::state::AppState;
use crate::admin::session::Lifetimes;
use crate::crypto::hmac_sha256;

/// What the console's handlers share, built once at start-up.
pub struct Console {
    key: Vec<u8>,
    /// The accounts' TOTP keys are stored sealed under this.
    totp: crate::crypto::Sealer,
    cookie: &'static str,
    secure: bool,
    pub lifetimes: Lifetimes,
    pub require_2fa: bool,
    pub public_url: url::Url,
    pub client_ip: ClientIp,
}

impl Console {
    pub fn new(
        secret: &[u8],
        config: &crate::config::AdminConfig,
        public_url: url::Url,
        client_ip: ClientIp,
    ) -> Self {
        let https = public_url.scheme() == "https";
        Self {
            key: hmac_sha256(secret, b"perkgate console form token v1").to_vec(),
            // A key from outside the database protects the TOTP keys from a copy of it; the
            // database's own secret only from a read of the accounts table alone.
            totp: crate::crypto::Sealer::new(
                config
                    .totp_key
                    .as_ref()
                    .map_or(secret, |k| k.expose().as_bytes()),
                b"perkgate console totp key v1",
            ),
            // `__Host-` pins the cookie to this host and to Path=/, and requires Secure.
            cookie: if https {
                "__Host-perkgate-admin"
            } else {
                "perkgate-admin"
            },
            secure: https,
            lifetimes: Lifetimes {
                idle: config.idle.as_secs() as i64,
                absolute: config.absolute.as_secs() as i64,
            },
            require_2fa: config.require_2fa,
            public_url,
            client_ip,
        }
    }

    /// The cookie's value: a session id, or before signing in a random nonce for the forms.
    fn cookie_value<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        super::csrf::token_cookie(headers, self.cookie)
    }

    /// `Set-Cookie` for a value. SameSite=Strict: the console is never entered from another
    /// site with its cookie; Path=/admin keeps it off the store's requests (`__Host-` needs /).
    fn set_cookie(&self, value: &str) -> HeaderValue {
        let cookie = format!(
            "{}={value}; Path={}; HttpOnly; SameSite=Strict{}",
            self.cookie,
            if self.secure { "/" } else { "/admin" },
            if self.secure { "; Secure" } else { "" }
        );
        HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// The form token for a cookie value: an HMAC under a server key, so it changes with the
    /// session id (rotated at sign-in and sign-out) and cannot be made without the key.
    fn csrf_token(&self, cookie: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(hmac_sha256(&self.key, cookie.as_bytes()))
    }

    /// A TOTP key as the database keeps it.
    pub fn seal_totp(&self, secret: &str) -> Result<String, ConsoleError> {
        self.totp.seal(secret).ok_or_else(|| {
            ConsoleError::App(super::AppError::Domain(crate::error::Error::Internal(
                "could not seal a TOTP key".to_owned(),
            )))
        })
    }

    /// A stored TOTP key, readable (`None`: sealed under another server secret).
    pub fn open_totp(&self, stored: &str) -> Option<String> {
        self.totp.open(stored)
    }

    fn csrf_ok(&self, cookie: &str, token: &str) -> bool {
        bool::from(self.csrf_token(cookie).as_bytes().ct_eq(token.as_bytes()))
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(accounts::home))
        .route("/admin/login", get(signin::login_page).post(signin::login))
        .route(
            "/admin/login/totp",
            get(signin::totp_page).post(signin::totp),
        )
        .route("/admin/logout", post(signin::logout))
        .route(
            "/admin/password/{token}",
            get(signin::set_password_page).post(signin::set_password),
        )
        .route("/admin/account", get(account::page))
        .route("/admin/account/password", post(account::change_password))
        .route("/admin/account/2fa/start", post(account::start_2fa))
        .route("/admin/account/2fa/confirm", post(account::confirm_2fa))
        .route("/admin/account/2fa/disable", post(account::disable_2fa))
        .route("/admin/accounts", get(accounts::list).post(accounts::add))
        .route("/admin/accounts/{id}/remove", post(accounts::remove))
        .route("/admin/accounts/{id}/reset", post(accounts::reset))
        .route("/admin/keys", get(keys::list).post(keys::add))
        .route(
            "/admin/keys/{id}/revoke",
            get(keys::revoke_page).post(keys::revoke),
        )
        .route("/admin/audit", get(audit::page_of))
        .route("/admin/audit.csv", get(audit::export))
        .route("/admin/dashboard", get(dashboard::show))
        .route("/admin/dashboard.csv", get(dashboard::export))
        .route(
            "/admin/rules",
            get(rules::show)
                .post(rules::submit)
                // A document up to its limit, form-encoded (up to three bytes a character).
                .layer(DefaultBodyLimit::max(3 * rules::MAX_DOCUMENT + 4096)),
        )
        .route("/admin/rules/draft/discard", post(rules::discard))
        .route(
            "/admin/rules/preview",
            get(preview::show)
                .post(preview::submit)
                // A document and pasted attributes need more than the edge's 16 KiB.
                .layer(DefaultBodyLimit::max(preview::MAX_BODY)),
        )
        .route("/admin/settings", get(store::show).post(store::submit))
        .route("/admin/rules/versions", get(rules::history))
        .route("/admin/rules/versions/{n}", get(rules::version))
        .route(
            "/admin/rules/versions/{n}/rollback",
            get(rules::rollback_page).post(rules::rollback),
        )
        .merge(codes_router())
        .merge(offers_router())
        .merge(webhooks_router())
}

/// The offers and pools as forms over the draft (issue 10 item 3).
fn offers_router() -> Router<AppState> {
    Router::new()
        .route("/admin/rules/offers", get(offers::list))
        .route(
            "/admin/rules/offers/new",
            get(offers::new_offer).post(offers::create_offer),
        )
        .route(
            "/admin/rules/offers/{id}",
            get(offers::offer).post(offers::save_offer),
        )
        .route(
            "/admin/rules/offers/{id}/remove",
            get(offers::remove_offer_page).post(offers::remove_offer),
        )
        .route(
            "/admin/rules/pools/new",
            get(offers::new_pool).post(offers::create_pool),
        )
        .route(
            "/admin/rules/pools/{id}",
            get(offers::pool).post(offers::save_pool),
        )
        .route(
            "/admin/rules/pools/{id}/remove",
            get(offers::remove_pool_page).post(offers::remove_pool),
        )
}

/// Codes (issue 10 item 5); the two uploads alone may send up to [`codes::UPLOAD_LIMIT`].
fn webhooks_router() -> Router<AppState> {
    Router::new()
        .route("/admin/webhooks", get(webhooks::list).post(webhooks::add))
        .route("/admin/webhooks/{id}", get(webhooks::show))
        .route("/admin/webhooks/{id}/rotate", post(webhooks::rotate))
        .route("/admin/webhooks/{id}/enable", post(webhooks::enable))
        .route("/admin/webhooks/{id}/disable", post(webhooks::disable))
        .route(
            "/admin/webhooks/{id}/remove",
            get(webhooks::remove_page).post(webhooks::remove),
        )
        .route(
            "/admin/webhooks/{id}/deliveries/{delivery}/resend",
            post(webhooks::resend),
        )
}

fn codes_router() -> Router<AppState> {
    let upload = || DefaultBodyLimit::max(codes::UPLOAD_LIMIT);
    Router::new()
        .route("/admin/codes", get(codes::pools))
        .route("/admin/codes/upload", post(codes::upload).layer(upload()))
        .route(
            "/admin/codes/redeemed",
            post(codes::redeemed).layer(upload()),
        )
        .route("/admin/codes/issued.csv", get(codes::issued_csv))
        .route("/admin/codes/lookup", get(codes::lookup))
        .route(
            "/admin/codes/revoke",
            get(codes::revoke_page).post(codes::revoke),
        )
        .route(
            "/admin/codes/reset",
            get(codes::reset_page).post(codes::reset),
        )
}
