//! The shopper's language: English, Canadian French or Spanish, from the `perkgate-lang`
//! cookie (the page's switch) or `Accept-Language`, with every shopper-facing text in Fluent
//! catalogs (`locales/<tag>/main.ftl`, compiled in).
//!
//! The catalogs are parsed once, on first use (`App::build` forces that at start-up), into a
//! static: a page borrows its texts (`&'static Texts`) and never builds a bundle. Texts without
//! arguments are resolved once into [`Texts`] fields the templates read; those with arguments
//! are [`Msg`]s formatted when needed. The tests check that every id either table names is in
//! every catalog, and that no catalog has one the others lack.

mod format;
mod lang;

use std::borrow::Cow;
use std::sync::LazyLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

pub use format::{date, money};
pub use lang::{COOKIE, cookie, locale_of, negotiate, safe_next, switch_next};

/// A language perkgate speaks to shoppers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Locale {
    #[default]
    En,
    FrCa,
    Es,
}

/// As its tag (`fr-CA`), for the merchant's templates.
impl serde::Serialize for Locale {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.tag())
    }
}

impl Locale {
    /// In the order the switch lists them.
    pub const ALL: [Self; 3] = [Self::En, Self::FrCa, Self::Es];

    /// The BCP 47 tag: the `lang` attribute, the cookie's value, the rules' `title.<tag>`.
    pub const fn tag(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::FrCa => "fr-CA",
            Self::Es => "es",
        }
    }

    /// The exact tag (case-insensitive): the cookie's, the switch's, the rules'.
    pub fn from_tag(tag: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|l| l.tag().eq_ignore_ascii_case(tag))
    }

    /// The language's own name, as the switch shows it.
    pub const fn native_name(self) -> &'static str {
        match self {
            Self::En => "English",
            Self::FrCa => "Français",
            Self::Es => "Español",
        }
    }

    pub(crate) const fn index(self) -> usize {
        self as usize
    }

    const fn source(self) -> &'static str {
        match self {
            Self::En => include_str!("../../locales/en/main.ftl"),
            Self::FrCa => include_str!("../../locales/fr-CA/main.ftl"),
            Self::Es => include_str!("../../locales/es/main.ftl"),
        }
    }
}

/// Texts without arguments, one field per message id: `{{ t.verify }}` in a template.
macro_rules! texts {
    ($($field:ident = $id:literal,)*) => {
        /// A locale's texts without arguments, resolved at start-up (serialized for the
        /// merchant's templates as `t`: `t.verify`, `t.locale` is the tag).
        #[derive(serde::Serialize)]
        pub struct Texts {
            pub locale: Locale,
            $(pub $field: String,)*
        }

        /// The ids [`Texts`] reads.
        pub const TEXT_IDS: &[&str] = &[$($id),*];

        impl Texts {
            fn resolve(locale: Locale, bundle: &Bundle) -> Self {
                Self { locale, $($field: simple(bundle, $id),)* }
            }
        }
    };
}

texts! {
    sandbox_banner = "sandbox-banner",
    powered_by = "powered-by",
    footer_promise = "footer-promise",
    privacy_policy = "footer-privacy",
    terms = "footer-terms",
    help = "footer-help",
    language = "language-switch",
    heading = "storefront-heading",
    reference = "reference",
    try_again = "try-again",
    unlocked = "benefit-unlocked",
    your_discount = "benefit-your-discount",
    use_code = "benefit-use-code",
    copy_code = "benefit-copy-code",
    no_code = "benefit-no-code",
    apply_at_checkout = "apply-at-checkout",
    back_to_shop = "back-to-shop",
    verified_with = "verified-with",
    forget = "forget-verification",
    offers = "offers-heading",
    verify = "verify",
    verify_hint = "verify-hint",
    what_is_idme = "what-is-idme",
    about_idme = "about-idme",
    ran_out = "offer-ran-out",
    back_to_store = "back-to-store",
    title_discounts = "title-discounts",
    title_verified = "title-verified",
    title_unlocked = "title-unlocked",
    title_not_verified = "title-not-verified",
    title_no_benefit = "title-no-benefit",
    title_declined = "title-declined",
    title_failed = "title-failed",
    title_expired = "title-expired",
    sandbox_title = "sandbox-title",
    sandbox_console = "sandbox-console",
    sandbox_intro = "sandbox-intro",
    sandbox_personas = "sandbox-personas",
    sandbox_others = "sandbox-others",
    sandbox_decline = "sandbox-decline",
    sandbox_groups_title = "sandbox-groups-title",
    sandbox_groups_intro = "sandbox-groups-intro",
    sandbox_refused = "sandbox-refused",
}

impl Texts {
    /// The languages the switch offers.
    pub fn locales(&self) -> &'static [Locale] {
        &Locale::ALL
    }

    /// Whether `l` is this page's language (the switch marks it `aria-current`).
    pub fn is_current(&self, l: &Locale) -> bool {
        *l == self.locale
    }
}

