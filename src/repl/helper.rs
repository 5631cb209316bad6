//! Completion, multi-line validation and hints for the prompt.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};

use crate::engine::Engine;
use crate::meta::COMMANDS;
use crate::sql::split::is_complete;

const KEYWORDS: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "GROUP BY",
    "ORDER BY",
    "HAVING",
    "LIMIT",
    "OFFSET",
    "JOIN",
    "LEFT JOIN",
    "INNER JOIN",
    "FULL OUTER JOIN",
    "CROSS JOIN",
    "ON",
    "USING",
    "AS",
    "AND",
    "OR",
    "NOT",
    "IN",
    "IS NULL",
    "IS NOT NULL",
    "BETWEEN",
    "LIKE",
    "ILIKE",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "DISTINCT",
    "UNION ALL",
    "UNION",
    "EXCEPT",
    "INTERSECT",
    "WITH",
    "INSERT INTO",
    "INSERT OVERWRITE",
    "VALUES",
    "CREATE TABLE",
    "CREATE OR REPLACE TABLE",
    "IF NOT EXISTS",
    "PARTITIONED BY",
    "LOCATION",
    "TBLPROPERTIES",
    "CREATE EXTERNAL TABLE",
    "STORED AS DELTA",
    "OPTIONS",
    "DROP TABLE",
    "IF EXISTS",
    "DESCRIBE",
    "SHOW TABLES",
    "EXPLAIN",
    "EXPLAIN ANALYZE",
    "COUNT",
    "SUM",
    "AVG",
    "MIN",
    "MAX",
    "CAST",
    "COALESCE",
    "NULL",
    "TRUE",
    "FALSE",
    "ASC",
    "DESC",
    "OVER",
    "PARTITION BY",
];

/// Extra words highlighted as keywords besides [`KEYWORDS`]: Delta statements and their parts.
const MORE_KEYWORDS: &[&str] = &[
    "MERGE",
    "INTO",
    "UPDATE",
    "SET",
    "DELETE",
    "MATCHED",
    "BY",
    "SOURCE",
    "TARGET",
    "OPTIMIZE",
    "VACUUM",
    "RESTORE",
    "ZORDER",
    "VERSION",
    "OF",
    "HISTORY",
    "DETAIL",
    "TABLE",
    "ALTER",
    "ADD",
    "COLUMN",
    "CONSTRAINT",
    "CHECK",
    "EXPECT",
    "RETAIN",
    "HOURS",
    "DRY",
    "RUN",
    "REPLACE",
    "IF",
    "EXISTS",
    "CREATE",
    "DROP",
    "INSERT",
    "OVERWRITE",
    "EXTERNAL",
    "STORED",
    "DELTA",
    "SHOW",
    "TABLES",
    "GROUP",
    "ORDER",
    "UNION",
    "ALL",
    "LEFT",
    "RIGHT",
    "INNER",
    "OUTER",
    "FULL",
    "CROSS",
    "PARTITION",
    "PARTITIONED",
    "IS",
    "INTERVAL",
    "DEFAULT",
    "PRIMARY",
    "KEY",
    "FOR",
    "ROWS",
    "RANGE",
    "ANY",
    "QUALIFY",
    "FILTER",
    "WINDOW",
    "SUMMARIZE",
    "CONVERT",
    "TO",
    "FSCK",
    "REPAIR",
];

/// What completion knows of the warehouse: table names (with their short forms), each table's
/// columns, and the functions SQL can call. Refreshed after statements that change tables.
#[derive(Debug, Clone, Default)]
pub struct Names {
    tables: Vec<String>,
    columns: BTreeMap<String, Vec<String>>,
    functions: Vec<String>,
}

pub type SharedNames = Arc<RwLock<Names>>;

pub struct LakeHelper {
    names: SharedNames,
    engine: Arc<Engine>,
    runtime: tokio::runtime::Handle,
    highlight: Arc<AtomicBool>,
    files: FilenameCompleter,
}

