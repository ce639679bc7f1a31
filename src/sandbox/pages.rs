//! What the browser sees of the sandbox: the groups page, the authorize (persona) page and the
//! consent that sends the shopper back with a code or an OAuth error, with their templates.
//! Refusals are the sandbox's error page (`refusal`); every field kept or shown back is capped
//! (`fields`).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use askama::Template;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use url::Url;

use super::fields::{Params, valid_code_challenge};
use super::grants::{AuthRequest, CodeGrant};
use super::refusal::{PageForm, Refusal};
use super::{PATH, REQUEST_TTL_SECS, Sandbox, personas};
use crate::clock::now;
use crate::crypto::random_token;
use crate::i18n::{self, Catalog, Msg, Texts};

/// What every sandbox page shows in the shopper's language: its texts, and where the
/// language switch comes back to (this page when it was a GET, else the store).
pub(super) struct Shown {
    pub(super) cat: &'static Catalog,
    pub(super) next: String,
}

impl Shown {
    pub(super) fn of(method: &Method, uri: &Uri, headers: &HeaderMap) -> Self {
        // The router nests these pages under PATH: the URI here is the part after it.
        let here = match (method, uri.path_and_query()) {
            (&Method::GET, Some(pq)) => format!("{PATH}{pq}"),
            _ => "/".to_owned(),
        };
        let next = i18n::safe_next(&here).unwrap_or("/");
        Self {
            cat: i18n::catalog(i18n::locale_of(headers)),
            next: i18n::switch_next(next).into_owned(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Shown {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::of(&parts.method, &parts.uri, &parts.headers))
    }
}

/// A persona button: its id and its label in the shopper's language.
struct PersonaButton {
    id: &'static str,
    label: &'static str,
}

impl PersonaButton {
    fn of(p: &'static personas::Persona, cat: &'static Catalog) -> Self {
        Self {
            id: p.id,
            label: cat.persona(p.id).unwrap_or(p.label),
        }
    }
}

#[derive(Template)]
#[template(path = "sandbox_authorize.html", whitespace = "minimize")]
struct AuthorizePage<'a> {
    t: &'static Texts,
    next: &'a str,
    request_id: &'a str,
    scopes: &'a [String],
    matching: Vec<PersonaButton>,
    others: Vec<PersonaButton>,
}

#[derive(Template)]
#[template(path = "sandbox_groups.html", whitespace = "minimize")]
struct GroupsPage<'a> {
    t: &'static Texts,
    next: &'a str,
    communities: Vec<(String, String, String)>,
}

fn page<T: Template>(status: StatusCode, t: &T) -> Response {
    match t.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "sandbox template failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

fn refuse(message: &'static str) -> Response {
    Refusal::page(message).into_response()
}

/// Sends the browser back to the client with an OAuth error, as ID.me does.
fn redirect_error(
    redirect_uri: &str,
    state: Option<&str>,
    error: &str,
    description: &str,
) -> Response {
    match Url::parse(redirect_uri) {
        Ok(mut url) => {
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("error", error);
                q.append_pair("error_description", description);
                if let Some(state) = state {
                    q.append_pair("state", state);
                }
            }
            Redirect::to(url.as_str()).into_response()
        }
        Err(_) => refuse("The redirect URI is not a URL."),
    }
}

/// The groups endpoint (production's `groups.id.me`): the shopper picks a community, then
/// goes on to that community's authorize page with the same parameters and `scope` set to it.
/// As ID.me's SDKs expect, it takes `scopes` (plural, comma-separated) and no `scope`.
pub(super) async fn groups(
    State(sandbox): State<Arc<Sandbox>>,
    shown: Shown,
    q: Params,
) -> Result<Response, Refusal> {
    if q.param("client_id") != sandbox.client_id {
        return Ok(refuse(
            "Unknown client_id: this sandbox only knows perkgate's own client.",
        ));
    }
    if q.param("redirect_uri") != sandbox.redirect_uri {
        return Ok(refuse(
            "The redirect_uri does not exactly match the registered one.",
        ));
    }
    if q.has("scope") {
        return Ok(refuse(
            "The groups endpoint takes `scopes` (plural, comma-separated), not `scope`.",
        ));
    }
    // Each community link carries the state on: capped here as on the authorize page.
    q.state()?;
    let scopes = q.scopes("scopes", ',')?;
    if scopes.is_empty() {
        return Ok(refuse(
            "scopes is required: the communities the store has offers for.",
        ));
    }
    let communities = scopes
        .iter()
        .map(|scope| {
            let mut url = Url::parse("http://sandbox.invalid/oauth/authorize").ok();
            if let Some(url) = url.as_mut() {
                let mut pairs = url.query_pairs_mut();
                for (k, v) in q.iter() {
                    if k != "scopes" {
                        pairs.append_pair(k, v);
                    }
                }
                pairs.append_pair("scope", scope);
            }
            let query = url
                .and_then(|u| u.query().map(str::to_owned))
                .unwrap_or_default();
            (
                (*scope).to_owned(),
                crate::rules::community_name_in(scope, shown.cat.locale()).into_owned(),
                format!("{PATH}/oauth/authorize?{query}"),
            )
        })
        .collect();
    Ok(page(
        StatusCode::OK,
        &GroupsPage {
            t: &shown.cat.t,
            next: &shown.next,
            communities,
        },
    ))
}

