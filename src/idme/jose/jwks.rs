//! ID.me's signing keys: fetched from its JWKS, cached, refetched on an unknown `kid` at most
//! once per interval, one fetch at a time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use serde::Deserialize;
use url::Url;

use super::{JoseError, JwsAlg, b64};
use crate::idme::client::{Transport, read_capped};

/// One signing key from the JWKS, usable with exactly one algorithm.
pub(crate) struct VerifyingKey {
    pub kid: Option<String>,
    pub alg: JwsAlg,
    pub key: DecodingKey,
}

/// The cache. Clones share it.
#[derive(Clone)]
pub struct Jwks {
    inner: Arc<Inner>,
}

struct Inner {
    url: Url,
    http: reqwest::Client,
    max_body: usize,
    ttl: Duration,
    min_refetch: Duration,
    snapshot: RwLock<Arc<Snapshot>>,
    /// Held for the whole fetch: concurrent callbacks wait for one fetch instead of each
    /// making their own.
    fetching: tokio::sync::Mutex<()>,
    fetches: AtomicU64,
}

#[derive(Default)]
struct Snapshot {
    keys: Vec<Arc<VerifyingKey>>,
    /// Last successful fetch: the keys are trusted for `ttl` after it.
    fetched_at: Option<Instant>,
    /// Last fetch made because of an unknown `kid` (successful or not): the throttle.
    refetched_at: Option<Instant>,
    /// Counts fetch attempts, so a caller that waited knows one happened meanwhile.
    attempt: u64,
    /// The last attempt's failure, shared with those who waited for it.
    failed: Option<JoseError>,
}

enum Found {
    Key(Arc<VerifyingKey>),
    WrongType,
    Missing,
}

impl Found {
    /// The answer once no (further) fetch will be made.
    fn final_answer(self) -> Result<Arc<VerifyingKey>, JoseError> {
        match self {
            Self::Key(key) => Ok(key),
            Self::WrongType => Err(JoseError::AlgorithmKeyMismatch),
            Self::Missing => Err(JoseError::UnknownKey),
        }
    }
}

impl Snapshot {
    fn fresh(&self, now: Instant, ttl: Duration) -> bool {
        self.fetched_at
            .is_some_and(|t| now.saturating_duration_since(t) < ttl)
    }

    /// The key a token names: by `kid`, then by type. Without a `kid`, only an unambiguous key
    /// of the right type will do.
    fn find(&self, kid: Option<&str>, alg: JwsAlg) -> Found {
        let named: Vec<&Arc<VerifyingKey>> = match kid {
            Some(kid) => self
                .keys
                .iter()
                .filter(|k| k.kid.as_deref() == Some(kid))
                .collect(),
            None => self.keys.iter().collect(),
        };
        let typed: Vec<&&Arc<VerifyingKey>> = named.iter().filter(|k| k.alg == alg).collect();
        match (typed.as_slice(), kid) {
            ([key], _) | ([key, ..], Some(_)) => Found::Key(Arc::clone(key)),
            ([], _) if !named.is_empty() && kid.is_some() => Found::WrongType,
            _ => Found::Missing,
        }
    }
}

impl std::fmt::Debug for Jwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwks")
            .field("url", &self.inner.url.as_str())
            .field("ttl", &self.inner.ttl)
            .finish_non_exhaustive()
    }
}

