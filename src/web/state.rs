//! The state every handler shares, built once by `App::build`.

use std::ops::Deref;
use std::sync::Arc;

use url::Url;

use crate::config::Config;
use crate::db::Db;
use crate::rules::Rules;
use crate::rules::watch::RuleSet;
use crate::sandbox::Sandbox;
use crate::session_store::Sessions;
use crate::verification::Verifier;
use crate::web::csrf::AnonymousForms;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub public_url: Url,
    /// The origin the browser is sent to for ID.me (for the CSP's form-action).
    pub idme_origin: String,
    pub rules: Arc<RuleSet>,
    pub db: Db,
    pub sessions: Sessions,
    /// CSRF tokens for visitors without a session.
    pub forms: AnonymousForms,
    /// Shared with the tasks that answer callbacks (they outlive their requests).
    pub verifier: Arc<Verifier>,
    /// One "Verify with ID.me" for every community, or one button per community.
    pub unified: bool,
    pub sandbox: Option<Arc<Sandbox>>,
    /// The storefront's offer cards, rendered once per rule set and state of the offers.
    pub offer_cards: super::storefront::OfferCards,
    /// The merchant's shop (its look, the way back to it), per rule set: see [`AppState::shop`].
    pub looks: super::look::Looks,
    /// The merchant's own templates (`PERKGATE_TEMPLATES`), if any.
    pub templates: Arc<super::templates::Templates>,
    /// The merchant console's settings and keys.
    pub console: super::admin::Console,
    /// The dashboard's settled sums and pool levels, kept between views.
    pub dashboard: crate::admin::dashboard::Cache,
}

impl AppState {
    pub fn new(inner: Inner) -> Self {
        Self(Arc::new(inner))
    }

    /// The current offers; hold the `Arc` for the whole request.
    pub fn rules(&self) -> Arc<Rules> {
        self.rules.get()
    }

    /// The shop as the current rules and the settings make it.
    pub fn shop(&self) -> Arc<super::look::ShopNow> {
        self.looks.of(&self.rules())
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
