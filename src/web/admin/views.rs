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
    /// Webhook endpoints disabled (counted for owners only).
    pub disabled_webhooks: i64,
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

/// A rules version as the console lists it.
pub struct VersionRow {
    pub version: i64,
    pub author: String,
    pub at: String,
    pub note: String,
}

/// A validation problem, placed by line and column.
pub struct ProblemRow {
    pub line: usize,
    pub column: usize,
    pub field: String,
    pub message: String,
}

/// The raw editor's state: what is in the textarea and what the page says about it.
#[derive(Default)]
pub struct Editor {
    pub text: String,
    pub based_on: i64,
    pub note: String,
    /// The saved draft's notice, when the text is a draft.
    pub draft: Option<String>,
    pub problems: Vec<ProblemRow>,
    /// A refusal that is not about a line (stale, a missing note).
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/rules.html")]
pub struct RulesPage<'a> {
    pub csrf: &'a str,
    pub is_owner: bool,
    /// The live version (none when the file is authoritative).
    pub live: Option<VersionRow>,
    /// Why the rules are read-only here, when the file is authoritative.
    pub file_mode: Option<String>,
    pub document: String,
    /// The editor, for editors when the database is authoritative.
    pub editor: Option<Editor>,
    pub notice: Option<String>,
}

/// One row of a diff: the marker in words and signs, the line numbers, the text.
pub struct DiffRow {
    pub sign: &'static str,
    pub change: &'static str,
    pub old: String,
    pub new: String,
    pub text: String,
}

pub struct DiffView {
    pub from: i64,
    pub to: i64,
    pub added: usize,
    pub removed: usize,
    pub rows: Vec<DiffRow>,
}

#[derive(Template)]
#[template(path = "admin/versions.html")]
pub struct Versions<'a> {
    pub csrf: &'a str,
    pub is_owner: bool,
    pub versions: Vec<VersionRow>,
    pub file_mode: Option<String>,
    pub diff: Option<DiffView>,
    pub error: Option<String>,
    pub from: String,
    pub to: String,
}

#[derive(Template)]
#[template(path = "admin/version.html")]
pub struct VersionPage<'a> {
    pub csrf: &'a str,
    pub is_owner: bool,
    pub version: VersionRow,
    pub live: i64,
    pub document: String,
    /// Editors may roll back to it (database mode, not the live version).
    pub can_roll_back: bool,
}

#[derive(Template)]
#[template(path = "admin/rollback.html")]
pub struct Rollback<'a> {
    pub csrf: &'a str,
    pub is_owner: bool,
    pub version: VersionRow,
    pub live: i64,
    pub error: Option<String>,
}

/// One shopper in the preview: what the draft gives them, what the live rules give them.
pub struct PreviewRow {
    pub name: String,
    pub groups: String,
    pub chosen: String,
    pub chosen_id: String,
    pub others: Vec<crate::rules::explain::WhyNot>,
    pub live: String,
    pub changed: bool,
}

#[derive(Template)]
#[template(path = "admin/preview.html")]
pub struct Preview<'a> {
    pub csrf: &'a str,
    pub is_owner: bool,
    /// The text may be edited and saved as a draft from here.
    pub can_edit: bool,
    /// What is previewed, in words: "your saved draft".
    pub source: &'static str,
    pub text: String,
    pub based_on: i64,
    pub at: String,
    /// The moment evaluated, UTC.
    pub at_label: String,
    pub attributes: String,
    pub problems: Vec<ProblemRow>,
    pub error: Option<String>,
    pub at_error: Option<String>,
    pub attributes_error: Option<String>,
    pub rows: Vec<PreviewRow>,
    /// The draft against the live document (none when they are the same).
    pub diff: Option<DiffView>,
    pub same_as_live: bool,
}

/// An API key as the keys page lists it.
pub struct KeyRow {
    pub id: i64,
    pub name: String,
    pub scope: &'static str,
    pub prefix: String,
    pub created: String,
    pub created_by: String,
    pub last_used: String,
    pub revoked: Option<String>,
}

/// A key just made: shown on this page only.
pub struct NewKey {
    pub name: String,
    pub scope: &'static str,
    pub secret: String,
}

#[derive(Template)]
#[template(path = "admin/keys.html")]
pub struct Keys<'a> {
    pub csrf: &'a str,
    pub is_owner: bool,
    pub keys: Vec<KeyRow>,
    pub created: Option<NewKey>,
    pub notice: Option<&'a str>,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/key_revoke.html")]
pub struct KeyRevoke<'a> {
    pub csrf: &'a str,
    pub is_owner: bool,
    pub id: i64,
    pub name: &'a str,
    pub scope: &'static str,
    pub prefix: &'a str,
}
