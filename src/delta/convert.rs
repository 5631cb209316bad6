//! `CONVERT TO DELTA parquet.`path` [PARTITIONED BY (col type, ...)]`: writes a Delta log over
//! a folder of Parquet files in place, over delta-rs's convert builder. The files are not
//! rewritten.

use deltalake::kernel::StructField;
use deltalake::operations::convert_to_delta::ConvertToDeltaBuilder;

use super::{commit_properties, on_table, WriteMetrics};
use crate::catalog::{options::for_store, TableEntry};
use crate::error::Result;

/// Converts the Parquet folder at `entry`.
pub async fn convert(
    entry: &TableEntry,
    partitions: Vec<StructField>,
    sql: &str,
) -> Result<WriteMetrics> {
    let table = ConvertToDeltaBuilder::new()
        .with_location(entry.url.to_string())
        .with_storage_options(for_store(&entry.options))
        .with_partition_schema(partitions)
        .with_commit_properties(commit_properties(Some(sql), None))
        .await
        .map_err(on_table(entry))?;
    let mut m = WriteMetrics::new(entry, "CONVERT TO DELTA", table.version());
    if let Ok(s) = table.snapshot() {
        m.files_added = s.log_data().num_files() as u64;
    }
    Ok(m)
}
