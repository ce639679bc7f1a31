//! The signed-in account's own page: the second factor and the password.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::extract::{Admin, AdminForm, ConsoleError, CsrfField, Enrolling};
use super::signin::{CodeForm, CsrfOnly, record, redirect_with_cookie, rotate};
use super::views::{self, PendingTotp};
use crate::admin::session::Stage;
use crate::admin::{Role, accounts, password, totp};
use crate::clock::{now, now_ms};
use crate::web::state::AppState;

/// The name authenticator apps show for these accounts.
const ISSUER: &str = "perkgate";

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ChangeForm {
    csrf: String,
    current: String,
    password: String,
}

impl CsrfField for ChangeForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[derive(Default)]
struct Shown<'a> {
    pending: bool,
    tfa_error: Option<&'a str>,
    password_error: Option<&'a str>,
}

fn render(
    state: &AppState,
    admin: &Admin<Enrolling>,
    shown: Shown<'_>,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    let a = &admin.account;
    let pending = (a.totp_pending.as_deref())
        .filter(|_| shown.pending && !a.has_2fa())
        .and_then(|stored| state.console.open_totp(stored))
        .map(|secret| PendingTotp {
            uri: totp::uri(&secret, &a.email, ISSUER),
            secret,
        });
    views::page(
        &views::Account {
            csrf: &admin.csrf,
            is_owner: a.role == Role::Owner,
            email: &a.email,
            role: a.role.as_str(),
            has_2fa: a.has_2fa(),
            must_enrol: state.console.require_2fa && a.role == Role::Owner && !a.has_2fa(),
            pending,
            notice: None,
            tfa_error: shown.tfa_error,
            password_error: shown.password_error,
        },
        status,
        None,
    )
}

pub async fn page(
    State(state): State<AppState>,
    admin: Admin<Enrolling>,
) -> Result<Response, ConsoleError> {
    render(&state, &admin, Shown::default(), StatusCode::OK)
}

pub async fn start_2fa(
    State(state): State<AppState>,
    AdminForm(mut admin, _): AdminForm<Enrolling, CsrfOnly>,
) -> Result<Response, ConsoleError> {
    if admin.account.has_2fa() {
        return Ok(Redirect::to("/admin/account").into_response());
    }
    let secret = totp::new_secret();
    let sealed = state.console.seal_totp(&secret)?;
    accounts::begin_totp(&state.db, admin.account.id, &sealed).await?;
    admin.account.totp_pending = Some(sealed);
    let shown = Shown {
        pending: true,
        ..Shown::default()
    };
    render(&state, &admin, shown, StatusCode::OK)
}

pub async fn confirm_2fa(
    State(state): State<AppState>,
    AdminForm(admin, form): AdminForm<Enrolling, CodeForm>,
) -> Result<Response, ConsoleError> {
    let a = &admin.account;
    let Some(secret) = (a.totp_pending.as_deref())
        .filter(|_| !a.has_2fa())
        .and_then(|stored| state.console.open_totp(stored))
    else {
        return Ok(Redirect::to("/admin/account").into_response());
    };
    match totp::accept(&secret, &form.code, now(), 0) {
        Some(step) => {
            accounts::confirm_totp(&state.db, a.id, step).await?;
            record(&state, &a.email, admin.address, "2fa enabled", "").await?;
            Ok(Redirect::to("/admin/account").into_response())
        }
        None => {
            let shown = Shown {
                pending: true,
                tfa_error: Some(
                    "That code did not match. Check the app's clock and try the next code.",
                ),
                ..Shown::default()
            };
            render(&state, &admin, shown, StatusCode::BAD_REQUEST)
        }
    }
}

pub async fn disable_2fa(
    State(state): State<AppState>,
    AdminForm(admin, form): AdminForm<Enrolling, CodeForm>,
) -> Result<Response, ConsoleError> {
    let a = &admin.account;
    let refuse = |why: &'static str| {
        let shown = Shown {
            tfa_error: Some(why),
            ..Shown::default()
        };
        render(&state, &admin, shown, StatusCode::BAD_REQUEST)
    };
    if state.console.require_2fa && a.role == Role::Owner {
        return refuse("Owners of this console must keep a second factor.");
    }
    let step = (a.totp_secret.as_deref())
        .and_then(|stored| state.console.open_totp(stored))
        .and_then(|s| totp::accept(&s, &form.code, now(), a.totp_last_step));
    let accepted = match step {
        Some(step) => accounts::use_totp_step(&state.db, a.id, step).await?,
        None => false,
    };
    if !accepted {
        return refuse("That code did not match (or was already used).");
    }
    accounts::disable_totp(&state.db, a.id).await?;
    record(&state, &a.email, admin.address, "2fa disabled", "").await?;
    Ok(Redirect::to("/admin/account").into_response())
}

pub async fn change_password(
    State(state): State<AppState>,
    AdminForm(admin, form): AdminForm<Enrolling, ChangeForm>,
) -> Result<Response, ConsoleError> {
    let db = &state.db;
    let a = &admin.account;
    let refuse = |why: &str, status| {
        let shown = Shown {
            password_error: Some(why),
            ..Shown::default()
        };
        render(&state, &admin, shown, status)
    };
    if let Err(weak) = password::check(&form.password, &a.email) {
        return refuse(weak.message(), StatusCode::BAD_REQUEST);
    }
    // The current password, throttled like a sign-in: a stolen session must not become a
    // way to guess it.
    match crate::admin::check_password(db, &a.email, &form.current, admin.address, now_ms()).await?
    {
        crate::admin::SignIn::Passed(_) => {}
        crate::admin::SignIn::Wait(secs) => {
            let text = format!("Too many failed attempts. Wait {secs} seconds and try again.");
            return refuse(&text, StatusCode::TOO_MANY_REQUESTS);
        }
        crate::admin::SignIn::Refused { .. } => {
            record(
                &state,
                &a.email,
                admin.address,
                "password change failed",
                "wrong current password",
            )
            .await?;
            return refuse(
                "Your current password was not right.",
                StatusCode::BAD_REQUEST,
            );
        }
    }
    let hash = password::hash(form.password)
        .await
        .map_err(|e| ConsoleError::App(crate::error::Error::Internal(e).into()))?;
    // Every session of the account ends, this one too; this browser gets a new one.
    accounts::set_password(db, a.id, &hash).await?;
    record(
        &state,
        &a.email,
        admin.address,
        "password set",
        "changed on the account page",
    )
    .await?;
    let cookie = rotate(&state, None, a.id, Stage::Full).await?;
    Ok(redirect_with_cookie("/admin/account", cookie))
}
