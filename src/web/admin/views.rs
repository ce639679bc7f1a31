//! The console's pages.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::extract::ConsoleError;

/// A page with its status, and a cookie to set if the visitor had none.
pub fn page(
    view: &impl Template,
    status: StatusCode,
    cookie: Option<HeaderValue>,
) -> Result<Response, ConsoleError> {
    let mut res = (status, Html(view.render()?)).into_response();
    if let Some(cookie) = cookie {
        res.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    // The console's pages show who is signed in: never stored (the edge adds the same
    // header to every page without one; said here so no later layer can change that).
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

#[derive(Template)]
#[template(path = "admin/login.html")]
pub struct Login<'a> {
    pub csrf: &'a str,
    pub email: &'a str,
    pub error: Option<&'a str>,
    pub notice: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "admin/totp.html")]
pub struct Totp<'a> {
    pub csrf: &'a str,
    pub error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "admin/set_password.html")]
pub struct SetPassword<'a> {
    pub csrf: &'a str,
    pub token: &'a str,
    pub email: &'a str,
    pub error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "admin/link_gone.html")]
pub struct LinkGone;

#[derive(Template)]
#[template(path = "admin/home.html")]
pub struct Home<'a> {
    pub csrf: &'a str,
    pub is_owner: bool,
    pub email: &'a str,
    pub role: &'a str,
    pub has_2fa: bool,
}

pub struct PendingTotp {
    pub secret: String,
    pub uri: String,
}

#[derive(Template)]
#[template(path = "admin/account.html")]
pub struct Account<'a> {
    pub csrf: &'a str,
    pub is_owner: bool,
    pub email: &'a str,
    pub role: &'a str,
    pub has_2fa: bool,
    pub must_enrol: bool,
    pub pending: Option<PendingTotp>,
    pub notice: Option<&'a str>,
    pub tfa_error: Option<&'a str>,
    pub password_error: Option<&'a str>,
}

pub struct AccountRow {
    pub id: i64,
    pub email: String,
    pub role: &'static str,
    pub has_password: bool,
    pub has_2fa: bool,
}

pub struct NewLink {
    pub email: String,
    pub url: String,
}

#[derive(Template)]
#[template(path = "admin/accounts.html")]
pub struct Accounts<'a> {
    pub csrf: &'a str,
    pub is_owner: bool,
    pub accounts: Vec<AccountRow>,
    pub link: Option<NewLink>,
    pub notice: Option<&'a str>,
    pub error: Option<String>,
}
