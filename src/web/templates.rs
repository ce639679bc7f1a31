//! The merchant's own templates (`PERKGATE_TEMPLATES=DIR`): any of the shopper's page
//! templates ([`Page`]) overridden by a file of the same name in DIR, rendered by a Jinja
//! engine (minijinja) with a documented context (docs/templates.md). The compiled-in askama
//! templates stay the path of every page without an override, and the only path without the
//! setting: nothing here runs then.
//!
//! The folder is read at start-up and on SIGHUP. Each file is compiled and rendered against
//! sample contexts, so a syntax error, an unknown name or a misspelt field (undefined values
//! are errors) stops start-up naming the file and the line; a reload that fails keeps the
//! templates in use. A render that still fails at runtime is an internal error (the error
//! page with its correlation id; the log line names the template), never a panic.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use askama::Template as _;
use minijinja::value::{Serde, Value};
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use super::error::AppError;
use super::pages::{
    CardsView, Chrome, CommunityCards, ErrorView, LangSwitchView, MessageView, OfferView,
    StorefrontView,
};
use crate::i18n::{self, Locale, Texts};
use crate::shop::Shop;

/// A template a merchant may override, by its file name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    /// The layout: header, footer, `<head>`; gets the page's body as `content`.
    Base,
    Storefront,
    Error,
    /// One community's offer cards.
    OfferCards,
    LangSwitch,
}

impl Page {
    pub const ALL: [Self; 5] = [
        Self::Base,
        Self::Storefront,
        Self::Error,
        Self::OfferCards,
        Self::LangSwitch,
    ];

    pub const fn file(self) -> &'static str {
        match self {
            Self::Base => "base.html",
            Self::Storefront => "storefront.html",
            Self::Error => "error.html",
            Self::OfferCards => "offer_cards.html",
            Self::LangSwitch => "lang_switch.html",
        }
    }

    fn from_file(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.file() == name)
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// The templates in force: none without `PERKGATE_TEMPLATES` (and then no lock is taken).
pub struct Templates {
    dir: Option<PathBuf>,
    live: RwLock<Option<Arc<Overrides>>>,
}

impl Templates {
    /// Reads DIR (`PERKGATE_TEMPLATES`) once; the error names the setting, the file and the
    /// line.
    pub fn open(dir: Option<&Path>) -> Result<Self, String> {
        let live = match dir {
            Some(dir) => load(dir)?.map(Arc::new),
            None => None,
        };
        if let (Some(dir), Some(o)) = (dir, &live) {
            tracing::info!(dir = %dir.display(), templates = %o.names().join(", "), "merchant templates loaded");
        }
        Ok(Self {
            dir: dir.map(Path::to_path_buf),
            live: RwLock::new(live),
        })
    }

    /// The overrides for this request; `None` (askama only) without any.
    pub fn current(&self) -> Option<Arc<Overrides>> {
        self.dir.as_ref()?;
        self.live.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Reads the folder again (SIGHUP). A folder that fails keeps the templates in use.
    pub fn reload(&self) -> Result<(), String> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        let fresh = load(dir)?.map(Arc::new);
        *self.live.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        Ok(())
    }

    /// Reloads on every SIGHUP, as the rules file does; a no-op without the setting.
    pub async fn watch(self: Arc<Self>) {
        if self.dir.is_none() {
            return;
        }
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let Ok(mut hangup) = signal(SignalKind::hangup()) else {
                tracing::warn!(
                    "cannot listen for SIGHUP: the merchant templates reload on restart only"
                );
                return;
            };
            while hangup.recv().await.is_some() {
                match self.reload() {
                    Ok(()) => tracing::info!("SIGHUP: merchant templates reloaded"),
                    Err(e) => tracing::error!(
                        error = %e,
                        "SIGHUP: merchant templates not reloaded; the previous ones stay"
                    ),
                }
            }
        }
    }
}

/// The merchant's templates, compiled, and what every context shares.
pub struct Overrides {
    env: Environment<'static>,
    has: [bool; Page::ALL.len()],
    /// Each language's texts as `t`, converted once.
    texts: [Value; Locale::ALL.len()],
}

