//! The console's codes pages, under `/admin/codes`: the pools of the live offers, uploading
//! codes into a pool and redemptions, the issued codes as CSV, and support's lookup, revoke
//! and reset (each confirmed first). Viewers read; editors change. The logic is in
//! `rewards` (`import`, `mark_redeemed`, `support`); these handlers translate HTTP.

use askama::Template;
use axum::extract::multipart::{Field, Multipart};
use axum::extract::{FromRequest, FromRequestParts, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::accounts::when;
use super::csv;
use super::extract::{Admin, AdminForm, ConsoleError, CsrfField, Editor, Need, Viewer};
use super::signin::record;
use super::views::page;
use crate::admin::Role;
use crate::clock::now;
use crate::rewards::support::{self, Level, Lookup, Outcome};
use crate::rewards::{self, CodesFile};
use crate::web::error::AppError;
use crate::web::state::AppState;

/// The body limit of the two upload routes (the rest of the site keeps `web::MAX_BODY_BYTES`):
/// room for 100,000 codes of up to 64 characters and then some.
pub const UPLOAD_LIMIT: usize = 8 * 1024 * 1024;
/// Malformed lines listed on the page; the rest are counted.
const SHOWN_LINES: usize = 50;
/// Issued codes read per database call while writing the download.
const DOWNLOAD_PAGE: i64 = 5_000;

/// A pool's row on the page.
pub struct PoolRow {
    pub name: String,
    pub remaining: u64,
    pub issued: u64,
    pub redeemed: u64,
    pub revoked: u64,
    /// In words, never colour alone.
    pub state: String,
    pub testid: &'static str,
    pub in_rules: bool,
}

/// A refused file: what is wrong, and the lines that are.
pub struct Problem {
    pub summary: String,
    pub lines: Vec<String>,
}

#[derive(Template)]
#[template(path = "admin/codes.html")]
pub struct CodesPage<'a> {
    pub csrf: &'a str,
    pub is_owner: bool,
    pub can_edit: bool,
    pub pools: Vec<PoolRow>,
    pub notice: Option<String>,
    pub upload_error: Option<Problem>,
    pub redeem_error: Option<Problem>,
}

#[derive(Template)]
#[template(path = "admin/codes_lookup.html")]
pub struct LookupPage<'a> {
    pub csrf: &'a str,
    pub is_owner: bool,
    pub can_edit: bool,
    pub code: &'a str,
    pub notice: Option<&'static str>,
    pub error: Option<&'static str>,
    pub result: Option<LookupView>,
}

pub enum LookupView {
    NotFound,
    Shared { claims: u64 },
    Found(FoundRow),
}

pub struct FoundRow {
    pub code: String,
    pub offer: String,
    pub pool: String,
    pub issued_at: String,
    pub redeemed: String,
    pub revoked: String,
    pub is_revoked: bool,
    pub limit_reset: String,
    pub person_claims: u64,
    pub person_claims_of_offer: u64,
}

#[derive(Template)]
#[template(path = "admin/codes_confirm.html")]
pub struct ConfirmPage<'a> {
    pub csrf: &'a str,
    pub is_owner: bool,
    pub action: &'static str,
    pub title: &'static str,
    pub explain: &'static str,
    pub button: &'static str,
    pub code: &'a str,
    pub offer: &'a str,
}

fn is_owner<R>(admin: &Admin<R>) -> bool {
    admin.account.role == Role::Owner
}

async fn pool_rows(state: &AppState) -> Result<Vec<PoolRow>, ConsoleError> {
    let rules = state.rules();
    let counts = support::pool_counts(&state.db).await?;
    let row = |name: &str, c: Option<&support::PoolCounts>, threshold: Option<u64>| {
        let c = c.cloned().unwrap_or_default();
        let (state, testid) = match threshold {
            None => ("not in the live offers".to_owned(), "other"),
            Some(t) => match support::level(c.remaining, c.issued, t) {
                Level::Empty => ("empty: shoppers get no code".to_owned(), "empty"),
                Level::Low => ("low: add codes soon".to_owned(), "low"),
                Level::Ok => ("ok".to_owned(), "ok"),
            },
        };
        PoolRow {
            name: name.to_owned(),
            remaining: c.remaining,
            issued: c.issued,
            redeemed: c.redeemed,
            revoked: c.revoked,
            state,
            testid,
            in_rules: threshold.is_some(),
        }
    };
    let mut rows: Vec<PoolRow> = rules
        .pools
        .values()
        .map(|p| {
            let c = counts.iter().find(|c| c.pool == p.id);
            row(&p.id, c, Some(p.low_threshold))
        })
        .collect();
    // Codes left in a pool no live offer names still show (the CLI may have put them there).
    for c in counts.iter().filter(|c| !rules.pools.contains_key(&c.pool)) {
        rows.push(row(&c.pool, Some(c), None));
    }
    Ok(rows)
}

