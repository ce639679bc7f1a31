//! The dashboard's charts as server-rendered SVG: no script, no `style` attribute (the CSP's
//! `style-src 'self'` would refuse one); colours and dashes come from classes in
//! `static/app.css`. Each chart is `role="img"` named by its `<title>`; the page puts a text
//! summary and the same figures as a table next to it, which is what screen readers read.

use std::fmt::Write as _;

use crate::admin::dashboard::short_date;

/// The drawing's size in user units (it scales to the width of its box).
const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 240.0;
/// Room for the value labels on the left and the dates below.
const LEFT: f64 = 56.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;
/// Horizontal grid lines above zero.
const TICKS: i64 = 4;
/// Lines with a style of their own (`series-0` … in app.css).
const SERIES_CLASSES: usize = 5;

/// Text as it may stand in SVG or HTML: `&`, `<`, `>`, `"` and `'` escaped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The top of the value axis: the smallest 1, 2, 2.5 or 5 × 10ⁿ step that fits the largest value
/// in [`TICKS`] steps, times [`TICKS`]; at least [`TICKS`] so an empty chart still has a scale.
pub fn scale_max(max: i64) -> i64 {
    let want = (max.max(1) + TICKS - 1) / TICKS;
    let mut magnitude = 1i64;
    loop {
        // 2.5 × 10ⁿ too (25, 250): 97 reads better on a scale to 100 than to 200.
        let quarter = (magnitude >= 10).then_some(magnitude / 10 * 25);
        for step in [
            Some(magnitude),
            Some(2 * magnitude),
            quarter,
            Some(5 * magnitude),
        ] {
            if let Some(step) = step.filter(|s| *s >= want) {
                return step * TICKS;
            }
        }
        magnitude = magnitude.saturating_mul(10);
        if magnitude >= i64::MAX / 50 {
            return max;
        }
    }
}

/// Where day `i` of `n` sits across the plot (one day: in the middle).
fn x_of(i: usize, n: usize) -> f64 {
    let plot = WIDTH - LEFT - RIGHT;
    if n <= 1 {
        LEFT + plot / 2.0
    } else {
        LEFT + plot * i as f64 / (n - 1) as f64
    }
}

fn y_of(v: i64, top: i64) -> f64 {
    let plot = HEIGHT - TOP - BOTTOM;
    HEIGHT - BOTTOM - plot * v.max(0) as f64 / top.max(1) as f64
}

/// A line chart of `lines` over the days from `first_day`; line `k` has class `series-k` (the
/// classes repeat after five). A day without a value (`None`: not known) breaks its line.
/// `id` names the `<title>` for `aria-labelledby` (unique on the page).
pub fn line_chart<V: Copy + Into<Option<i64>>>(
    id: &str,
    title: &str,
    first_day: i64,
    lines: &[&[V]],
) -> String {
    let days = lines.iter().map(|l| l.len()).max().unwrap_or(0);
    let max = lines
        .iter()
        .flat_map(|l| l.iter().filter_map(|&v| v.into()))
        .max()
        .unwrap_or(0);
    let top = scale_max(max);
    let id = escape(id);
    let mut svg = String::with_capacity(4096);
    let _ = write!(
        svg,
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" \
         aria-labelledby=\"{id}-title\" xmlns=\"http://www.w3.org/2000/svg\" focusable=\"false\">\
         <title id=\"{id}-title\">{}</title>",
        escape(title)
    );
    // The value axis: grid lines with their values.
    svg.push_str("<g class=\"chart-grid\">");
    for t in 0..=TICKS {
        let v = top * t / TICKS;
        let y = y_of(v, top);
        let _ = write!(
            svg,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\"/>\
             <text class=\"chart-value\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            WIDTH - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            crate::admin::dashboard::thousands(v)
        );
    }
    svg.push_str("</g>");
    // The day axis: the first, middle and last days.
    svg.push_str("<g class=\"chart-days\">");
    let mut marks = vec![0, days / 2, days.saturating_sub(1)];
    marks.dedup();
    for (k, &i) in marks.iter().enumerate().filter(|_| days > 0) {
        let anchor = match (k, marks.len()) {
            (_, 1) => "middle",
            (0, _) => "start",
            (k, n) if k == n - 1 => "end",
            _ => "middle",
        };
        let _ = write!(
            svg,
            "<text class=\"chart-day anchor-{anchor}\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            x_of(i, days),
            HEIGHT - 8.0,
            short_date(first_day + i as i64)
        );
    }
    svg.push_str("</g>");
    for (k, line) in lines.iter().enumerate() {
        let class = k % SERIES_CLASSES;
        // The runs of known days, each its own line.
        let mut runs: Vec<Vec<(usize, i64)>> = Vec::new();
        let mut open = false;
        for (i, v) in line.iter().enumerate() {
            match (*v).into() {
                Some(v) if open => runs.last_mut().into_iter().for_each(|r| r.push((i, v))),
                Some(v) => {
                    runs.push(vec![(i, v)]);
                    open = true;
                }
                None => open = false,
            }
        }
        for run in runs {
            let points: Vec<String> = (run.iter())
                .map(|&(i, v)| format!("{:.1},{:.1}", x_of(i, days), y_of(v, top)))
                .collect();
            let _ = write!(
                svg,
                "<polyline class=\"series series-{class}\" points=\"{}\"/>",
                points.join(" ")
            );
            // A single day is a point, which a line alone would not show.
            if let [(i, v)] = run[..] {
                let _ = write!(
                    svg,
                    "<circle class=\"series-dot series-{class}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\"/>",
                    x_of(i, days),
                    y_of(v, top)
                );
            }
        }
    }
    svg.push_str("</svg>");
    svg
}