/// Reads DIR: every `*.html` must be one of [`Page::ALL`]; other files are left alone.
/// `None`: no template in it.
fn load(dir: &Path) -> Result<Option<Overrides>, String> {
    let at = |name: &str| format!("PERKGATE_TEMPLATES: {}", dir.join(name).display());
    let entries = std::fs::read_dir(dir).map_err(|e| {
        format!(
            "PERKGATE_TEMPLATES: cannot read the folder {}: {e}",
            dir.display()
        )
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("PERKGATE_TEMPLATES: {}: {e}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".html") || entry.path().is_dir() {
            continue;
        }
        let Some(page) = Page::from_file(&name) else {
            return Err(format!(
                "{}: not a template perkgate has (the shopper's pages are {}; the console's \
                 and the sandbox's cannot be overridden)",
                at(&name),
                Page::ALL.map(Page::file).join(", ")
            ));
        };
        let source = std::fs::read_to_string(entry.path())
            .map_err(|e| format!("{}: cannot read: {e}", at(&name)))?;
        files.push((page, source));
    }
    if files.is_empty() {
        return Ok(None);
    }
    let overrides = Overrides::new(files).map_err(|(page, e)| located(dir, page, &e))?;
    overrides
        .check()
        .map_err(|(page, e)| located(dir, page, &e))?;
    Ok(Some(overrides))
}

/// "PERKGATE_TEMPLATES: DIR/base.html:12: syntax error: unexpected end of input".
fn located(dir: &Path, page: Page, e: &minijinja::Error) -> String {
    let path = dir.join(page.file());
    let what = match e.detail() {
        Some(detail) => format!("{}: {detail}", e.kind()),
        None => e.kind().to_string(),
    };
    match e.line() {
        Some(line) => format!("PERKGATE_TEMPLATES: {}:{line}: {what}", path.display()),
        None => format!("PERKGATE_TEMPLATES: {}: {what}", path.display()),
    }
}

impl Overrides {
    /// Compiles the templates (`.html`: auto-escaped); an undefined value is an error, so a
    /// misspelt field shows at start-up rather than as a blank on the page.
    fn new(files: Vec<(Page, String)>) -> Result<Self, (Page, minijinja::Error)> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        let mut has = [false; Page::ALL.len()];
        for (page, source) in files {
            env.add_template_owned(page.file(), source)
                .map_err(|e| (page, e))?;
            has[page.index()] = true;
        }
        let texts = Locale::ALL.map(|l| Value::from(Serde(&i18n::catalog(l).t)));
        Ok(Self { env, has, texts })
    }

    pub fn has(&self, page: Page) -> bool {
        self.has[page.index()]
    }

    /// The overridden templates' file names.
    fn names(&self) -> Vec<&'static str> {
        (Page::ALL.into_iter())
            .filter(|p| self.has(*p))
            .map(Page::file)
            .collect()
    }

    fn render_raw(&self, page: Page, ctx: impl Serialize) -> Result<String, minijinja::Error> {
        self.env.get_template(page.file())?.render(Serde(ctx))
    }

    /// Renders an override; a failure is an internal error naming the template (its log line).
    pub fn render(&self, page: Page, ctx: impl Serialize) -> Result<String, AppError> {
        self.render_raw(page, ctx).map_err(|e| {
            AppError::Domain(crate::error::Error::Internal(format!(
                "merchant template {}: {e}",
                page.file()
            )))
        })
    }

    /// A page with at least one part overridden: each part is the merchant's where there is
    /// one, askama's otherwise, and the layout gets the rest already rendered.
    pub fn page<B: Body>(&self, chrome: &Chrome<'_>, body: &B) -> Result<String, AppError> {
        let common = Common::new(chrome, self);
        let content = match self.has(B::PAGE) {
            true => body.render_override(self, &common)?,
            false => body.render()?,
        };
        let switch = match chrome.next {
            Some(next) if self.has(Page::LangSwitch) => Some(self.render(
                Page::LangSwitch,
                SwitchContext::new(&common, next, chrome.t),
            )?),
            Some(next) => Some(LangSwitchView { t: chrome.t, next }.render()?),
            None => None,
        };
        if !self.has(Page::Base) {
            return super::pages::layout(chrome, &content, switch.as_deref());
        }
        self.render(
            Page::Base,
            LayoutContext {
                common: &common,
                content: Value::from_safe_string(content),
                lang_switch: switch.map(Value::from_safe_string),
                next: chrome.next,
                languages: languages(chrome.next, chrome.t),
            },
        )
    }

    /// One community's cards through the merchant's `offer_cards.html`.
    pub fn cards(
        &self,
        texts: &'static Texts,
        offers: &[OfferView],
        unified: bool,
        community: Option<(&str, &str)>,
    ) -> Result<String, AppError> {
        self.render(
            Page::OfferCards,
            CardsContext {
                lang: texts.locale.tag(),
                t: self.texts[texts.locale.index()].clone(),
                offers,
                unified,
                community: community.map(|(handle, name)| CommunityName { handle, name }),
            },
        )
    }

    /// Renders every override against sample contexts (every optional part present, and
    /// absent), so that what would fail on a shopper's page fails at start-up instead.
    fn check(&self) -> Result<(), (Page, minijinja::Error)> {
        let texts = &i18n::catalog(Locale::En).t;
        let sample = sample::shop();
        let chrome = Chrome {
            t: texts,
            next: Some("%2F"),
            sandbox: true,
            store: &sample,
            title: "Discounts",
        };
        let bare_shop = sample::bare_shop();
        let bare = Chrome {
            next: None,
            sandbox: false,
            store: &bare_shop,
            ..chrome
        };
        for chrome in [&chrome, &bare] {
            let common = Common::new(chrome, self);
            if self.has(Page::Base) {
                let ctx = LayoutContext {
                    common: &common,
                    content: Value::from_safe_string("<h1>Sample</h1>".to_owned()),
                    lang_switch: (chrome.next)
                        .map(|_| Value::from_safe_string("<nav></nav>".to_owned())),
                    next: chrome.next,
                    languages: languages(chrome.next, texts),
                };
                self.render_raw(Page::Base, ctx)
                    .map_err(|e| (Page::Base, e))?;
            }
            if self.has(Page::LangSwitch) {
                self.render_raw(Page::LangSwitch, SwitchContext::new(&common, "%2F", texts))
                    .map_err(|e| (Page::LangSwitch, e))?;
            }
            if self.has(Page::Error) {
                let error = sample::error(texts);
                self.render_raw(Page::Error, error.context(&common))
                    .map_err(|e| (Page::Error, e))?;
            }
        }
        if self.has(Page::OfferCards) {
            let offers = sample::offers();
            for (unified, community) in [(false, Some(("military", "Military"))), (true, None)] {
                let ctx = CardsContext {
                    lang: "en",
                    t: self.texts[Locale::En.index()].clone(),
                    offers: &offers,
                    unified,
                    community: community.map(|(handle, name)| CommunityName { handle, name }),
                };
                self.render_raw(Page::OfferCards, ctx)
                    .map_err(|e| (Page::OfferCards, e))?;
            }
        }
        if self.has(Page::Storefront) {
            let common = Common::new(&chrome, self);
            let (per_group, unified) = (sample::communities(false), sample::communities(true));
            let benefit = sample::benefit();
            for view in [
                sample::storefront(texts, &per_group, None),
                sample::storefront(texts, &unified, Some(&benefit)),
            ] {
                self.render_raw(Page::Storefront, view.context(&common))
                    .map_err(|e| (Page::Storefront, e))?;
            }
        }
        Ok(())
    }
}

