//! `cnmf flagged --html FILE`: the review-bomb report as one self-contained page (no script,
//! no external file): the summary, an SVG timeline of each most-flagged item (ratings per
//! period, the flagged part in red) and the tables of flagged items and users.

use std::fmt::Write as _;

use super::flagged::FlagReport;
use super::timeline::Timeline;

/// Text escaped for HTML.
fn esc(s: &str) -> String {
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

/// An SVG bar chart of `t`: one bar per period, its height the period's ratings, the flagged
/// part red.
fn svg(item: &str, t: &Timeline) -> String {
    let bars: Vec<(&str, usize, usize)> = t.bars().collect();
    let most = bars.iter().map(|b| b.1).max().unwrap_or(1).max(1) as f64;
    let (w, h) = (8.0, 100.0);
    let width = (bars.len() as f64 * w).max(200.0);
    let mut s = format!(
        "<svg class=\"timeline\" id=\"timeline-{}\" xmlns=\"http://www.w3.org/2000/svg\" \
         width=\"{width}\" height=\"{}\" role=\"img\" aria-label=\"ratings of item {} per {}\">",
        esc(item),
        h + 20.0,
        esc(item),
        t.period.name()
    );
    for (k, &(label, n, f)) in bars.iter().enumerate() {
        let x = k as f64 * w;
        let total = n as f64 / most * h;
        let red = f as f64 / most * h;
        let _ = write!(
            s,
            "<g><title>{}: {n} ratings, {f} flagged</title>\
             <rect x=\"{x}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#9aa5b1\"/>\
             <rect class=\"flagged\" x=\"{x}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#d64545\"/></g>",
            esc(label),
            h - total,
            w - 1.0,
            total - red,
            h - red,
            w - 1.0,
            red
        );
    }
    if let (Some(first), Some(last)) = (bars.first(), bars.last()) {
        let _ = write!(
            s,
            "<text x=\"0\" y=\"{}\" font-size=\"10\">{}</text>\
             <text x=\"{width}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{}</text>",
            h + 15.0,
            esc(first.0),
            h + 15.0,
            esc(last.0)
        );
    }
    s.push_str("</svg>");
    s
}

/// The page: `report` of the model `model_name`, with the `timelines` of its most-flagged
/// items (`(item, title, timeline)`), `note` saying why there are none when empty.
pub fn page(
    model_name: &str,
    report: &FlagReport,
    timelines: &[(String, Option<String>, Timeline)],
    note: Option<&str>,
) -> String {
    let mut s = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>cnmf review-bomb report</title><style>\
         body{font-family:sans-serif;margin:2em;max-width:70em}\
         table{border-collapse:collapse;margin:1em 0}\
         td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right}\
         td:first-child,th:first-child{text-align:left}\
         svg.timeline{display:block;margin:.5em 0 1.5em}\
         </style></head><body>\n",
    );
    let _ = writeln!(s, "<h1>Review-bomb report</h1>");
    let _ = writeln!(
        s,
        "<p id=\"summary\">{}</p>",
        esc(&report.summary_line(model_name))
    );
    let _ = writeln!(s, "<h2>Most-flagged items over time</h2>");
    if let Some(n) = note {
        let _ = writeln!(s, "<p class=\"note\">{}</p>", esc(n));
    }
    for (item, title, t) in timelines {
        let name = match title {
            Some(title) => format!("item {item}: {title}"),
            None => format!("item {item}"),
        };
        let _ = writeln!(
            s,
            "<section class=\"item\" id=\"item-{}\"><h3>{}</h3><p>{} ratings, {} flagged, per {} \
             (UTC)</p>{}</section>",
            esc(item),
            esc(&name),
            t.ratings,
            t.flagged,
            t.period.name(),
            svg(item, t)
        );
    }
    let _ = writeln!(
        s,
        "<h2>Items</h2><table id=\"items\"><tr><th>item</th><th>title</th><th>ratings</th>\
         <th>flagged</th><th>share</th></tr>"
    );
    for r in report.items() {
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.0}%</td></tr>",
            esc(&r.item),
            esc(r.title.as_deref().unwrap_or("")),
            r.stats.ratings,
            r.stats.flagged,
            100.0 * r.stats.share
        );
    }
    s.push_str("</table>\n");
    let _ = writeln!(
        s,
        "<h2>Users</h2><table id=\"users\"><tr><th>user</th><th>ratings</th><th>flagged</th>\
         <th>share</th><th>mean flagged rating</th></tr>"
    );
    for r in report.users() {
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.0}%</td><td>{:.2}</td></tr>",
            esc(&r.user),
            r.stats.ratings,
            r.stats.flagged,
            100.0 * r.stats.share,
            r.stats.mean_flagged_rating
        );
    }
    s.push_str("</table>\n</body></html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc("<a href=\"x\">Tom & Jerry's</a>"),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;"
        );
    }
}
