//! `SUMMARIZE table [VERSION AS OF n]` and `SUMMARIZE query`: one row per column, as DuckDB
//! gives it: type, min, max, approximate distinct count, average, standard deviation and
//! quartiles (numbers), row count, null count and null percentage.
//!
//! For a Delta table, the row count and null counts, and min and max of integer and date
//! columns, come from the log's file statistics when every file has them; the rest is one
//! aggregate query over the table. A note says which figures the statistics gave.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, Float64Array, RecordBatch, StringArray, UInt64Array,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

use super::plan::Opened;
use super::{quoted, rows, Engine, Outcome};
use crate::delta::stats::TableStats;
use crate::delta::AsOf;
use crate::error::Result;
use crate::sql::SummarizeStatement;

fn is_nested(t: &DataType) -> bool {
    t.is_nested() || matches!(t, DataType::Map(..))
}

/// Types whose statistics min and max are exact (Delta truncates strings and timestamps).
fn stats_exact(t: &DataType) -> bool {
    t.is_integer() || matches!(t, DataType::Date32 | DataType::Date64)
}

/// A stats value as the table shows it.
fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Engine {
    pub(super) async fn summarize(&self, stmt: SummarizeStatement) -> Result<Outcome> {
        let opened = Opened::default();
        let (from, stats, name) = match &stmt {
            SummarizeStatement::Table { table, version } => {
                let entry = self.entry_for(table).await?;
                let t = self
                    .open_table(&opened, &entry, version.map(AsOf::Version))
                    .await?;
                let at = crate::catalog::display_url(&entry.url);
                let from = format!(
                    "delta.`{at}`{}",
                    version
                        .map(|v| format!(" VERSION AS OF {v}"))
                        .unwrap_or_default()
                );
                (from, Some(t), entry.name)
            }
            SummarizeStatement::Query(q) => (format!("({q}) AS summarized"), None, String::new()),
        };
        let plan = self
            .plan_sql_in(&opened, &format!("SELECT * FROM {from}"))
            .await?;
        let schema = plan.schema().as_arrow().clone();
        let exact: Vec<String> = schema
            .fields()
            .iter()
            .filter(|f| stats_exact(f.data_type()))
            .map(|f| f.name().clone())
            .collect();
        let stats: Option<TableStats> = match &stats {
            Some(t) => crate::delta::stats::table_stats(t, &name, &exact).await?,
            None => None,
        };
        let known_rows = stats.as_ref().map(|s| s.rows);
        let mut aggs: Vec<String> = Vec::new();
        if known_rows.is_none() {
            aggs.push("count(*) AS n".into());
        }
        for (i, f) in schema.fields().iter().enumerate() {
            let c = quoted(f.name());
            let t = f.data_type();
            let nulls_known = stats
                .as_ref()
                .is_some_and(|s| s.null_counts.contains_key(f.name()));
            if !nulls_known {
                aggs.push(format!("count({c}) AS nn_{i}"));
            }
            if is_nested(t) {
                continue;
            }
            let minmax_known = stats.as_ref().is_some_and(|s| s.min.contains_key(f.name()));
            if !minmax_known
                && !matches!(
                    t,
                    DataType::Binary | DataType::LargeBinary | DataType::BinaryView
                )
            {
                aggs.push(format!("CAST(min({c}) AS VARCHAR) AS min_{i}"));
                aggs.push(format!("CAST(max({c}) AS VARCHAR) AS max_{i}"));
            }
            // approx_distinct takes integers, strings, binary and times; others count as text.
            let native = t.is_integer()
                || t.is_temporal()
                || matches!(
                    t,
                    DataType::Utf8
                        | DataType::LargeUtf8
                        | DataType::Utf8View
                        | DataType::Binary
                        | DataType::LargeBinary
                        | DataType::BinaryView
                );
            if native {
                aggs.push(format!("approx_distinct({c}) AS d_{i}"));
            } else {
                aggs.push(format!("approx_distinct(CAST({c} AS VARCHAR)) AS d_{i}"));
            }
            if t.is_numeric() {
                let x = format!("CAST({c} AS DOUBLE)");
                aggs.push(format!("avg({x}) AS avg_{i}"));
                aggs.push(format!("stddev({x}) AS std_{i}"));
                for (q, p) in [("q25", 0.25), ("q50", 0.5), ("q75", 0.75)] {
                    aggs.push(format!("approx_percentile_cont({x}, {p}) AS {q}_{i}"));
                }
            }
        }
        let figures = if aggs.is_empty() {
            Figures::default()
        } else {
            let batches = self
                .collect_sql_in(&opened, &format!("SELECT {} FROM {from}", aggs.join(", ")))
                .await?;
            Figures::of(batches.iter().find(|b| b.num_rows() > 0))?
        };
        let total = known_rows.or_else(|| figures.u64("n")).unwrap_or_default();
        let n = schema.fields().len();
        let mut out = Columns::with_capacity(n);
        for (i, f) in schema.fields().iter().enumerate() {
            let t = f.data_type();
            let from_stats = |m: Option<&HashMap<String, serde_json::Value>>| {
                m.and_then(|m| m.get(f.name())).map(json_text)
            };
            out.name.push(f.name().clone());
            out.kind.push(t.to_string());
            out.min.push(
                from_stats(stats.as_ref().map(|s| &s.min))
                    .or_else(|| figures.text(&format!("min_{i}"))),
            );
            out.max.push(
                from_stats(stats.as_ref().map(|s| &s.max))
                    .or_else(|| figures.text(&format!("max_{i}"))),
            );
            out.unique.push(figures.u64(&format!("d_{i}")));
            out.avg.push(figures.f64(&format!("avg_{i}")));
            out.std.push(figures.f64(&format!("std_{i}")));
            out.q25.push(figures.f64(&format!("q25_{i}")));
            out.q50.push(figures.f64(&format!("q50_{i}")));
            out.q75.push(figures.f64(&format!("q75_{i}")));
            let nulls = stats
                .as_ref()
                .and_then(|s| s.null_counts.get(f.name()).copied())
                .or_else(|| {
                    figures
                        .u64(&format!("nn_{i}"))
                        .map(|nn| total.saturating_sub(nn))
                })
                .unwrap_or_default();
            out.count.push(total);
            out.nulls.push(nulls);
            out.null_pct.push(if total == 0 {
                0.0
            } else {
                (nulls as f64 * 10_000.0 / total as f64).round() / 100.0
            });
        }
        let mut notes = Vec::new();
        if let Some(s) = &stats {
            let mut from_log = vec!["row count".to_string()];
            if !s.null_counts.is_empty() {
                from_log.push("null counts".into());
            }
            let mut exact_cols: Vec<&String> = s.min.keys().collect();
            exact_cols.sort();
            if !exact_cols.is_empty() {
                let cols: Vec<&str> = exact_cols.iter().map(|c| c.as_str()).collect();
                from_log.push(format!("min and max of {}", cols.join(", ")));
            }
            notes.push(format!(
                "{name}: {} from the Delta log's file statistics",
                from_log.join(", ")
            ));
        }
        let outcome = out.into_outcome()?;
        Ok(match outcome {
            Outcome::Rows(r) => Outcome::Rows(r.with_notes(notes)),
            other => other,
        })
    }
}

