//! Cross-cutting layers: request ids and the request log, security headers, error pages.

use std::time::Instant;

use axum::body::{Body, HttpBody};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use super::error::{AppError, ErrorPage};
use super::pages::{Chrome, ErrorView};
use super::state::AppState;
use crate::i18n::{self, Locale};

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request's id: taken from `x-request-id` when it is a sane token, made up otherwise.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

fn acceptable_request_id(value: &HeaderValue) -> Option<String> {
    let s = value.to_str().ok()?;
    let ok = (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    ok.then(|| s.to_owned())
}

fn new_request_id() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes: [u8; 8] = rand::random();
    let mut id = String::with_capacity(16);
    for b in bytes {
        id.push(HEX[usize::from(b >> 4)] as char);
        id.push(HEX[usize::from(b & 15)] as char);
    }
    id
}

/// A path for the log, cut to 128 characters; formatted only when the span is recorded.
struct LogPath<'a>(&'a str);

impl std::fmt::Display for LogPath<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.char_indices().nth(128) {
            Some((end, _)) => f.write_str(&self.0[..end]),
            None => f.write_str(self.0),
        }
    }
}

/// What the outermost layer needs: the state (for error pages) and the CSP header.
#[derive(Clone)]
pub struct Edge {
    pub state: AppState,
    pub hsts: Option<HeaderValue>,
}

/// The outermost layer, one pass for what every response needs (one layer rather than three:
/// each layer costs a boxed service clone per request): a request id and a span carrying it;
/// the error page an `AppError` asked for; the security headers; the metrics and one log line
/// at the end. Only the path is logged: the callback's query holds the authorization code and
/// state.
pub async fn edge(State(edge): State<Edge>, mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(acceptable_request_id)
        .unwrap_or_else(new_request_id);
    req.extensions_mut().insert(RequestId(id.clone()));
    let api = if req.uri().path().starts_with(super::merchant::PREFIX) {
        Api::Problem
    } else if req.uri().path().starts_with("/api/") {
        Api::Json
    } else {
        Api::Html
    };
    let lang = Lang::of(&req);
    let method = req.method().clone();
    // The route template (`/verify/{group}`) for the metrics: the router sets it before the
    // layers it wraps each route in, this one included.
    let route = req.extensions().get::<MatchedPath>().cloned();
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %LogPath(req.uri().path())
    );
    let started = Instant::now();
    let res = next.run(req).instrument(span.clone()).await;
    let mut res = span.in_scope(|| render_errors(&edge.state, res, &id, api, &lang));
    // A shopper's page is in the language the cookie or Accept-Language chose.
    if !lang.console
        && (api == Api::Json && res.extensions().get::<ErrorPage>().is_some()
            || res
                .headers()
                .get(header::CONTENT_TYPE)
                .is_some_and(|v| v.as_bytes().starts_with(b"text/html")))
    {
        res.headers_mut().append(
            header::VARY,
            HeaderValue::from_static("Accept-Language, Cookie"),
        );
    }
    security_headers(res.headers_mut(), edge.state.shop().csp.clone());
    // Nothing of ours is for a shared cache unless it says so (the static files do); the
    // shopper's pages reflect the session, the sandbox's token answers must not be stored.
    if !res.headers().contains_key(header::CACHE_CONTROL) {
        res.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if let Some(hsts) = edge.hsts {
        res.headers_mut()
            .insert(header::STRICT_TRANSPORT_SECURITY, hsts);
    }

    let status = res.status().as_u16();
    let elapsed = started.elapsed();
    // Unmatched paths share one label: a label per probed URL would grow without bound.
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    crate::metrics::http(method.as_str(), route, status, elapsed);
    span.in_scope(|| {
        let micros = elapsed.as_micros() as u64;
        if status >= 400 {
            tracing::info!(status, micros, "response");
        } else {
            tracing::debug!(status, micros, "response");
        }
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(X_REQUEST_ID.clone(), value);
    }
    res
}

/// The language of a request's error page, and where its switch comes back to.
struct Lang {
    locale: Locale,
    /// The merchant console: English, no switch.
    console: bool,
    /// The request's URI, when a GET (a reload shows the same page); only an error page
    /// makes the switch's `next` of it.
    get: Option<axum::http::Uri>,
}

impl Lang {
    fn of(req: &Request) -> Self {
        let path = req.uri().path();
        let console = path == "/admin" || path.starts_with("/admin/");
        Self {
            locale: match console {
                true => Locale::En,
                false => i18n::locale_of(req.headers()),
            },
            console,
            get: (req.method() == Method::GET).then(|| req.uri().clone()),
        }
    }

    /// Where the error page's switch comes back to: this page when it was a GET without a
    /// query (a callback's query is spent), else the store.
    fn next(&self) -> String {
        let here = (self.get.as_ref())
            .filter(|uri| uri.query().is_none())
            .and_then(|uri| i18n::safe_next(uri.path()))
            .unwrap_or("/");
        i18n::switch_next(here).into_owned()
    }
}

/// `logo_origin`: where the store's logo comes from (`PERKGATE_STORE_LOGO_URL`).
pub fn content_security_policy(idme_origin: &str, logo_origin: Option<&str>) -> HeaderValue {
    // form-action must allow the ID.me origin: browsers apply it to the redirect that follows
    // the verify form's POST.
    let logo = logo_origin.map(|o| format!(" {o}")).unwrap_or_default();
    let policy = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'{logo}; \
         form-action 'self' {idme_origin}; frame-ancestors 'none'; base-uri 'none'"
    );
    HeaderValue::from_str(&policy).unwrap_or_else(|_| {
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; form-action 'self'; frame-ancestors 'none'",
        )
    })
}

