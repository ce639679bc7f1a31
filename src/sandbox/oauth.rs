//! The sandbox's back channel: the token and attributes endpoints, client authentication and
//! OAuth's JSON error answers (rendered with a correlation id by `refusal`).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::grants::TokenGrant;
use super::refusal::{OAuthForm, Refusal};
use super::{GRANT_TTL_SECS, Sandbox};
use crate::clock::now;
use crate::crypto::random_token;

fn oauth_error(status: StatusCode, error: &'static str, description: &'static str) -> Response {
    Refusal::oauth(status, error, description).into_response()
}

/// The token request (RFC 6749 §4.1.3). A repeated parameter, or a body that is not such a form,
/// is refused as `invalid_request` by [`OAuthForm`]; a missing one once the client is
/// authenticated (as ID.me does: an unauthenticated caller learns nothing of the request). The
/// client's credentials may come by HTTP Basic instead.
#[derive(Deserialize)]
pub(super) struct TokenRequest {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

impl TokenRequest {
    /// The first required parameter the request lacks.
    fn missing(&self) -> Option<&'static str> {
        [
            ("grant_type", &self.grant_type),
            ("code", &self.code),
            ("redirect_uri", &self.redirect_uri),
            ("code_verifier", &self.code_verifier),
        ]
        .into_iter()
        .find_map(|(name, value)| value.is_none().then_some(name))
    }
}

/// The client's id and secret from HTTP Basic or the form body.
fn client_credentials(headers: &HeaderMap, form: &TokenRequest) -> Option<(String, String)> {
    if let Some(basic) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    {
        let decoded = String::from_utf8(STANDARD.decode(basic.trim()).ok()?).ok()?;
        let (id, secret) = decoded.split_once(':')?;
        let unescape = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
        };
        return Some((unescape(id)?, unescape(secret)?));
    }
    Some((form.client_id.clone()?, form.client_secret.clone()?))
}

pub(super) async fn token(
    State(sandbox): State<Arc<Sandbox>>,
    headers: HeaderMap,
    OAuthForm(form): OAuthForm<TokenRequest>,
) -> Response {
    sandbox.calls.token.fetch_add(1, Ordering::SeqCst);
    let authenticated = client_credentials(&headers, &form).is_some_and(|(id, secret)| {
        id == sandbox.client_id
            && bool::from(
                secret
                    .as_bytes()
                    .ct_eq(sandbox.client_secret.expose().as_bytes()),
            )
    });
    if !authenticated {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
    }
    if let Some(name) = form.missing() {
        return Refusal::oauth(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("missing parameter: {name}"),
        )
        .into_response();
    }
    if form.grant_type.as_deref() != Some("authorization_code") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "use authorization_code",
        );
    }
    let code = form.code.as_deref().unwrap_or_default();
    let now = now();
    let mut guard = sandbox.grants();
    guard.prune(now);
    let grants = &mut *guard;
    let Some(grant) = grants.codes.get_mut(code) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "unknown or expired code",
        );
    };
    if let Some(issued) = grant.issued_token.take() {
        // A second redemption: refuse it and revoke what the first one got, like ID.me.
        grants.tokens.remove(&issued);
        grants.codes.remove(code);
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "code already used",
        );
    }
    if form.redirect_uri.as_deref() != Some(grant.redirect_uri.as_str()) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "redirect_uri mismatch",
        );
    }
    let verifier = form.code_verifier.as_deref().unwrap_or_default();
    let challenge = crate::crypto::sha256_b64(verifier);
    if verifier.is_empty()
        || !bool::from(challenge.as_bytes().ct_eq(grant.code_challenge.as_bytes()))
    {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "PKCE verification failed",
        );
    }
    let access_token = random_token();
    grant.issued_token = Some(access_token.clone());
    let scopes = grant.scopes.clone();
    let persona = grant.persona;
    let evicted = grants.tokens.insert(
        access_token.clone(),
        TokenGrant {
            scopes: scopes.clone(),
            persona,
            created_at: now,
        },
    );
    grants.evicted("access tokens", evicted, now);
    (
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(serde_json::json!({
            "access_token": access_token,
            "token_type": "bearer",
            "expires_in": GRANT_TTL_SECS,
            "refresh_token": random_token(),
            "scope": scopes.join(" "),
        })),
    )
        .into_response()
}

pub(super) async fn attributes(
    State(sandbox): State<Arc<Sandbox>>,
    headers: HeaderMap,
) -> Response {
    sandbox.calls.attributes.fetch_add(1, Ordering::SeqCst);
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    // Single use, as ID.me's documentation describes its access tokens.
    let grant = sandbox.grants().tokens.remove(token);
    match grant {
        Some(g) if now() - g.created_at <= GRANT_TTL_SECS => {
            match sandbox.encode(g.persona.payload(&g.scopes)) {
                Ok(response) => response,
                Err(e) => {
                    tracing::error!(error = %e, "sandbox could not sign or encrypt the payload");
                    StatusCode::INTERNAL_SERVER_ERROR.into_response()
                }
            }
        }
        _ => oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "unknown, used or expired token",
        ),
    }
}