/// The one row of the aggregate query, by column name.
#[derive(Default)]
struct Figures {
    values: HashMap<String, ArrayRef>,
}

impl Figures {
    fn of(batch: Option<&RecordBatch>) -> Result<Figures> {
        let mut values = HashMap::new();
        if let Some(b) = batch {
            for (f, c) in b.schema().fields().iter().zip(b.columns()) {
                values.insert(f.name().clone(), c.slice(0, 1));
            }
        }
        Ok(Figures { values })
    }

    fn get(&self, name: &str, to: &DataType) -> Option<ArrayRef> {
        let a = self.values.get(name)?;
        if a.is_null(0) {
            return None;
        }
        cast(a, to).ok()
    }

    fn u64(&self, name: &str) -> Option<u64> {
        let a = self.get(name, &DataType::UInt64)?;
        a.as_any().downcast_ref::<UInt64Array>().map(|a| a.value(0))
    }

    fn f64(&self, name: &str) -> Option<f64> {
        let a = self.get(name, &DataType::Float64)?;
        a.as_any()
            .downcast_ref::<Float64Array>()
            .map(|a| a.value(0))
            .filter(|v| v.is_finite())
    }

    fn text(&self, name: &str) -> Option<String> {
        let a = self.values.get(name)?;
        if a.is_null(0) {
            return None;
        }
        let f = ArrayFormatter::try_new(a.as_ref(), &FormatOptions::default()).ok()?;
        Some(f.value(0).to_string())
    }
}

/// SUMMARIZE's result, column by column.
struct Columns {
    name: Vec<String>,
    kind: Vec<String>,
    min: Vec<Option<String>>,
    max: Vec<Option<String>>,
    unique: Vec<Option<u64>>,
    avg: Vec<Option<f64>>,
    std: Vec<Option<f64>>,
    q25: Vec<Option<f64>>,
    q50: Vec<Option<f64>>,
    q75: Vec<Option<f64>>,
    count: Vec<u64>,
    nulls: Vec<u64>,
    null_pct: Vec<f64>,
}

impl Columns {
    fn with_capacity(n: usize) -> Columns {
        Columns {
            name: Vec::with_capacity(n),
            kind: Vec::with_capacity(n),
            min: Vec::with_capacity(n),
            max: Vec::with_capacity(n),
            unique: Vec::with_capacity(n),
            avg: Vec::with_capacity(n),
            std: Vec::with_capacity(n),
            q25: Vec::with_capacity(n),
            q50: Vec::with_capacity(n),
            q75: Vec::with_capacity(n),
            count: Vec::with_capacity(n),
            nulls: Vec::with_capacity(n),
            null_pct: Vec::with_capacity(n),
        }
    }

    fn into_outcome(self) -> Result<Outcome> {
        let f = |n: &str, t: DataType, nullable: bool| Field::new(n, t, nullable);
        rows(
            vec![
                f("column_name", DataType::Utf8, false),
                f("column_type", DataType::Utf8, false),
                f("min", DataType::Utf8, true),
                f("max", DataType::Utf8, true),
                f("approx_unique", DataType::UInt64, true),
                f("avg", DataType::Float64, true),
                f("std", DataType::Float64, true),
                f("q25", DataType::Float64, true),
                f("q50", DataType::Float64, true),
                f("q75", DataType::Float64, true),
                f("count", DataType::UInt64, false),
                f("null_count", DataType::UInt64, false),
                f("null_percentage", DataType::Float64, false),
            ],
            vec![
                Arc::new(StringArray::from(self.name)),
                Arc::new(StringArray::from(self.kind)),
                Arc::new(StringArray::from(self.min)),
                Arc::new(StringArray::from(self.max)),
                Arc::new(UInt64Array::from(self.unique)),
                Arc::new(Float64Array::from(self.avg)),
                Arc::new(Float64Array::from(self.std)),
                Arc::new(Float64Array::from(self.q25)),
                Arc::new(Float64Array::from(self.q50)),
                Arc::new(Float64Array::from(self.q75)),
                Arc::new(UInt64Array::from(self.count)),
                Arc::new(UInt64Array::from(self.nulls)),
                Arc::new(Float64Array::from(self.null_pct)),
            ],
        )
    }
}