pub(super) async fn authorize(
    State(sandbox): State<Arc<Sandbox>>,
    shown: Shown,
    q: Params,
) -> Result<Response, Refusal> {
    sandbox.calls.authorize.fetch_add(1, Ordering::SeqCst);
    if q.param("client_id") != sandbox.client_id {
        return Ok(refuse(
            "Unknown client_id: this sandbox only knows perkgate's own client.",
        ));
    }
    // Never redirect to an unregistered URI: show the error here instead.
    let redirect_uri = q.param("redirect_uri");
    if redirect_uri != sandbox.redirect_uri {
        return Ok(refuse(
            "The redirect_uri does not exactly match the registered one.",
        ));
    }
    // What is stored or echoed is capped before anything is sent back.
    let state = q.state()?;
    let scopes: Vec<String> = q
        .scopes("scope", ' ')?
        .into_iter()
        .map(str::to_owned)
        .collect();
    let problem = if q.param("response_type") != "code" {
        Some("response_type must be code")
    } else if !valid_code_challenge(q.param("code_challenge"))
        || q.param("code_challenge_method") != "S256"
    {
        Some(
            "PKCE with code_challenge_method=S256 and a 43 to 128 character code_challenge is required",
        )
    } else if q.has("nonce") {
        Some("nonce is an OpenID Connect parameter and this request has no openid scope")
    } else if scopes.is_empty() {
        Some("scope is required")
    } else {
        None
    };
    if let Some(problem) = problem {
        return Ok(redirect_error(
            redirect_uri,
            state,
            "invalid_request",
            problem,
        ));
    }
    let request_id = random_token();
    let now = now();
    {
        let mut grants = sandbox.grants();
        grants.prune(now);
        let evicted = grants.requests.insert(
            request_id.clone(),
            AuthRequest {
                redirect_uri: redirect_uri.to_owned(),
                state: state.map(str::to_owned),
                scopes: scopes.clone(),
                code_challenge: q.param("code_challenge").to_owned(),
                created_at: now,
            },
        );
        grants.evicted("sign-in requests", evicted, now);
    }
    let (matching, others): (Vec<_>, Vec<_>) = personas::PERSONAS
        .iter()
        .partition(|p| p.group.is_some_and(|g| scopes.iter().any(|s| s == g)));
    let buttons = |ps: Vec<&'static personas::Persona>| {
        ps.into_iter()
            .map(|p| PersonaButton::of(p, shown.cat))
            .collect()
    };
    Ok(page(
        StatusCode::OK,
        &AuthorizePage {
            t: &shown.cat.t,
            next: &shown.next,
            request_id: &request_id,
            scopes: &scopes,
            matching: buttons(matching),
            others: buttons(others),
        },
    ))
}

#[derive(Deserialize)]
pub(super) struct ConsentForm {
    request: String,
    persona: String,
}

/// The shopper picked a persona (or declined): back to the client with a code or an error.
pub(super) async fn consent(
    State(sandbox): State<Arc<Sandbox>>,
    PageForm(form): PageForm<ConsentForm>,
) -> Response {
    let now = now();
    let mut grants = sandbox.grants();
    grants.prune(now);
    // Single use: the request id doubles as this form's CSRF token.
    let Some(request) = grants.requests.remove(&form.request) else {
        return Refusal::said(Msg::SandboxPageUsed).into_response();
    };
    if now - request.created_at > REQUEST_TTL_SECS {
        return Refusal::said(Msg::SandboxPageExpired).into_response();
    }
    if form.persona == personas::DECLINE {
        return redirect_error(
            &request.redirect_uri,
            request.state.as_deref(),
            "access_denied",
            "The user denied the request",
        );
    }
    let Some(persona) = personas::find(&form.persona) else {
        return Refusal::said(Msg::SandboxUnknownPersona).into_response();
    };
    let code = random_token();
    let evicted = grants.codes.insert(
        code.clone(),
        CodeGrant {
            redirect_uri: request.redirect_uri.clone(),
            scopes: request.scopes,
            code_challenge: request.code_challenge,
            persona,
            created_at: now,
            issued_token: None,
        },
    );
    grants.evicted("codes", evicted, now);
    drop(grants);
    let Ok(mut url) = Url::parse(&request.redirect_uri) else {
        return refuse("The redirect URI is not a URL.");
    };
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("code", &code);
        if let Some(state) = &request.state {
            q.append_pair("state", state);
        }
    }
    Redirect::to(url.as_str()).into_response()
}
