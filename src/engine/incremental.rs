//! `incremental('table' [, 'consumer'])`: the rows a table gained since this statement last
//! ran successfully in a pipeline, so a daily job does not reprocess history.
//!
//! - The position is the source version read, kept per consumer in
//!   `lakeshell.pipeline_positions`; a consumer is `<pipeline>/<file>><table written>`, or
//!   `<pipeline>/<name>` when named. A position is recorded only after the statement succeeded,
//!   so a failed run resumes from where the last good one ended.
//! - From a recorded version `p` to the current version `v`: the change feed's inserted and
//!   updated rows when the table records one (`delta.enableChangeDataFeed`), else the rows of `v`
//!   that are not in `p` (`EXCEPT ALL`). Deleted rows are not carried.
//! - With no position, with `--full-refresh`, or outside a pipeline run: the whole table.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::catalog::TableProvider;
use datafusion::datasource::MemTable;
use datafusion::physical_plan::collect;
use datafusion::prelude::{col, lit};
use datafusion::sql::sqlparser::ast::Expr;

use super::changes::text_arg;
use super::Engine;
use crate::catalog;
use crate::error::{LakeError, Result};
use crate::expectations::results::SYSTEM_SCHEMA;

/// `lakeshell.pipeline_positions`.
pub const POSITIONS: &str = "pipeline_positions";

/// The pipeline step a statement runs in, set by the runner.
#[derive(Debug, Clone, Default)]
pub struct Step {
    /// The pipeline (its folder's name).
    pub pipeline: String,
    /// The file's name within it.
    pub file: String,
    /// Read whole tables, ignoring recorded positions.
    pub full_refresh: bool,
    /// The table the current statement writes (for naming its consumers).
    pub target: String,
}

/// A position to record once the statement succeeds.
#[derive(Debug, Clone)]
pub(super) struct Pending {
    consumer: String,
    source: String,
    version: u64,
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

impl Engine {
    /// Sets (or clears) the pipeline step statements run in.
    pub fn set_step(&self, step: Option<Step>) {
        if let Ok(mut s) = self.step.lock() {
            *s = step;
        }
    }

    pub(super) fn set_step_target(&self, target: String) {
        if let Ok(mut s) = self.step.lock() {
            if let Some(step) = s.as_mut() {
                step.target = target;
            }
        }
    }

    fn current_step(&self) -> Option<Step> {
        self.step.lock().ok().and_then(|s| s.clone())
    }

    pub(super) async fn read_incremental(&self, args: &[Expr]) -> Result<Arc<dyn TableProvider>> {
        let usage = || {
            LakeError::BadStatement(
                "incremental takes ('table' [, 'consumer name']): the rows the table gained since this pipeline statement last ran".into(),
            )
        };
        if !(1..=2).contains(&args.len()) {
            return Err(usage());
        }
        let table = text_arg(&args[0]).ok_or_else(usage)?;
        let name = match args.get(1) {
            Some(a) => Some(text_arg(a).ok_or_else(usage)?),
            None => None,
        };
        let entry = self
            .resolve_table(&crate::catalog::TableName::from_text(&table)?)
            .await?;
        let opened = self.warehouse.open(&entry).await?;
        let end = opened.version().unwrap_or_default();
        let full = || async {
            opened
                .table_provider()
                .await
                .map_err(|e| LakeError::from(e).on_table(entry.name.clone()))
        };
        let Some(step) = self.current_step() else {
            return full().await;
        };
        let consumer = match name {
            Some(n) => format!("{}/{n}", step.pipeline),
            None => format!("{}/{}>{}", step.pipeline, step.file, step.target),
        };
        if let Ok(mut p) = self.pending.lock() {
            p.push(Pending {
                consumer: consumer.clone(),
                source: entry.name.clone(),
                version: end,
            });
        }
        let start = if step.full_refresh {
            None
        } else {
            Box::pin(self.last_position(&consumer, &entry.name)).await?
        };
        let Some(start) = start.filter(|s| *s <= end) else {
            // No position, a full refresh, or a table whose history restarted.
            return full().await;
        };
        let provider = full().await?;
        let schema = provider.schema();
        if start == end {
            return Ok(Arc::new(MemTable::try_new(schema, vec![vec![]])?));
        }
        let columns: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        let cdf = opened
            .scan_cdf()
            .with_starting_version(start + 1)
            .with_ending_version(end)
            .build(&self.state(), None)
            .await;
        let batches = match cdf {
            Ok(plan) => {
                let changes = collect(plan, self.ctx.task_ctx())
                    .await
                    .map_err(|e| LakeError::from(e).on_table(entry.name.clone()))?;
                let cols: Vec<&str> = columns.iter().map(String::as_str).collect();
                match changes.first() {
                    None => vec![],
                    Some(first) => {
                        let mem = MemTable::try_new(first.schema(), vec![changes.clone()])?;
                        self.ctx
                            .read_table(Arc::new(mem))?
                            .filter(
                                col("_change_type")
                                    .in_list(vec![lit("insert"), lit("update_postimage")], false),
                            )?
                            .select_columns(&cols)?
                            .collect()
                            .await?
                    }
                }
            }
            Err(_) => {
                let at = catalog::display_url(&entry.url);
                let sql = format!(
                    "SELECT * FROM delta.`{at}` VERSION AS OF {end} EXCEPT ALL SELECT * FROM delta.`{at}` VERSION AS OF {start}"
                );
                match Box::pin(self.collect_sql(&sql)).await {
                    Ok(b) => b,
                    // The old version is gone (VACUUM, log cleanup): read it all.
                    Err(_) => return Ok(provider),
                }
            }
        };
        let schema = batches.first().map(|b| b.schema()).unwrap_or(schema);
        Ok(Arc::new(MemTable::try_new(schema, vec![batches])?))
    }

