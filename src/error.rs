//! The domain's error: what went wrong, in the words of the domain. The web layer decides
//! what a person sees for each (`web::error`); nothing here knows about HTTP.

use crate::idme::IdmeError;

/// Why a callback's `state` was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateProblem {
    Missing,
    Unknown,
    Used,
    Expired,
}

#[derive(Debug)]
pub enum Error {
    /// The callback's state cannot be used: forged, foreign, used or expired.
    State(StateProblem),
    /// ID.me sent an `error=` other than the shopper declining (a documented code or
    /// "unrecognised": never the raw text).
    ProviderRefused(String),
    /// A call to ID.me failed, or its answer could not be used.
    Provider(IdmeError),
    /// The database or the session store is unavailable.
    Store(String),
    Internal(String),
}

impl Error {
    /// The log line. Causes are our own texts or labels: never a token, a payload or a name.
    pub fn log(&self) {
        match self {
            Self::Provider(e) => tracing::warn!(kind = e.kind(), error = %e, "ID.me call failed"),
            Self::ProviderRefused(code) => {
                tracing::warn!(idme_error = %code, "ID.me returned an error to the callback")
            }
            Self::Store(e) => tracing::error!(error = %e, "store unavailable"),
            Self::Internal(e) => tracing::error!(error = %e, "internal error"),
            Self::State(p) => tracing::info!(problem = ?p, "callback state refused"),
        }
    }

    /// A short stable label for metrics (the same codes the error pages carry).
    pub fn label(&self) -> &'static str {
        match self {
            Self::State(StateProblem::Missing) => "state_missing",
            Self::State(StateProblem::Unknown) => "state_unknown",
            Self::State(StateProblem::Used) => "state_used",
            Self::State(StateProblem::Expired) => "state_expired",
            Self::ProviderRefused(_) => "idme_refused",
            Self::Provider(_) => "idme_unavailable",
            Self::Store(_) => "store_unavailable",
            Self::Internal(_) => "internal",
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::State(p) => write!(f, "callback state refused: {p:?}"),
            Self::ProviderRefused(code) => write!(f, "ID.me answered the callback with {code}"),
            Self::Provider(e) => write!(f, "{e}"),
            Self::Store(e) => write!(f, "store unavailable: {e}"),
            Self::Internal(e) => write!(f, "internal error: {e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<tower_sessions::session::Error> for Error {
    fn from(e: tower_sessions::session::Error) -> Self {
        Self::Store(format!("session store: {e}"))
    }
}

impl From<tower_sessions::session_store::Error> for Error {
    fn from(e: tower_sessions::session_store::Error) -> Self {
        Self::Store(format!("session store: {e}"))
    }
}

impl From<crate::db::Error> for Error {
    fn from(e: crate::db::Error) -> Self {
        Self::Store(format!("database: {e}"))
    }
}

impl From<IdmeError> for Error {
    fn from(e: IdmeError) -> Self {
        Self::Provider(e)
    }
}
