//! The sandbox's bounded in-memory grants: pending authorization requests, codes and access
//! tokens, each pruned once it outlives its time.

use std::collections::HashMap;

use super::{GRANT_TTL_SECS, REQUEST_TTL_SECS, personas};

pub(super) struct AuthRequest {
    pub(super) redirect_uri: String,
    pub(super) state: Option<String>,
    pub(super) scopes: Vec<String>,
    pub(super) code_challenge: String,
    pub(super) created_at: i64,
}

pub(super) struct CodeGrant {
    pub(super) redirect_uri: String,
    pub(super) scopes: Vec<String>,
    pub(super) code_challenge: String,
    pub(super) persona: &'static personas::Persona,
    pub(super) created_at: i64,
    /// Set on first redemption; a second redemption revokes it.
    pub(super) issued_token: Option<String>,
}

pub(super) struct TokenGrant {
    pub(super) scopes: Vec<String>,
    pub(super) persona: &'static personas::Persona,
    pub(super) created_at: i64,
}

#[derive(Default)]
pub(super) struct Grants {
    pub(super) requests: HashMap<String, AuthRequest>,
    pub(super) codes: HashMap<String, CodeGrant>,
    pub(super) tokens: HashMap<String, TokenGrant>,
}

impl Grants {
    pub(super) fn prune(&mut self, now: i64) {
        self.requests
            .retain(|_, r| now - r.created_at <= REQUEST_TTL_SECS);
        self.codes
            .retain(|_, c| now - c.created_at <= GRANT_TTL_SECS);
        self.tokens
            .retain(|_, t| now - t.created_at <= GRANT_TTL_SECS);
    }
}
