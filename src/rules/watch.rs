//! The live rule set: swapped whole when the file changes (polled) or on SIGHUP, or, when
//! the database is authoritative, when a newer version is published (`rules::live`). An
//! invalid file keeps the previous rules; its errors are logged and shown in `/readyz`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use super::{EXAMPLE_RULES, LoadError, Loaded, Rules, parse};

/// Where the rules come from.
#[derive(Clone, Debug)]
pub enum Source {
    File(PathBuf),
    /// The compiled-in example (the default file is missing).
    Builtin,
    /// The versions in the database; pool seed files are resolved against `base`.
    Database {
        base: Option<PathBuf>,
    },
}

impl Source {
    pub fn name(&self) -> String {
        match self {
            Self::File(p) => p.display().to_string(),
            Self::Builtin => "(built-in example rules)".to_owned(),
            Self::Database { .. } => "database".to_owned(),
        }
    }
}

/// Loads rules from a path; a missing default path falls back to the built-in example.
pub fn load(path: &Path, explicit: bool) -> Result<(Source, Loaded), Vec<LoadError>> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let loaded = parse(&path.display().to_string(), &text, path.parent())?;
            Ok((Source::File(path.to_owned()), loaded))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
            let source = Source::Builtin;
            let loaded = parse(&source.name(), EXAMPLE_RULES, Some(Path::new("config")))?;
            Ok((source, loaded))
        }
        Err(e) => Err(vec![LoadError {
            file: path.display().to_string(),
            line: 0,
            column: 0,
            field: None,
            message: format!("cannot read rules: {e}"),
        }]),
    }
}

/// The rules every request reads, and the outcome of the last reload attempt.
pub struct RuleSet {
    current: RwLock<Arc<Rules>>,
    /// Errors of the last rejected file, cleared by the next good one.
    rejected: RwLock<Vec<String>>,
    pub source: Source,
    /// The live database version (0 when the rules come from a file).
    version: tokio::sync::watch::Sender<i64>,
    /// Asks the database poll to look now (after a publish on this instance).
    nudge: tokio::sync::Notify,
}

impl RuleSet {
    pub fn new(source: Source, rules: Rules) -> Self {
        Self {
            current: RwLock::new(Arc::new(rules)),
            rejected: RwLock::new(Vec::new()),
            source,
            version: tokio::sync::watch::Sender::new(0),
            nudge: tokio::sync::Notify::new(),
        }
    }

    /// Rules of database version `version`.
    pub fn at_version(source: Source, rules: Rules, version: i64) -> Self {
        let set = Self::new(source, rules);
        set.version.send_replace(version);
        set
    }

    pub fn version(&self) -> i64 {
        *self.version.borrow()
    }

    /// Swaps in a database version's rules.
    pub fn install(&self, version: i64, rules: Rules) {
        self.swap(rules);
        self.version.send_replace(version);
    }

    /// Keeps the previous rules and reports why the new ones were refused.
    pub fn reject(&self, errors: Vec<String>) {
        *self.rejected.write().unwrap_or_else(|e| e.into_inner()) = errors;
    }

    /// Has the database poll look for a new version now.
    pub fn nudge(&self) {
        self.nudge.notify_one();
    }

    pub async fn nudged(&self) {
        self.nudge.notified().await;
    }

    /// Waits (at most `limit`) until version `version` or a later one is live here.
    pub async fn wait_for(&self, version: i64, limit: Duration) -> bool {
        let mut rx = self.version.subscribe();
        tokio::time::timeout(limit, rx.wait_for(|v| *v >= version))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// The current rules. A request holds its `Arc` throughout, so it never sees two sets.
    pub fn get(&self) -> Arc<Rules> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn rejected(&self) -> Vec<String> {
        self.rejected
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn swap(&self, rules: Rules) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(rules);
        self.rejected
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Re-reads the file. Returns the new rules when they were swapped in.
    pub fn reload(&self) -> Option<Arc<Rules>> {
        let Source::File(path) = &self.source else {
            return None;
        };
        match load(path, true) {
            Ok((_, loaded)) => {
                for w in &loaded.warnings {
                    tracing::warn!("rules: {w}");
                }
                if *self.get() == loaded.rules {
                    return None;
                }
                self.swap(loaded.rules);
                tracing::info!(file = %path.display(), offers = self.get().offers.len(), "rules reloaded");
                Some(self.get())
            }
            Err(errors) => {
                for e in &errors {
                    tracing::error!("rules rejected, keeping the previous ones: {e}");
                }
                *self.rejected.write().unwrap_or_else(|e| e.into_inner()) =
                    errors.iter().map(ToString::to_string).collect();
                None
            }
        }
    }
}

fn modified(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// Reloads when the file's modification time or size changes (checked every `every`), or on
/// SIGHUP. Polling also catches the symlink swaps of mounted config maps, which file
/// notifications miss. `on_reload` runs with each new rule set (pool seeding).
pub async fn watch<F, Fut>(set: Arc<RuleSet>, every: Duration, on_reload: F)
where
    F: Fn(Arc<Rules>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let Source::File(path) = set.source.clone() else {
        return;
    };
    let mut seen = modified(&path);
    let mut tick = tokio::time::interval(every);
    #[cfg(unix)]
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    loop {
        #[cfg(unix)]
        let forced = tokio::select! {
            _ = tick.tick() => false,
            Some(()) = async { match hangup.as_mut() { Some(s) => s.recv().await, None => std::future::pending().await } } => true,
        };
        #[cfg(not(unix))]
        let forced = {
            tick.tick().await;
            false
        };
        let now = modified(&path);
        if forced || now != seen {
            seen = now;
            if forced {
                tracing::info!("SIGHUP: reloading rules");
            }
            if let Some(rules) = set.reload() {
                on_reload(rules).await;
            }
        }
    }
}
