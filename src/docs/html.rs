//! The site's one page: HTML with its CSS inline and the lineage graph as inline SVG, so it
//! opens from disk with no server, no script and no network.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use super::{is_path, FileNode, Site, Table, TablePage};

/// `s` safe in HTML text and attribute values.
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

/// The anchor of a table's section.
fn anchor(name: &str) -> String {
    format!(
        "t-{}",
        name.chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            })
            .collect::<String>()
    )
}

/// The layer a table belongs to, by its schema's name: bronze, silver, gold or other.
fn layer(name: &str) -> &'static str {
    match name.split('.').next().unwrap_or_default() {
        "bronze" => "bronze",
        "silver" => "silver",
        "gold" => "gold",
        _ if is_path(name) => "source",
        _ => "other",
    }
}

const CSS: &str = r#"
body { font: 14px/1.45 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
header { background: #1d2330; color: #fff; padding: 16px 28px; }
header h1 { margin: 0; font-size: 20px; }
header p { margin: 4px 0 0; color: #b8c0cc; }
main { padding: 8px 28px 40px; }
section { overflow-x: auto; background: #fff; border: 1px solid #e1e4e8; border-radius: 8px; margin: 18px 0; padding: 14px 18px; }
h2 { font-size: 17px; margin: 4px 0 10px; }
h3 { font-size: 14px; margin: 14px 0 6px; color: #4a5261; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border-bottom: 1px solid #eceef1; padding: 3px 10px 3px 0; text-align: left; vertical-align: top; }
th { color: #6a7382; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font: 12px ui-monospace, monospace; }
.badge { display: inline-block; border-radius: 10px; padding: 0 8px; font-size: 12px; background: #eef0f3; margin-left: 6px; }
.pass { background: #d7f5dd; color: #156b2a; }
.warn { background: #fff0c2; color: #7a5a00; }
.fail, .failed { background: #ffd9d6; color: #9b1c10; }
tr.failed td { background: #fff1f0; }
.missing { color: #8a93a3; }
svg text { font: 12px system-ui, sans-serif; }
.node rect { stroke-width: 1.5; }
.node.file rect { fill: #fff; stroke: #8a93a3; }
.node.bronze rect { fill: #f3e1cf; stroke: #b87333; }
.node.silver rect { fill: #e8ecf0; stroke: #8d99a6; }
.node.gold rect { fill: #fbefc4; stroke: #c9a227; }
.node.other rect { fill: #dfe8fb; stroke: #5b8def; }
.node.source rect { fill: #f6f7f9; stroke: #b8c0cc; stroke-dasharray: 4 3; }
.edge { fill: none; stroke: #a9b1bd; stroke-width: 1.3; }
.grid td { width: 14px; height: 14px; padding: 0; border: 2px solid #fff; }
.timeline circle { fill: #5b8def; }
"#;

/// The whole page.
pub fn page(site: &Site) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>lakeshell docs</title><style>{CSS}</style></head><body>\n<header><h1>lakeshell docs</h1><p>warehouse <code>{}</code>{} · generated {}</p></header>\n<main>\n",
        esc(&site.warehouse),
        site.pipeline
            .as_deref()
            .map(|p| format!(" · pipeline <code>{}</code>", esc(p)))
            .unwrap_or_default(),
        esc(&site.generated_at)
    );
    if !site.files.is_empty() {
        let _ = writeln!(
            h,
            "<section id=\"lineage\"><h2>Lineage</h2>{}</section>",
            graph(&site.files)
        );
    }
    h.push_str(&runs(&site.runs));
    h.push_str("<section id=\"tables\"><h2>Tables</h2><table><tr><th>table</th><th>version</th><th>files</th><th>partitioned by</th><th>expectations</th></tr>");
    for t in &site.tables {
        let latest = latest_statuses(&t.quality);
        let _ = write!(
            h,
            "<tr><td><a href=\"#{}\">{}</a></td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
            anchor(&t.name),
            esc(&t.name),
            esc(detail(t, "version")),
            esc(detail(t, "numFiles")),
            esc(&partitions(t)),
            latest
                .iter()
                .map(|(e, s)| format!("<span class=\"badge {}\" title=\"{}\">{}</span>", esc(s), esc(e), esc(s)))
                .collect::<String>()
        );
    }
    h.push_str("</table></section>\n");
    for t in &site.tables {
        h.push_str(&table_section(t));
    }
    h.push_str("</main></body></html>\n");
    h
}

fn detail<'a>(t: &'a TablePage, column: &str) -> &'a str {
    t.detail.as_ref().map(|d| d.get(0, column)).unwrap_or("")
}

fn partitions(t: &TablePage) -> String {
    detail(t, "partitionColumns")
        .trim_matches(|c| c == '[' || c == ']')
        .replace('"', "")
}

/// Each expectation's newest status.
fn latest_statuses(q: &Table) -> Vec<(String, String)> {
    let mut last: BTreeMap<String, String> = BTreeMap::new();
    for r in 0..q.rows.len() {
        last.insert(
            q.get(r, "expectation").to_string(),
            q.get(r, "status").to_string(),
        );
    }
    last.into_iter().collect()
}

/// The lineage graph: data on the left, the files that read it, what they write to the right.
/// A node's column is the longest path to it; each column lists its nodes in name order.
fn graph(files: &[FileNode]) -> String {
    #[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
    enum Node {
        Data(String),
        File(String),
    }
    let data: BTreeSet<&String> = files
        .iter()
        .flat_map(|f| f.reads.iter().chain(&f.writes))
        .collect();
    let mut column: BTreeMap<Node, usize> = BTreeMap::new();
    for d in &data {
        column.insert(Node::Data((*d).clone()), 0);
    }
    for f in files {
        column.insert(Node::File(f.name.clone()), 1);
    }
    // Longest path, a pass per node at most (a file that reads what it writes is no cycle).
    for _ in 0..column.len() {
        let mut changed = false;
        for f in files {
            let from = f
                .reads
                .iter()
                .filter(|r| !f.writes.contains(*r))
                .map(|r| column[&Node::Data(r.clone())] + 1)
                .max()
                .unwrap_or(1)
                .max(1);
            let key = Node::File(f.name.clone());
            if column[&key] < from {
                column.insert(key, from);
                changed = true;
            }
            for w in &f.writes {
                let key = Node::Data(w.clone());
                if column[&key] < from + 1 {
                    column.insert(key, from + 1);
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    // Columns start at the first one used.
    let first = column.values().min().copied().unwrap_or(0);
    for c in column.values_mut() {
        *c -= first;
    }
    let (w, hgt, gap_x, gap_y) = (180usize, 30usize, 40usize, 16usize);
    let mut rows_in: BTreeMap<usize, usize> = BTreeMap::new();
    let mut at: BTreeMap<Node, (usize, usize)> = BTreeMap::new();
    let mut ordered: Vec<(&Node, &usize)> = column.iter().collect();
    ordered.sort_by(|a, b| (a.1, a.0).cmp(&(b.1, b.0)));
    for (node, col) in ordered {
        let row = rows_in.entry(*col).or_default();
        at.insert(node.clone(), (*col, *row));
        *row += 1;
    }
    let width = (rows_in.keys().max().copied().unwrap_or(0) + 1) * (w + gap_x);
    let height = rows_in.values().max().copied().unwrap_or(1) * (hgt + gap_y) + gap_y;
    let pos = |n: &Node| {
        let (c, r) = at[n];
        (c * (w + gap_x) + 10, r * (hgt + gap_y) + gap_y)
    };
    let mut svg = format!(
        "<svg class=\"lineage\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">"
    );
    let edge = |svg: &mut String, a: &Node, b: &Node| {
        let (ax, ay) = pos(a);
        let (bx, by) = pos(b);
        let (x1, y1, x2, y2) = (ax + w, ay + hgt / 2, bx, by + hgt / 2);
        let mid = (x1 + x2) / 2;
        let _ = write!(
            svg,
            "<path class=\"edge\" d=\"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}\"/>"
        );
    };
    for f in files {
        let file = Node::File(f.name.clone());
        for r in f.reads.iter().filter(|r| !f.writes.contains(*r)) {
            edge(&mut svg, &Node::Data(r.clone()), &file);
        }
        for wr in &f.writes {
            edge(&mut svg, &file, &Node::Data(wr.clone()));
        }
    }
    let short = |s: &str| {
        if s.chars().count() > 25 {
            format!(
                "…{}",
                s.chars()
                    .rev()
                    .take(24)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<String>()
            )
        } else {
            s.to_string()
        }
    };
    for n in at.keys() {
        let (x, y) = pos(n);
        let (class, name, link) = match n {
            Node::File(f) => ("file".to_string(), f.clone(), None),
            Node::Data(d) => (
                format!("table {}", layer(d)),
                d.clone(),
                (!is_path(d)).then(|| anchor(d)),
            ),
        };
        let body = format!(
            "<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{hgt}\" rx=\"{}\"/><text x=\"{}\" y=\"{}\">{}</text><title>{}</title>",
            if matches!(n, Node::File(_)) { 2 } else { 12 },
            x + 10,
            y + hgt / 2 + 4,
            esc(&short(&name)),
            esc(&name)
        );
        let _ = match link {
            Some(a) => write!(
                svg,
                "<g class=\"node {class}\" data-name=\"{}\"><a href=\"#{a}\">{body}</a></g>",
                esc(&name)
            ),
            None => write!(
                svg,
                "<g class=\"node {class}\" data-name=\"{}\">{body}</g>",
                esc(&name)
            ),
        };
    }
    svg.push_str("</svg>");
    svg
}

/// The last runs: one line per run, its failed statements under it in colour.
fn runs(log: &Table) -> String {
    let mut h = String::from("<section id=\"runs\"><h2>Last runs</h2>");
    if log.rows.is_empty() {
        h.push_str("<p class=\"missing\">No runs logged yet: <code>lakeshell run DIR</code> writes lakeshell.run_log.</p></section>\n");
        return h;
    }
    let mut order: Vec<String> = Vec::new();
    let mut by_run: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for r in 0..log.rows.len() {
        let id = log.get(r, "run_id").to_string();
        if !by_run.contains_key(&id) {
            order.push(id.clone());
        }
        by_run.entry(id).or_default().push(r);
    }
    h.push_str("<table><tr><th>started</th><th>pipeline</th><th>statements</th><th>failed</th><th>skipped</th><th>duration</th><th>run</th></tr>");
    for id in &order {
        let rows = &by_run[id];
        let count = |s: &str| rows.iter().filter(|r| log.get(**r, "status") == s).count();
        let failed = count("failed");
        let ms: i64 = rows
            .iter()
            .filter_map(|r| log.get(*r, "duration_ms").parse::<i64>().ok())
            .sum();
        let started = rows
            .iter()
            .map(|r| log.get(*r, "started_at"))
            .filter(|s| !s.is_empty())
            .min()
            .unwrap_or("");
        let _ = write!(
            h,
            "<tr class=\"run{}\"><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{:.1} s</td><td><code>{}</code></td></tr>",
            if failed > 0 { " failed" } else { "" },
            esc(started),
            esc(log.get(rows[0], "pipeline")),
            rows.len(),
            failed,
            count("skipped"),
            ms as f64 / 1000.0,
            esc(id)
        );
        for r in rows.iter().filter(|r| log.get(**r, "status") == "failed") {
            let _ = write!(
                h,
                "<tr class=\"failed\"><td></td><td colspan=\"6\"><code>{}:{}</code> {}<br><b>{}</b></td></tr>",
                esc(log.get(*r, "file")),
                esc(log.get(*r, "line")),
                esc(log.get(*r, "statement")),
                esc(log.get(*r, "error"))
            );
        }
    }
    h.push_str("</table></section>\n");
    h
}

fn table_section(t: &TablePage) -> String {
    let mut h = format!(
        "<section id=\"{}\" class=\"table-page\"><h2>{}<span class=\"badge\">{}</span></h2>",
        anchor(&t.name),
        esc(&t.name),
        esc(layer(&t.name))
    );
    let Some(columns) = &t.columns else {
        h.push_str("<p class=\"missing\">Not created yet: the pipeline has not written it.</p></section>\n");
        return h;
    };
    let parts = partitions(t);
    let _ = write!(
        h,
        "<p>version <b>{}</b> · {} files · {} bytes · partitioned by {} · <code>{}</code></p>",
        esc(detail(t, "version")),
        esc(detail(t, "numFiles")),
        esc(detail(t, "sizeInBytes")),
        if parts.is_empty() {
            "nothing".to_string()
        } else {
            esc(&parts)
        },
        esc(detail(t, "location"))
    );
    h.push_str("<h3>Schema</h3><table><tr><th>column</th><th>type</th><th>nullable</th><th>partition</th></tr>");
    for r in 0..columns.rows.len() {
        let _ = write!(
            h,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            esc(columns.get(r, "column")),
            esc(columns.get(r, "type")),
            esc(columns.get(r, "nullable")),
            esc(columns.get(r, "partition"))
        );
    }
    h.push_str("</table>");
    if let Some(history) = &t.history {
        h.push_str("<h3>History</h3>");
        h.push_str(&timeline(history));
        h.push_str(
            "<table><tr><th>version</th><th>time</th><th>operation</th><th>metrics</th></tr>",
        );
        for r in 0..history.rows.len() {
            let _ =
                write!(
                h,
                "<tr><td class=\"num\">{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                esc(history.get(r, "version")),
                esc(history.get(r, "timestamp")),
                esc(history.get(r, "operation")),
                esc(&history.get(r, "operationMetrics").chars().take(160).collect::<String>())
            );
        }
        h.push_str("</table>");
    }
    h.push_str(&expectations(&t.quality));
    h.push_str("</section>\n");
    h
}

/// Versions as dots on a line, in commit order.
fn timeline(history: &Table) -> String {
    let n = history.rows.len();
    if n == 0 {
        return String::new();
    }
    let step = 36usize;
    let width = n * step + 20;
    let mut svg = format!(
        "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"44\"><line x1=\"10\" y1=\"14\" x2=\"{}\" y2=\"14\" stroke=\"#c5cbd3\"/>",
        width - 10
    );
    // DESCRIBE HISTORY lists the newest first.
    for (i, r) in (0..n).rev().enumerate() {
        let x = 10 + i * step + step / 2;
        let _ = write!(
            svg,
            "<circle cx=\"{x}\" cy=\"14\" r=\"6\"><title>v{} {} {}</title></circle><text x=\"{}\" y=\"38\">v{}</text>",
            esc(history.get(r, "version")),
            esc(history.get(r, "timestamp")),
            esc(history.get(r, "operation")),
            x - 8,
            esc(history.get(r, "version"))
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Each expectation's status at every check, oldest first, and the newest figures.
fn expectations(q: &Table) -> String {
    if q.rows.is_empty() {
        return "<h3>Expectations</h3><p class=\"missing\">No checks recorded in lakeshell.quality_results.</p>".into();
    }
    let mut by_expectation: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for r in 0..q.rows.len() {
        by_expectation
            .entry(q.get(r, "expectation").to_string())
            .or_default()
            .push(r);
    }
    let mut h = String::from("<h3>Expectations</h3><table class=\"expectations\"><tr><th>expectation</th><th>rule</th><th>on violation</th><th>over time</th><th>last</th><th>rows failed</th></tr>");
    for (name, rows) in &by_expectation {
        let Some(&last) = rows.last() else { continue };
        let cells: String = rows
            .iter()
            .map(|r| {
                format!(
                    "<td class=\"{}\" title=\"{} v{}: {}\"></td>",
                    esc(q.get(*r, "status")),
                    esc(q.get(*r, "checked_at")),
                    esc(q.get(*r, "table_version")),
                    esc(q.get(*r, "status"))
                )
            })
            .collect();
        let _ = write!(
            h,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td><table class=\"grid\"><tr>{cells}</tr></table></td><td><span class=\"badge {}\">{}</span></td><td class=\"num\">{} of {}</td></tr>",
            esc(name),
            esc(q.get(last, "rule")),
            esc(q.get(last, "action")),
            esc(q.get(last, "status")),
            esc(q.get(last, "status")),
            esc(q.get(last, "rows_failed")),
            esc(q.get(last, "rows_checked"))
        );
    }
    h.push_str("</table>");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_places_writers_after_what_they_read() {
        let files = vec![
            FileNode {
                name: "bronze.sql".into(),
                reads: ["landing/orders.csv".to_string()].into(),
                writes: ["bronze.orders".to_string()].into(),
            },
            FileNode {
                name: "silver.sql".into(),
                reads: ["bronze.orders".to_string(), "silver.orders".to_string()].into(),
                writes: ["silver.orders".to_string()].into(),
            },
        ];
        let svg = graph(&files);
        for name in [
            "landing/orders.csv",
            "bronze.orders",
            "silver.orders",
            "bronze.sql",
            "silver.sql",
        ] {
            assert!(
                svg.contains(&format!("data-name=\"{name}\"")),
                "{name}: {svg}"
            );
        }
        assert!(svg.contains("href=\"#t-silver-orders\""));
        // bronze.orders (column 2) is left of silver.sql (column 3).
        let x = |name: &str| {
            let at = svg.find(&format!("data-name=\"{name}\"")).unwrap();
            let rest = &svg[at..];
            let x = rest.split("x=\"").nth(1).unwrap();
            x.split('"').next().unwrap().parse::<usize>().unwrap()
        };
        assert!(x("landing/orders.csv") < x("bronze.sql"));
        assert!(x("bronze.sql") < x("bronze.orders"));
        assert!(x("bronze.orders") < x("silver.sql"));
        assert!(x("silver.sql") < x("silver.orders"));
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
