//! The console's guards: [`Admin<R>`] (a signed-in account with at least role `R`), [`Visitor`]
//! (before signing in), the forms whose CSRF token they check, and [`ConsoleError`].

use std::marker::PhantomData;
use std::net::IpAddr;

use axum::extract::{Form, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::de::DeserializeOwned;

use super::Console;
use crate::admin::session::{self, Stage};
use crate::admin::{Account, Role};
use crate::web::error::AppError;
use crate::web::state::AppState;

/// Why a console request was not served; each renders itself.
#[derive(Debug)]
pub enum ConsoleError {
    /// No live session: pages send the browser to sign in.
    SignIn,
    /// The password was right; the code is still due.
    SecondFactor,
    /// An owner without a second factor where one is required: enrol first.
    Enrol,
    /// The role is too low.
    Forbidden,
    Csrf,
    App(AppError),
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        match self {
            Self::SignIn => Redirect::to("/admin/login").into_response(),
            Self::SecondFactor => Redirect::to("/admin/login/totp").into_response(),
            Self::Enrol => Redirect::to("/admin/account").into_response(),
            Self::Forbidden => AppError::Forbidden.into_response(),
            Self::Csrf => AppError::Csrf.into_response(),
            Self::App(e) => e.into_response(),
        }
    }
}

impl From<AppError> for ConsoleError {
    fn from(e: AppError) -> Self {
        Self::App(e)
    }
}

impl From<crate::db::Error> for ConsoleError {
    fn from(e: crate::db::Error) -> Self {
        Self::App(e.into())
    }
}

impl From<askama::Error> for ConsoleError {
    fn from(e: askama::Error) -> Self {
        Self::App(e.into())
    }
}

/// The role a route needs, as a type: `Admin<Owner>`.
pub trait Need: Send + Sync + 'static {
    const ROLE: Role;
    /// Open to an owner who must still enrol a second factor (the account page).
    const WHILE_ENROLLING: bool = false;
}

pub struct Viewer;
pub struct Editor;
pub struct Owner;
/// Any role, also while a required second factor is not enrolled yet.
pub struct Enrolling;

impl Need for Viewer {
    const ROLE: Role = Role::Viewer;
}
impl Need for Editor {
    const ROLE: Role = Role::Editor;
}
impl Need for Owner {
    const ROLE: Role = Role::Owner;
}
impl Need for Enrolling {
    const ROLE: Role = Role::Viewer;
    const WHILE_ENROLLING: bool = true;
}

/// A signed-in account whose role is at least `R`'s.
pub struct Admin<R> {
    pub account: Account,
    /// The session id (the cookie's value).
    pub id: String,
    pub address: IpAddr,
    /// The token this session's forms carry.
    pub csrf: String,
    _role: PhantomData<R>,
}

/// Whoever asks, before signing in: the console cookie if any, and the address.
pub struct Visitor {
    pub cookie: Option<String>,
    pub address: IpAddr,
}

impl Visitor {
    /// The forms' token, and the cookie to set when the visitor has none yet.
    pub fn token(&self, console: &Console) -> (String, Option<HeaderValue>) {
        match &self.cookie {
            Some(value) => (console.csrf_token(value), None),
            None => {
                let nonce = crate::crypto::random_token();
                (console.csrf_token(&nonce), Some(console.set_cookie(&nonce)))
            }
        }
    }
}

fn address(parts: &Parts, console: &Console) -> Result<IpAddr, ConsoleError> {
    console
        .client_ip
        .of_head(&parts.extensions, &parts.headers)
        .ok_or(ConsoleError::App(AppError::BadRequest(
            "client address unavailable",
        )))
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ConsoleError> {
        let console = &state.console;
        Ok(Self {
            cookie: console.cookie_value(&parts.headers).map(str::to_owned),
            address: address(parts, console)?,
        })
    }
}

/// The session behind the cookie, at any stage.
async fn live_session(
    parts: &Parts,
    state: &AppState,
) -> Result<(String, session::Session), ConsoleError> {
    let console = &state.console;
    let id = console
        .cookie_value(&parts.headers)
        .ok_or(ConsoleError::SignIn)?
        .to_owned();
    let s = session::load(&state.db, &id, crate::clock::now(), console.lifetimes)
        .await?
        .ok_or(ConsoleError::SignIn)?;
    Ok((id, s))
}

