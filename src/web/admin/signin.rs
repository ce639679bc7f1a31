//! Signing in and out: e-mail and password, then the second factor if the account has one;
//! the one-time set-password link.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::extract::{ConsoleError, CsrfField, Pending, PendingForm, Visitor, VisitorForm};
use super::views::{self, page};
use crate::admin::session::{self, Stage};
use crate::admin::{SignIn, accounts, audit, password, throttle, totp};
use crate::clock::{now, now_ms};
use crate::web::state::AppState;

/// The one message for a wrong e-mail or a wrong password: it must not say which.
const REFUSED: &str = "That e-mail address and password do not match an account.";

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CsrfOnly {
    csrf: String,
}

impl CsrfField for CsrfOnly {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginForm {
    csrf: String,
    email: String,
    password: String,
}

impl CsrfField for LoginForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CodeForm {
    pub csrf: String,
    pub code: String,
}

impl CsrfField for CodeForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PasswordForm {
    csrf: String,
    password: String,
}

impl CsrfField for PasswordForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// A 303 that also sets the console cookie.
pub(super) fn redirect_with_cookie(to: &str, cookie: HeaderValue) -> Response {
    let mut res = Redirect::to(to).into_response();
    res.headers_mut().insert(header::SET_COOKIE, cookie);
    res
}

/// Starts a session with a new id, ending whatever the old cookie named: the id a visitor
/// had before (planted or not) never becomes a signed-in one.
pub(super) async fn rotate(
    state: &AppState,
    old: Option<&str>,
    account_id: i64,
    stage: Stage,
) -> Result<HeaderValue, ConsoleError> {
    if let Some(old) = old {
        session::end(&state.db, old).await?;
    }
    let id = session::start(&state.db, account_id, stage, now()).await?;
    Ok(state.console.set_cookie(&id))
}

/// Signed in: a full session in place of whatever the old cookie named, and the audit entry.
async fn signed_in(
    state: &AppState,
    old: Option<&str>,
    account: &crate::admin::Account,
    address: std::net::IpAddr,
    how: &str,
) -> Result<Response, ConsoleError> {
    let cookie = rotate(state, old, account.id, Stage::Full).await?;
    record(state, &account.email, address, "sign-in", how).await?;
    Ok(redirect_with_cookie("/admin", cookie))
}

pub(super) async fn record(
    state: &AppState,
    actor: &str,
    address: std::net::IpAddr,
    action: &str,
    details: &str,
) -> Result<(), ConsoleError> {
    audit::record(
        &state.db,
        actor,
        &address.to_string(),
        action,
        details,
        now(),
    )
    .await?;
    Ok(())
}

pub async fn login_page(
    State(state): State<AppState>,
    visitor: Visitor,
) -> Result<Response, ConsoleError> {
    let (csrf, cookie) = visitor.token(&state.console);
    let view = views::Login {
        csrf: &csrf,
        email: "",
        error: None,
        notice: None,
    };
    page(&view, StatusCode::OK, cookie)
}

pub async fn login(
    State(state): State<AppState>,
    VisitorForm(visitor, form): VisitorForm<LoginForm>,
) -> Result<Response, ConsoleError> {
    let outcome = crate::admin::check_password(
        &state.db,
        &form.email,
        &form.password,
        visitor.address,
        now_ms(),
    )
    .await?;
    let (csrf, _) = visitor.token(&state.console);
    let refuse = |status: StatusCode, error: &str| {
        page(
            &views::Login {
                csrf: &csrf,
                email: &form.email,
                error: Some(error),
                notice: None,
            },
            status,
            None,
        )
    };
    match outcome {
        SignIn::Wait(secs) => {
            let text = format!(
                "Too many failed attempts. Wait {secs} second{} and try again.",
                if secs == 1 { "" } else { "s" }
            );
            let mut res = refuse(StatusCode::TOO_MANY_REQUESTS, &text)?;
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1) as u64));
            Ok(res)
        }
        SignIn::Refused { known } => {
            let (actor, why) = match &known {
                Some(a) => (a.email.as_str(), "wrong password"),
                None => ("unknown", "no account with that e-mail address"),
            };
            record(&state, actor, visitor.address, "sign-in failed", why).await?;
            refuse(StatusCode::UNAUTHORIZED, REFUSED)
        }
        SignIn::Passed(account) if account.has_2fa() => {
            let cookie = rotate(&state, visitor.cookie.as_deref(), account.id, Stage::Totp).await?;
            Ok(redirect_with_cookie("/admin/login/totp", cookie))
        }
        SignIn::Passed(account) => {
            let old = visitor.cookie.as_deref();
            signed_in(&state, old, &account, visitor.address, "password").await
        }
    }
}