    /// The version `consumer` last read of `source`, if any.
    async fn last_position(&self, consumer: &str, source: &str) -> Result<Option<u64>> {
        if self
            .warehouse
            .resolve(&crate::catalog::TableName::Warehouse {
                schema: SYSTEM_SCHEMA.into(),
                table: POSITIONS.into(),
            })
            .await?
            .is_none()
        {
            return Ok(None);
        }
        let sql = format!(
            "SELECT version FROM {SYSTEM_SCHEMA}.{POSITIONS} WHERE consumer = {} AND source_table = {} ORDER BY recorded_at DESC LIMIT 1",
            quote(consumer),
            quote(source)
        );
        let batches = self.collect_sql(&sql).await?;
        let v = batches.iter().find(|b| b.num_rows() > 0).and_then(|b| {
            let c = datafusion::arrow::compute::cast(b.column(0), &DataType::Int64).ok()?;
            let a = c.as_any().downcast_ref::<Int64Array>()?;
            (!a.is_null(0)).then(|| a.value(0).max(0) as u64)
        });
        Ok(v)
    }

    /// Records the positions the statement that just succeeded read up to.
    pub(super) async fn record_positions(&self) -> Result<()> {
        let pending: Vec<Pending> = match self.pending.lock() {
            Ok(mut p) => std::mem::take(&mut *p),
            Err(_) => return Ok(()),
        };
        if pending.is_empty() {
            return Ok(());
        }
        let at = chrono::Utc::now().timestamp_micros();
        let n = pending.len();
        let schema = Arc::new(Schema::new(vec![
            Field::new("consumer", DataType::Utf8, false),
            Field::new("source_table", DataType::Utf8, false),
            Field::new("version", DataType::Int64, false),
            Field::new("run_id", DataType::Utf8, false),
            Field::new(
                "recorded_at",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                false,
            ),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from_iter_values(
                    pending.iter().map(|p| p.consumer.as_str()),
                )),
                Arc::new(StringArray::from_iter_values(
                    pending.iter().map(|p| p.source.as_str()),
                )),
                Arc::new(Int64Array::from_iter_values(
                    pending.iter().map(|p| p.version as i64),
                )),
                Arc::new(StringArray::from(vec![self.run_id.as_str(); n])),
                Arc::new(TimestampMicrosecondArray::from(vec![at; n]).with_timezone("UTC")),
            ],
        )?;
        let entry = self
            .warehouse
            .resolve_for_write(&crate::catalog::TableName::Warehouse {
                schema: SYSTEM_SCHEMA.into(),
                table: POSITIONS.into(),
            })
            .await?;
        self.append_rows(&entry, vec![batch], "PIPELINE POSITION")
            .await?;
        Ok(())
    }

    /// Forgets positions read by a statement that failed.
    pub(super) fn drop_pending(&self) {
        if let Ok(mut p) = self.pending.lock() {
            p.clear();
        }
    }
}