/// A page body a merchant may override.
pub trait Body: askama::Template + askama::FastWritable {
    const PAGE: Page;
    fn render_override(
        &self,
        overrides: &Overrides,
        common: &Common<'_>,
    ) -> Result<String, AppError>;
}

impl Body for StorefrontView<'_> {
    const PAGE: Page = Page::Storefront;
    fn render_override(&self, o: &Overrides, common: &Common<'_>) -> Result<String, AppError> {
        o.render(Page::Storefront, self.context(common))
    }
}

impl Body for ErrorView<'_> {
    const PAGE: Page = Page::Error;
    fn render_override(&self, o: &Overrides, common: &Common<'_>) -> Result<String, AppError> {
        o.render(Page::Error, self.context(common))
    }
}

/// What every template's context has (docs/templates.md).
#[derive(Serialize)]
pub struct Common<'a> {
    /// The page's language (`en`, `fr-CA`, `es`): `<html lang>`.
    lang: &'static str,
    /// The page's texts in that language, by the askama templates' names (`t.verify`).
    t: Value,
    store: StoreContext<'a>,
    sandbox: bool,
    title: &'a str,
}

impl<'a> Common<'a> {
    fn new(chrome: &Chrome<'a>, o: &Overrides) -> Self {
        Self {
            lang: chrome.t.locale.tag(),
            t: o.texts[chrome.t.locale.index()].clone(),
            store: StoreContext::new(chrome.store),
            sandbox: chrome.sandbox,
            title: chrome.title,
        }
    }
}