pub async fn totp_page(pending: Pending) -> Result<Response, ConsoleError> {
    page(
        &views::Totp {
            csrf: &pending.csrf,
            error: None,
        },
        StatusCode::OK,
        None,
    )
}

pub async fn totp(
    State(state): State<AppState>,
    PendingForm(pending, form): PendingForm<CodeForm>,
) -> Result<Response, ConsoleError> {
    let db = &state.db;
    let account = &pending.account;
    let at = now();
    // Codes are throttled like passwords: a million of them is not many.
    let keys = throttle::Keys::new(&account.email, pending.address);
    if let Err(secs) = throttle::check(db, &keys, now_ms()).await? {
        let text = format!("Too many failed attempts. Wait {secs} seconds and try again.");
        let mut res = page(
            &views::Totp {
                csrf: &pending.csrf,
                error: Some(&text),
            },
            StatusCode::TOO_MANY_REQUESTS,
            None,
        )?;
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1) as u64));
        return Ok(res);
    }
    // A key sealed under an earlier server secret opens no more: the owner resets the account.
    let step = (account.totp_secret.as_deref())
        .and_then(|stored| state.console.open_totp(stored))
        .and_then(|secret| totp::accept(&secret, &form.code, at, account.totp_last_step));
    let accepted = match step {
        Some(step) => accounts::use_totp_step(db, account.id, step).await?,
        None => false,
    };
    if !accepted {
        throttle::failed(db, &keys, now_ms()).await?;
        record(
            &state,
            &account.email,
            pending.address,
            "sign-in failed",
            "wrong second-factor code",
        )
        .await?;
        return page(
            &views::Totp {
                csrf: &pending.csrf,
                error: Some("That code did not match (or was already used). Try the next one."),
            },
            StatusCode::UNAUTHORIZED,
            None,
        );
    }
    throttle::succeeded(db, &keys).await?;
    let how = "password and second factor";
    signed_in(&state, Some(&pending.id), account, pending.address, how).await
}

pub async fn logout(
    State(state): State<AppState>,
    VisitorForm(visitor, _): VisitorForm<CsrfOnly>,
) -> Result<Response, ConsoleError> {
    if let Some(id) = &visitor.cookie {
        let at = now();
        if let Some(s) = session::load(&state.db, id, at, state.console.lifetimes).await? {
            record(&state, &s.account.email, visitor.address, "sign-out", "").await?;
        }
        session::end(&state.db, id).await?;
    }
    // A new value for the cookie too: nothing of the old one is reused.
    let nonce = crate::crypto::random_token();
    Ok(redirect_with_cookie(
        "/admin/login",
        state.console.set_cookie(&nonce),
    ))
}

pub async fn set_password_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    visitor: Visitor,
) -> Result<Response, ConsoleError> {
    let Some(account) = accounts::peek_link(&state.db, &token, now()).await? else {
        return page(&views::LinkGone, StatusCode::GONE, None);
    };
    let (csrf, cookie) = visitor.token(&state.console);
    page(
        &views::SetPassword {
            csrf: &csrf,
            token: &token,
            email: &account.email,
            error: None,
        },
        StatusCode::OK,
        cookie,
    )
}

pub async fn set_password(
    State(state): State<AppState>,
    Path(token): Path<String>,
    VisitorForm(visitor, form): VisitorForm<PasswordForm>,
) -> Result<Response, ConsoleError> {
    let db = &state.db;
    let Some(account) = accounts::peek_link(db, &token, now()).await? else {
        return page(&views::LinkGone, StatusCode::GONE, None);
    };
    if let Err(weak) = password::check(&form.password, &account.email) {
        let (csrf, _) = visitor.token(&state.console);
        return page(
            &views::SetPassword {
                csrf: &csrf,
                token: &token,
                email: &account.email,
                error: Some(weak.message()),
            },
            StatusCode::BAD_REQUEST,
            None,
        );
    }
    // Taken only now, atomically: a weak password leaves the link usable, two posts racing
    // set one password.
    let Some(account) = accounts::take_link(db, &token, now()).await? else {
        return page(&views::LinkGone, StatusCode::GONE, None);
    };
    let hash = password::hash(form.password)
        .await
        .map_err(|e| ConsoleError::App(crate::error::Error::Internal(e).into()))?;
    accounts::set_password(db, account.id, &hash).await?;
    record(
        &state,
        &account.email,
        visitor.address,
        "password set",
        "with a set-password link",
    )
    .await?;
    if account.has_2fa() {
        return Ok(Redirect::to("/admin/login").into_response());
    }
    let how = "after setting the password";
    signed_in(
        &state,
        visitor.cookie.as_deref(),
        &account,
        visitor.address,
        how,
    )
    .await
}