impl LakeHelper {
    pub fn new(engine: Arc<Engine>, runtime: tokio::runtime::Handle) -> Self {
        let names = Names {
            functions: engine.function_names(),
            ..Names::default()
        };
        LakeHelper {
            names: Arc::new(RwLock::new(names)),
            engine,
            runtime,
            highlight: Arc::new(AtomicBool::new(true)),
            files: FilenameCompleter::new(),
        }
    }

    pub fn names(&self) -> SharedNames {
        Arc::clone(&self.names)
    }

    /// The switch `\highlight` turns.
    pub fn highlight_switch(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.highlight)
    }

    /// The last versions of `table` as candidates, read from its log on a thread of its own
    /// (completion is called synchronously, inside the runtime's `block_on`).
    fn versions(&self, table: &str, replacement: impl Fn(u64) -> String) -> Vec<Pair> {
        let found = std::thread::scope(|s| {
            s.spawn(|| self.runtime.block_on(self.engine.versions(table, 50)))
                .join()
                .ok()
        });
        let Some(Ok(versions)) = found else {
            return Vec::new();
        };
        versions
            .into_iter()
            .map(|v| {
                let time = chrono::DateTime::from_timestamp_millis(v.timestamp_ms)
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                    .unwrap_or_default();
                Pair {
                    display: format!(
                        "v{:<4} {time}  {}",
                        v.version,
                        v.operation.unwrap_or_default()
                    ),
                    replacement: replacement(v.version),
                }
            })
            .collect()
    }
}

/// Reloads table and column names from the warehouse.
pub async fn refresh(engine: &Engine, names: &SharedNames) {
    let mut tables = Vec::new();
    let mut columns = BTreeMap::new();
    for (table, cols) in engine.column_names().await {
        if let Some(short) = table.strip_prefix("default.") {
            tables.push(short.to_string());
            columns.insert(short.to_string(), cols.clone());
        }
        if let Some((schema, _)) = table.split_once('.') {
            tables.push(schema.to_string());
        }
        tables.push(table.clone());
        columns.insert(table, cols);
    }
    tables.sort();
    tables.dedup();
    if let Ok(mut guard) = names.write() {
        guard.tables = tables;
        guard.columns = columns;
    }
}

/// Where the cursor asks for a version: `t@v<Tab>` (the table, and the text replaced from
/// `start`), or `t VERSION AS OF <Tab>`.
#[derive(Debug, PartialEq, Eq)]
enum VersionAt {
    /// `name@v…`: replace from `start` with `name@vN`.
    Suffix { start: usize, table: String },
    /// `name VERSION AS OF …`: replace from `start` with `N`.
    AsOf { start: usize, table: String },
}

fn version_at(line: &str, pos: usize) -> Option<VersionAt> {
    let before = &line[..pos];
    let start = word_start(before);
    let word = &before[start..];
    if let Some((table, v)) = word.split_once('@') {
        if !table.is_empty()
            && v.trim_start_matches(['v', 'V'])
                .bytes()
                .all(|b| b.is_ascii_digit())
        {
            return Some(VersionAt::Suffix {
                start,
                table: table.to_string(),
            });
        }
    }
    if !word.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let words: Vec<&str> = before[..start].split_whitespace().collect();
    let n = words.len();
    let upper = |i: usize| words[i].to_ascii_uppercase();
    if n >= 4 && upper(n - 3) == "VERSION" && upper(n - 2) == "AS" && upper(n - 1) == "OF" {
        let table = if upper(n - 4) == "FOR" && n >= 5 {
            words[n - 5]
        } else {
            words[n - 4]
        };
        return Some(VersionAt::AsOf {
            start,
            table: table.trim_matches(['(', ')', ',']).to_string(),
        });
    }
    None
}

