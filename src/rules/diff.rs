//! A line diff between two versions of the rules document: the longest common subsequence of
//! their lines (documents are small; a common head and tail are trimmed first, and a change
//! too large for the table is shown as all removed, then all added).

/// One line of a diff.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Line<'a> {
    Same(&'a str),
    Removed(&'a str),
    Added(&'a str),
}

impl Line<'_> {
    /// The marker a reader sees: the change is said by text, not by colour alone.
    pub fn sign(&self) -> &'static str {
        match self {
            Self::Same(_) => " ",
            Self::Removed(_) => "-",
            Self::Added(_) => "+",
        }
    }

    pub fn text(&self) -> &str {
        match self {
            Self::Same(t) | Self::Removed(t) | Self::Added(t) => t,
        }
    }
}

/// Above this many cells (lines × lines of the changed middle) the table is not built.
const MAX_CELLS: usize = 4_000_000;

/// The lines of `from` and `to`, each marked same, removed or added, in order.
pub fn lines<'a>(from: &'a str, to: &'a str) -> Vec<Line<'a>> {
    let a: Vec<&str> = from.lines().collect();
    let b: Vec<&str> = to.lines().collect();
    let head = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let tail = a[head..]
        .iter()
        .rev()
        .zip(b[head..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (am, bm) = (&a[head..a.len() - tail], &b[head..b.len() - tail]);
    let mut out: Vec<Line> = a[..head].iter().map(|l| Line::Same(l)).collect();
    if am.len().saturating_mul(bm.len()) > MAX_CELLS {
        out.extend(am.iter().map(|l| Line::Removed(l)));
        out.extend(bm.iter().map(|l| Line::Added(l)));
    } else {
        middle(am, bm, &mut out);
    }
    out.extend(a[a.len() - tail..].iter().map(|l| Line::Same(l)));
    out
}

/// The LCS table from the end: `len[i][j]` is the LCS of `a[i..]` and `b[j..]`.
fn middle<'a>(a: &[&'a str], b: &[&'a str], out: &mut Vec<Line<'a>>) {
    let w = b.len() + 1;
    let mut len = vec![0u32; (a.len() + 1) * w];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            len[i * w + j] = if a[i] == b[j] {
                len[(i + 1) * w + j + 1] + 1
            } else {
                len[(i + 1) * w + j].max(len[i * w + j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            out.push(Line::Same(a[i]));
            i += 1;
            j += 1;
        } else if len[(i + 1) * w + j] >= len[i * w + j + 1] {
            out.push(Line::Removed(a[i]));
            i += 1;
        } else {
            out.push(Line::Added(b[j]));
            j += 1;
        }
    }
    out.extend(a[i..].iter().map(|l| Line::Removed(l)));
    out.extend(b[j..].iter().map(|l| Line::Added(l)));
}

/// Lines added and removed.
pub fn counts(diff: &[Line]) -> (usize, usize) {
    diff.iter().fold((0, 0), |(add, del), l| match l {
        Line::Added(_) => (add + 1, del),
        Line::Removed(_) => (add, del + 1),
        Line::Same(_) => (add, del),
    })
}

/// What the audit log keeps of a change: the counts and the changed lines, at most `max`
/// characters of them.
pub fn summary(from: &str, to: &str, max: usize) -> String {
    let diff = lines(from, to);
    let (add, del) = counts(&diff);
    let mut out = format!("+{add} -{del} lines");
    for l in diff.iter().filter(|l| !matches!(l, Line::Same(_))) {
        let line = format!("\n{}{}", l.sign(), l.text());
        if out.len() + line.len() > max {
            out.push_str("\n…");
            break;
        }
        out.push_str(&line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use Line::*;

    #[test]
    fn equal_documents_have_no_changes() {
        let d = lines("a\nb\n", "a\nb\n");
        assert_eq!(d, [Same("a"), Same("b")]);
        assert_eq!(counts(&d), (0, 0));
    }

    #[test]
    fn a_changed_line_is_removed_then_added() {
        let d = lines("a\npercent = 15\nc\n", "a\npercent = 20\nc\n");
        assert_eq!(
            d,
            [
                Same("a"),
                Removed("percent = 15"),
                Added("percent = 20"),
                Same("c")
            ]
        );
        assert_eq!(counts(&d), (1, 1));
    }

    #[test]
    fn insertions_and_deletions_keep_the_common_lines() {
        let d = lines("x\na\nb\nc\n", "a\nb\ny\nc\nz\n");
        assert_eq!(
            d,
            [
                Removed("x"),
                Same("a"),
                Same("b"),
                Added("y"),
                Same("c"),
                Added("z")
            ]
        );
        assert_eq!(lines("", "a\n"), [Added("a")]);
        assert_eq!(lines("a\n", ""), [Removed("a")]);
    }

    #[test]
    fn the_summary_counts_and_is_bounded() {
        assert_eq!(summary("a\nb\n", "a\nc\n", 100), "+1 -1 lines\n-b\n+c");
        let long = summary("", &"line\n".repeat(100), 40);
        assert!(
            long.starts_with("+100 -0 lines") && long.ends_with('…'),
            "{long}"
        );
        assert!(long.len() < 50);
    }
}
