//! One session-store suite, run against every backend: SQLite and PostgreSQL (sessions in the
//! database) and Redis (`PERKGATE_SESSION_URL`). PostgreSQL and Redis run when
//! `PERKGATE_TEST_POSTGRES_URL` / `PERKGATE_TEST_REDIS_URL` are set (always in CI).

mod common;

use std::collections::HashMap;

use common::*;
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
        let mut options = Options::default().var("PERKGATE_DATABASE_URL", &db_url);
        if let Some(url) = &session_url {
            options = options.var("PERKGATE_SESSION_URL", url);
        }
        let app = spawn_with(options.clone()).await;
        let client = browser();
        let res = verify_as(&client, &app, "military", "service_member").await;
        assert_eq!(res.status(), 303, "{name}");
        assert_verified(&home(&client, &app).await.1, "SALUTE15");
        let ready: serde_json::Value = reqwest::get(app.url("/readyz"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(ready["sessions_backend"], name);
        app.stop().await;

        let app = spawn_with(options).await;
        assert_verified(&home(&client, &app).await.1, "SALUTE15");
        app.stop().await;
    }
}
