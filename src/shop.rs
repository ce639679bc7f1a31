//! The merchant's shop, around perkgate: how the shopper's pages look inside it (name, logo,
//! colour, links) and the way back to it after a verification (`return_to`, the
//! apply-at-checkout link).
//!
//! Everything here is read once at start-up (see `config`) and checked there, so a page only
//! fills in values that are already known to be safe: a return address is either one of the
//! merchant's listed origins or nothing.

use std::fmt::Write as _;

use url::{Origin, Url};

/// The shop as the pages use it: its look with the name settled, and the way back to it.
#[derive(Clone, Debug)]
pub struct Shop {
    pub name: String,
    pub look: Look,
    pub returns: Returns,
}

impl Shop {
    pub fn new(look: Look, returns: Returns, sandbox: bool, public_url: &Url) -> Self {
        Self {
            name: look.name_or(sandbox, public_url),
            look,
            returns,
        }
    }

    /// Where the store's name links to.
    pub fn home_href(&self) -> &str {
        self.look.home.as_ref().map_or("/", Url::as_str)
    }

    /// The stylesheet with the store's colour; the colour in the address, so a browser that
    /// cached one colour's sheet fetches the next one's.
    pub fn theme_href(&self) -> Option<String> {
        let palette = self.look.palette.as_ref()?;
        Some(format!(
            "/static/theme.css?v={}",
            palette.color.trim_start_matches('#')
        ))
    }

    /// Whether the footer has any of the shop's links.
    pub fn has_links(&self) -> bool {
        let l = &self.look;
        l.privacy.is_some() || l.terms.is_some() || l.support.is_some()
    }

    /// The page to go back to: `return_to` as given on this page, else as remembered in the
    /// session; checked again, since the listed origins may have changed since.
    pub fn back(&self, given: Option<&str>, remembered: Option<&str>) -> Option<Url> {
        given
            .and_then(|raw| self.returns.accept(raw))
            .or_else(|| remembered.and_then(|raw| self.returns.accept(raw)))
    }
}

/// What the shopper's pages show of the merchant's shop. Each link is an absolute http(s) URL.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Look {
    /// `None`: "Demo store" with the sandbox, the public URL's host without it.
    pub name: Option<String>,
    /// Where the store's name (and logo) link to; `None`: the storefront itself.
    pub home: Option<Url>,
    pub logo: Option<Url>,
    pub palette: Option<Palette>,
    pub privacy: Option<Url>,
    pub terms: Option<Url>,
    pub support: Option<Support>,
}

impl Look {
    /// The look's fields, as the rules document's `[store]` table names them; the settings
    /// are `PERKGATE_STORE_` + the name in upper case (`url` is `PERKGATE_STORE_URL`).
    pub const FIELDS: [&'static str; 7] = [
        "name",
        "url",
        "logo_url",
        "color",
        "privacy_url",
        "terms_url",
        "support",
    ];

    /// Sets one field from its text: the one parser for the settings, the rules document's
    /// `[store]` table and the console's form.
    pub fn set(&mut self, field: &str, raw: &str) -> Result<(), String> {
        let raw = raw.trim();
        match field {
            "name" => {
                if raw.is_empty() || raw.chars().count() > 80 || raw.chars().any(char::is_control) {
                    return Err("expected a name of 1 to 80 characters".to_owned());
                }
                self.name = Some(raw.to_owned());
            }
            "url" => self.home = Some(link(raw)?),
            "logo_url" => self.logo = Some(link(raw)?),
            "color" => self.palette = Some(Palette::parse(raw)?),
            "privacy_url" => self.privacy = Some(link(raw)?),
            "terms_url" => self.terms = Some(link(raw)?),
            "support" => self.support = Some(Support::parse(raw)?),
            _ => return Err("unknown field".to_owned()),
        }
        Ok(())
    }

    /// A field's value as text, as [`Look::set`] reads it back.
    pub fn get(&self, field: &str) -> Option<String> {
        match field {
            "name" => self.name.clone(),
            "url" => self.home.as_ref().map(|u| u.to_string()),
            "logo_url" => self.logo.as_ref().map(|u| u.to_string()),
            "color" => self.palette.as_ref().map(|p| p.color.clone()),
            "privacy_url" => self.privacy.as_ref().map(|u| u.to_string()),
            "terms_url" => self.terms.as_ref().map(|u| u.to_string()),
            "support" => self.support.as_ref().map(|s| match s {
                Support::Email(address) => address.clone(),
                Support::Link(url) => url.to_string(),
            }),
            _ => None,
        }
    }

    /// This look with the gaps filled from `under`: fields set here win.
    pub fn over(&self, under: &Look) -> Look {
        Look {
            name: self.name.clone().or_else(|| under.name.clone()),
            home: self.home.clone().or_else(|| under.home.clone()),
            logo: self.logo.clone().or_else(|| under.logo.clone()),
            palette: self.palette.clone().or_else(|| under.palette.clone()),
            privacy: self.privacy.clone().or_else(|| under.privacy.clone()),
            terms: self.terms.clone().or_else(|| under.terms.clone()),
            support: self.support.clone().or_else(|| under.support.clone()),
        }
    }

