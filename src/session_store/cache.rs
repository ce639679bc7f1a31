//! A short read-through cache in front of the session store, for pages that only show state.

use std::any::Any;
use std::sync::Arc;
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
    cache: Option<Arc<ReadCache>>,
}

#[derive(Debug)]
struct ReadCache {
    ttl: Duration,
    entries: std::sync::Mutex<Entries>,
}

/// A record, when it was read or written, and what the read path decoded from it (once per
/// entry: decoding the state was a tenth of a read-only request's CPU).
struct Entry {
    record: Record,
    at: Instant,
    decoded: Option<Arc<dyn Any + Send + Sync>>,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("at", &self.at)
            .finish_non_exhaustive()
    }
}

/// What [`CachedSessions::shown`] found for a session id.
pub enum Shown<T> {
    /// The state, decoded.
    Found(Arc<T>),
    /// The store has no such session.
    Missing,
    /// Not for the cache (it is off, outside a read-only page, or the record did not decode):
    /// read through the session.
    Uncached,
}

#[derive(Debug)]
struct Entries {
    map: std::collections::HashMap<Id, Entry>,
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
                Arc::new(ReadCache {
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
                .retain(|_, e| now.duration_since(e.at) < cache.ttl);
            entries.pruned = now;
        }
        if entries.map.len() >= CACHE_CAPACITY {
            entries.map.clear();
        }
        let entry = Entry {
            record: record.clone(),
            at: now,
            decoded: None,
        };
        entries.map.insert(record.id, entry);
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
        let entry = entries.map.get(id).filter(|e| fresh(cache, e))?;
        Some(entry.record.clone())
    }

    /// The session `id` decoded for a page that only shows it, from the cache when it is
    /// fresh there (a miss reads the store and fills the cache). Outside [`cached_reads`],
    /// or with the cache off, `Uncached`.
    pub async fn shown<T: Send + Sync + 'static>(
        &self,
        id: Id,
        decode: fn(&Record) -> Option<T>,
    ) -> session_store::Result<Shown<T>> {
        if self.cache.is_none() || READ_ONLY.try_with(|_| ()).is_err() {
            return Ok(Shown::Uncached);
        }
        if let Some(shown) = self.decoded(&id, decode) {
            return Ok(shown);
        }
        if self.load(&id).await?.is_none() {
            return Ok(Shown::Missing);
        }
        Ok(self.decoded(&id, decode).unwrap_or(Shown::Uncached))
    }

    /// The fresh entry's decoded value, decoding it now if nobody has. `None`: no fresh entry.
    fn decoded<T: Send + Sync + 'static>(
        &self,
        id: &Id,
        decode: fn(&Record) -> Option<T>,
    ) -> Option<Shown<T>> {
        let cache = self.cache.as_ref()?;
        let mut entries = Self::entries(cache);
        let entry = entries.map.get_mut(id).filter(|e| fresh(cache, e))?;
        if entry.decoded.is_none() {
            // Under the lock, once per entry: a write replaces the entry, never this value.
            let Some(value) = decode(&entry.record) else {
                return Some(Shown::Uncached);
            };
            entry.decoded = Some(Arc::new(value));
        }
        let decoded = Arc::clone(entry.decoded.as_ref()?);
        Some(
            decoded
                .downcast::<T>()
                .map_or(Shown::Uncached, Shown::Found),
        )
    }

    /// Retires session `old` and stores `record` under a new id (a rotation), in one call
    /// where the backend can.
    pub async fn replace(&self, old: &Id, record: &mut Record) -> session_store::Result<()> {
        self.forget(old);
        self.inner.replace(old, record).await?;
        self.remember(record);
        Ok(())
    }

    pub fn inner(&self) -> &Sessions {
        &self.inner
    }
}

