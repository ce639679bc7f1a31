//! A short read-through cache in front of the session store, for pages that only show state.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use super::Sessions;

tokio::task_local! {
    /// Set while a read-only page is being served: only then may a session come from the cache.
    static READ_ONLY: ();
}

/// Serves `f` with cached session reads allowed. For pages that only show state (`GET /`,
/// `GET /api/v1/benefit`); the callback and every form read the store itself.
pub async fn cached_reads<F: std::future::Future>(f: F) -> F::Output {
    READ_ONLY.scope((), f).await
}

/// The session store with a short read-through cache in front, for the read path.
///
/// Correct across instances because every change of privilege (verification, reset) gives
/// the shopper a new session id, which no cache has seen; what can be stale for at most `ttl`
/// on another instance is only what changes under the same id (a pending authorization, which
/// read-only pages do not use). Writes go through and refresh this instance's entry.
#[derive(Clone, Debug)]
pub struct CachedSessions {
    inner: Sessions,
    cache: Option<std::sync::Arc<ReadCache>>,
}

#[derive(Debug)]
struct ReadCache {
    ttl: Duration,
    entries: std::sync::Mutex<Entries>,
}

#[derive(Debug)]
struct Entries {
    map: std::collections::HashMap<Id, (Record, Instant)>,
    /// When stale entries were last dropped.
    pruned: Instant,
}

/// Past this many entries, those older than the TTL (useless anyway) are dropped, at most
/// once per TTL: under a stream of new sessions, pruning on every insert would scan the whole
/// map each time.
const CACHE_PRUNE_AT: usize = 2_048;
/// A hard cap on memory: past it the cache starts over.
const CACHE_CAPACITY: usize = 4_096;

impl CachedSessions {
    /// `ttl` zero turns the cache off.
    pub fn new(inner: Sessions, ttl: Duration) -> Self {
        Self {
            inner,
            cache: (!ttl.is_zero()).then(|| {
                std::sync::Arc::new(ReadCache {
                    ttl,
                    entries: std::sync::Mutex::new(Entries {
                        map: std::collections::HashMap::new(),
                        pruned: Instant::now(),
                    }),
                })
            }),
        }
    }

    fn entries(cache: &ReadCache) -> std::sync::MutexGuard<'_, Entries> {
        cache.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn remember(&self, record: &Record) {
        let Some(cache) = &self.cache else { return };
        let now = Instant::now();
        let mut entries = Self::entries(cache);
        if entries.map.len() >= CACHE_PRUNE_AT && now.duration_since(entries.pruned) >= cache.ttl {
            entries
                .map
                .retain(|_, (_, at)| now.duration_since(*at) < cache.ttl);
            entries.pruned = now;
        }
        if entries.map.len() >= CACHE_CAPACITY {
            entries.map.clear();
        }
        entries.map.insert(record.id, (record.clone(), now));
    }

    fn forget(&self, id: &Id) {
        if let Some(cache) = &self.cache {
            Self::entries(cache).map.remove(id);
        }
    }

    fn cached(&self, id: &Id) -> Option<Record> {
        let cache = self.cache.as_ref()?;
        READ_ONLY.try_with(|_| ()).ok()?;
        let entries = Self::entries(cache);
        let (record, at) = entries.map.get(id)?;
        (at.elapsed() < cache.ttl && record.expiry_date > time::OffsetDateTime::now_utc())
            .then(|| record.clone())
    }

    pub fn inner(&self) -> &Sessions {
        &self.inner
    }
}

#[async_trait]
impl SessionStore for CachedSessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.inner.create(record).await?;
        self.remember(record);
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.inner.save(record).await?;
        self.remember(record);
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        if let Some(record) = self.cached(id) {
            return Ok(Some(record));
        }
        let record = self.inner.load(id).await?;
        match &record {
            Some(r) => self.remember(r),
            None => self.forget(id),
        }
        Ok(record)
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.forget(id);
        self.inner.delete(id).await
    }
}
