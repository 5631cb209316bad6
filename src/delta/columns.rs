//! `ALTER TABLE t ADD COLUMNS (...)` and `ALTER COLUMN c DROP NOT NULL` over delta-rs.

use deltalake::kernel::StructField;

use super::{commit_properties, on_table, open, WriteMetrics};
use crate::catalog::TableEntry;
use crate::error::Result;

/// Adds nullable columns.
pub async fn add(entry: &TableEntry, fields: Vec<StructField>, sql: &str) -> Result<WriteMetrics> {
    let table = open(entry).await?;
    let read = table.version();
    let table = table
        .add_columns()
        .with_fields(fields)
        .with_commit_properties(commit_properties(Some(sql), read))
        .await
        .map_err(on_table(entry))?;
    Ok(WriteMetrics::new(entry, "ADD COLUMNS", table.version()))
}

/// Makes a column nullable.
pub async fn drop_not_null(entry: &TableEntry, column: &str, sql: &str) -> Result<WriteMetrics> {
    let table = open(entry).await?;
    let read = table.version();
    let table = table
        .drop_column_not_null()
        .with_column(column)
        .with_commit_properties(commit_properties(Some(sql), read))
        .await
        .map_err(on_table(entry))?;
    Ok(WriteMetrics::new(
        entry,
        "ALTER COLUMN DROP NOT NULL",
        table.version(),
    ))
}