/// A bar as wide as `part` of `whole` (a pool's remaining codes of all it had), for a row
/// whose figures say the same in words.
pub fn level_bar(part: u64, whole: u64) -> String {
    const W: f64 = 120.0;
    let filled = if whole == 0 {
        0.0
    } else {
        W * part.min(whole) as f64 / whole as f64
    };
    format!(
        "<svg class=\"level-bar\" viewBox=\"0 0 {W} 12\" aria-hidden=\"true\" focusable=\"false\" \
         xmlns=\"http://www.w3.org/2000/svg\"><rect class=\"level-whole\" x=\"0\" y=\"0\" \
         width=\"{W}\" height=\"12\"/><rect class=\"level-part\" x=\"0\" y=\"0\" \
         width=\"{filled:.1}\" height=\"12\"/></svg>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scale_rounds_up_to_a_readable_step() {
        assert_eq!(scale_max(0), 4, "zero data still has a scale");
        assert_eq!(scale_max(1), 4);
        assert_eq!(scale_max(4), 4);
        assert_eq!(scale_max(5), 8);
        assert_eq!(scale_max(9), 20);
        assert_eq!(scale_max(97), 100);
        assert_eq!(scale_max(101), 200);
        assert_eq!(scale_max(1_234), 2_000);
        assert_eq!(scale_max(40_000), 40_000);
        assert!(scale_max(i64::MAX / 2) >= i64::MAX / 2 / 50);
    }

    fn points(svg: &str) -> Vec<(f64, f64)> {
        let start = svg.find("points=\"").unwrap() + 8;
        let end = start + svg[start..].find('"').unwrap();
        svg[start..end]
            .split(' ')
            .map(|p| {
                let (x, y) = p.split_once(',').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect()
    }

    #[test]
    fn values_scale_to_the_plot() {
        let values = [0, 50, 100];
        let svg = line_chart("c", "Verified", 20_769, &[&values]);
        let p = points(&svg);
        assert_eq!(p.len(), 3);
        let (bottom, top) = (HEIGHT - BOTTOM, TOP);
        assert_eq!(p[0], (LEFT, bottom));
        assert_eq!(
            p[2],
            (WIDTH - RIGHT, top),
            "the largest value reaches the top"
        );
        assert!((p[1].1 - (bottom + top) / 2.0).abs() < 0.11);
        assert!(svg.contains(">100</text>") && svg.contains(">50</text>"));
        assert!(svg.contains(">12 Nov</text>") && svg.contains(">14 Nov</text>"));
        assert!(svg.contains("role=\"img\"") && svg.contains("aria-labelledby=\"c-title\""));
        assert!(svg.contains("<title id=\"c-title\">Verified</title>"));
        assert!(
            !svg.contains("style="),
            "no inline style: the CSP forbids it"
        );
    }

    #[test]
    fn zero_data_is_a_flat_line_on_a_scale() {
        let values = [0; 30];
        let svg = line_chart("z", "Nothing", 0, &[&values]);
        let p = points(&svg);
        assert_eq!(p.len(), 30);
        assert!(p.iter().all(|&(_, y)| y == HEIGHT - BOTTOM));
        assert!(svg.contains(">4</text>") && !svg.contains("NaN"));
        let none = line_chart::<i64>("e", "Empty", 0, &[]);
        assert!(none.starts_with("<svg") && none.ends_with("</svg>"));
    }

    #[test]
    fn one_day_is_a_dot_in_the_middle() {
        let svg = line_chart("o", "One", 20_769, &[&[7]]);
        let p = points(&svg);
        assert_eq!(
            p,
            vec![(
                LEFT + (WIDTH - LEFT - RIGHT) / 2.0,
                TOP + (HEIGHT - TOP - BOTTOM) * 1.0 / 8.0
            )]
        );
        assert!(svg.contains("<circle class=\"series-dot series-0\""));
        assert_eq!(svg.matches(">12 Nov</text>").count(), 1);
    }

    #[test]
    fn every_line_has_its_class_and_names_are_escaped() {
        let (a, b) = ([1, 2], [3, 4]);
        let svg = line_chart(
            "x\"y",
            "Unlocked: <script>alert('x')</script> & \"more\"",
            0,
            &[&a, &b],
        );
        assert!(
            svg.contains("class=\"series series-0\"") && svg.contains("class=\"series series-1\"")
        );
        assert!(!svg.contains("<script>") && !svg.contains("x\"y"));
        assert!(svg.contains(
            "Unlocked: &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;more&quot;"
        ));
        assert!(svg.contains("aria-labelledby=\"x&quot;y-title\""));
    }

    #[test]
    fn unknown_days_break_the_line() {
        let values = [None, Some(4), Some(2), None, Some(3)];
        let svg = line_chart("g", "Levels", 0, &[&values]);
        assert_eq!(svg.matches("<polyline").count(), 2, "{svg}");
        let p = points(&svg);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].0, x_of(1, 5), "the line starts on its first known day");
        assert_eq!(
            svg.matches("<circle").count(),
            1,
            "the lone last day is a dot"
        );
        let six: Vec<[i64; 1]> = (0..6).map(|i| [i]).collect();
        let lines: Vec<&[i64]> = six.iter().map(|l| &l[..]).collect();
        let svg = line_chart("s", "Six", 0, &lines);
        assert_eq!(
            svg.matches("series-dot series-0").count(),
            2,
            "classes repeat after five"
        );
    }

    #[test]
    fn level_bars_fill_by_share() {
        assert!(level_bar(0, 0).contains("width=\"0.0\""));
        assert!(level_bar(30, 120).contains("width=\"30.0\""));
        assert!(level_bar(200, 100).contains("width=\"120.0\""));
        assert!(level_bar(1, 2).contains("aria-hidden=\"true\""));
    }
}
