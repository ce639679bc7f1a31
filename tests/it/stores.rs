//! One session-store suite, run against every backend: SQLite and PostgreSQL (sessions in the
//! database) and Redis (`PERKGATE_SESSION_URL`). PostgreSQL and Redis run when
//! `PERKGATE_TEST_POSTGRES_URL` / `PERKGATE_TEST_REDIS_URL` are set (always in CI).

use std::collections::HashMap;

use crate::harness::*;
use perkgate::session_store::Sessions;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::SessionStore;

/// (name, PERKGATE_DATABASE_URL, PERKGATE_SESSION_URL) for every available backend.
async fn backends(dir: &std::path::Path) -> Vec<(&'static str, String, Option<String>)> {
    let mut out: Vec<(&'static str, String, Option<String>)> = stores::databases(dir)
        .await
        .into_iter()
        .map(|(name, url)| (name, url, None))
        .collect();
    if let Some(redis) = stores::redis() {
        let sqlite = format!("sqlite://{}", dir.join("with-redis.db").display());
        out.push(("redis", sqlite, Some(redis)));
    }
    out
}

fn record(value: &str, expires_in: time::Duration) -> Record {
    Record {
        id: Id::default(),
        data: HashMap::from([("k".to_owned(), serde_json::json!(value))]),
        expiry_date: time::OffsetDateTime::now_utc() + expires_in,
    }
}

#[tokio::test]
async fn every_store_creates_loads_saves_deletes_and_expires() {
    let dir = tempfile::tempdir().unwrap();
    for (name, db_url, session_url) in backends(dir.path()).await {
        let db = perkgate::db::connect(&db_url).await.unwrap();
        let store = Sessions::open(session_url.as_deref(), &db).await.unwrap();
        assert_eq!(store.backend(), name);

        let mut r = record("one", time::Duration::hours(1));
        store.create(&mut r).await.unwrap();
        let loaded = store
            .load(&r.id)
            .await
            .unwrap()
            .expect("created record loads");
        assert_eq!(loaded.data, r.data, "{name}");

        r.data.insert("k".into(), serde_json::json!("two"));
        store.save(&r).await.unwrap();
        assert_eq!(
            store.load(&r.id).await.unwrap().unwrap().data["k"],
            "two",
            "{name}"
        );

        store.delete(&r.id).await.unwrap();
        assert!(
            store.load(&r.id).await.unwrap().is_none(),
            "{name}: deleted"
        );

        // An expired record is never served (Redis lets the key expire; the databases filter).
        let mut old = record("old", time::Duration::seconds(1));
        store.create(&mut old).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        assert!(
            store.load(&old.id).await.unwrap().is_none(),
            "{name}: expired"
        );
        store.delete_expired().await.unwrap();

        assert!(store.ping().await.is_ok());
    }
}

#[tokio::test]
async fn on_every_backend_the_flow_works_and_a_restart_loses_no_session() {
    let dir = tempfile::tempdir().unwrap();
    for (name, db_url, session_url) in backends(dir.path()).await {
        let options = backend_options(&db_url, session_url.as_deref());
        let app = spawn_with(options.clone()).await;
        let shopper = app.shopper();
        let res = shopper.verify_as("military", "service_member").await;
        assert_eq!(res.status(), 303, "{name}");
        assert_verified(&shopper.home().await.1, "SALUTE15");
        let ready: serde_json::Value = reqwest::get(app.url("/readyz"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(ready["sessions_backend"], name);
        app.stop().await;

        let app = spawn_with(options).await;
        assert_verified(&shopper.at(&app.base).home().await.1, "SALUTE15");
        app.stop().await;
    }
}

/// Everything a backend holds, as bytes to search.
async fn dump(db_url: &str, session_url: Option<&str>, dir: &std::path::Path) -> Vec<u8> {
    let mut out = Vec::new();
    match perkgate::db::connect(db_url).await.unwrap() {
        perkgate::db::Db::Sqlite(_) => {
            // The database file and its write-ahead log, byte for byte.
            for entry in walk(dir) {
                out.extend(std::fs::read(entry).unwrap_or_default());
            }
        }
        perkgate::db::Db::Postgres(p) => {
            let tables: Vec<(String, String)> = sqlx::query_as(
                "SELECT table_schema, table_name FROM information_schema.tables \
                 WHERE table_schema NOT IN ('pg_catalog', 'information_schema')",
            )
            .fetch_all(&p)
            .await
            .unwrap();
            for (schema, table) in tables {
                let rows: Vec<String> =
                    sqlx::query_scalar(&format!("SELECT t::text FROM \"{schema}\".\"{table}\" t"))
                        .fetch_all(&p)
                        .await
                        .unwrap();
                for row in rows {
                    out.extend(row.into_bytes());
                }
            }
        }
    }
    if let Some(url) = session_url {
        let client = redis_values(url).await;
        out.extend(client);
    }
    out
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// Every key and value in the Redis test server (the store keeps one string per session).
async fn redis_values(url: &str) -> Vec<u8> {
    use tower_sessions_redis_store::fred::prelude::*;
    use tower_sessions_redis_store::fred::types::{ClusterHash, CustomCommand};
    let client = Builder::from_config(Config::from_url(url).unwrap())
        .build()
        .unwrap();
    client.init().await.unwrap();
    let keys: Vec<String> = client
        .custom(
            CustomCommand::new_static("KEYS", ClusterHash::FirstKey, false),
            vec!["*"],
        )
        .await
        .unwrap();
    let mut out = Vec::new();
    for key in keys {
        let value: Option<Vec<u8>> = client.get(&key).await.unwrap_or(None);
        out.extend(value.unwrap_or_default());
        // The keys too: the store keys each session by its (hashed) id.
        out.extend(key.into_bytes());
    }
    out
}

#[tokio::test]
async fn no_store_keeps_a_name_an_email_a_raw_uuid_or_a_token() {
    use crate::harness::fake_idme::FakeIdme;
    let dir = tempfile::tempdir().unwrap();
    for (name, db_url, session_url) in backends(dir.path()).await {
        let idme = FakeIdme::start().await;
        let mut options = Options::default()
            .idme(&idme.url())
            .var("PERKGATE_DATABASE_URL", &db_url);
        if let Some(url) = &session_url {
            options = options.var("PERKGATE_SESSION_URL", url);
        }
        let app = spawn_with(options).await;
        for _ in 0..2 {
            let shopper = app.shopper();
            let authorize = shopper.start_verify("military").await;
            let state = query_param(&authorize, "state").unwrap();
            let res = shopper.callback("c", &state).await;
            assert_eq!(res.status(), 303);
            assert_verified(&shopper.home().await.1, "SALUTE15");
        }
        app.stop().await;
        let bytes = dump(&db_url, session_url.as_deref(), dir.path()).await;
        assert!(!bytes.is_empty(), "{name}: nothing dumped");
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            text.contains("SALUTE15"),
            "{name}: the dump holds the benefit (sanity check)"
        );
        for secret in [
            "Sunny",
            "Nader",
            "sunny.nader@id.me",
            "d733a89e2e634f04ac2fe66c97f71612",
            "tok-SECRET-123",
        ] {
            assert!(!text.contains(secret), "{name}: the store holds {secret:?}");
        }
    }
}

#[tokio::test]
async fn the_read_cache_serves_only_read_only_pages_and_only_briefly() {
    use perkgate::session_store::{CachedSessions, cached_reads};
    // The cached copy must still be fresh (300 ms) when it is read: serial, so that no heavy
    // test slows this one down.
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let db = perkgate::db::connect(&format!("sqlite://{}", dir.path().join("c.db").display()))
        .await
        .unwrap();
    let store = Sessions::open(None, &db).await.unwrap();
    let cached = CachedSessions::new(store.clone(), std::time::Duration::from_millis(300));
    let mut r = record("one", time::Duration::hours(1));
    cached.create(&mut r).await.unwrap();

    // Another instance changes the session under the same id.
    let mut changed = r.clone();
    changed.data.insert("k".into(), serde_json::json!("two"));
    store.save(&changed).await.unwrap();

    // A read-only page may see this instance's copy for the TTL...
    let seen = cached_reads(cached.load(&r.id)).await.unwrap().unwrap();
    assert_eq!(seen.data["k"], "one");
    // ...every other request reads the store...
    assert_eq!(cached.load(&r.id).await.unwrap().unwrap().data["k"], "two");
    // ...which also refreshes the copy, and a copy is never older than the TTL.
    let seen = cached_reads(cached.load(&r.id)).await.unwrap().unwrap();
    assert_eq!(seen.data["k"], "two");
    let mut third = changed.clone();
    third.data.insert("k".into(), serde_json::json!("three"));
    store.save(&third).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(350)).await;
    let seen = cached_reads(cached.load(&r.id)).await.unwrap().unwrap();
    assert_eq!(seen.data["k"], "three");

    // A deleted session is gone from the cache at once on this instance.
    cached.delete(&r.id).await.unwrap();
    assert!(cached_reads(cached.load(&r.id)).await.unwrap().is_none());
}

/// An app on this database and, when given, this session store.
fn backend_options(db_url: &str, session_url: Option<&str>) -> Options {
    let options = Options::default().var("PERKGATE_DATABASE_URL", db_url);
    match session_url {
        Some(url) => options.var("PERKGATE_SESSION_URL", url),
        None => options,
    }
}

/// The session id a response's `Set-Cookie` gives the shopper.
fn session_cookie(res: &reqwest::Response) -> String {
    set_cookie_value(res, "perkgate").expect("a session cookie")
}

/// Whether the store shows a verified shopper to a browser presenting `cookie`.
async fn verified_with(app: &TestApp, cookie: &str) -> bool {
    store_page_with_session(app, cookie)
        .await
        .contains("data-testid=\"benefit\"")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every form an id may take in a store: its text (a key), its 16 bytes either way round
/// (inside a Redis or PostgreSQL record), and those in hex (a PostgreSQL `bytea` as text).
fn forms(id: &Id) -> Vec<Vec<u8>> {
    let hex = |b: [u8; 16]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    vec![
        id.to_string().into_bytes(),
        id.0.to_le_bytes().to_vec(),
        id.0.to_be_bytes().to_vec(),
        hex(id.0.to_le_bytes()).into_bytes(),
        hex(id.0.to_be_bytes()).into_bytes(),
    ]
}

#[tokio::test]
async fn every_store_keeps_only_a_hash_of_the_session_id() {
    use perkgate::session_store::stored_id;
    let dir = tempfile::tempdir().unwrap();
    for (name, db_url, session_url) in backends(dir.path()).await {
        let options = backend_options(&db_url, session_url.as_deref());
        let app = spawn_with(options.clone()).await;
        let shopper = app.shopper();
        let res = shopper.verify_as("military", "service_member").await;
        assert_eq!(res.status(), 303, "{name}");
        let cookie = session_cookie(&res);
        let id: Id = cookie.parse().unwrap();
        let kept = stored_id(&id).to_string();
        assert!(
            verified_with(&app, &cookie).await,
            "{name}: the cookie works"
        );
        app.stop().await;

        let bytes = dump(&db_url, session_url.as_deref(), dir.path()).await;
        assert!(
            contains(&bytes, kept.as_bytes()),
            "{name}: the session is kept under the hash of its id"
        );
        for (i, form) in forms(&id).iter().enumerate() {
            assert!(
                !contains(&bytes, form),
                "{name}: the store holds the session id (form {i})"
            );
        }

        // What a reader of the store finds is no way in.
        let app = spawn_with(options).await;
        assert!(
            !verified_with(&app, &kept).await,
            "{name}: the stored id works as a cookie"
        );
        assert!(
            verified_with(&app, &cookie).await,
            "{name}: after a restart"
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn sqlite_sessions_stored_before_ids_were_hashed_are_carried_over() {
    use perkgate::session_store::stored_id;
    let app = spawn_app().await;
    let shopper = app.shopper();
    let cookie = session_cookie(&shopper.verify_as("nurse", "nurse").await);
    let dir = app.dir.clone();
    app.stop().await;

    // The database as the version before this one left it: rows under the cookies' own ids
    // (this shopper's and 300 others, so that rows share pages), the schema at version 5.
    let file = dir.path().join("data/perkgate.db");
    let kept = stored_id(&cookie.parse().unwrap()).to_string();
    let others: Vec<String> = (0..300).map(|_| Id::default().to_string()).collect();
    {
        let mut c = rusqlite::Connection::open(&file).unwrap();
        let c = c.transaction().unwrap();
        let moved = c
            .execute(
                "UPDATE sessions SET id = $1 WHERE id = $2",
                [&cookie, &kept],
            )
            .unwrap();
        assert_eq!(moved, 1, "the session was stored under the hash of its id");
        for other in &others {
            c.execute(
                "INSERT INTO sessions (id, data, expiry_date) \
                 SELECT $1, data, expiry_date FROM sessions WHERE id = $2",
                [other, &cookie],
            )
            .unwrap();
        }
        c.pragma_update(None, "user_version", 5).unwrap();
        c.commit().unwrap();
    }
    let files = || {
        walk(&dir.path().join("data"))
            .into_iter()
            .flat_map(|f| std::fs::read(f).unwrap())
            .collect::<Vec<u8>>()
    };
    assert!(contains(&files(), cookie.as_bytes()), "sanity: an old file");

    let app = spawn_with(Options {
        dir: Some(dir.clone()),
        ..Options::default()
    })
    .await;
    assert!(
        shopper
            .at(&app.base)
            .home()
            .await
            .1
            .contains("data-testid=\"benefit\""),
        "the shopper is still verified"
    );
    app.stop().await;
    let bytes = files();
    assert!(contains(&bytes, kept.as_bytes()), "the row was moved");
    for old in others.iter().chain([&cookie]) {
        let hashed = stored_id(&old.parse().unwrap()).to_string();
        assert!(contains(&bytes, hashed.as_bytes()), "every row was moved");
        assert!(
            !contains(&bytes, old.as_bytes()),
            "no copy of an old id is left in the database files"
        );
    }
}
