//! Expectations in the engine: `CHECK table [(expectations)]`, enforcement around the writes of
//! INSERT, CREATE TABLE AS and MERGE, and recording what both found in
//! `lakeshell.quality_results` and the quarantine tables (after the target's commit only).

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray, UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::memory::MemoryStream;

use super::plan::Opened;
use super::{CheckReport, Engine, Outcome};
use crate::catalog::{self, TableEntry};
use crate::delta::write::{write, WriteMode, WriteRequest};
use crate::delta::Commit;
use crate::delta::WriteMetrics;
use crate::error::{LakeError, Result};
use crate::expectations::check::{queries, SAMPLE_ROWS};
use crate::expectations::enforce::{enforce, Shared};
use crate::expectations::results::{
    quality_batch, quarantine_batches, quarantine_entry, QualityRow, QUALITY_RESULTS,
    QUARANTINE_KEY, SYSTEM_SCHEMA,
};
use crate::expectations::{attached, combined};
use crate::sql::expectation::{Action, Check, Status};
use crate::sql::{CheckStatement, Expectation};

impl Engine {
    /// The run id recorded with every quality figure, quarantined row and run-log row.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Enforces on `input` the expectations attached to `table` (the write's target, opened)
    /// and those `declared` with the statement.
    pub(super) fn enforced(
        &self,
        input: SendableRecordBatchStream,
        target: &TableEntry,
        table: &deltalake::DeltaTable,
        declared: &[Expectation],
    ) -> Result<(SendableRecordBatchStream, Shared)> {
        let all = combined(crate::expectations::of_table(table)?, declared);
        enforce(&self.state(), input, &target.name, &all)
    }

    /// After a write committed: the held-back rows go to the quarantine table, the figures to
    /// `lakeshell.quality_results`, and a line per broken expectation to the metrics.
    pub(super) async fn record_enforcement(
        &self,
        target: &TableEntry,
        m: &mut WriteMetrics,
        shared: Shared,
    ) -> Result<()> {
        let enf = match shared.lock() {
            Ok(mut g) => std::mem::take(&mut *g),
            Err(_) => {
                return Err(LakeError::Internal(
                    "expectation figures lock poisoned".into(),
                ))
            }
        };
        if enf.expectations.is_empty() {
            return Ok(());
        }
        let at = chrono::Utc::now().timestamp_micros();
        let quarantine = quarantine_entry(target)?;
        if enf.rows_quarantined() > 0 {
            let batches = quarantine_batches(&enf.quarantined, &self.run_id, m.version, at)?;
            self.keep_quarantined(&quarantine, batches)
                .await
                .map_err(|e| {
                    LakeError::PartlyWritten(format!(
                        "{} version {} was written, but its {} dropped row(s) could not be kept in {}: {e}",
                        target.name,
                        m.version,
                        enf.rows_quarantined(),
                        quarantine.name
                    ))
                })?;
        }
        let rows: Vec<QualityRow> = enf
            .expectations
            .iter()
            .map(|f| QualityRow {
                run_id: self.run_id.clone(),
                table: target.name.clone(),
                version: Some(m.version),
                expectation: f.expectation.name.value.clone(),
                rule: f.expectation.body(),
                source: m.operation.clone(),
                action: f.expectation.action.as_str().into(),
                rows_checked: Some(f.checked),
                rows_failed: Some(f.failed),
                status: f.expectation.status(f.failed, f.checked).as_str().into(),
                detail: String::new(),
                at_micros: at,
            })
            .collect();
        self.append_quality(rows).await?;
        m.notes.extend(enf.notes(&quarantine.name));
        Ok(())
    }

    /// Adds the quarantined rows the quarantine table does not hold yet (by their key).
    async fn keep_quarantined(
        &self,
        quarantine: &TableEntry,
        batches: Vec<RecordBatch>,
    ) -> Result<()> {
        if !catalog::is_delta_table(&quarantine.url, &quarantine.options).await? {
            self.append_rows(quarantine, batches, "QUARANTINE").await?;
            return Ok(());
        }
        let Some(schema) = batches.first().map(|b| b.schema()) else {
            return Ok(());
        };
        let columns: Vec<(String, String)> = schema
            .fields()
            .iter()
            .map(|f| {
                let c = datafusion::sql::sqlparser::ast::Ident::with_quote('"', f.name());
                (f.name().clone(), format!("\"s\".{c}"))
            })
            .collect();
        let source = self
            .ctx
            .read_table(Arc::new(datafusion::datasource::MemTable::try_new(
                schema,
                vec![batches],
            )?))?;
        let plan = crate::delta::merge::MergePlan {
            source,
            source_alias: "s".into(),
            target_alias: "t".into(),
            on: format!("\"t\".\"{QUARANTINE_KEY}\" = \"s\".\"{QUARANTINE_KEY}\""),
            clauses: vec![crate::delta::merge::Clause::NotMatchedInsert {
                predicate: None,
                set: columns,
            }],
            schema_evolution: true,
        };
        let table = self.warehouse.open(quarantine).await?;
        let commit = Commit {
            table: &quarantine.name,
            sql: Some("QUARANTINE"),
        };
        crate::delta::merge::merge(&self.state(), table, commit, plan).await?;
        Ok(())
    }

