//! Reading the two sources of settings: the `PERKGATE_*` environment and the configuration
//! file it names, whose errors carry the file, line, column and field.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::settings::{OTHER_VARS, SETTINGS};
use super::{Config, ConfigError};

impl Config {
    /// Reads the process environment and the configuration file it points to.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars())
    }

    /// Builds the configuration from these variables (and the file `PERKGATE_CONFIG` names, or
    /// `perkgate.toml` in the working directory if present).
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let vars: BTreeMap<String, String> = vars
            .into_iter()
            .filter(|(k, _)| k.starts_with("PERKGATE_"))
            .collect();
        let mut config = Config::default();

        let (file, named) = match vars.get("PERKGATE_CONFIG") {
            Some(path) => (PathBuf::from(path), true),
            None => (PathBuf::from("perkgate.toml"), false),
        };
        match std::fs::read_to_string(&file) {
            Ok(text) => config.apply_file(&file, &text)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !named => {}
            Err(e) => {
                return Err(ConfigError(format!(
                    "{}: cannot read configuration file: {e}",
                    file.display()
                )));
            }
        }

        for (name, value) in &vars {
            let key = name["PERKGATE_".len()..].to_ascii_lowercase();
            if SETTINGS.contains(&key.as_str()) {
                config
                    .set(&key, value)
                    .map_err(|reason| ConfigError(format!("{name}: {reason}")))?;
            } else if !OTHER_VARS.contains(&name.as_str()) {
                config
                    .warnings
                    .push(format!("{name} is not a perkgate setting; ignored"));
            }
        }
        config.check()?;
        Ok(config)
    }

    /// Applies a `perkgate.toml`: flat `key = value` pairs named like the variables.
    pub fn apply_file(&mut self, path: &Path, text: &str) -> Result<(), ConfigError> {
        let at = |span: Option<std::ops::Range<usize>>| match span {
            Some(span) => {
                let (line, col) = line_col(text, span.start);
                format!("{}:{line}:{col}", path.display())
            }
            None => path.display().to_string(),
        };
        let table: BTreeMap<String, toml::Spanned<toml::Value>> = toml::from_str(text)
            .map_err(|e| ConfigError(format!("{}: {}", at(e.span()), e.message().trim())))?;
        for (key, value) in table {
            let span = Some(value.span());
            if !SETTINGS.contains(&key.as_str()) {
                return Err(ConfigError(format!(
                    "{}: field `{key}`: unknown setting (known: {})",
                    at(span),
                    SETTINGS.join(", ")
                )));
            }
            let raw = match value.into_inner() {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                other => {
                    return Err(ConfigError(format!(
                        "{}: field `{key}`: expected a string, number or boolean, found {}",
                        at(span),
                        other.type_str()
                    )));
                }
            };
            self.set(&key, &raw)
                .map_err(|reason| ConfigError(format!("{}: field `{key}`: {reason}", at(span))))?;
        }
        Ok(())
    }
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}
