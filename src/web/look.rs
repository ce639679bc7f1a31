//! The shop's look for the rule set in force: the `PERKGATE_STORE_*` settings over the rules
//! document's `[store]` table (published from the console), and the CSP that lets its logo
//! load. Made once per rule set, like the offer cards, not on every request.

use std::sync::{Arc, Mutex};

use axum::http::HeaderValue;
use url::Url;

use super::middleware::content_security_policy;
use crate::rules::Rules;
use crate::shop::{Look, Returns, Shop};

/// The look of the shop for one rule set.
pub struct ShopNow {
    pub shop: Shop,
    pub csp: HeaderValue,
}

pub struct Looks {
    /// What the settings fix: the merchant's `[store]` fills only the rest.
    fixed: Look,
    returns: Returns,
    sandbox: bool,
    public_url: Url,
    idme_origin: String,
    made: Mutex<Option<(Arc<Rules>, Arc<ShopNow>)>>,
}

impl Looks {
    pub fn new(
        fixed: Look,
        returns: Returns,
        sandbox: bool,
        public_url: Url,
        idme_origin: String,
    ) -> Self {
        Self {
            fixed,
            returns,
            sandbox,
            public_url,
            idme_origin,
            made: Mutex::new(None),
        }
    }

    /// The fields the settings fix (the console shows them read-only).
    pub fn fixed(&self) -> &Look {
        &self.fixed
    }

    pub fn of(&self, rules: &Arc<Rules>) -> Arc<ShopNow> {
        let mut made = self.made.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((for_rules, now)) = made.as_ref()
            && Arc::ptr_eq(for_rules, rules)
        {
            return Arc::clone(now);
        }
        let look = self.fixed.over(&rules.store);
        let csp = content_security_policy(&self.idme_origin, look.logo_origin().as_deref());
        let now = Arc::new(ShopNow {
            shop: Shop::new(look, self.returns.clone(), self.sandbox, &self.public_url),
            csp,
        });
        *made = Some((Arc::clone(rules), Arc::clone(&now)));
        now
    }
}