/// Where the word before the cursor starts.
fn word_start(before: &str) -> usize {
    before
        .rfind(|c: char| c.is_whitespace() || "(),;=<>+-*/|".contains(c))
        .map(|i| i + 1)
        .unwrap_or(0)
}

/// True when `before` ends inside a single-quoted string.
fn in_string(before: &str) -> bool {
    before.bytes().filter(|b| *b == b'\'').count() % 2 == 1
}

/// The tables a statement names after FROM, JOIN, UPDATE, INTO or USING, anywhere in `line`.
fn tables_named(line: &str) -> Vec<String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let mut out = Vec::new();
    for pair in words.windows(2) {
        let kw = pair[0].to_ascii_uppercase();
        if matches!(
            kw.as_str(),
            "FROM" | "JOIN" | "UPDATE" | "INTO" | "USING" | "TABLE"
        ) {
            let name = pair[1].trim_matches(|c: char| "(),;".contains(c));
            let name = name.split('@').next().unwrap_or(name);
            if !name.is_empty() {
                out.push(name.to_string());
            }
        }
    }
    out
}

fn candidates(line: &str, pos: usize, names: &Names) -> (usize, Vec<Pair>) {
    let before = &line[..pos];
    let start = word_start(before);
    let word = &before[start..];
    let mut out = Vec::new();
    if crate::sql::split::is_meta(line) && start == line.len() - line.trim_start().len() {
        for (cmd, help) in COMMANDS {
            if cmd.starts_with(word) {
                out.push(Pair {
                    display: format!("{cmd}  {help}"),
                    replacement: format!("{cmd} "),
                });
            }
        }
        return (start, out);
    }
    if word.is_empty() {
        return (start, out);
    }
    let lower = word.to_ascii_lowercase();
    let matches =
        |name: &str| name.starts_with(word) || name.to_ascii_lowercase().starts_with(&lower);
    let mut seen = std::collections::HashSet::new();
    let mut push = |out: &mut Vec<Pair>, name: &str| {
        if matches(name) && seen.insert(name.to_string()) {
            out.push(Pair {
                display: name.to_string(),
                replacement: name.to_string(),
            });
        }
    };
    let previous = before[..start]
        .split_whitespace()
        .last()
        .map(|w| w.to_ascii_uppercase());
    let wants_table = matches!(
        previous.as_deref(),
        Some("FROM" | "JOIN" | "UPDATE" | "INTO" | "TABLE" | "USING" | "DESCRIBE")
    );
    if !wants_table {
        // Columns of the tables the statement names first, wherever the cursor is.
        let named = tables_named(line);
        let scoped: Vec<&String> = named
            .iter()
            .filter_map(|t| names.columns.get(t.as_str()))
            .flatten()
            .collect();
        if scoped.is_empty() {
            for c in names.columns.values().flatten() {
                push(&mut out, c);
            }
        } else {
            for c in scoped {
                push(&mut out, c);
            }
        }
    }
    for t in &names.tables {
        push(&mut out, t);
    }
    if wants_table {
        return (start, out);
    }
    for f in &names.functions {
        push(&mut out, f);
    }
    let upper = word.to_ascii_uppercase();
    for kw in KEYWORDS {
        if kw.starts_with(&upper) {
            let replacement = if word
                .chars()
                .all(|c| c.is_ascii_lowercase() || !c.is_alphabetic())
            {
                kw.to_ascii_lowercase()
            } else {
                kw.to_string()
            };
            out.push(Pair {
                display: kw.to_string(),
                replacement,
            });
        }
    }
    (start, out)
}

impl Completer for LakeHelper {
    type Candidate = Pair;
    fn complete(
        &self,
        line: &str,
        pos: usize,
        ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        if in_string(before) && !crate::sql::split::is_meta(line) {
            return self.files.complete(line, pos, ctx);
        }
        match version_at(line, pos) {
            Some(VersionAt::Suffix { start, table }) => {
                let found = self.versions(&table, |v| format!("{table}@v{v}"));
                return Ok((start, found));
            }
            Some(VersionAt::AsOf { start, table }) => {
                return Ok((start, self.versions(&table, |v| v.to_string())));
            }
            None => {}
        }
        let names = self.names.read().map(|n| n.clone()).unwrap_or_default();
        Ok(candidates(line, pos, &names))
    }
}

