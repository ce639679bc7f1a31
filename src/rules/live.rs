//! Where the live rules come from, and how a new version gets to every instance.
//!
//! With `PERKGATE_RULES` set, that file is authoritative as it always was (polled, SIGHUP;
//! GitOps). Otherwise the database is: its versions ([`versions`]) are published from the
//! console or `perkgate rules import`, every instance polls for a newer one and swaps it in
//! through the same [`RuleSet`] as a file reload, and a first start records the document that
//! would have been read before (`config/rules.toml`, else the compiled-in example) as
//! version 1.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::versions::{self, PublishError, Summary};
use super::watch::{self, RuleSet, Source};
use super::{EXAMPLE_RULES, LoadError, Loaded, Rules, diff, parse};
use crate::admin::audit;
use crate::config::Config;
use crate::db::{Db, Error};

/// The name errors give a document edited in the console.
pub const EDITED: &str = "rules.toml";
/// How much of a diff the audit log keeps.
const AUDIT_DIFF_CHARS: usize = 2_000;

/// Whether the file or the database is authoritative, from the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `PERKGATE_RULES` names this file.
    File(PathBuf),
    /// The database; pool seed files resolve against `base`.
    Database { base: Option<PathBuf> },
}

impl Mode {
    pub fn of(config: &Config) -> Self {
        if config.rules_explicit {
            Self::File(config.rules.clone())
        } else {
            Self::Database {
                base: config.rules.parent().map(Path::to_owned),
            }
        }
    }

    pub fn base(&self) -> Option<&Path> {
        match self {
            Self::File(p) => p.parent(),
            Self::Database { base } => base.as_deref(),
        }
    }
}

/// Why the file is authoritative, as the console and the command line say it.
pub fn file_mode_reason(path: &Path) -> String {
    format!(
        "PERKGATE_RULES is set, so the file {} is authoritative: change the offers there (it is \
         re-read when it changes and on SIGHUP). Unset PERKGATE_RULES to manage them here, in \
         the database.",
        path.display()
    )
}

fn errors_text(errors: &[LoadError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The document a first start records: the default file when present, else the example.
fn seed_document(path: &Path) -> Result<(String, String), String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok((path.display().to_string(), text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok((Source::Builtin.name(), EXAMPLE_RULES.to_owned()))
        }
        Err(e) => Err(format!("{}: cannot read rules: {e}", path.display())),
    }
}

/// The live rules at start-up, from the file or the database (seeding it on a first start).
pub async fn open(config: &Config, db: &Db) -> Result<RuleSet, String> {
    let base = match Mode::of(config) {
        Mode::File(path) => {
            let (source, loaded) = watch::load(&path, true).map_err(|e| errors_text(&e))?;
            warn_all(&loaded);
            return Ok(RuleSet::new(source, loaded.rules));
        }
        Mode::Database { base } => base,
    };
    let live = match versions::latest(db).await.map_err(|e| e.to_string())? {
        Some(v) => v,
        None => {
            let (name, text) = seed_document(&config.rules)?;
            parse(&name, &text, base.as_deref()).map_err(|e| errors_text(&e))?;
            let note = format!("seeded from {name}");
            match versions::publish(db, 0, &text, audit::START_UP, &note, crate::clock::now()).await
            {
                // Another instance seeding at the same moment won: take its version.
                Ok(_) | Err(PublishError::Stale(_)) => {}
                Err(PublishError::Db(e)) => return Err(e.to_string()),
            }
            tracing::info!(from = %name, "rules recorded in the database as version 1");
            versions::latest(db)
                .await
                .map_err(|e| e.to_string())?
                .ok_or("the first rules version was not recorded")?
        }
    };
    let n = live.summary.version;
    let loaded = parse(
        &format!("rules version {n}"),
        &live.document,
        base.as_deref(),
    )
    .map_err(|e| errors_text(&e))?;
    warn_all(&loaded);
    // Someone who kept offers in config/rules.toml without naming it: say once that the file
    // is no longer what is served, and how to keep it so.
    if let Ok(text) = std::fs::read_to_string(&config.rules)
        && text != live.document
    {
        tracing::warn!(
            file = %config.rules.display(),
            version = n,
            "the rules are served from the database, and this file differs from the live \
             version: it is no longer read. Publish it with `perkgate rules import {0}`, or set \
             PERKGATE_RULES={0} to keep the file authoritative",
            config.rules.display()
        );
    }
    Ok(RuleSet::at_version(
        Source::Database { base },
        loaded.rules,
        n,
    ))
}

fn warn_all(loaded: &Loaded) {
    for w in &loaded.warnings {
        tracing::warn!("rules: {w}");
    }
}

/// Follows the authoritative source: the file (see [`watch::watch`]) or the database, asked
/// every `db_every` (and when nudged) for a newer version. `on_reload` runs with each new
/// rule set (pool seeding, pool levels).
pub async fn follow<F, Fut>(
    set: Arc<RuleSet>,
    db: Db,
    file_every: Duration,
    db_every: Duration,
    on_reload: F,
) where
    F: Fn(Arc<Rules>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let Source::Database { base } = set.source.clone() else {
        return watch::watch(set, file_every, on_reload).await;
    };
    let mut tick = tokio::time::interval(db_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // A version that failed to load is not retried every tick (nor logged every second).
    let mut refused = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = set.nudged() => {}
        }
        let latest = match versions::latest_number(&db).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the latest rules version");
                continue;
            }
        };
        if latest <= set.version() || latest == refused {
            continue;
        }
        match load_version(&db, latest, base.as_deref()).await {
            Ok(rules) => {
                set.install(latest, rules);
                tracing::info!(
                    version = latest,
                    offers = set.get().offers.len(),
                    "rules version live"
                );
                on_reload(set.get()).await;
            }
            Err(errors) => {
                for e in &errors {
                    tracing::error!(
                        version = latest,
                        "rules version refused, keeping the previous one: {e}"
                    );
                }
                refused = latest;
                set.reject(errors);
            }
        }
    }
}