/// Messages formatted where they are used (most take arguments).
macro_rules! messages {
    ($($variant:ident = $id:literal,)*) => {
        /// A message the code formats: `catalog.say(Msg::OfferUntil, &[("date", ..)])`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Msg { $($variant,)* }

        impl Msg {
            pub const ALL: &[Self] = &[$(Self::$variant),*];

            pub const fn id(self) -> &'static str {
                match self { $(Self::$variant => $id,)* }
            }
        }
    };
}

messages! {
    OutcomeDeclined = "outcome-declined",
    OutcomeFailed = "outcome-failed",
    OutcomeExpired = "outcome-expired",
    OutcomePassedOver = "outcome-passed-over",
    OutcomeNotVerified = "outcome-not-verified",
    OutcomeNoOffer = "outcome-no-offer",
    OutcomeNotEligible = "outcome-not-eligible",
    OutcomeNotStarted = "outcome-not-started",
    OutcomeEnded = "outcome-ended",
    OutcomeRanOut = "outcome-ran-out",
    OutcomeLimitReached = "outcome-limit-reached",
    OutcomeCapReached = "outcome-cap-reached",
    PassedRanOut = "passed-over-ran-out",
    PassedLimit = "passed-over-limit",
    PassedCap = "passed-over-cap",
    PassedNotStarted = "passed-over-not-started",
    PassedEnded = "passed-over-ended",
    PassedNotQualified = "passed-over-not-qualified",
    Minutes = "duration-minutes",
    Seconds = "duration-seconds",
    ValidUntil = "benefit-valid-until",
    OfferUntil = "offer-until",
    OfferFor = "offer-for",
    DiscountPercent = "discount-percent",
    DiscountPercentCap = "discount-percent-cap",
    DiscountAmount = "discount-amount",
    DiscountFreeShipping = "discount-free-shipping",
    DiscountMinOrder = "discount-min-order",
    ErrStateMissingTitle = "error-state-missing-title",
    ErrStateMissing = "error-state-missing",
    ErrStateUnknownTitle = "error-state-unknown-title",
    ErrStateUnknown = "error-state-unknown",
    ErrStateUsedTitle = "error-state-used-title",
    ErrStateUsed = "error-state-used",
    ErrStateExpiredTitle = "error-state-expired-title",
    ErrStateExpired = "error-state-expired",
    ErrCsrfTitle = "error-csrf-title",
    ErrCsrf = "error-csrf",
    ErrForbiddenTitle = "error-forbidden-title",
    ErrForbidden = "error-forbidden",
    ErrNotFoundTitle = "error-not-found-title",
    ErrNotFound = "error-not-found",
    ErrMethodTitle = "error-method-title",
    ErrMethod = "error-method",
    ErrTooManyTitle = "error-too-many-title",
    ErrTooMany = "error-too-many",
    ErrDeclinedTitle = "error-declined-title",
    ErrDeclined = "error-declined",
    ErrIdmeRefusedTitle = "error-idme-refused-title",
    ErrIdmeRefused = "error-idme-refused",
    ErrIdmeDownTitle = "error-idme-down-title",
    ErrIdmeDown = "error-idme-down",
    ErrStoreTitle = "error-store-title",
    ErrStore = "error-store",
    ErrInternalTitle = "error-internal-title",
    ErrInternal = "error-internal",
    ErrBadRequestTitle = "error-bad-request-title",
    ErrBadRequest = "error-bad-request",
    ErrTooLargeTitle = "error-too-large-title",
    ErrTooLarge = "error-too-large",
    ErrNotFormTitle = "error-not-form-title",
    ErrNotForm = "error-not-form",
    WaitBrowser = "wait-browser",
    WaitAddress = "wait-address",
    WaitCallback = "wait-callback",
    SandboxPageUsed = "sandbox-page-used",
    SandboxPageExpired = "sandbox-page-expired",
    SandboxUnknownPersona = "sandbox-unknown-persona",
}

/// The community handles the catalogs name (`community-<handle>`); others are shown tidied.
pub const COMMUNITIES: &[&str] = &[
    "military",
    "student",
    "teacher",
    "responder",
    "nurse",
    "alumni",
    "government",
    "employee",
    "hospital_employee",
    "medical",
    "military_canada",
    "responder_canada",
    "student_canada",
    "teacher_canada",
    "nurse_canada",
];

/// The sandbox's personas the catalogs name (`persona-<id>`).
pub const PERSONAS: &[&str] = &[
    "veteran",
    "service_member",
    "student",
    "teacher",
    "responder",
    "nurse",
    "unverified",
];

type Bundle = FluentBundle<FluentResource>;

/// One locale's catalog: its bundle for messages with arguments and its resolved texts.
pub struct Catalog {
    bundle: Bundle,
    pub t: Texts,
    communities: Vec<(&'static str, String)>,
    personas: Vec<(&'static str, String)>,
}

static CATALOGS: LazyLock<[Catalog; 3]> = LazyLock::new(|| Locale::ALL.map(Catalog::build));

/// The catalog of `locale`, built once for the process.
pub fn catalog(locale: Locale) -> &'static Catalog {
    &CATALOGS[locale.index()]
}

/// The texts of `locale`, for a page's template.
pub fn texts(locale: Locale) -> &'static Texts {
    &catalog(locale).t
}

