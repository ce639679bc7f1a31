//! How much of `link/order.txt` the measured binary still has: the code layout keeps idle RSS
//! low only while its names match the binary's (a new Rust or dependency renames them; see
//! `link/order.sh`). Read with `nm`; `None` where it cannot be.

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;

/// (functions of the file found in the binary, functions in the file).
pub(crate) fn matched(binary: &Path) -> Option<(usize, usize)> {
    let listed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/link/order.txt")).ok()?;
    let out = Command::new("nm")
        .arg("--defined-only")
        .arg(binary)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let defined: HashSet<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    let names: Vec<&str> = listed.lines().filter(|l| !l.is_empty()).collect();
    let found = names.iter().filter(|n| defined.contains(*n)).count();
    Some((found, names.len()))
}

/// The line the bench prints after start-up.
pub(crate) fn line(binary: &Path) -> String {
    match matched(binary) {
        Some((found, listed)) if listed > 0 => {
            let share = found as f64 * 100.0 / listed as f64;
            let stale = if share < 90.0 {
                " (stale: run link/order.sh, then rebuild)"
            } else {
                ""
            };
            format!(
                "  code layout: {found} of the {listed} functions of link/order.txt are in the binary ({share:.0}%){stale}"
            )
        }
        _ => "  code layout: not checked (no nm, or no link/order.txt)".to_owned(),
    }
}
