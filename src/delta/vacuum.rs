//! `VACUUM t [RETAIN n HOURS] [DRY RUN]` over delta-rs's vacuum. The retention guard is
//! lakeshell's: a retention under the table's `delta.deletedFileRetentionDuration` (7 days by
//! default) is refused unless the session sets `lakeshell.vacuum.retention_check = false`, as
//! Databricks' `spark.databricks.delta.retentionDurationCheck.enabled` does.

use deltalake::table::config::TablePropertiesExt;

use super::{commit_properties, on_table, open};
use crate::catalog::TableEntry;
use crate::error::{LakeError, Result};

/// What VACUUM deleted (or would delete, in a dry run).
#[derive(Debug, Clone)]
pub struct VacuumMetrics {
    pub dry_run: bool,
    pub files: Vec<String>,
    pub retention_hours: f64,
}

/// Vacuums `entry`.
pub async fn vacuum(
    entry: &TableEntry,
    retain_hours: Option<f64>,
    dry_run: bool,
    check_retention: bool,
    sql: &str,
) -> Result<VacuumMetrics> {
    let table = open(entry).await?;
    let minimum = table
        .snapshot()
        .map(|s| s.table_config().deleted_file_retention_duration())
        .map_err(on_table(entry))?;
    let minimum_hours = minimum.as_secs_f64() / 3600.0;
    let hours = retain_hours.unwrap_or(minimum_hours);
    if hours < 0.0 {
        return Err(LakeError::Invalid("RETAIN needs 0 hours or more".into()));
    }
    if check_retention && hours < minimum_hours {
        return Err(LakeError::Invalid(format!(
            "VACUUM {}: RETAIN {hours} HOURS is under the table's minimum of {minimum_hours} hours \
             (delta.deletedFileRetentionDuration); files still needed by time travel or by \
             running readers could be deleted. To do it anyway, run SET \
             lakeshell.vacuum.retention_check = false first",
            entry.name
        )));
    }
    let retention = chrono::Duration::milliseconds((hours * 3_600_000.0) as i64);
    // delta-rs lists every tombstone past retention, including files an earlier VACUUM already
    // deleted; a user wants to see what is (or would be) deleted now.
    let (table, planned) = table
        .vacuum()
        .with_retention_period(retention)
        .with_enforce_retention_duration(false)
        .with_dry_run(true)
        .await
        .map_err(on_table(entry))?;
    let files = existing(&table, entry, planned.files_deleted).await;
    if !dry_run && !files.is_empty() {
        table
            .vacuum()
            .with_retention_period(retention)
            .with_enforce_retention_duration(false)
            .with_commit_properties(commit_properties(Some(sql)))
            .await
            .map_err(on_table(entry))?;
    }
    Ok(VacuumMetrics {
        dry_run,
        files,
        retention_hours: hours,
    })
}

/// The files of `candidates` that exist, as paths relative to the table root.
async fn existing(
    table: &deltalake::DeltaTable,
    entry: &TableEntry,
    candidates: Vec<String>,
) -> Vec<String> {
    use futures::StreamExt;
    use object_store::ObjectStoreExt;
    let store = table.log_store().object_store(None);
    let root = entry.url.as_str().trim_end_matches('/').to_string();
    let root_path = entry
        .url
        .to_file_path()
        .ok()
        .map(|p| p.display().to_string());
    let relative: Vec<String> = candidates
        .into_iter()
        .map(|f| {
            let f = f.strip_prefix(&root).map(str::to_string).unwrap_or(f);
            match &root_path {
                Some(r) => f.strip_prefix(r.as_str()).map(str::to_string).unwrap_or(f),
                None => f,
            }
            .trim_start_matches('/')
            .to_string()
        })
        .collect();
    futures::stream::iter(relative)
        .map(|f| {
            let store = store.clone();
            async move {
                let found = store
                    .head(&object_store::path::Path::from(f.as_str()))
                    .await
                    .is_ok();
                found.then_some(f)
            }
        })
        .buffered(16)
        .filter_map(|f| async move { f })
        .collect()
        .await
}
