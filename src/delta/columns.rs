//! `ALTER TABLE t ADD COLUMNS (...)` and `ALTER COLUMN c DROP NOT NULL` over delta-rs.

use deltalake::kernel::StructField;

use super::{commit_properties, on_table, Commit, WriteMetrics};
use crate::error::Result;

/// Adds nullable columns.
pub async fn add(
    table: deltalake::DeltaTable,
    commit: Commit<'_>,
    fields: Vec<StructField>,
) -> Result<WriteMetrics> {
    let read = table.version();
    let table = table
        .add_columns()
        .with_fields(fields)
        .with_commit_properties(commit_properties(commit.sql, read))
        .await
        .map_err(on_table(commit.table))?;
    Ok(WriteMetrics::new(
        commit.table,
        "ADD COLUMNS",
        table.version(),
    ))
}

/// Makes a column nullable.
pub async fn drop_not_null(
    table: deltalake::DeltaTable,
    commit: Commit<'_>,
    column: &str,
) -> Result<WriteMetrics> {
    let read = table.version();
    let table = table
        .drop_column_not_null()
        .with_column(column)
        .with_commit_properties(commit_properties(commit.sql, read))
        .await
        .map_err(on_table(commit.table))?;
    Ok(WriteMetrics::new(
        commit.table,
        "ALTER COLUMN DROP NOT NULL",
        table.version(),
    ))
}
