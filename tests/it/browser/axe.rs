//! axe-core in the page: every WCAG 2.2 A/AA rule it knows, run on what the browser shows.
//!
//! `axe.min.js` comes from the npm package `axe-core` (`.ci/run` fetches it with `npm pack`
//! into `target/axe-core/`; `PERKGATE_AXE_JS` names another copy). Without it the checks are
//! skipped with a message, except in CI (`PERKGATE_REQUIRE_BROWSER=1`), where that fails.

use std::path::Path;

use fantoccini::Client;
use fantoccini::error::CmdError;
use serde_json::Value;

/// The WCAG 2.0, 2.1 and 2.2 A and AA rules.
const TAGS: &str = "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22a', 'wcag22aa']";

pub struct Axe {
    source: Option<String>,
    /// Pages checked, for the closing line.
    pub checked: std::cell::Cell<u32>,
}

impl Axe {
    pub fn load(manifest: &Path, required: bool) -> Self {
        let path = std::env::var_os("PERKGATE_AXE_JS")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| manifest.join("target/axe-core/axe.min.js"));
        let source = std::fs::read_to_string(&path).ok();
        match &source {
            Some(_) => eprintln!("accessibility: axe-core from {}", path.display()),
            None => {
                assert!(
                    !required,
                    "PERKGATE_REQUIRE_BROWSER=1 but axe-core is missing at {} \
                     (npm pack axe-core; see .ci/run)",
                    path.display()
                );
                eprintln!(
                    "accessibility checks skipped: no axe-core at {} (npm pack axe-core)",
                    path.display()
                );
            }
        }
        Self {
            source,
            checked: std::cell::Cell::new(0),
        }
    }

    /// Runs axe on the current page; panics listing every violation.
    pub async fn check(&self, client: &Client, page: &str) -> Result<(), CmdError> {
        let Some(source) = &self.source else {
            return Ok(());
        };
        client.execute(source, vec![]).await?;
        let script = format!(
            "const done = arguments[arguments.length - 1];
             axe.run(document, {{
                 runOnly: {{ type: 'tag', values: {TAGS} }},
                 // 2.5.3 Label in Name is an 'experimental' rule, off unless asked for.
                 rules: {{ 'label-content-name-mismatch': {{ enabled: true }} }},
                 resultTypes: ['violations']
             }})
               .then(r => done(r.violations.map(v => ({{
                   id: v.id, impact: v.impact, help: v.help,
                   nodes: v.nodes.map(n => n.target.join(' ') + ' ' + n.failureSummary)
               }}))))
               .catch(e => done('axe failed: ' + e));"
        );
        let violations = client.execute_async(&script, vec![]).await?;
        match violations {
            Value::Array(list) if list.is_empty() => {
                self.checked.set(self.checked.get() + 1);
                Ok(())
            }
            Value::Array(list) => panic!(
                "{page}: {} WCAG 2.2 A/AA violation(s):\n{}",
                list.len(),
                serde_json::to_string_pretty(&list).unwrap_or_default()
            ),
            other => panic!("{page}: axe did not run: {other}"),
        }
    }
}