async fn load_version(db: &Db, n: i64, base: Option<&Path>) -> Result<Rules, Vec<String>> {
    let version = versions::get(db, n)
        .await
        .map_err(|e| vec![e.to_string()])?
        .ok_or_else(|| vec![format!("rules version {n} is missing")])?;
    parse(&format!("rules version {n}"), &version.document, base)
        .map(|l| l.rules)
        .map_err(|errors| errors.iter().map(ToString::to_string).collect())
}

/// A document to publish, and who publishes it.
pub struct Publish<'a> {
    /// The name errors give the document (`rules.toml` in the console, the file for `import`).
    pub name: &'a str,
    pub document: &'a str,
    /// The version the editor started from; `None`: whatever is latest (the command line).
    pub based_on: Option<i64>,
    pub author: &'a str,
    pub address: &'a str,
    pub note: &'a str,
    /// The audit log's action: "rules published", "rules rolled back", "rules imported".
    pub action: &'a str,
}

/// Why a publish was refused; each says what to do.
#[derive(Debug)]
pub enum Refused {
    /// The document does not validate: every problem, with line, column and field.
    Invalid(Vec<LoadError>),
    Stale(Summary),
    /// The file is authoritative.
    FileMode(String),
    Db(Error),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Invalid(errors) => f.write_str(&errors_text(errors)),
            Self::Stale(s) => PublishError::Stale(s.clone()).fmt(f),
            Self::FileMode(why) => f.write_str(why),
            Self::Db(e) => e.fmt(f),
        }
    }
}

impl From<Error> for Refused {
    fn from(e: Error) -> Self {
        Self::Db(e)
    }
}

/// What was published.
#[derive(Debug)]
pub struct Published {
    pub version: i64,
    /// "+1 -1 lines" and the changed lines, as the audit log has it.
    pub diff: String,
}

/// Validates and publishes a document as a new version, and audits it (who, from where, the
/// note and the diff against the version it replaces).
pub async fn publish(db: &Db, mode: &Mode, p: Publish<'_>) -> Result<Published, Refused> {
    if let Mode::File(path) = mode {
        return Err(Refused::FileMode(file_mode_reason(path)));
    }
    parse(p.name, p.document, mode.base()).map_err(Refused::Invalid)?;
    let now = crate::clock::now();
    let previous = versions::latest(db).await?;
    let version = match p.based_on {
        Some(base) => match versions::publish(db, base, p.document, p.author, p.note, now).await {
            Ok(n) => n,
            Err(PublishError::Stale(s)) => return Err(Refused::Stale(s)),
            Err(PublishError::Db(e)) => return Err(Refused::Db(e)),
        },
        None => versions::publish_latest(db, p.document, p.author, p.note, now).await?,
    };
    // The version before ours (a racing publish can slip in with `based_on: None`).
    let before = match previous {
        Some(v) if v.summary.version == version - 1 => v.document,
        _ => versions::get(db, version - 1)
            .await?
            .map(|v| v.document)
            .unwrap_or_default(),
    };
    let diff = diff::summary(&before, p.document, AUDIT_DIFF_CHARS);
    let details = format!("version {version}, note: {}\n{diff}", p.note);
    audit::record(db, p.author, p.address, p.action, &details, now).await?;
    Ok(Published { version, diff })
}

