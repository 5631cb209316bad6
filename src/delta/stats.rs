//! What a table's log says about its data without reading it: per-file statistics (row
//! counts, null counts, min and max values) summed over the files of a version.

use std::collections::HashMap;

use futures::StreamExt;
use serde_json::Value;

use super::on_table;
use crate::error::Result;

/// Figures for the whole table, from its files' statistics. A column is in a map only when
/// every file's statistics answer for it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableStats {
    /// Rows of the table.
    pub rows: u64,
    pub null_counts: HashMap<String, u64>,
    /// Min and max of the columns asked for, as JSON values.
    pub min: HashMap<String, Value>,
    pub max: HashMap<String, Value>,
}

/// Total order on stats values of one column: numbers by value, strings as written (dates).
fn less(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x.as_f64().unwrap_or_default() < y.as_f64().unwrap_or_default()
        }
        (Value::String(x), Value::String(y)) => x < y,
        _ => false,
    }
}

/// The statistics of `table`'s files summed, or nothing when a file has none. `exact` are the
/// top-level columns whose min and max statistics are exact (Delta truncates strings and
/// timestamps, so callers name integers and dates).
pub async fn table_stats(
    table: &deltalake::DeltaTable,
    name: &str,
    exact: &[String],
) -> Result<Option<TableStats>> {
    let state = table.snapshot().map_err(on_table(name))?;
    let log_store = table.log_store();
    let mut files = state.snapshot().file_views(log_store.as_ref(), None);
    let mut out = TableStats::default();
    let mut min_ok: HashMap<String, bool> = exact.iter().map(|c| (c.clone(), true)).collect();
    let mut nulls_seen: HashMap<String, u64> = HashMap::new();
    let mut files_seen = 0u64;
    while let Some(file) = files.next().await {
        let file = file.map_err(on_table(name))?;
        let Some(text) = file.stats() else {
            return Ok(None);
        };
        let Ok(stats) = serde_json::from_str::<Value>(&text) else {
            return Ok(None);
        };
        let Some(rows) = stats.get("numRecords").and_then(Value::as_u64) else {
            return Ok(None);
        };
        files_seen += 1;
        out.rows += rows;
        let nulls = stats.get("nullCount").and_then(Value::as_object);
        if let Some(nulls) = nulls {
            for (c, n) in nulls {
                if let Some(n) = n.as_u64() {
                    *nulls_seen.entry(c.clone()).or_default() += 1;
                    *out.null_counts.entry(c.clone()).or_default() += n;
                }
            }
        }
        for c in exact {
            let all_null = nulls
                .and_then(|n| n.get(c))
                .and_then(Value::as_u64)
                .is_some_and(|n| n == rows);
            if all_null || rows == 0 {
                continue;
            }
            let lo = stats.get("minValues").and_then(|m| m.get(c));
            let hi = stats.get("maxValues").and_then(|m| m.get(c));
            match (lo, hi) {
                (Some(lo), Some(hi)) if !lo.is_null() && !hi.is_null() => {
                    let smaller = out.min.get(c).is_none_or(|m| less(lo, m));
                    if smaller {
                        out.min.insert(c.clone(), lo.clone());
                    }
                    let larger = out.max.get(c).is_none_or(|m| less(m, hi));
                    if larger {
                        out.max.insert(c.clone(), hi.clone());
                    }
                }
                _ => {
                    min_ok.insert(c.clone(), false);
                }
            }
        }
    }
    // A null count is known when every file gave one.
    out.null_counts
        .retain(|c, _| nulls_seen.get(c).copied().unwrap_or_default() == files_seen);
    for (c, ok) in min_ok {
        if !ok {
            out.min.remove(&c);
            out.max.remove(&c);
        }
    }
    Ok(Some(out))
}