/// `store`: the merchant's look, with what the askama templates call as plain fields.
#[derive(Serialize)]
struct StoreContext<'a> {
    name: &'a str,
    home_href: &'a str,
    logo: Option<&'a str>,
    color: Option<&'a str>,
    theme_href: Option<String>,
    privacy: Option<&'a str>,
    terms: Option<&'a str>,
    support: Option<SupportContext<'a>>,
    has_links: bool,
}

#[derive(Serialize)]
struct SupportContext<'a> {
    /// `mailto:help@shop.example` or the link.
    href: String,
    /// The address, or the link's host.
    text: &'a str,
}

impl<'a> StoreContext<'a> {
    fn new(store: &'a Shop) -> Self {
        let look = &store.look;
        Self {
            name: &store.name,
            home_href: store.home_href(),
            logo: look.logo.as_ref().map(url::Url::as_str),
            color: look.palette.as_ref().map(|p| p.color.as_str()),
            theme_href: store.theme_href(),
            privacy: look.privacy.as_ref().map(url::Url::as_str),
            terms: look.terms.as_ref().map(url::Url::as_str),
            support: look.support.as_ref().map(|s| SupportContext {
                href: s.href(),
                text: s.text(),
            }),
            has_links: store.has_links(),
        }
    }
}

#[derive(Serialize)]
struct LayoutContext<'a> {
    #[serde(flatten)]
    common: &'a Common<'a>,
    /// The page's body, rendered (safe).
    content: Value,
    /// The language switch, rendered (safe); none on pages without one.
    lang_switch: Option<Value>,
    /// This page, encoded for a query (`/lang/<tag>?next=...`).
    next: Option<&'a str>,
    languages: Vec<Language>,
}

#[derive(Serialize)]
struct SwitchContext<'a> {
    lang: &'static str,
    t: Value,
    next: &'a str,
    languages: Vec<Language>,
}

impl<'a> SwitchContext<'a> {
    fn new(common: &Common<'_>, next: &'a str, t: &'static Texts) -> Self {
        Self {
            lang: common.lang,
            t: common.t.clone(),
            next,
            languages: languages(Some(next), t),
        }
    }
}

/// A language of the switch: its link sets the cookie and comes back to this page.
#[derive(Serialize)]
struct Language {
    tag: &'static str,
    name: &'static str,
    current: bool,
    href: String,
}

fn languages(next: Option<&str>, t: &'static Texts) -> Vec<Language> {
    let Some(next) = next else {
        return Vec::new();
    };
    (t.locales().iter())
        .map(|l| Language {
            tag: l.tag(),
            name: l.native_name(),
            current: t.is_current(l),
            href: format!("/lang/{}?next={next}", l.tag()),
        })
        .collect()
}

#[derive(Serialize)]
struct CardsContext<'a> {
    lang: &'static str,
    t: Value,
    offers: &'a [OfferView],
    unified: bool,
    /// The community these cards are for; none under the one button.
    community: Option<CommunityName<'a>>,
}

#[derive(Serialize)]
struct CommunityName<'a> {
    handle: &'a str,
    name: &'a str,
}

#[derive(Serialize)]
struct StorefrontContext<'a> {
    #[serde(flatten)]
    common: &'a Common<'a>,
    back: Option<&'a str>,
    apply: Option<&'a str>,
    embed: Option<&'a str>,
    communities: Vec<CommunityContext<'a>>,
    benefit: Option<BenefitContext<'a>>,
    benefit_title: &'a str,
    benefit_summary: &'a str,
    benefit_until: Option<&'a str>,
    verified_as: &'a str,
    message: Option<&'a MessageView>,
    show_verify: bool,
    csrf: &'a str,
    reset_action: &'static str,
}