    async fn append_quality(&self, rows: Vec<QualityRow>) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let entry = self
            .warehouse
            .resolve_for_write(&crate::catalog::TableName::Warehouse {
                schema: SYSTEM_SCHEMA.into(),
                table: QUALITY_RESULTS.into(),
            })
            .await?;
        self.append_rows(&entry, vec![quality_batch(&rows)?], "QUALITY RESULTS")
            .await?;
        Ok(())
    }

    /// Appends rows to a table of lakeshell's own (created when missing, new columns added),
    /// running again when a concurrent append got in first.
    pub(crate) async fn append_rows(
        &self,
        entry: &TableEntry,
        batches: Vec<RecordBatch>,
        operation: &str,
    ) -> Result<WriteMetrics> {
        let Some(schema) = batches.first().map(|b| b.schema()) else {
            return Ok(WriteMetrics::new(&entry.name, operation, None));
        };
        // A read-only session records nothing of its own (quality results, positions, the run
        // log); the statements that would write data are refused before they get here.
        if self.read_only().is_some() {
            return Ok(WriteMetrics::new(&entry.name, operation, None));
        }
        super::retry::retrying(|| async {
            let stream = MemoryStream::try_new(batches.clone(), Arc::clone(&schema), None)?;
            let req = WriteRequest {
                table: self.warehouse.open_for_write(entry).await?,
                commit: Commit {
                    table: &entry.name,
                    sql: None,
                },
                mode: WriteMode::Append,
                partition_by: vec![],
                properties: vec![],
                comment: None,
                operation,
                replace_where: None,
                merge_schema: true,
                extra: Default::default(),
            };
            write(&self.state(), Box::pin(stream), req).await
        })
        .await
    }

    /// The version CHECK reads when it names none: `N` for every table, or per table.
    pub fn set_check_versions(
        &self,
        default: Option<u64>,
        tables: std::collections::HashMap<String, u64>,
    ) {
        if let Ok(mut v) = self.check_versions.lock() {
            *v = (default, tables);
        }
    }

    /// `CHECK table [VERSION AS OF n] [(expectations)]`.
    pub(super) async fn check(&self, stmt: CheckStatement) -> Result<Outcome> {
        let entry = self.entry_for(&stmt.table).await?;
        let as_of = match &stmt.version {
            Some(v) => Some(self.version_spec(v).await?),
            None => self.check_versions.lock().ok().and_then(|v| {
                v.1.get(&entry.name)
                    .copied()
                    .or(v.0)
                    .map(crate::delta::AsOf::Version)
            }),
        };
        let table = self.warehouse.open_at(&entry, as_of).await?;
        let version = table.version().unwrap_or_default();
        // Every query of the check reads this snapshot: the table is opened once.
        let opened = Opened::default();
        opened.hold(&entry, Some(version), table.clone())?;
        let expectations = if stmt.expectations.is_empty() {
            let snapshot = table
                .snapshot()
                .map_err(crate::delta::on_table(&entry.name))?;
            attached(snapshot.metadata().configuration())?
        } else {
            stmt.expectations.clone()
        };
        if expectations.is_empty() {
            return Err(LakeError::BadStatement(format!(
                "{} has no expectations attached; attach one with ALTER TABLE {} ADD CONSTRAINT name EXPECT (condition), or list them: CHECK {} (CONSTRAINT name EXPECT ...)",
                entry.name, stmt.table, stmt.table
            )));
        }
        let table_sql = format!("{} VERSION AS OF {version}", stmt.table);
        let now = self.now_sql();
        let at = chrono::Utc::now().timestamp_micros();
        let mut found = Vec::new();
        for e in &expectations {
            let (checked, failed, status, detail) = self
                .evaluate(&opened, e, &table_sql, &now)
                .await
                .map_err(|err| {
                    LakeError::BadStatement(format!(
                        "expectation {} on {}: {err}",
                        e.name.value, entry.name
                    ))
                })?;
            found.push(QualityRow {
                run_id: self.run_id.clone(),
                table: entry.name.clone(),
                version: Some(version),
                expectation: e.name.value.clone(),
                rule: e.body(),
                source: "CHECK".into(),
                action: e.action.as_str().into(),
                rows_checked: checked,
                rows_failed: failed,
                status: status.as_str().into(),
                detail,
                at_micros: at,
            });
        }
        self.append_quality(found.clone()).await?;
        let failed: Vec<String> = found
            .iter()
            .filter(|r| r.status == "fail")
            .map(|r| r.expectation.clone())
            .collect();
        let u = |f: fn(&QualityRow) -> Option<u64>| -> ArrayRef {
            Arc::new(UInt64Array::from(found.iter().map(f).collect::<Vec<_>>()))
        };
        let s = |f: fn(&QualityRow) -> &str| -> ArrayRef {
            Arc::new(StringArray::from(found.iter().map(f).collect::<Vec<_>>()))
        };
        let Outcome::Rows(rows) = super::rows(
            vec![
                Field::new("table", DataType::Utf8, false),
                Field::new("version", DataType::UInt64, true),
                Field::new("expectation", DataType::Utf8, false),
                Field::new("rule", DataType::Utf8, false),
                Field::new("rows_checked", DataType::UInt64, true),
                Field::new("rows_failing", DataType::UInt64, true),
                Field::new("status", DataType::Utf8, false),
                Field::new("failing_rows", DataType::Utf8, false),
            ],
            vec![
                s(|r| &r.table),
                u(|r| r.version),
                s(|r| &r.expectation),
                s(|r| &r.rule),
                u(|r| r.rows_checked),
                u(|r| r.rows_failed),
                s(|r| &r.status),
                s(|r| &r.detail),
            ],
        )?
        else {
            return Err(LakeError::Internal("check rows".into()));
        };
        Ok(Outcome::Check(CheckReport {
            table: entry.name,
            rows,
            failed,
        }))
    }

    /// Rows checked, rows failing, status and what failed, for one expectation.
    async fn evaluate(
        &self,
        opened: &Opened,
        e: &Expectation,
        table_sql: &str,
        now: &str,
    ) -> Result<(Option<u64>, Option<u64>, Status, String)> {
        let q = queries(e, table_sql, now);
        let batches = self.collect_sql_in(opened, &q.counts).await?;
        let b = batches
            .iter()
            .find(|b| b.num_rows() > 0)
            .ok_or_else(|| LakeError::Internal("the check returned no row".into()))?;
        let int = |name: &str| -> Option<u64> {
            let col = b.column_by_name(name)?;
            let col = datafusion::arrow::compute::cast(col, &DataType::Int64).ok()?;
            let a = col.as_any().downcast_ref::<Int64Array>()?;
            (!a.is_null(0)).then(|| a.value(0).max(0) as u64)
        };
        let checked = int("checked");
        let failed = int("failed");
        if matches!(e.check, Check::RowCount { .. } | Check::Freshness { .. }) {
            let ok = b
                .column_by_name("ok")
                .and_then(|c| c.as_any().downcast_ref::<BooleanArray>().cloned())
                .is_some_and(|a| !a.is_null(0) && a.value(0));
            let detail = b
                .column_by_name("detail")
                .and_then(|c| datafusion::arrow::compute::cast(c, &DataType::Utf8).ok())
                .and_then(|c| c.as_any().downcast_ref::<StringArray>().cloned())
                .filter(|a| !a.is_null(0))
                .map(|a| a.value(0).to_string())
                .unwrap_or_default();
            let status = match (ok, e.action) {
                (true, _) => Status::Pass,
                (false, Action::Fail) => Status::Fail,
                (false, _) => Status::Warn,
            };
            return Ok((checked, None, status, detail));
        }
        let failing = failed.unwrap_or_default();
        let status = e.status(failing, checked.unwrap_or_default());
        let mut detail = String::new();
        if let (Some(sample), true) = (&q.sample, failing > 0) {
            // The same rows every time: ordered by every column that can be ordered.
            let plan = self.plan_sql_in(opened, sample).await?;
            let order: Vec<String> = (1..=plan.schema().fields().len())
                .filter(|i| !plan.schema().field(i - 1).data_type().is_nested())
                .map(|i| i.to_string())
                .collect();
            let ordered = if order.is_empty() {
                format!("SELECT * FROM ({sample}) AS f LIMIT {SAMPLE_ROWS}")
            } else {
                format!(
                    "SELECT * FROM ({sample}) AS f ORDER BY {} LIMIT {SAMPLE_ROWS}",
                    order.join(", ")
                )
            };
            let rows = self.collect_sql_in(opened, &ordered).await?;
            let shown: Vec<String> = rows
                .iter()
                .flat_map(|b| {
                    (0..b.num_rows()).map(move |i| crate::delta::constraints::describe_row(b, i))
                })
                .take(SAMPLE_ROWS)
                .collect();
            detail = shown.join("; ");
        }
        Ok((checked, failed, status, detail))
    }
}
