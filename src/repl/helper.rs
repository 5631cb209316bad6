//! Completion, multi-line validation and hints for the prompt.

use std::borrow::Cow;
use std::sync::{Arc, RwLock};

use rustyline::completion::{Completer, Pair};
use rustyline::highlight::Highlighter;
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

/// Shared list of table and column names, refreshed after statements that change tables.
pub type Names = Arc<RwLock<Vec<String>>>;

#[derive(Default)]
pub struct LakeHelper {
    names: Names,
}

impl LakeHelper {
    pub fn names(&self) -> Names {
        Arc::clone(&self.names)
    }
}

/// Reloads table and column names from the warehouse.
pub async fn refresh(engine: &Engine, names: &Names) {
    let mut words = Vec::new();
    for (table, cols) in engine.column_names().await {
        if let Some(short) = table.strip_prefix("default.") {
            words.push(short.to_string());
        }
        if let Some((schema, _)) = table.split_once('.') {
            words.push(schema.to_string());
        }
        words.push(table);
        words.extend(cols);
    }
    words.sort();
    words.dedup();
    if let Ok(mut guard) = names.write() {
        *guard = words;
    }
}

fn candidates(line: &str, pos: usize, names: &[String]) -> (usize, Vec<Pair>) {
    let before = &line[..pos];
    let start = before
        .rfind(|c: char| c.is_whitespace() || "(),;=<>".contains(c))
        .map(|i| i + 1)
        .unwrap_or(0);
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
    let upper = word.to_ascii_uppercase();
    for name in names {
        if name.starts_with(word)
            || name
                .to_ascii_lowercase()
                .starts_with(&word.to_ascii_lowercase())
        {
            out.push(Pair {
                display: name.clone(),
                replacement: name.clone(),
            });
        }
    }
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
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let names = self.names.read().map(|n| n.clone()).unwrap_or_default();
        Ok(candidates(line, pos, &names))
    }
}

impl Validator for LakeHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        let input = ctx.input();
        if input.trim().is_empty() || is_complete(input) {
            Ok(ValidationResult::Valid(None))
        } else {
            Ok(ValidationResult::Incomplete)
        }
    }
}

impl Hinter for LakeHelper {
    type Hint = String;
}

impl Highlighter for LakeHelper {
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

    #[test]
    fn completes_keywords_names_and_meta_commands() {
        let names = vec![
            "orders".to_string(),
            "sales.orders".to_string(),
            "order_id".to_string(),
        ];
        let (start, c) = candidates("SELECT * FROM ord", 17, &names);
        assert_eq!(start, 14);
        let reps: Vec<_> = c.iter().map(|p| p.replacement.as_str()).collect();
        assert!(
            reps.contains(&"orders") && reps.contains(&"order_id"),
            "{reps:?}"
        );
        let (_, c) = candidates("sel", 3, &names);
        assert_eq!(c[0].replacement, "select");
        let (_, c) = candidates("\\d", 2, &names);
        assert!(c.iter().any(|p| p.replacement == "\\dt "));
        let (_, c) = candidates("SELECT * FROM sales.o", 21, &names);
        assert!(c.iter().any(|p| p.replacement == "sales.orders"));
    }
}
