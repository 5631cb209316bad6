//! `RESTORE TABLE t TO VERSION AS OF n | TIMESTAMP AS OF ts` over delta-rs's restore: a new
//! commit whose files are those of the old version.

use super::{commit_properties, on_table, open, WriteMetrics};
use crate::catalog::TableEntry;
use crate::delta::history;
use crate::error::Result;
use crate::sql::time_travel::AsOf;

/// Restores `entry` to `to`.
pub async fn restore(entry: &TableEntry, to: AsOf, sql: &str) -> Result<WriteMetrics> {
    let table = open(entry).await?;
    let version = match to {
        AsOf::Version(v) => {
            history::check_version(&table, v)?;
            v
        }
        AsOf::Timestamp(ms) => history::version_at(&table, ms).await?,
    };
    let (table, metrics) = table
        .restore()
        .with_version_to_restore(version)
        .with_commit_properties(commit_properties(Some(sql)))
        .await
        .map_err(on_table(entry))?;
    let mut m = WriteMetrics::new(
        entry,
        &format!("RESTORE to version {version}"),
        table.version(),
    );
    m.files_added = metrics.num_restored_file as u64;
    m.files_removed = metrics.num_removed_file as u64;
    Ok(m)
}
