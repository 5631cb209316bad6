//! Writes a query's rows to a Delta table: append (`INSERT INTO`), overwrite (`INSERT OVERWRITE`,
//! `CREATE OR REPLACE TABLE ... AS`, as a new version of the same table so history and time travel
//! survive) and create (`CREATE TABLE ... AS`). delta-rs commits once at the end, so a failed or
//! cancelled write commits nothing.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use datafusion::execution::context::SessionState;
use datafusion::execution::SendableRecordBatchStream;
use deltalake::operations::write::WriteBuilder;
use deltalake::protocol::SaveMode;
use deltalake::DeltaTable;

use super::source::one_shot_plan;
use super::{commit_properties, Commit, Retry, WriteMetrics};
use crate::error::{LakeError, Result};

/// How a write treats the rows already in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Add rows (`INSERT INTO`).
    Append,
    /// Replace all rows, keeping schema and partitioning (`INSERT OVERWRITE`).
    Overwrite,
    /// Replace the table's definition and rows in a new version (`CREATE OR REPLACE TABLE AS`).
    Replace,
    /// Create the table; it must not exist.
    Create,
}

/// What to write, where, and how.
pub struct WriteRequest<'a> {
    /// The table at its latest version, or, before it exists, a table not yet loaded.
    pub table: DeltaTable,
    pub commit: Commit<'a>,
    pub mode: WriteMode,
    pub partition_by: Vec<String>,
    pub properties: Vec<(String, String)>,
    pub comment: Option<String>,
    /// Name of the operation for the metrics row.
    pub operation: &'a str,
    /// `REPLACE WHERE` predicate (SQL) for an overwrite of the matching rows only.
    pub replace_where: Option<String>,
    /// Add columns the table lacks (lakeshell's own tables: quarantine, results, logs).
    pub merge_schema: bool,
    /// What the commit records beside the rows (COPY INTO's loaded files).
    pub extra: Extra,
}

/// Application transactions (Delta's idempotent-write actions) and commit-info entries a write
/// commits with its rows, atomically.
#[derive(Debug, Default, Clone)]
pub struct Extra {
    pub transactions: Vec<deltalake::kernel::Transaction>,
    pub metadata: Vec<(String, serde_json::Value)>,
}

/// Runs the write and returns its metrics.
pub async fn write(
    state: &SessionState,
    input: SendableRecordBatchStream,
    req: WriteRequest<'_>,
) -> Result<WriteMetrics> {
    let table = req.table;
    let name = req.commit.table;
    let exists = table.version().is_some();
    if exists && req.mode == WriteMode::Create {
        return Err(LakeError::TableExists(name.to_string()));
    }
    let input = if exists {
        super::constraints::checked(state, &table, input)?
    } else {
        input
    };
    let (plan, rows) = one_shot_plan(input)?;
    let snapshot = table.snapshot().ok().map(|s| s.snapshot().clone());
    let save_mode = match req.mode {
        WriteMode::Append => SaveMode::Append,
        WriteMode::Overwrite | WriteMode::Replace => SaveMode::Overwrite,
        WriteMode::Create => SaveMode::ErrorIfExists,
    };
    let mut builder = WriteBuilder::new(table.log_store(), snapshot)
        .with_input_plan(plan)
        .with_session_state(Arc::new(state.clone()))
        .with_save_mode(save_mode)
        .with_commit_properties(
            deltalake::kernel::transaction::CommitProperties::default()
                .with_metadata(
                    super::commit_metadata(req.commit.sql, table.version())
                        .into_iter()
                        .chain(req.extra.metadata.iter().cloned()),
                )
                .with_application_transactions(req.extra.transactions.clone()),
        );
    if let Some(p) = &req.replace_where {
        builder = builder.with_replace_where(p.clone());
    }
    if req.merge_schema && exists {
        builder = builder.with_schema_mode(deltalake::operations::write::SchemaMode::Merge);
    }
    if req.mode == WriteMode::Replace {
        // A replace sets the schema and partitioning anew, as Databricks' CREATE OR REPLACE does.
        builder = builder
            .with_schema_mode(deltalake::operations::write::SchemaMode::Overwrite)
            .with_partition_columns(req.partition_by.clone());
    } else if !req.partition_by.is_empty() {
        builder = builder.with_partition_columns(req.partition_by.clone());
    }
    if !exists {
        let (_, short) = name.rsplit_once('.').unwrap_or(("", name));
        builder = builder.with_table_name(short.to_string());
        if let Some(c) = &req.comment {
            builder = builder.with_description(c.clone());
        }
        if !req.properties.is_empty() {
            builder = builder.with_configuration(
                req.properties
                    .iter()
                    .filter(|(k, _)| is_delta_property(k))
                    .map(|(k, v)| (k.clone(), Some(v.clone()))),
            );
        }
    }
    if let Some(h) = super::test_pause() {
        builder = builder.with_custom_execute_handler(h);
    }
    let read_version = table.version();
    let retry = match req.mode {
        WriteMode::Append => Retry::Always,
        _ => Retry::IfDataFree,
    };
    let written = match builder.await {
        Ok(t) => t,
        Err(e) => {
            let log_store = table.log_store();
            return Err(super::explain_failure(name, &log_store, read_version, retry, e).await);
        }
    };
    let mut m = WriteMetrics::new(name, req.operation, written.version());
    let figures = last_metrics(&written).await;
    m.rows_inserted = rows.load(Ordering::Relaxed);
    let get = |k: &str| figures.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
    m.files_added = get("num_added_files");
    m.files_removed = get("num_removed_files");
    if req.mode != WriteMode::Append && exists {
        m.rows_deleted = get("num_removed_rows").max(get("num_deleted_rows"));
    }
    // delta-rs refuses properties it does not know when creating a table ('owner' = 'x'),
    // but sets them on an existing one: a second, metadata-only commit.
    let custom: std::collections::HashMap<String, String> = req
        .properties
        .iter()
        .filter(|(k, _)| !exists && !is_delta_property(k))
        .cloned()
        .collect();
    if !custom.is_empty() {
        let read = written.version();
        let updated = written
            .set_tbl_properties()
            .with_properties(custom)
            .with_raise_if_not_exists(false)
            .with_commit_properties(commit_properties(req.commit.sql, read))
            .await
            .map_err(|e| LakeError::from(e).on_table(name))?;
        m.version = updated.version().unwrap_or(m.version);
    }
    Ok(m)
}

/// A property delta-rs knows (`delta.appendOnly`, ...).
fn is_delta_property(key: &str) -> bool {
    key.parse::<deltalake::TableProperty>().is_ok()
}

/// The latest commit's operation metrics.
pub(crate) async fn last_metrics(table: &deltalake::DeltaTable) -> serde_json::Value {
    match super::history::read_history(table, Some(1)).await {
        Ok(h) => h
            .into_iter()
            .next()
            .and_then(|e| e.info.get("operationMetrics").cloned())
            .unwrap_or_default(),
        Err(_) => serde_json::Value::Null,
    }
}
