//! Templates and the embedded static files.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use super::error::AppError;
use super::state::AppState;
use crate::i18n::Texts;
use crate::rules::Benefit;
use crate::shop::Shop;

/// What the layout (`base.html`) shows around every shopper page's body: the store's header
/// and footer, the language switch, the title.
pub struct Chrome<'a> {
    pub t: &'static Texts,
    /// The language switch's way back (`None`: no switch, the console's errors).
    pub next: Option<&'a str>,
    pub sandbox: bool,
    pub store: &'a Shop,
    pub title: &'a str,
}

/// The layout around a body that is rendered on its own (`content`): written straight into
/// the page when both are askama's, or already rendered (escaped) when one is the merchant's
/// (`web::templates`).
#[derive(Template)]
#[template(path = "base.html", whitespace = "minimize")]
struct LayoutView<'a, C: askama::FastWritable, S: askama::FastWritable> {
    t: &'static Texts,
    sandbox: bool,
    store: &'a Shop,
    title: &'a str,
    content: C,
    switch: Option<S>,
}

#[derive(Template)]
#[template(path = "lang_switch.html", whitespace = "minimize")]
pub struct LangSwitchView<'a> {
    pub t: &'static Texts,
    /// This page, encoded for a query.
    pub next: &'a str,
}

#[derive(Template)]
#[template(path = "error.html", whitespace = "minimize")]
pub struct ErrorView<'a> {
    pub t: &'static Texts,
    pub title: &'a str,
    pub message: &'a str,
    pub role: &'a str,
    pub correlation_id: &'a str,
}

/// An offer's card as the offers' templates show it: made once per rule set, language and
/// state of the offers (`web::storefront::OfferCards`), not per view.
#[derive(Clone, Debug, serde::Serialize)]
pub struct OfferView {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    /// "20% off, up to $100.00".
    pub summary: String,
    /// "until 2030-12-31": the offer's last day, if it ends.
    pub until: Option<String>,
    /// "For Military, First responders": who the offer is for.
    pub communities: String,
    /// Its pool has no code left: the card says so.
    pub ran_out: bool,
    /// The offer's community handles, to place its card.
    #[serde(skip)]
    pub groups: Vec<String>,
}

/// A community's offer cards (`unified`: all offers under the one button, with headings one
/// level up).
#[derive(Template)]
#[template(path = "offer_cards.html", whitespace = "minimize")]
pub struct CardsView<'a> {
    pub t: &'static Texts,
    pub offers: &'a [OfferView],
    pub unified: bool,
}

/// One community's section (per-group buttons), or all offers under the one button (an empty
/// handle), with its cards already rendered (escaped), and the offers they show (for a
/// merchant's `storefront.html`).
pub struct CommunityCards {
    pub handle: String,
    pub name: String,
    pub cards: String,
    pub offers: Vec<OfferView>,
}

/// What came of the last verification, shown once.
#[derive(serde::Serialize)]
pub struct MessageView {
    /// The page title while this message shows ("Not verified").
    pub title: &'static str,
    /// `alert` for failures, `status` for outcomes.
    pub role: &'static str,
    pub text: String,
    /// The request id of a failure, as its log line carries it.
    pub reference: Option<String>,
    /// Where "Try again" posts (`/verify/military`, `/verify`); `None`: the verify buttons.
    pub retry: Option<String>,
}

/// The storefront's body (`GET /`).
#[derive(Template)]
#[template(path = "storefront.html", whitespace = "minimize")]
pub struct StorefrontView<'a> {
    pub t: &'static Texts,
    /// The shop page to go back to, checked (`return_to`).
    pub back: Option<&'a str>,
    /// "Apply at checkout": the shop's link with the benefit's code in it.
    pub apply: Option<String>,
    /// The page that embeds the button, when the store runs in its popup (checked origin).
    pub embed: Option<&'a str>,
    pub communities: &'a [CommunityCards],
    pub benefit: Option<&'a Benefit>,
    /// The benefit's title and discount in the shopper's language.
    pub benefit_title: &'a str,
    pub benefit_summary: std::borrow::Cow<'a, str>,
    /// "Valid until 2030-12-31."
    pub benefit_until: Option<String>,
    /// "Military (Veteran)", empty when not verified.
    pub verified_as: String,
    pub message: Option<MessageView>,
    pub show_verify: bool,
    pub csrf: &'a str,
}

/// A shopper's page: `body` inside the layout. Without overrides (`PERKGATE_TEMPLATES`) both
/// are askama's and the body renders straight into the layout; with them, `web::templates`
/// renders each part through the merchant's template where there is one.
pub fn page<B: super::templates::Body>(
    chrome: &Chrome<'_>,
    body: &B,
    overrides: Option<&super::templates::Overrides>,
) -> Result<Html<String>, AppError> {
    match overrides {
        None => html(&LayoutView {
            t: chrome.t,
            sandbox: chrome.sandbox,
            store: chrome.store,
            title: chrome.title,
            content: body,
            switch: (chrome.next).map(|next| LangSwitchView { t: chrome.t, next }),
        }),
        Some(overrides) => overrides.page(chrome, body).map(Html),
    }
}

/// The layout around parts already rendered (one of them the merchant's).
pub fn layout(
    chrome: &Chrome<'_>,
    content: &str,
    switch: Option<&str>,
) -> Result<String, AppError> {
    html(&LayoutView {
        t: chrome.t,
        sandbox: chrome.sandbox,
        store: chrome.store,
        title: chrome.title,
        content,
        switch,
    })
    .map(|page| page.0)
}

pub fn html<T: Template>(view: &T) -> Result<Html<String>, AppError> {
    // Room for a whole page up front: askama's own hint counts each loop's text once, and
    // growing the buffer copies the page again each time (a tenth of a storefront view).
    let mut page = String::with_capacity(T::SIZE_HINT.max(PAGE_CAPACITY));
    view.render_into(&mut page)?;
    Ok(Html(page))
}

/// A storefront with a few offers per community, with room to spare.
const PAGE_CAPACITY: usize = 8 * 1024;

/// Static assets are compiled in: one binary, no working-directory assumptions.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../../static/app.css"),
    ),
    (
        "sandbox.css",
        "text/css; charset=utf-8",
        include_str!("../../static/sandbox.css"),
    ),
];

pub fn static_router() -> Router<AppState> {
    Router::new()
        .route("/static/theme.css", get(theme))
        .route("/embed.js", get(embed))
        .route("/static/{file}", get(asset))
}

/// The store's colour (`PERKGATE_STORE_COLOR`) as custom properties that app.css reads; pages
/// link it only when a colour is set.
async fn theme(State(state): State<AppState>) -> Response {
    match &state.shop().shop.look.palette {
        Some(palette) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/css; charset=utf-8"),
                ),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=3600"),
                ),
            ],
            palette.css(),
        )
            .into_response(),
        None => AppError::NotFound.into_response(),
    }
}

/// The embeddable button's script (`static/embed.js`), for the shops' own pages. Shops load
/// it cross-origin with Subresource Integrity, which needs CORS: it is public, so any origin.
pub const EMBED_JS: &str = include_str!("../../static/embed.js");

async fn embed() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
            (
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            ),
        ],
        EMBED_JS,
    )
        .into_response()
}

async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, body)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=3600"),
                ),
            ],
            *body,
        )
            .into_response(),
        None => AppError::NotFound.into_response(),
    }
}