/// `Strict-Transport-Security` behind an https public URL only: over http browsers ignore it.
/// No `includeSubDomains`: perkgate cannot know every host under the shop's domain.
pub fn strict_transport_security(
    public_url: &url::Url,
    hsts: crate::config::Hsts,
) -> Option<HeaderValue> {
    match hsts {
        crate::config::Hsts::MaxAge(secs) if public_url.scheme() == "https" => {
            HeaderValue::from_str(&format!("max-age={secs}")).ok()
        }
        _ => None,
    }
}

fn security_headers(h: &mut axum::http::HeaderMap, csp: HeaderValue) {
    h.insert(header::CONTENT_SECURITY_POLICY, csp);
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // No page of ours should leak its URL (the callback's carries a code) to another site.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// A 4xx that is not ours: axum's plain-text rejection (a malformed query or path, a body too
/// large or of the wrong type) or a layer's empty answer. Our pages are HTML or JSON.
fn is_foreign_rejection(res: &Response) -> bool {
    res.status().is_client_error()
        && (res.body().size_hint().exact() == Some(0)
            || res
                .headers()
                .get(header::CONTENT_TYPE)
                .is_some_and(|v| v.as_bytes().starts_with(b"text/plain")))
}

/// How a path's errors are told.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Api {
    Html,
    /// `/api/`: the JSON envelope.
    Json,
    /// The merchant API: problem details.
    Problem,
}

/// Renders the page an `AppError` asked for (JSON under `/api/`), with the request id as the
/// correlation id. A bare server error from a layer (the session store failing to save, say)
/// gets the same treatment instead of an empty 500, and so does a rejection an extractor made
/// in axum's plain text: every handler, however it extracts, answers in the envelope.
fn render_errors(state: &AppState, res: Response, id: &str, api: Api, lang: &Lang) -> Response {
    let cat = i18n::catalog(lang.locale);
    let page = match res.extensions().get::<ErrorPage>() {
        Some(page) => page.clone(),
        None if res.status().is_server_error() && res.body().size_hint().exact() == Some(0) => {
            tracing::error!(
                status = res.status().as_u16(),
                "empty server error from a layer"
            );
            AppError::Domain(crate::error::Error::Store(
                "a layer answered with an empty server error".into(),
            ))
            .page()
        }
        // Its text is dropped, not logged: serde's messages may quote what the client sent.
        None if is_foreign_rejection(&res) => {
            tracing::info!(status = res.status().as_u16(), "request rejected");
            AppError::for_status(res.status()).page()
        }
        None => return res,
    };
    let message = page.message.text(state.config.session.auth_timeout, cat);
    let title = cat.text(page.title);
    let (mut parts, _) = res.into_parts();
    parts.status = page.status;
    parts.headers.remove(header::CONTENT_LENGTH);
    // An error page may reflect session state and must not be replayed from a cache.
    parts
        .headers
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let body = if api == Api::Problem {
        // The merchant API speaks RFC 9457 problem details, also for what the router and the
        // layers refuse (an unknown route, a method, a body too large or too slow).
        parts.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(super::merchant::problem::CONTENT_TYPE),
        );
        // In English whatever the client's languages: a shop's backend reads these, and the
        // pages' texts speak to shoppers ("back to the store").
        let title = i18n::catalog(i18n::Locale::En).text(page.title);
        let mut body = super::merchant::problem::body(
            page.status,
            &page.code.replace('_', "-"),
            &title,
            &title,
        );
        body.insert("correlation_id".to_owned(), id.into());
        serde_json::Value::Object(body).to_string()
    } else if api == Api::Json {
        parts.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        serde_json::json!({
            "error": page.code,
            "message": message,
            "correlation_id": id,
        })
        .to_string()
    } else {
        parts.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        let shop = state.shop();
        let next = lang.next();
        let chrome = Chrome {
            t: &cat.t,
            next: (!lang.console).then_some(next.as_str()),
            sandbox: state.sandbox.is_some(),
            store: &shop.shop,
            title: &title,
        };
        let view = ErrorView {
            t: &cat.t,
            title: &title,
            message: &message,
            role: page.role,
            correlation_id: id,
        };
        // The console's errors are never the merchant's templates; a merchant's that fails
        // gives way to the built-in page (its failure logged, naming the template).
        let overrides = (!lang.console).then(|| state.templates.current()).flatten();
        let rendered = super::pages::page(&chrome, &view, overrides.as_deref()).or_else(|e| {
            if overrides.is_none() {
                return Err(e);
            }
            let cause = match &e {
                AppError::Domain(cause) => cause.to_string(),
                other => other.to_string(),
            };
            tracing::error!(error = %cause, "the error page's merchant template failed; built-in page shown");
            super::pages::page(&chrome, &view, None)
        });
        match rendered {
            Ok(html) => html.0,
            Err(e) => {
                tracing::error!(error = %e, "error page template failed");
                parts
                    .headers
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
                format!("{title} (reference {id})")
            }
        }
    };
    Response::from_parts(parts, Body::from(body))
}