    /// The name pages show: as configured, or a default that never claims to be a demo
    /// outside the demo.
    pub fn name_or(&self, sandbox: bool, public_url: &Url) -> String {
        match &self.name {
            Some(name) => name.clone(),
            None if sandbox => "Demo store".to_owned(),
            None => public_url.host_str().unwrap_or("Store").to_owned(),
        }
    }

    /// The origin the logo is fetched from, for the CSP's `img-src`.
    pub fn logo_origin(&self) -> Option<String> {
        self.logo.as_ref().map(|u| u.origin().ascii_serialization())
    }
}

/// How to reach the merchant's support.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Support {
    Email(String),
    Link(Url),
}

impl Support {
    /// `PERKGATE_STORE_SUPPORT`: an e-mail address or an http(s) URL.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.contains("://") {
            return link(raw).map(Self::Link);
        }
        if plausible_email(raw) {
            Ok(Self::Email(raw.to_owned()))
        } else {
            Err(format!(
                "expected an e-mail address or an http(s) URL, got {raw:?}"
            ))
        }
    }

    pub fn href(&self) -> String {
        match self {
            Self::Email(address) => format!("mailto:{address}"),
            Self::Link(url) => url.as_str().to_owned(),
        }
    }

    pub fn text(&self) -> &str {
        match self {
            Self::Email(address) => address,
            Self::Link(url) => url.host_str().unwrap_or(url.as_str()),
        }
    }
}

/// An address that goes into a `mailto:` link as it is: nothing that would start a query or
/// an escape there.
fn plausible_email(raw: &str) -> bool {
    let Some((local, domain)) = raw.split_once('@') else {
        return false;
    };
    raw.len() <= 254
        && !local.is_empty()
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".!$'*+-/=^_`{|}~".contains(&b))
        && domain.contains('.')
        && !domain.starts_with(['.', '-'])
        && !domain.ends_with(['.', '-'])
        && domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

/// A link setting: an absolute http(s) URL with a host and no credentials.
pub fn link(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|e| format!("expected an http(s) URL, got {raw:?} ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!("expected an http(s) URL, got {raw:?}"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "must not carry a user name or password, got {raw:?}"
        ));
    }
    Ok(url)
}

/// The store's colour, and the colours that keep text readable on and beside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Palette {
    /// The colour as configured, for the verify button's background (`#rrggbb`).
    pub color: String,
    /// Text on that background: black or white, whichever contrasts more (at least 4.5:1).
    pub on_color: &'static str,
    /// The colour darkened until it reads as text on the pages' light backgrounds (4.5:1).
    pub text: String,
}

/// The darkest of the light backgrounds that text in the store's colour sits on (the
/// benefit's, `.benefit` in app.css; the page's `--bg` is lighter).
const PAGE_BACKGROUND: [u8; 3] = [0xe8, 0xf6, 0xef];
/// WCAG 2.2 AA for normal text.
const TEXT_CONTRAST: f64 = 4.5;

impl Palette {
    /// `PERKGATE_STORE_COLOR`: `#rgb` or `#rrggbb`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let rgb = hex_color(raw)
            .ok_or_else(|| format!("expected a colour like #0b6e4f or #0b4, got {raw:?}"))?;
        let on_color = if contrast(rgb, [255; 3]) >= contrast(rgb, [0; 3]) {
            "#ffffff"
        } else {
            "#000000"
        };
        let mut text = rgb;
        // Darkening converges on black, which contrasts 19:1 with the page: a few dozen steps.
        while contrast(text, PAGE_BACKGROUND) < TEXT_CONTRAST {
            text = text.map(|c| (f64::from(c) * 0.92) as u8);
        }
        Ok(Self {
            color: css_hex(rgb),
            on_color,
            text: css_hex(text),
        })
    }

    /// The stylesheet that applies it (`/static/theme.css`): custom properties app.css reads.
    pub fn css(&self) -> String {
        format!(
            ":root{{--brand:{};--on-brand:{};--accent:{}}}\n",
            self.color, self.on_color, self.text
        )
    }
}

fn hex_color(raw: &str) -> Option<[u8; 3]> {
    let hex = raw.strip_prefix('#')?;
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let digit = |i: usize, len: usize| u8::from_str_radix(hex.get(i..i + len)?, 16).ok();
    match hex.len() {
        3 => Some([digit(0, 1)? * 17, digit(1, 1)? * 17, digit(2, 1)? * 17]),
        6 => Some([digit(0, 2)?, digit(2, 2)?, digit(4, 2)?]),
        _ => None,
    }
}

fn css_hex(rgb: [u8; 3]) -> String {
    let mut s = String::from("#");
    for c in rgb {
        let _ = write!(s, "{c:02x}");
    }
    s
}

/// WCAG's relative luminance of an sRGB colour.
fn luminance(rgb: [u8; 3]) -> f64 {
    let channel = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * channel(rgb[0]) + 0.7152 * channel(rgb[1]) + 0.0722 * channel(rgb[2])
}

