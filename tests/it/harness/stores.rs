//! The backends a store test runs against: SQLite always; PostgreSQL and Redis when
//! `PERKGATE_TEST_POSTGRES_URL` / `PERKGATE_TEST_REDIS_URL` name a server (CI starts both and
//! sets `PERKGATE_REQUIRE_STORES=1`, so a missing server fails there instead of skipping).

use std::sync::atomic::{AtomicU32, Ordering};

pub fn required() -> bool {
    std::env::var("PERKGATE_REQUIRE_STORES").is_ok_and(|v| v == "1")
}

fn server(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                !required(),
                "{var} is not set but PERKGATE_REQUIRE_STORES=1"
            );
            eprintln!("note: {var} not set; skipping that backend");
            None
        }
    }
}

/// A fresh, empty PostgreSQL database on the test server, so tests never share state.
pub async fn fresh_postgres() -> Option<String> {
    static N: AtomicU32 = AtomicU32::new(0);
    let admin_url = server("PERKGATE_TEST_POSTGRES_URL")?;
    let name = format!(
        "perkgate_test_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst),
        rand::random::<u32>()
    );
    let admin = sqlx::PgPool::connect(&admin_url)
        .await
        .expect("connect to the test PostgreSQL");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .expect("create a test database");
    admin.close().await;
    let mut url = reqwest::Url::parse(&admin_url).expect("PERKGATE_TEST_POSTGRES_URL is a URL");
    url.set_path(&name);
    Some(url.to_string())
}

pub fn redis() -> Option<String> {
    server("PERKGATE_TEST_REDIS_URL")
}

/// Every database backend available here, as URLs for `PERKGATE_DATABASE_URL`.
pub async fn databases(dir: &std::path::Path) -> Vec<(&'static str, String)> {
    let mut out = vec![(
        "sqlite",
        format!("sqlite://{}", dir.join("store.db").display()),
    )];
    if let Some(url) = fresh_postgres().await {
        out.push(("postgres", url));
    }
    out
}
