//! The queries that evaluate an expectation over a table (at a version): one that counts rows
//! checked and failing, and one that fetches a few failing rows to show. The engine runs them.
//!
//! A row condition that is NULL counts as failing. UNIQUE and REFERENCES skip rows whose key is
//! NULL, as dbt's `unique` and `relationships` tests do.

use datafusion::sql::sqlparser::ast::Ident;

use crate::sql::expectation::{Check, Expectation};

/// The queries for one expectation.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckQueries {
    /// One row: `checked` (BIGINT or NULL), `failed` (BIGINT or NULL) and, for table-level
    /// checks, `ok` (BOOLEAN) and `detail` (text).
    pub counts: String,
    /// The failing rows (or keys), when there is a row-level answer; the engine orders them and
    /// shows the first [`SAMPLE_ROWS`].
    pub sample: Option<String>,
}

/// How many failing rows are shown.
pub const SAMPLE_ROWS: usize = 3;

fn cols(items: &[Ident]) -> Vec<String> {
    items
        .iter()
        .map(|i| Ident::with_quote('"', &i.value).to_string())
        .collect()
}

fn not_null(items: &[String], alias: &str) -> String {
    items
        .iter()
        .map(|c| format!("{alias}{c} IS NOT NULL"))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// `table` is SQL for the table (with its version, if any); `now` a SQL timestamp expression.
pub fn queries(e: &Expectation, table: &str, now: &str) -> CheckQueries {
    match &e.check {
        Check::Condition(c) => {
            let broken = format!("CASE WHEN ({c}) THEN false ELSE true END");
            CheckQueries {
                counts: format!(
                    "SELECT count(*) AS checked, coalesce(sum(CASE WHEN {broken} THEN 1 ELSE 0 END), 0) AS failed FROM {table}"
                ),
                sample: Some(format!("SELECT * FROM {table} WHERE {broken}")),
            }
        }
        Check::Unique(keys) => {
            let k = cols(keys).join(", ");
            let nn = not_null(&cols(keys), "");
            let dups = format!(
                "SELECT {k}, count(*) AS duplicates FROM {table} WHERE {nn} GROUP BY {k} HAVING count(*) > 1"
            );
            CheckQueries {
                counts: format!(
                    "SELECT c.checked, f.failed FROM (SELECT count(*) AS checked FROM {table}) AS c CROSS JOIN (SELECT coalesce(sum(duplicates), 0) AS failed FROM ({dups}) AS d) AS f"
                ),
                sample: Some(dups),
            }
        }
        Check::References {
            columns,
            table: parent,
            to,
        } => {
            let child = cols(columns);
            let keys = cols(to);
            let select_keys: Vec<String> = keys
                .iter()
                .enumerate()
                .map(|(i, k)| format!("{k} AS \"__k{i}\""))
                .collect();
            let on: Vec<String> = child
                .iter()
                .enumerate()
                .map(|(i, c)| format!("c.{c} = p.\"__k{i}\""))
                .collect();
            let join = format!(
                "{table} AS c LEFT JOIN (SELECT DISTINCT {}, true AS \"__found\" FROM {parent}) AS p ON {}",
                select_keys.join(", "),
                on.join(" AND ")
            );
            let missing = format!("{} AND p.\"__found\" IS NULL", not_null(&child, "c."));
            CheckQueries {
                counts: format!(
                    "SELECT count(*) AS checked, coalesce(sum(CASE WHEN {missing} THEN 1 ELSE 0 END), 0) AS failed FROM {join}"
                ),
                sample: Some(format!("SELECT c.* FROM {join} WHERE {missing}")),
            }
        }
        Check::RowCount { min, max } => {
            let lo = min.map(|m| format!("count(*) >= {m}"));
            let hi = max.map(|m| format!("count(*) <= {m}"));
            let ok = [lo, hi].into_iter().flatten().collect::<Vec<_>>();
            let ok = if ok.is_empty() {
                "true".to_string()
            } else {
                ok.join(" AND ")
            };
            CheckQueries {
                counts: format!(
                    "SELECT count(*) AS checked, CAST(NULL AS BIGINT) AS failed, {ok} AS ok, concat(CAST(count(*) AS VARCHAR), ' rows; expected {}') AS detail FROM {table}",
                    e.check.to_string().trim_start_matches("ROW COUNT ").to_lowercase()
                ),
                sample: None,
            }
        }
        Check::Freshness { column, within } => {
            let c = Ident::with_quote('"', &column.value);
            let newest = format!("max(CAST({c} AS TIMESTAMP))");
            let oldest = format!("(CAST({now} AS TIMESTAMP) - {within})");
            CheckQueries {
                counts: format!(
                    "SELECT count(*) AS checked, CAST(NULL AS BIGINT) AS failed, coalesce({newest} >= {oldest}, false) AS ok, concat('newest ', coalesce(CAST({newest} AS VARCHAR), 'none'), '; oldest allowed ', CAST({oldest} AS VARCHAR)) AS detail FROM {table}"
                ),
                sample: None,
            }
        }
        Check::NoRows(q) => CheckQueries {
            counts: format!(
                "SELECT CAST(NULL AS BIGINT) AS checked, count(*) AS failed FROM ({q}) AS q"
            ),
            sample: Some(format!("SELECT * FROM ({q}) AS q")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::{parse_statement, LakeStatement};

    fn expectation(body: &str) -> Expectation {
        let LakeStatement::Check(c) = parse_statement(&format!("CHECK t ({body})")).unwrap() else {
            panic!("not a check")
        };
        c.expectations[0].clone()
    }

    #[test]
    fn null_conditions_count_as_failing() {
        let q = queries(&expectation("CONSTRAINT a EXPECT (x > 0)"), "s.t", "now()");
        assert!(
            q.counts
                .contains("CASE WHEN (x > 0) THEN false ELSE true END"),
            "{}",
            q.counts
        );
    }

    #[test]
    fn keys_skip_nulls() {
        let q = queries(
            &expectation("CONSTRAINT a EXPECT UNIQUE (id)"),
            "s.t",
            "now()",
        );
        assert!(q.counts.contains("\"id\" IS NOT NULL"), "{}", q.counts);
        let q = queries(
            &expectation("CONSTRAINT a EXPECT (cid) REFERENCES s.c (id)"),
            "s.t",
            "now()",
        );
        assert!(
            q.counts
                .contains("c.\"cid\" IS NOT NULL AND p.\"__found\" IS NULL"),
            "{}",
            q.counts
        );
    }
}
