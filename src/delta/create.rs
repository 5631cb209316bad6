//! `CREATE TABLE t (columns ...)` with no query: an empty Delta table with its schema (NOT NULL,
//! comments, generated columns), partitioning and properties, over delta-rs's create builder.

use deltalake::kernel::StructField;
use deltalake::protocol::SaveMode;
use deltalake::DeltaTable;

use super::{commit_properties, on_table, Commit, WriteMetrics};
use crate::error::Result;

/// What to create.
pub struct CreateRequest<'a> {
    /// Where the table goes (built, not loaded).
    pub table: DeltaTable,
    pub commit: Commit<'a>,
    pub columns: Vec<StructField>,
    pub partition_by: Vec<String>,
    pub properties: Vec<(String, String)>,
    pub comment: Option<String>,
    /// Replace an existing table (as a new version of it).
    pub replace: bool,
}

/// Creates the table.
pub async fn create(req: CreateRequest<'_>) -> Result<WriteMetrics> {
    let target = req.commit.table;
    let (_, name) = target.rsplit_once('.').unwrap_or(("", target));
    let mut b = req
        .table
        .create()
        .with_table_name(name)
        .with_columns(req.columns)
        .with_partition_columns(req.partition_by)
        .with_configuration(req.properties.into_iter().map(|(k, v)| (k, Some(v))))
        .with_raise_if_key_not_exists(false)
        .with_save_mode(if req.replace {
            SaveMode::Overwrite
        } else {
            SaveMode::ErrorIfExists
        })
        .with_commit_properties(commit_properties(req.commit.sql, None));
    if let Some(c) = req.comment {
        b = b.with_comment(c);
    }
    let table = b.await.map_err(on_table(target))?;
    Ok(WriteMetrics::new(
        target,
        if req.replace {
            "CREATE OR REPLACE TABLE"
        } else {
            "CREATE TABLE"
        },
        table.version(),
    ))
}