impl<R: Need> FromRequestParts<AppState> for Admin<R> {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ConsoleError> {
        let (id, s) = live_session(parts, state).await?;
        if s.stage != Stage::Full {
            return Err(ConsoleError::SecondFactor);
        }
        let console = &state.console;
        let must_enrol =
            console.require_2fa && s.account.role == Role::Owner && !s.account.has_2fa();
        if must_enrol && !R::WHILE_ENROLLING {
            return Err(ConsoleError::Enrol);
        }
        if s.account.role < R::ROLE {
            return Err(ConsoleError::Forbidden);
        }
        Ok(Self {
            csrf: console.csrf_token(&id),
            address: address(parts, console)?,
            account: s.account,
            id,
            _role: PhantomData,
        })
    }
}

/// A session whose password was right and whose code is awaited.
pub struct Pending {
    pub account: Account,
    pub id: String,
    pub address: IpAddr,
    pub csrf: String,
}

impl FromRequestParts<AppState> for Pending {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ConsoleError> {
        let (id, s) = live_session(parts, state).await?;
        if s.stage != Stage::Totp {
            return Err(ConsoleError::SignIn);
        }
        let console = &state.console;
        Ok(Self {
            csrf: console.csrf_token(&id),
            address: address(parts, console)?,
            account: s.account,
            id,
        })
    }
}

/// A form with a `csrf` field.
pub trait CsrfField {
    fn csrf(&self) -> &str;
}

/// Reads a form; a malformed one still reaches the token check (its fields default), so a
/// forged post is refused as such. Too large or not a form: said as it is.
async fn read_form<T: DeserializeOwned + Default>(
    req: Request,
    state: &AppState,
) -> Result<T, ConsoleError> {
    match Form::<T>::from_request(req, state).await {
        Ok(Form(t)) => Ok(t),
        Err(e)
            if matches!(
                e.status(),
                StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNSUPPORTED_MEDIA_TYPE
            ) =>
        {
            Err(ConsoleError::App(AppError::for_status(e.status())))
        }
        Err(_) => Ok(T::default()),
    }
}

/// A signed-in account's form whose token matched its session.
pub struct AdminForm<R, T>(pub Admin<R>, pub T);

impl<R: Need, T: DeserializeOwned + Default + CsrfField + Send> FromRequest<AppState>
    for AdminForm<R, T>
{
    type Rejection = ConsoleError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ConsoleError> {
        let (mut parts, body) = req.into_parts();
        let admin = Admin::<R>::from_request_parts(&mut parts, state).await?;
        let form: T = read_form(Request::from_parts(parts, body), state).await?;
        if !state.console.csrf_ok(&admin.id, form.csrf()) {
            return Err(ConsoleError::Csrf);
        }
        Ok(Self(admin, form))
    }
}

/// The second-factor form of a session awaiting its code.
pub struct PendingForm<T>(pub Pending, pub T);

impl<T: DeserializeOwned + Default + CsrfField + Send> FromRequest<AppState> for PendingForm<T> {
    type Rejection = ConsoleError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ConsoleError> {
        let (mut parts, body) = req.into_parts();
        let pending = Pending::from_request_parts(&mut parts, state).await?;
        let form: T = read_form(Request::from_parts(parts, body), state).await?;
        if !state.console.csrf_ok(&pending.id, form.csrf()) {
            return Err(ConsoleError::Csrf);
        }
        Ok(Self(pending, form))
    }
}

/// A visitor's form (sign-in, set-password, sign-out) whose token matched its cookie.
pub struct VisitorForm<T>(pub Visitor, pub T);

impl<T: DeserializeOwned + Default + CsrfField + Send> FromRequest<AppState> for VisitorForm<T> {
    type Rejection = ConsoleError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ConsoleError> {
        let (mut parts, body) = req.into_parts();
        let visitor = Visitor::from_request_parts(&mut parts, state).await?;
        let form: T = read_form(Request::from_parts(parts, body), state).await?;
        match &visitor.cookie {
            Some(cookie) if state.console.csrf_ok(cookie, form.csrf()) => Ok(Self(visitor, form)),
            _ => Err(ConsoleError::Csrf),
        }
    }
}