/// Parses every catalog now rather than on the first request; logs what a catalog lacks
/// (the tests fail on that first).
pub fn load() {
    for locale in Locale::ALL {
        let problems = problems(locale);
        if !problems.is_empty() {
            tracing::error!(
                locale = locale.tag(),
                ?problems,
                "message catalog incomplete"
            );
        }
    }
}

/// A catalog's syntax errors and missing ids (empty when it is whole).
fn problems(locale: Locale) -> Vec<String> {
    let mut out = match FluentResource::try_new(locale.source().to_owned()) {
        Ok(_) => Vec::new(),
        Err((_, errors)) => errors.iter().map(|e| format!("{e:?}")).collect(),
    };
    let bundle = &catalog(locale).bundle;
    out.extend(
        all_ids()
            .filter(|id| bundle.get_message(id).and_then(|m| m.value()).is_none())
            .map(|id| format!("missing {id}")),
    );
    out
}

/// Every id the code and templates use.
fn all_ids() -> impl Iterator<Item = String> {
    TEXT_IDS
        .iter()
        .map(|id| (*id).to_owned())
        .chain(Msg::ALL.iter().map(|m| m.id().to_owned()))
        .chain(COMMUNITIES.iter().map(|h| community_id(h)))
        .chain(PERSONAS.iter().map(|p| persona_id(p)))
}

fn community_id(handle: &str) -> String {
    format!("community-{}", handle.replace('_', "-"))
}

fn persona_id(id: &str) -> String {
    format!("persona-{}", id.replace('_', "-"))
}

/// The message `id` without arguments; its id when missing (logged by [`load`]).
fn simple(bundle: &Bundle, id: &str) -> String {
    let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) else {
        return id.to_owned();
    };
    let mut errors = Vec::new();
    bundle
        .format_pattern(pattern, None, &mut errors)
        .into_owned()
}

impl Catalog {
    fn build(locale: Locale) -> Self {
        // A syntax error drops that entry only: the rest of the catalog still loads.
        let resource = match FluentResource::try_new(locale.source().to_owned()) {
            Ok(r) | Err((r, _)) => r,
        };
        let langid = locale.tag().parse().unwrap_or_default();
        let mut bundle = Bundle::new_concurrent(vec![langid]);
        // Unicode isolation marks around arguments would land in the HTML and the JSON.
        bundle.set_use_isolating(false);
        let _ = bundle.add_resource(resource);
        let named = |ids: &[&'static str], id: fn(&str) -> String| {
            ids.iter()
                .map(|h| (*h, simple(&bundle, &id(h))))
                .collect::<Vec<_>>()
        };
        let communities = named(COMMUNITIES, community_id);
        let personas = named(PERSONAS, persona_id);
        let t = Texts::resolve(locale, &bundle);
        Self {
            bundle,
            t,
            communities,
            personas,
        }
    }

    pub fn locale(&self) -> Locale {
        self.t.locale
    }

    /// A message without arguments (borrowed from the catalog).
    pub fn text(&'static self, msg: Msg) -> Cow<'static, str> {
        self.format(msg, None)
    }

    /// A message with its arguments: `("date", "2030-12-31".into())`.
    pub fn say(&'static self, msg: Msg, args: &[(&'static str, FluentValue<'_>)]) -> String {
        let mut fa = FluentArgs::with_capacity(args.len());
        for (name, value) in args {
            fa.set(*name, value.clone());
        }
        self.format(msg, Some(&fa)).into_owned()
    }

    fn format(&'static self, msg: Msg, args: Option<&FluentArgs<'_>>) -> Cow<'static, str> {
        let Some(pattern) = self.bundle.get_message(msg.id()).and_then(|m| m.value()) else {
            return Cow::Borrowed(msg.id());
        };
        let mut errors = Vec::new();
        let text = self.bundle.format_pattern(pattern, args, &mut errors);
        if !errors.is_empty() {
            tracing::warn!(id = msg.id(), ?errors, "message formatted with errors");
        }
        text
    }

    /// "Military", "Militaires": a documented handle's name; `None` for others.
    pub fn community(&'static self, handle: &str) -> Option<&'static str> {
        (self.communities.iter())
            .find(|(h, _)| *h == handle)
            .map(|(_, name)| name.as_str())
    }

    /// A sandbox persona's label.
    pub fn persona(&'static self, id: &str) -> Option<&'static str> {
        (self.personas.iter())
            .find(|(p, _)| *p == id)
            .map(|(_, name)| name.as_str())
    }

    /// "10 minutes", "1 minute", "90 seconds": a setting's duration in words.
    pub fn duration(&'static self, d: std::time::Duration) -> String {
        let secs = d.as_secs();
        if secs >= 60 && secs.is_multiple_of(60) {
            self.say(Msg::Minutes, &[("n", (secs / 60).into())])
        } else {
            self.say(Msg::Seconds, &[("n", secs.into())])
        }
    }
}

#[cfg(test)]
mod tests;
