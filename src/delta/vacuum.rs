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
    let (_, metrics) = table
        .vacuum()
        .with_retention_period(chrono::Duration::milliseconds((hours * 3_600_000.0) as i64))
        .with_enforce_retention_duration(false)
        .with_dry_run(dry_run)
        .with_commit_properties(commit_properties(Some(sql)))
        .await
        .map_err(on_table(entry))?;
    Ok(VacuumMetrics {
        dry_run,
        files: metrics.files_deleted,
        retention_hours: hours,
    })
}