/// The document of the live rules: the file's current text, or a database version's.
pub async fn document(db: &Db, mode: &Mode, version: Option<i64>) -> Result<String, String> {
    match (mode, version) {
        (Mode::File(path), None) => std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display())),
        (_, Some(n)) => match versions::get(db, n).await.map_err(|e| e.to_string())? {
            Some(v) => Ok(v.document),
            None => Err(format!("no rules version {n}")),
        },
        (Mode::Database { .. }, None) => {
            match versions::latest(db).await.map_err(|e| e.to_string())? {
                Some(v) => Ok(v.document),
                None => Err(
                    "no rules version yet: start perkgate once, or `perkgate rules import FILE`"
                        .to_owned(),
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(explicit: bool, path: &Path) -> Config {
        Config {
            rules: path.to_owned(),
            rules_explicit: explicit,
            ..Config::default()
        }
    }

    #[tokio::test]
    async fn a_first_start_records_the_default_file_as_version_1_and_later_starts_keep_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rules.toml");
        std::fs::write(&path, crate::rules::EXAMPLE_RULES).unwrap();
        let db = crate::db::connect("sqlite::memory:").await.unwrap();
        let set = open(&config(false, &path), &db).await.unwrap();
        assert_eq!((set.version(), set.source.name().as_str()), (1, "database"));
        let v1 = versions::get(&db, 1).await.unwrap().unwrap();
        assert_eq!(v1.summary.author, "start-up");
        assert_eq!(v1.document, crate::rules::EXAMPLE_RULES);
        // The file changing no longer changes the rules.
        std::fs::write(&path, "currency = \"EUR\"\n").unwrap();
        let again = open(&config(false, &path), &db).await.unwrap();
        assert_eq!((again.version(), again.get().currency.as_str()), (1, "USD"));
        assert_eq!(versions::latest_number(&db).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn publishing_validates_refuses_stale_bases_and_audits_the_diff() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::db::connect("sqlite::memory:").await.unwrap();
        let mode = Mode::Database {
            base: Some(dir.path().to_owned()),
        };
        let p = |document: &'static str, based_on: Option<i64>| Publish {
            name: EDITED,
            document,
            based_on,
            author: "ann@example.com",
            address: "127.0.0.1",
            note: "n",
            action: "rules published",
        };
        const OFFER: &str = "[[offers]]\nid = \"m\"\ntitle = \"M\"\ngroups = [\"military\"]\npercent = 15\ncode = \"X\"\n";
        let ok: &str = format!("currency = \"USD\"\n{OFFER}").leak();
        let bad: &str = format!("currency = \"usd\"\n{OFFER}").leak();
        let eur: &str = format!("currency = \"EUR\"\n{OFFER}").leak();
        assert_eq!(
            publish(&db, &mode, p(ok, Some(0))).await.unwrap().version,
            1
        );
        match publish(&db, &mode, p(bad, Some(1))).await {
            Err(Refused::Invalid(e)) => assert_eq!((e[0].line, e[0].column), (1, 12), "{e:?}"),
            other => panic!("{other:?}"),
        }
        let two = publish(&db, &mode, p(eur, Some(1))).await.unwrap();
        assert_eq!(two.version, 2);
        assert!(two.diff.starts_with("+1 -1 lines"), "{}", two.diff);
        assert!(
            matches!(publish(&db, &mode, p(ok, Some(1))).await, Err(Refused::Stale(s)) if s.version == 2)
        );
        let audit = audit::recent(&db, 5).await.unwrap();
        assert_eq!(audit.len(), 2);
        assert!(
            audit[0].details.contains("-currency = \"USD\"")
                && audit[0].details.contains("+currency = \"EUR\"")
        );
        let file = Mode::File(dir.path().join("r.toml"));
        assert!(matches!(
            publish(&db, &file, p(ok, None)).await,
            Err(Refused::FileMode(_))
        ));
    }
}