impl Jwks {
    /// `http` should be the ID.me client's: timeouts, no redirects. `min_refetch` bounds how
    /// often an unknown `kid` may trigger a fetch (a forged `kid` must not hammer ID.me).
    pub fn new(
        url: Url,
        http: reqwest::Client,
        max_body: usize,
        ttl: Duration,
        min_refetch: Duration,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                url,
                http,
                max_body,
                ttl,
                min_refetch,
                snapshot: RwLock::default(),
                fetching: tokio::sync::Mutex::new(()),
                fetches: AtomicU64::new(0),
            }),
        }
    }

    pub fn url(&self) -> &Url {
        &self.inner.url
    }

    /// How many times the JWKS was requested (for tests and diagnostics).
    pub fn fetches(&self) -> u64 {
        self.inner.fetches.load(Ordering::SeqCst)
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        // A poisoned lock still holds a consistent snapshot: it is only ever replaced whole.
        self.inner
            .snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The key for a token's `kid` and algorithm: from the cache while it is fresh, else after
    /// one (shared) fetch.
    pub(crate) async fn key(
        &self,
        kid: Option<&str>,
        alg: JwsAlg,
    ) -> Result<Arc<VerifyingKey>, JoseError> {
        let (ttl, min_refetch) = (self.inner.ttl, self.inner.min_refetch);
        let seen = self.snapshot();
        let now = Instant::now();
        if seen.fresh(now, ttl) {
            match seen.find(kid, alg) {
                Found::Key(key) => return Ok(key),
                Found::WrongType => return Err(JoseError::AlgorithmKeyMismatch),
                Found::Missing
                    if seen
                        .refetched_at
                        .is_some_and(|t| now.saturating_duration_since(t) < min_refetch) =>
                {
                    return Err(JoseError::UnknownKey);
                }
                // A key rotation: refetch below.
                Found::Missing => {}
            }
        }

        let _one_fetch = self.inner.fetching.lock().await;
        let current = self.snapshot();
        if current.attempt != seen.attempt {
            // Someone fetched while we waited: their outcome is ours.
            if let Some(e) = &current.failed {
                return Err(e.clone());
            }
            return current.find(kid, alg).final_answer();
        }
        // Fresh keys without the kid: this fetch is the throttled refetch.
        let refetch = current.fresh(Instant::now(), ttl);
        let fetched = self.fetch().await;
        let now = Instant::now();
        let mut next = match fetched {
            Ok(keys) => Snapshot {
                keys,
                fetched_at: Some(now),
                refetched_at: current.refetched_at,
                attempt: current.attempt + 1,
                failed: None,
            },
            Err(e) => Snapshot {
                keys: current.keys.clone(),
                fetched_at: current.fetched_at,
                refetched_at: current.refetched_at,
                attempt: current.attempt + 1,
                failed: Some(e),
            },
        };
        let found = next.find(kid, alg);
        // A fetch that looked for this kid counts against the throttle, even the first one.
        if refetch || (next.failed.is_none() && matches!(found, Found::Missing)) {
            next.refetched_at = Some(now);
        }
        let failed = next.failed.clone();
        *self
            .inner
            .snapshot
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
        match failed {
            Some(e) => Err(e),
            None => found.final_answer(),
        }
    }

    async fn fetch(&self) -> Result<Vec<Arc<VerifyingKey>>, JoseError> {
        self.inner.fetches.fetch_add(1, Ordering::SeqCst);
        let unavailable = |t: Transport| {
            JoseError::JwksUnavailable(
                match t {
                    Transport::Timeout => "timeout",
                    Transport::Unreachable | Transport::Other => "unreachable",
                    Transport::TooLarge => "answer exceeds the size limit",
                }
                .to_owned(),
            )
        };
        let response = self
            .inner
            .http
            .get(self.inner.url.clone())
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| unavailable(Transport::from_reqwest(&e)))?;
        let status = response.status();
        let body = read_capped(response, self.inner.max_body)
            .await
            .map_err(unavailable)?;
        if !status.is_success() {
            return Err(JoseError::JwksUnavailable(format!(
                "HTTP {}",
                status.as_u16()
            )));
        }
        let keys = parse(&body)?;
        tracing::debug!(keys = keys.len(), "fetched ID.me's JWKS");
        Ok(keys)
    }
}

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawKey {
    kty: String,
    kid: Option<String>,
    #[serde(rename = "use")]
    usage: Option<String>,
    alg: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

/// The signing keys we can use; others (encryption keys, other curves, keys pinned to other
/// algorithms, odd entries) are skipped so one of them cannot break the whole set.
fn parse(body: &[u8]) -> Result<Vec<Arc<VerifyingKey>>, JoseError> {
    let set: RawSet = serde_json::from_slice(body).map_err(|_| JoseError::JwksInvalid)?;
    Ok(set
        .keys
        .into_iter()
        .filter_map(|v| serde_json::from_value::<RawKey>(v).ok())
        .filter_map(|raw| usable(&raw))
        .map(Arc::new)
        .collect())
}

fn usable(raw: &RawKey) -> Option<VerifyingKey> {
    if raw.usage.as_deref().is_some_and(|u| u != "sig") {
        return None;
    }
    let alg = match (raw.kty.as_str(), raw.crv.as_deref()) {
        ("RSA", _) => JwsAlg::Rs256,
        ("EC", Some("P-256")) => JwsAlg::Es256,
        _ => return None,
    };
    if raw.alg.as_deref().is_some_and(|a| a != alg.as_str()) {
        return None;
    }
    let key = match alg {
        JwsAlg::Rs256 => {
            let n = b64(raw.n.as_deref()?, "n").ok()?;
            let e = b64(raw.e.as_deref()?, "e").ok()?;
            let bits = n.iter().skip_while(|b| **b == 0).count() * 8;
            if !(2048..=8192).contains(&bits) {
                return None;
            }
            DecodingKey::from_rsa_raw_components(&n, &e)
        }
        JwsAlg::Es256 => {
            let x = b64(raw.x.as_deref()?, "x").ok()?;
            let y = b64(raw.y.as_deref()?, "y").ok()?;
            if x.len() != 32 || y.len() != 32 {
                return None;
            }
            DecodingKey::from_ec_components(raw.x.as_deref()?, raw.y.as_deref()?).ok()?
        }
    };
    Some(VerifyingKey {
        kid: raw.kid.clone(),
        alg,
        key,
    })
}