impl Validator for LakeHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        let input = ctx.input();
        if input.trim().is_empty() || is_complete(input) || ends_in_edit(input) {
            Ok(ValidationResult::Valid(None))
        } else {
            Ok(ValidationResult::Incomplete)
        }
    }
}

/// True when the last line is `\e`: edit what was typed so far.
pub fn ends_in_edit(input: &str) -> bool {
    matches!(
        input.trim_end().lines().last().map(str::trim),
        Some("\\e" | "\\edit")
    )
}

impl Hinter for LakeHelper {
    type Hint = String;
}

const KEYWORD_COLOR: &str = "\x1b[1;34m";
const STRING_COLOR: &str = "\x1b[32m";
const NUMBER_COLOR: &str = "\x1b[33m";
const COMMENT_COLOR: &str = "\x1b[90m";
const RESET: &str = "\x1b[0m";

/// `line` with ANSI colours: keywords, strings, numbers and comments.
fn colour(line: &str) -> String {
    let is_keyword = |w: &str| {
        let w = w.to_ascii_uppercase();
        MORE_KEYWORDS.contains(&w.as_str())
            || KEYWORDS.iter().any(|k| k.split(' ').any(|part| part == w))
    };
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let at = |i: usize| chars.get(i).map(|c| c.1);
    let byte = |i: usize| chars.get(i).map(|c| c.0).unwrap_or(line.len());
    let mut out = String::with_capacity(line.len() * 2);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i].1;
        let (end, color) = if c == '-' && at(i + 1) == Some('-') {
            let end = (i..chars.len())
                .find(|j| chars[*j].1 == '\n')
                .unwrap_or(chars.len());
            (end, Some(COMMENT_COLOR))
        } else if c == '/' && at(i + 1) == Some('*') {
            let end = (i + 2..chars.len().saturating_sub(1))
                .find(|j| chars[*j].1 == '*' && chars[*j + 1].1 == '/')
                .map(|j| j + 2)
                .unwrap_or(chars.len());
            (end, Some(COMMENT_COLOR))
        } else if c == '\'' {
            let mut j = i + 1;
            while j < chars.len() {
                if chars[j].1 == '\'' {
                    if at(j + 1) == Some('\'') {
                        j += 2;
                        continue;
                    }
                    j += 1;
                    break;
                }
                j += 1;
            }
            (j.min(chars.len()), Some(STRING_COLOR))
        } else if c.is_alphanumeric() || c == '_' {
            let end = (i..chars.len())
                .find(|j| {
                    !(chars[*j].1.is_alphanumeric()
                        || chars[*j].1 == '_'
                        || (c.is_ascii_digit() && chars[*j].1 == '.'))
                })
                .unwrap_or(chars.len());
            let word = &line[byte(i)..byte(end)];
            let preceded = i > 0 && matches!(chars[i - 1].1, '.' | '"' | '`' | '@');
            let color = if c.is_ascii_digit() && !preceded {
                Some(NUMBER_COLOR)
            } else if !preceded && at(end) != Some('.') && is_keyword(word) {
                Some(KEYWORD_COLOR)
            } else {
                None
            };
            (end, color)
        } else {
            (i + 1, None)
        };
        let text = &line[byte(i)..byte(end)];
        match color {
            Some(col) => {
                out.push_str(col);
                out.push_str(text);
                out.push_str(RESET);
            }
            None => out.push_str(text),
        }
        i = end.max(i + 1);
    }
    out
}