#[derive(Serialize)]
struct CommunityContext<'a> {
    /// Empty under the one button for every community.
    handle: &'a str,
    name: &'a str,
    /// The offer cards, rendered (safe): askama's or the merchant's `offer_cards.html`.
    cards: Value,
    offers: &'a [OfferView],
    /// Where its verify form posts: `/verify/<handle>`, or `/verify` under the one button.
    verify_action: String,
}

#[derive(Serialize)]
struct BenefitContext<'a> {
    offer_id: &'a str,
    code: Option<&'a str>,
}

impl StorefrontView<'_> {
    fn context<'a>(&'a self, common: &'a Common<'a>) -> StorefrontContext<'a> {
        StorefrontContext {
            common,
            back: self.back,
            apply: self.apply.as_deref(),
            embed: self.embed,
            communities: (self.communities.iter())
                .map(|c| CommunityContext {
                    handle: &c.handle,
                    name: &c.name,
                    cards: Value::from_safe_string(c.cards.clone()),
                    offers: &c.offers,
                    verify_action: match c.handle.as_str() {
                        "" => "/verify".to_owned(),
                        handle => format!("/verify/{handle}"),
                    },
                })
                .collect(),
            benefit: self.benefit.map(|b| BenefitContext {
                offer_id: &b.offer_id,
                code: b.code.as_deref(),
            }),
            benefit_title: self.benefit_title,
            benefit_summary: &self.benefit_summary,
            benefit_until: self.benefit_until.as_deref(),
            verified_as: &self.verified_as,
            message: self.message.as_ref(),
            show_verify: self.show_verify,
            csrf: self.csrf,
            reset_action: "/reset",
        }
    }
}

#[derive(Serialize)]
struct ErrorContext<'a> {
    #[serde(flatten)]
    common: &'a Common<'a>,
    message: &'a str,
    role: &'a str,
    correlation_id: &'a str,
}

impl ErrorView<'_> {
    fn context<'a>(&'a self, common: &'a Common<'a>) -> ErrorContext<'a> {
        ErrorContext {
            common,
            message: self.message,
            role: self.role,
            correlation_id: self.correlation_id,
        }
    }
}

/// Renders one community's cards: the merchant's `offer_cards.html` when there is one.
pub fn cards(
    overrides: Option<&Overrides>,
    texts: &'static Texts,
    offers: &[OfferView],
    unified: bool,
    community: Option<(&str, &str)>,
) -> Result<String, AppError> {
    match overrides {
        Some(o) if o.has(Page::OfferCards) => o.cards(texts, offers, unified, community),
        _ => CardsView {
            t: texts,
            offers,
            unified,
        }
        .render()
        .map_err(AppError::from),
    }
}

/// The contexts the start-up check renders: every optional part set in one, absent in another.
mod sample {
    use super::*;
    use crate::rules::Benefit;
    use crate::shop::{Look, Returns};

    pub fn shop() -> Shop {
        let mut look = Look::default();
        for (field, value) in [
            ("name", "Sample store"),
            ("url", "https://shop.example/"),
            ("logo_url", "https://shop.example/logo.svg"),
            ("color", "#0b6e4f"),
            ("privacy_url", "https://shop.example/privacy"),
            ("terms_url", "https://shop.example/terms"),
            ("support", "help@shop.example"),
        ] {
            // The values are known good; a refusal would only leave the field empty.
            let _ = look.set(field, value);
        }
        bare(look)
    }

    pub fn bare_shop() -> Shop {
        bare(Look::default())
    }

    fn bare(look: Look) -> Shop {
        let url = url::Url::parse("http://127.0.0.1:3000/").ok();
        let returns = Returns::default();
        match url {
            Some(url) => Shop::new(look, returns, true, &url),
            None => Shop {
                name: "Sample store".to_owned(),
                look,
                returns,
            },
        }
    }

