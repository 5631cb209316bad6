//! `FSCK REPAIR TABLE t [DRY RUN]` over delta-rs's filesystem check: removes from the log the
//! data files that no longer exist in storage.

use super::{commit_properties, on_table, Commit};
use crate::error::Result;

/// What FSCK found (and removed, unless a dry run).
#[derive(Debug, Clone)]
pub struct FsckMetrics {
    pub dry_run: bool,
    pub files_removed: Vec<String>,
    pub version: u64,
}

/// Checks the files of `table` (opened at its latest version) against storage.
pub async fn fsck(
    table: deltalake::DeltaTable,
    commit: Commit<'_>,
    dry_run: bool,
) -> Result<FsckMetrics> {
    let read = table.version();
    let (table, metrics) = table
        .filesystem_check()
        .with_dry_run(dry_run)
        .with_commit_properties(commit_properties(commit.sql, read))
        .await
        .map_err(on_table(commit.table))?;
    Ok(FsckMetrics {
        dry_run,
        files_removed: metrics.files_removed,
        version: table.version().unwrap_or_default(),
    })
}