impl Highlighter for LakeHelper {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        if !self.highlight.load(Ordering::Relaxed) || crate::sql::split::is_meta(line) {
            return Cow::Borrowed(line);
        }
        Cow::Owned(colour(line))
    }

    fn highlight_char(&self, _line: &str, _pos: usize, _kind: CmdKind) -> bool {
        self.highlight.load(Ordering::Relaxed)
    }

    fn highlight_prompt<'b, 's: 'b, 'p: 'b>(
        &'s self,
        prompt: &'p str,
        _default: bool,
    ) -> Cow<'b, str> {
        Cow::Borrowed(prompt)
    }
}

impl Helper for LakeHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        let mut columns = BTreeMap::new();
        columns.insert("orders".to_string(), vec!["order_id".to_string()]);
        columns.insert("sales.orders".to_string(), vec!["order_id".to_string()]);
        columns.insert("customers".to_string(), vec!["customer_name".to_string()]);
        Names {
            tables: vec![
                "customers".into(),
                "orders".into(),
                "sales".into(),
                "sales.orders".into(),
            ],
            columns,
            functions: vec!["coalesce".into(), "count".into()],
        }
    }

    fn replacements(line: &str) -> Vec<String> {
        candidates(line, line.len(), &names())
            .1
            .into_iter()
            .map(|p| p.replacement)
            .collect()
    }

    #[test]
    fn completes_keywords_names_and_meta_commands() {
        let (start, _) = candidates("SELECT * FROM ord", 17, &names());
        assert_eq!(start, 14);
        assert_eq!(replacements("SELECT * FROM ord"), vec!["orders"]);
        assert_eq!(replacements("sel")[0], "select");
        let (_, c) = candidates("\\d", 2, &names());
        assert!(c.iter().any(|p| p.replacement == "\\dt "));
        assert!(replacements("SELECT * FROM sales.o").contains(&"sales.orders".to_string()));
    }

    #[test]
    fn columns_of_the_named_table_come_first_wherever_the_cursor_is() {
        // The FROM clause comes after the cursor.
        let line = "SELECT cust FROM customers";
        let (_, c) = candidates(line, "SELECT cust".len(), &names());
        assert_eq!(c[0].replacement, "customer_name");
        // Only the named table's columns, not every table's.
        let line = "SELECT o FROM customers";
        let (_, c) = candidates(line, "SELECT o".len(), &names());
        assert!(!c.iter().any(|p| p.replacement == "order_id"));
        // Functions complete too.
        assert!(replacements("SELECT coa").contains(&"coalesce".to_string()));
    }

    #[test]
    fn version_positions_are_found() {
        assert_eq!(
            version_at("SELECT * FROM sales.orders@v", 28),
            Some(VersionAt::Suffix {
                start: 14,
                table: "sales.orders".into()
            })
        );
        let line = "SELECT * FROM orders VERSION AS OF ";
        assert_eq!(
            version_at(line, line.len()),
            Some(VersionAt::AsOf {
                start: line.len(),
                table: "orders".into()
            })
        );
        assert_eq!(version_at("SELECT * FROM orders", 20), None);
        assert!(in_string("SELECT * FROM 'data/f"));
        assert!(!in_string("SELECT 'a' FROM t"));
    }

    #[test]
    fn highlighting_colours_keywords_strings_numbers_and_comments() {
        let c = colour("SELECT 'a', 42 FROM t -- note");
        assert!(
            c.starts_with(&format!("{KEYWORD_COLOR}SELECT{RESET}")),
            "{c:?}"
        );
        assert!(c.contains(&format!("{STRING_COLOR}'a'{RESET}")), "{c:?}");
        assert!(c.contains(&format!("{NUMBER_COLOR}42{RESET}")), "{c:?}");
        assert!(
            c.contains(&format!("{COMMENT_COLOR}-- note{RESET}")),
            "{c:?}"
        );
        // A column named like a keyword part after a dot stays plain.
        assert!(colour("t.order").ends_with("t.order"));
    }
}