fn fresh(cache: &ReadCache, entry: &Entry) -> bool {
    entry.at.elapsed() < cache.ttl && entry.record.expiry_date > time::OffsetDateTime::now_utc()
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::db::sqlite::Sqlite;
    use crate::session_store::sqlite::SqliteSessions;

    fn store(ttl: Duration) -> CachedSessions {
        let db = Sqlite::open("sqlite::memory:").unwrap();
        CachedSessions::new(Sessions::Sqlite(SqliteSessions(db)), ttl)
    }

    fn record(text: &str) -> Record {
        let data = HashMap::from([("k".to_owned(), serde_json::Value::from(text))]);
        Record {
            id: Id::default(),
            data,
            expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
        }
    }

    fn text(r: &Record) -> Option<String> {
        r.data.get("k")?.as_str().map(str::to_owned)
    }

    fn found(shown: Shown<String>) -> Option<String> {
        match shown {
            Shown::Found(s) => Some(String::clone(&s)),
            Shown::Missing | Shown::Uncached => None,
        }
    }

    #[tokio::test]
    async fn a_read_only_page_gets_the_decoded_state_and_a_write_replaces_it() {
        let s = store(Duration::from_secs(60));
        let mut r = record("one");
        s.create(&mut r).await.unwrap();
        let shown = cached_reads(s.shown(r.id, text)).await.unwrap();
        assert_eq!(found(shown).as_deref(), Some("one"));
        let mut changed = record("two");
        changed.id = r.id;
        s.save(&changed).await.unwrap();
        let shown = cached_reads(s.shown(r.id, text)).await.unwrap();
        assert_eq!(found(shown).as_deref(), Some("two"));
    }

    #[tokio::test]
    async fn outside_read_only_pages_or_without_the_cache_nothing_is_served_from_it() {
        let s = store(Duration::from_secs(60));
        let mut r = record("one");
        s.create(&mut r).await.unwrap();
        assert!(matches!(
            s.shown(r.id, text).await.unwrap(),
            Shown::Uncached
        ));
        let off = store(Duration::ZERO);
        let mut r = record("one");
        off.create(&mut r).await.unwrap();
        let shown = cached_reads(off.shown(r.id, text)).await.unwrap();
        assert!(matches!(shown, Shown::Uncached));
    }

    #[tokio::test]
    async fn a_session_the_store_lacks_is_missing_and_one_that_does_not_decode_is_left_to_the_session()
     {
        let s = store(Duration::from_secs(60));
        let unknown = cached_reads(s.shown(Id::default(), text)).await.unwrap();
        assert!(matches!(unknown, Shown::Missing));
        let mut r = record("one");
        r.data.clear();
        s.create(&mut r).await.unwrap();
        let odd = cached_reads(s.shown(r.id, text)).await.unwrap();
        assert!(matches!(odd, Shown::Uncached));
    }

    #[tokio::test]
    async fn a_deleted_session_is_missing_at_once() {
        let s = store(Duration::from_secs(60));
        let mut r = record("one");
        s.create(&mut r).await.unwrap();
        assert!(found(cached_reads(s.shown(r.id, text)).await.unwrap()).is_some());
        s.delete(&r.id).await.unwrap();
        let gone = cached_reads(s.shown(r.id, text)).await.unwrap();
        assert!(matches!(gone, Shown::Missing));
    }

    #[tokio::test]
    async fn a_rotation_retires_the_old_id_and_stores_the_new_one() {
        let s = store(Duration::from_secs(60));
        let mut old = record("before");
        s.create(&mut old).await.unwrap();
        let mut new = record("after");
        s.replace(&old.id, &mut new).await.unwrap();
        assert_ne!(new.id, old.id);
        assert!(s.load(&old.id).await.unwrap().is_none());
        assert!(s.inner().load(&old.id).await.unwrap().is_none());
        let stored = s.inner().load(&new.id).await.unwrap().unwrap();
        assert_eq!(text(&stored).as_deref(), Some("after"));
        // The read path sees the new session at once, from this instance's cache.
        let shown = cached_reads(s.shown(new.id, text)).await.unwrap();
        assert_eq!(found(shown).as_deref(), Some("after"));
    }
}
