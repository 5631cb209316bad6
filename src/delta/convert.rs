//! `CONVERT TO DELTA parquet.`path` [PARTITIONED BY (col type, ...)]`: writes a Delta log over
//! a folder of Parquet files in place, over delta-rs's convert builder. The files are not
//! rewritten.

use std::collections::HashMap;

use deltalake::kernel::StructField;
use deltalake::operations::convert_to_delta::ConvertToDeltaBuilder;

use super::{commit_properties, on_table, Commit, WriteMetrics};
use crate::error::Result;

/// Converts the Parquet folder at `location` (with its storage options).
pub async fn convert(
    location: &url::Url,
    storage: HashMap<String, String>,
    commit: Commit<'_>,
    partitions: Vec<StructField>,
) -> Result<WriteMetrics> {
    let table = ConvertToDeltaBuilder::new()
        .with_location(location.to_string())
        .with_storage_options(storage)
        .with_partition_schema(partitions)
        .with_commit_properties(commit_properties(commit.sql, None))
        .await
        .map_err(on_table(commit.table))?;
    let mut m = WriteMetrics::new(commit.table, "CONVERT TO DELTA", table.version());
    if let Ok(s) = table.snapshot() {
        m.files_added = s.log_data().num_files() as u64;
    }
    Ok(m)
}