    pub fn error(t: &'static Texts) -> ErrorView<'static> {
        ErrorView {
            t,
            title: "Page not found",
            message: "There is no page at this address.",
            role: "alert",
            correlation_id: "0123456789abcdef",
        }
    }

    pub fn offers() -> Vec<OfferView> {
        vec![
            OfferView {
                id: "military-15".to_owned(),
                title: "Military: 15% off".to_owned(),
                description: Some("For those who serve.".to_owned()),
                summary: "15% off".to_owned(),
                until: Some("until 2030-12-31".to_owned()),
                communities: "For Military".to_owned(),
                ran_out: true,
                groups: vec!["military".to_owned()],
            },
            OfferView {
                id: "student-10".to_owned(),
                title: "Students: 10% off".to_owned(),
                description: None,
                summary: "10% off".to_owned(),
                until: None,
                communities: "For Students".to_owned(),
                ran_out: false,
                groups: vec!["student".to_owned()],
            },
        ]
    }

    pub fn communities(unified: bool) -> Vec<CommunityCards> {
        let offers = offers();
        match unified {
            true => vec![CommunityCards {
                handle: String::new(),
                name: String::new(),
                cards: "<li>Sample</li>".to_owned(),
                offers,
            }],
            false => (offers.into_iter())
                .map(|o| CommunityCards {
                    handle: o.groups[0].clone(),
                    name: o.communities.clone(),
                    cards: "<li>Sample</li>".to_owned(),
                    offers: vec![o],
                })
                .collect(),
        }
    }

    pub fn benefit() -> Benefit {
        Benefit {
            offer_id: "military-15".to_owned(),
            title: "Military: 15% off".to_owned(),
            summary: "15% off".to_owned(),
            discount: crate::rules::Discount::FreeShipping { min_order: None },
            currency: "USD".to_owned(),
            code: Some("SALUTE15".to_owned()),
            ends: None,
        }
    }

    pub fn storefront<'a>(
        t: &'static Texts,
        communities: &'a [CommunityCards],
        benefit: Option<&'a Benefit>,
    ) -> StorefrontView<'a> {
        let unlocked = benefit.is_some();
        StorefrontView {
            t,
            back: unlocked.then_some("https://shop.example/cart"),
            apply: unlocked.then(|| "https://shop.example/discount/SALUTE15".to_owned()),
            embed: unlocked.then_some("https://shop.example"),
            communities,
            benefit,
            benefit_title: if unlocked { "Military: 15% off" } else { "" },
            benefit_summary: std::borrow::Cow::Borrowed(if unlocked { "15% off" } else { "" }),
            benefit_until: unlocked.then(|| "Valid until 2030-12-31.".to_owned()),
            verified_as: if unlocked { "Military (Veteran)" } else { "" }.to_owned(),
            message: unlocked.then(|| MessageView {
                title: "Not verified",
                role: "alert",
                text: "Something went wrong.".to_owned(),
                reference: Some("0123456789abcdef".to_owned()),
                retry: Some("/verify".to_owned()),
            }),
            show_verify: !unlocked,
            csrf: "sample-csrf-token",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    fn load_err(files: &[(&str, &str)]) -> String {
        let dir = dir_with(files);
        match load(dir.path()) {
            Ok(_) => panic!("{files:?} loaded"),
            Err(e) => e.replace(&dir.path().display().to_string(), "DIR"),
        }
    }

    #[test]
    fn only_the_shoppers_templates_are_overridable() {
        let e = load_err(&[("base.html", "{{ content }}"), ("admin.html", "x")]);
        assert_eq!(
            e,
            "PERKGATE_TEMPLATES: DIR/admin.html: not a template perkgate has (the shopper's \
             pages are base.html, storefront.html, error.html, offer_cards.html, \
             lang_switch.html; the console's and the sandbox's cannot be overridden)"
        );
        // Other files (notes, editors' backups) are left alone; no template: askama only.
        let dir = dir_with(&[("README.md", "notes"), ("base.html~", "x")]);
        assert!(load(dir.path()).unwrap().is_none());
        let missing = load(Path::new("/nonexistent/templates")).err().unwrap();
        assert!(
            missing
                .starts_with("PERKGATE_TEMPLATES: cannot read the folder /nonexistent/templates:"),
            "{missing}"
        );
    }

    #[test]
    fn a_syntax_error_names_the_file_and_the_line() {
        let e = load_err(&[(
            "base.html",
            "<html>\n<body>\n{% if sandbox %}\n{{ content }}\n{% endfor %}\n</body>\n",
        )]);
        assert_eq!(
            e,
            "PERKGATE_TEMPLATES: DIR/base.html:5: syntax error: unknown statement endfor"
        );
        let e = load_err(&[("error.html", "<p>{{ message | nosuchfilter }}</p>")]);
        assert_eq!(
            e,
            "PERKGATE_TEMPLATES: DIR/error.html:1: unknown filter: filter nosuchfilter is unknown"
        );
    }

    #[test]
    fn a_misspelt_field_fails_at_start_up() {
        let e = load_err(&[(
            "base.html",
            "<title>{{ store.nmae }}</title>\n{{ content }}",
        )]);
        assert!(
            e.starts_with("PERKGATE_TEMPLATES: DIR/base.html:1: undefined value"),
            "{e}"
        );
        // Also in a branch only some pages take: the samples have every optional part.
        let e = load_err(&[(
            "storefront.html",
            "{% for c in communities %}{{ c.cards }}{% endfor %}\n\
             {% if benefit %}\n{{ benefit.cdoe }}{% endif %}",
        )]);
        assert!(
            e.starts_with("PERKGATE_TEMPLATES: DIR/storefront.html:3: undefined value"),
            "{e}"
        );
    }

    #[test]
    fn overrides_render_their_context_escaped() {
        let dir = dir_with(&[
            (
                "base.html",
                "<html lang=\"{{ lang }}\"><title>{{ title }} · {{ store.name }}</title>\
                 {{ lang_switch }}<main>{{ content }}</main>{{ t.footer_promise }}</html>",
            ),
            (
                "offer_cards.html",
                "{% for o in offers %}<li id=\"{{ o.id }}\">{{ o.title }}</li>{% endfor %}",
            ),
        ]);
        let o = load(dir.path()).unwrap().unwrap();
        assert!(o.has(Page::Base) && o.has(Page::OfferCards) && !o.has(Page::Storefront));
        let mut shop = sample::shop();
        shop.name = "Acme <Outfitters>".to_owned();
        let t = &i18n::catalog(Locale::FrCa).t;
        let chrome = Chrome {
            t,
            next: Some("%2F"),
            sandbox: false,
            store: &shop,
            title: "Erreur",
        };
        let view = sample::error(t);
        let page = o.page(&chrome, &view).unwrap();
        assert!(
            page.starts_with(
                "<html lang=\"fr-CA\"><title>Erreur · Acme &lt;Outfitters&gt;</title>"
            ),
            "{page}"
        );
        // The built-in body and switch, not escaped twice.
        assert!(
            page.contains("<main>\n<section class=\"problem\">"),
            "{page}"
        );
        assert!(page.contains("data-testid=\"lang-switch\""), "{page}");
        let promise = t.footer_promise.replace('\'', "&#x27;");
        assert!(
            page.ends_with(&format!("</main>{promise}</html>")),
            "{page}"
        );

        let mut offers = sample::offers();
        offers[0].title = "Vets <20%>".to_owned();
        let cards = cards(
            Some(&o),
            t,
            &offers,
            false,
            Some(("military", "Militaires")),
        )
        .unwrap();
        assert_eq!(
            cards,
            "<li id=\"military-15\">Vets &lt;20%&gt;</li><li id=\"student-10\">Students: 10% off</li>"
        );
    }

    #[test]
    fn a_failed_reload_keeps_the_templates_in_use() {
        let dir = dir_with(&[("error.html", "<p>{{ message }}</p>")]);
        let templates = Templates::open(Some(dir.path())).unwrap();
        let first = templates.current().unwrap();
        assert!(first.has(Page::Error));

        std::fs::write(dir.path().join("error.html"), "<p>{{ message </p>").unwrap();
        let e = templates.reload().unwrap_err();
        assert!(e.contains("error.html:1: syntax error"), "{e}");
        assert!(Arc::ptr_eq(&first, &templates.current().unwrap()), "kept");

        std::fs::write(dir.path().join("base.html"), "{{ content }}").unwrap();
        std::fs::write(dir.path().join("error.html"), "<p>{{ message }}!</p>").unwrap();
        templates.reload().unwrap();
        let now = templates.current().unwrap();
        assert!(now.has(Page::Base) && now.has(Page::Error));

        let none = Templates::open(None).unwrap();
        assert!(none.current().is_none());
        none.reload().unwrap();
    }
}