async fn render<R>(
    state: &AppState,
    admin: &Admin<R>,
    notice: Option<String>,
    upload_error: Option<Problem>,
    redeem_error: Option<Problem>,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    page(
        &CodesPage {
            csrf: &admin.csrf,
            is_owner: is_owner(admin),
            can_edit: admin.account.role >= Role::Editor,
            pools: pool_rows(state).await?,
            notice,
            upload_error,
            redeem_error,
        },
        status,
        None,
    )
}

pub async fn pools(
    State(state): State<AppState>,
    admin: Admin<Viewer>,
) -> Result<Response, ConsoleError> {
    render(&state, &admin, None, None, None, StatusCode::OK).await
}

/// An uploaded file of codes, from a `multipart/form-data` form whose first field is its
/// CSRF token: the token is checked before the file is read, and nothing is written before.
pub struct Upload<R> {
    pub admin: Admin<R>,
    pub pool: String,
    /// The file as text, or why it is not.
    pub text: Result<String, &'static str>,
}

fn bad_body(e: axum::extract::multipart::MultipartError) -> ConsoleError {
    ConsoleError::App(AppError::for_status(e.status()))
}

async fn text_of(field: Field<'_>) -> Result<Result<String, &'static str>, ConsoleError> {
    let bytes = field.bytes().await.map_err(bad_body)?;
    Ok(String::from_utf8(bytes.to_vec())
        .map_err(|_| "The file is not UTF-8 text: save it as \"CSV UTF-8\" and try again."))
}

impl<R: Need> FromRequest<AppState> for Upload<R> {
    type Rejection = ConsoleError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ConsoleError> {
        let (mut parts, body) = req.into_parts();
        // The role first: a viewer's upload is refused before its body is read.
        let admin = Admin::<R>::from_request_parts(&mut parts, state).await?;
        let req = Request::from_parts(parts, body);
        let mut form = match Multipart::from_request(req, state).await {
            Ok(m) => m,
            // Not multipart at all: it cannot carry the token either.
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(ConsoleError::App(AppError::PayloadTooLarge));
            }
            Err(_) => return Err(ConsoleError::Csrf),
        };
        let first = form.next_field().await.map_err(|_| ConsoleError::Csrf)?;
        let token = match first {
            Some(f) if f.name() == Some("csrf") => f.text().await.map_err(bad_body)?,
            _ => return Err(ConsoleError::Csrf),
        };
        if !state.console.csrf_ok(&admin.id, &token) {
            return Err(ConsoleError::Csrf);
        }
        let mut pool = String::new();
        let mut text = Err("Choose a file of codes.");
        while let Some(field) = form.next_field().await.map_err(bad_body)? {
            match field.name() {
                Some("pool") => pool = field.text().await.map_err(bad_body)?,
                Some("file") => text = text_of(field).await?,
                _ => {}
            }
        }
        Ok(Self { admin, pool, text })
    }
}

/// [`parse_text`] on a blocking thread: 100,000 lines take a while in a debug build, and a
/// runtime worker must not stall meanwhile.
async fn parse(
    text: Result<String, &'static str>,
) -> Result<Result<CodesFile, Problem>, ConsoleError> {
    tokio::task::spawn_blocking(move || parse_text(text))
        .await
        .map_err(|e| {
            ConsoleError::App(AppError::Domain(crate::error::Error::Internal(
                e.to_string(),
            )))
        })
}

/// A codes file read with `codes import`'s rules, or the problem to show.
fn parse_text(text: Result<String, &'static str>) -> Result<CodesFile, Problem> {
    let text = text.map_err(|why| Problem {
        summary: why.to_owned(),
        lines: Vec::new(),
    })?;
    let parsed = rewards::parse_codes(&text);
    if !parsed.rejected.is_empty() {
        let n = parsed.rejected.len();
        let mut lines: Vec<String> = parsed
            .rejected
            .iter()
            .take(SHOWN_LINES)
            .map(|(line, why)| format!("Line {line}: {why}"))
            .collect();
        if n > SHOWN_LINES {
            lines.push(format!("… and {} more.", n - SHOWN_LINES));
        }
        return Err(Problem {
            summary: format!(
                "{n} malformed line(s): nothing was imported. Correct the file and upload it again."
            ),
            lines,
        });
    }
    if parsed.codes.is_empty() {
        return Err(Problem {
            summary: "The file has no codes.".to_owned(),
            lines: Vec::new(),
        });
    }
    Ok(parsed)
}