/// WCAG's contrast ratio, from 1 to 21.
fn contrast(a: [u8; 3], b: [u8; 3]) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// The way back to the shop: the origins a `return_to` may point at, and the link that
/// applies a code at the shop's checkout.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Returns {
    origins: Vec<Origin>,
    /// Pages that embed the button (`PERKGATE_EMBED_ORIGINS`): the popup hands the benefit
    /// to them, and they may be returned to as well (the fallback when popups are blocked).
    embed: Vec<Origin>,
    apply: Option<ApplyTemplate>,
}

/// A return address longer than this is not one a shop sends.
pub const MAX_RETURN_TO: usize = 2048;

/// `PERKGATE_APPLY_URL`, split around its one `{code}`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ApplyTemplate {
    before: String,
    after: String,
}

impl Returns {
    /// `PERKGATE_RETURN_ORIGINS`: comma-separated origins, each exactly scheme, host and
    /// (optionally) port, like `https://shop.example` or `http://localhost:8080`.
    pub fn parse_origins(raw: &str) -> Result<Vec<Origin>, String> {
        raw.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                let url = link(s)?;
                if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
                    return Err(format!(
                        "expected an origin (scheme://host[:port], nothing after it), got {s:?}"
                    ));
                }
                Ok(url.origin())
            })
            .collect()
    }

    /// Checks the apply template against the origins: both settings are needed to judge it.
    pub fn new(origins: Vec<Origin>, apply: Option<&str>) -> Result<Self, String> {
        let mut returns = Self {
            origins,
            embed: Vec::new(),
            apply: None,
        };
        if let Some(raw) = apply {
            let (before, after) = raw
                .split_once("{code}")
                .filter(|(_, after)| !after.contains("{code}"))
                .ok_or_else(|| format!("expected a URL with {{code}} exactly once, got {raw:?}"))?;
            let template = ApplyTemplate {
                before: before.to_owned(),
                after: after.to_owned(),
            };
            let sample = template.fill("CODE");
            let url = link(&sample)?;
            if !returns.origins.contains(&url.origin()) {
                return Err(format!(
                    "its origin {} must be listed in PERKGATE_RETURN_ORIGINS",
                    url.origin().ascii_serialization()
                ));
            }
            returns.apply = Some(template);
        }
        Ok(returns)
    }

    pub fn with_embed(mut self, embed: Vec<Origin>) -> Self {
        self.embed = embed;
        self
    }

    fn listed(&self, origin: &Origin) -> bool {
        self.origins.contains(origin) || self.embed.contains(origin)
    }

    /// `?embed=` as the button sends it (the page's `location.origin`), if that page may
    /// embed the button: the origin the popup's `postMessage` is addressed to, exactly.
    pub fn embed_origin(&self, raw: &str) -> Option<String> {
        if raw.len() > 300 || !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return None;
        }
        let url = Url::parse(raw).ok()?;
        let origin = url.origin();
        // An origin and nothing else: no path, credentials, query or fragment.
        (raw.trim_end_matches('/') == origin.ascii_serialization() && self.embed.contains(&origin))
            .then(|| origin.ascii_serialization())
    }

    /// `return_to` as the shop sent it, if it points at a listed origin; anything else is
    /// ignored. Strict on purpose: what a browser might read differently from us (a
    /// backslash, whitespace, percent-escapes or credentials in the host, a relative or
    /// scheme-relative address) never passes, and the answer is the parsed URL, so the page
    /// links to exactly what was checked.
    pub fn accept(&self, raw: &str) -> Option<Url> {
        if (self.origins.is_empty() && self.embed.is_empty()) || raw.len() > MAX_RETURN_TO {
            return None;
        }
        if !raw.bytes().all(|b| b.is_ascii_graphic()) || raw.contains('\\') {
            return None;
        }
        let (scheme, rest) = raw.split_once("://")?;
        if !scheme.eq_ignore_ascii_case("https") && !scheme.eq_ignore_ascii_case("http") {
            return None;
        }
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.is_empty()
            || !authority
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b':')
        {
            return None;
        }
        let url = Url::parse(raw).ok()?;
        (url.username().is_empty() && url.password().is_none() && self.listed(&url.origin()))
            .then_some(url)
    }

    /// "Apply at checkout" for `code`: the template with the code percent-encoded into it.
    pub fn apply_link(&self, code: &str) -> Option<Url> {
        let url = Url::parse(&self.apply.as_ref()?.fill(code)).ok()?;
        self.origins.contains(&url.origin()).then_some(url)
    }
}

impl ApplyTemplate {
    fn fill(&self, code: &str) -> String {
        // Everything but RFC 3986's unreserved characters is escaped, so a code cannot end a
        // path segment, start a query or reach another parameter.
        const ESCAPED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
            .remove(b'-')
            .remove(b'.')
            .remove(b'_')
            .remove(b'~');
        let code = percent_encoding::utf8_percent_encode(code, ESCAPED);
        format!("{}{code}{}", self.before, self.after)
    }
}

#[cfg(test)]
mod tests;