pub async fn upload(
    State(state): State<AppState>,
    upload: Upload<Editor>,
) -> Result<Response, ConsoleError> {
    let Upload { admin, pool, text } = upload;
    let refuse = |summary: String| Problem {
        summary,
        lines: Vec::new(),
    };
    let parsed = if state.rules().pools.contains_key(&pool) {
        parse(text).await?
    } else {
        Err(refuse("Choose a pool of the live offers.".to_owned()))
    };
    let parsed = match parsed {
        Ok(p) => p,
        Err(why) => {
            let status = StatusCode::BAD_REQUEST;
            return render(&state, &admin, None, Some(why), None, status).await;
        }
    };
    let (added, skipped) = rewards::import(&state.db, &pool, &parsed.codes, now()).await?;
    let left = rewards::remaining(&state.db, &pool).await?;
    // The storefront's cards know at once that the pool has codes again.
    state.verifier.levels.set(&pool, left);
    // And the dashboard, which would otherwise show its last count for a few seconds more.
    state.dashboard.pools.forget();
    let details =
        format!("pool {pool}: added {added}, skipped {skipped} duplicate(s); {left} left");
    record(
        &state,
        &admin.account.email,
        admin.address,
        "codes uploaded",
        &details,
    )
    .await?;
    let notice = format!(
        "Pool {pool}: added {added} code(s), skipped {skipped} duplicate(s); {left} code(s) available."
    );
    render(&state, &admin, Some(notice), None, None, StatusCode::OK).await
}

pub async fn redeemed(
    State(state): State<AppState>,
    upload: Upload<Editor>,
) -> Result<Response, ConsoleError> {
    let Upload { admin, text, .. } = upload;
    let parsed = match parse(text).await? {
        Ok(p) => p,
        Err(why) => {
            return render(
                &state,
                &admin,
                None,
                None,
                Some(why),
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
    };
    let marked = rewards::mark_redeemed(&state.db, &parsed.codes, now()).await?;
    let listed = parsed.codes.len();
    let details = format!("marked {marked} claim(s) redeemed of {listed} code(s) listed");
    record(
        &state,
        &admin.account.email,
        admin.address,
        "codes redeemed",
        &details,
    )
    .await?;
    let notice = format!(
        "Marked {marked} claim(s) as redeemed, of {listed} code(s) in the file (the others are \
         unknown, revoked or already redeemed)."
    );
    render(&state, &admin, Some(notice), None, None, StatusCode::OK).await
}

/// Every issued code, for reconciliation: no person key, nothing personal.
pub async fn issued_csv(
    State(state): State<AppState>,
    admin: Admin<Viewer>,
) -> Result<Response, ConsoleError> {
    let mut out = String::from("code,pool,offer,issued_at,redeemed_at,revoked_at\n");
    let mut after = 0;
    let mut rows = 0u64;
    loop {
        let batch = support::issued_page(&state.db, after, DOWNLOAD_PAGE).await?;
        let Some(last) = batch.last() else { break };
        after = last.id;
        for i in &batch {
            out.push_str(&format!(
                "{},{},{},{},{},{}\n",
                csv::field(&i.code, false),
                csv::field(&i.pool, false),
                csv::field(&i.offer, false),
                csv::time(Some(i.issued_at)),
                csv::time(i.redeemed_at),
                csv::time(i.revoked_at),
            ));
        }
        rows += batch.len() as u64;
    }
    record(
        &state,
        &admin.account.email,
        admin.address,
        "issued codes downloaded",
        &format!("{rows} code(s)"),
    )
    .await?;
    Ok(csv::download("issued-codes.csv", out))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LookupQuery {
    code: String,
    done: String,
}

fn done_notice(done: &str) -> Option<&'static str> {
    match done {
        "revoked" => Some("The code is revoked."),
        "reset" => Some("The person's limit for this offer is reset: they can claim again."),
        "already" => Some("Nothing to change: that was done already."),
        _ => None,
    }
}

pub async fn lookup(
    State(state): State<AppState>,
    admin: Admin<Viewer>,
    Query(q): Query<LookupQuery>,
) -> Result<Response, ConsoleError> {
    let code = q.code.trim();
    let (result, error, status) = if code.is_empty() {
        (None, None, StatusCode::OK)
    } else if !rewards::is_code(code) {
        let why = "A code is 3 to 64 letters, digits, '-' or '_'.";
        (None, Some(why), StatusCode::BAD_REQUEST)
    } else {
        let view = match support::lookup(&state.db, code).await? {
            Lookup::NotFound => LookupView::NotFound,
            Lookup::Shared { claims } => LookupView::Shared { claims },
            Lookup::Found(f) => LookupView::Found(FoundRow {
                is_revoked: f.revoked_at.is_some(),
                code: f.code,
                offer: f.offer,
                pool: if f.pool.is_empty() {
                    "none (not a pool code)".to_owned()
                } else {
                    f.pool
                },
                issued_at: when(f.issued_at),
                redeemed: f
                    .redeemed_at
                    .map_or("no".to_owned(), |t| format!("yes, {}", when(t))),
                revoked: f
                    .revoked_at
                    .map_or("no".to_owned(), |t| format!("yes, {}", when(t))),
                limit_reset: f.limit_reset_at.map_or("no".to_owned(), when),
                person_claims: f.person_claims,
                person_claims_of_offer: f.person_claims_of_offer,
            }),
        };
        (Some(view), None, StatusCode::OK)
    };
    page(
        &LookupPage {
            csrf: &admin.csrf,
            is_owner: is_owner(&admin),
            can_edit: admin.account.role >= Role::Editor,
            code,
            notice: done_notice(&q.done),
            error,
            result,
        },
        status,
        None,
    )
}

/// Which support action a confirm page and its form are for.
#[derive(Clone, Copy)]
enum Action {
    Revoke,
    Reset,
}

impl Action {
    fn confirm<'a>(
        self,
        csrf: &'a str,
        is_owner: bool,
        code: &'a str,
        offer: &'a str,
    ) -> ConfirmPage<'a> {
        let (action, title, explain, button) = match self {
            Self::Revoke => (
                "/admin/codes/revoke",
                "Revoke this code?",
                "A revoked code is never shown to its shopper again and cannot be marked \
                 redeemed. The claim still counts towards the person's limit and the offer's cap. \
                 This cannot be undone.",
                "Revoke the code",
            ),
            Self::Reset => (
                "/admin/codes/reset",
                "Reset this person's limit?",
                "None of this person's claims of this offer will count towards its limit, so they \
                 can verify and claim again (and get a new code). Their earlier codes are not \
                 shown to them again.",
                "Reset the limit",
            ),
        };
        ConfirmPage {
            csrf,
            is_owner,
            action,
            title,
            explain,
            button,
            code,
            offer,
        }
    }
}

/// The claim a support action is about: one claim, found by its code.
async fn one_claim(state: &AppState, code: &str) -> Result<support::Found, ConsoleError> {
    if !rewards::is_code(code) {
        return Err(ConsoleError::App(AppError::NotFound));
    }
    match support::lookup(&state.db, code).await? {
        Lookup::Found(f) => Ok(f),
        _ => Err(ConsoleError::App(AppError::NotFound)),
    }
}

async fn confirm(
    state: &AppState,
    admin: &Admin<Editor>,
    code: &str,
    action: Action,
) -> Result<Response, ConsoleError> {
    let found = one_claim(state, code).await?;
    page(
        &action.confirm(&admin.csrf, is_owner(admin), &found.code, &found.offer),
        StatusCode::OK,
        None,
    )
}

pub async fn revoke_page(
    State(state): State<AppState>,
    admin: Admin<Editor>,
    Query(q): Query<LookupQuery>,
) -> Result<Response, ConsoleError> {
    confirm(&state, &admin, q.code.trim(), Action::Revoke).await
}

pub async fn reset_page(
    State(state): State<AppState>,
    admin: Admin<Editor>,
    Query(q): Query<LookupQuery>,
) -> Result<Response, ConsoleError> {
    confirm(&state, &admin, q.code.trim(), Action::Reset).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CodeForm {
    csrf: String,
    code: String,
}

impl CsrfField for CodeForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

async fn act(
    state: &AppState,
    admin: &Admin<Editor>,
    code: &str,
    action: Action,
) -> Result<Response, ConsoleError> {
    let found = one_claim(state, code).await?;
    let at = now();
    let outcome = match action {
        Action::Revoke => support::revoke(&state.db, code, at).await?,
        Action::Reset => support::reset_limit(&state.db, code, at).await?,
    };
    let done = match outcome {
        Outcome::Done { offer, claims } => {
            let (what, details) = match action {
                Action::Revoke => ("code revoked", format!("code {code} of offer {offer}")),
                Action::Reset => (
                    "limit reset",
                    format!(
                        "offer {offer}, the person behind code {code}: {claims} claim(s) no \
                         longer counted"
                    ),
                ),
            };
            record(state, &admin.account.email, admin.address, what, &details).await?;
            match action {
                Action::Revoke => "revoked",
                Action::Reset => "reset",
            }
        }
        Outcome::Already => "already",
        Outcome::NotOne => return Err(ConsoleError::App(AppError::NotFound)),
    };
    let to = format!("/admin/codes/lookup?code={}&done={done}", found.code);
    Ok(Redirect::to(&to).into_response())
}

pub async fn revoke(
    State(state): State<AppState>,
    AdminForm(admin, form): AdminForm<Editor, CodeForm>,
) -> Result<Response, ConsoleError> {
    act(&state, &admin, form.code.trim(), Action::Revoke).await
}

pub async fn reset(
    State(state): State<AppState>,
    AdminForm(admin, form): AdminForm<Editor, CodeForm>,
) -> Result<Response, ConsoleError> {
    act(&state, &admin, form.code.trim(), Action::Reset).await
}
