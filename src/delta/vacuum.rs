//! `VACUUM t [RETAIN n HOURS] [DRY RUN]`: deletes the files that no version within the
//! retention period needs. The retention guard is lakeshell's: a retention under the table's
//! `delta.deletedFileRetentionDuration` (7 days by default) is refused unless the session sets
//! `lakeshell.vacuum.retention_check = false`, as Databricks'
//! `spark.databricks.delta.retentionDurationCheck.enabled` does.
//!
//! VACUUM deletes removed files past the retention, and files that no version references (a
//! killed write's) once they are past it and at least [`IN_FLIGHT_HOURS`] old.
//!
//! The plan is made once ([`plan`]: delta-rs's dry run, narrowed to the files that still
//! exist), and the files it lists are exactly the files deleted ([`execute`]): a VACUUM START
//! commit first, then the deletes, then VACUUM END, which records a failure too. The START
//! commit is checked against RESTOREs that re-added planned files since the plan was made
//! ([`super::commit_check`]).

use std::sync::Arc;

use deltalake::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake::operations::vacuum::VacuumMode;
use deltalake::protocol::DeltaOperation;
use deltalake::table::config::TablePropertiesExt;
use deltalake::DeltaTable;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::ObjectStoreExt;
use serde_json::json;

use super::{commit_metadata, on_table, Commit, Retry};
use crate::error::{LakeError, Result};

/// How old a file that no version references must be before VACUUM deletes it, whatever the
/// retention: younger, it may belong to a write still in flight.
pub const IN_FLIGHT_HOURS: f64 = 1.0;

/// What VACUUM deleted (or would delete, in a dry run).
#[derive(Debug, Clone)]
pub struct VacuumMetrics {
    pub dry_run: bool,
    /// Paths relative to the table root.
    pub files: Vec<String>,
    pub retention_hours: f64,
}

/// The files a VACUUM deletes, with their sizes, on the version it read.
pub struct VacuumPlan {
    files: Vec<(Path, u64)>,
    /// On local disk: half-written files a killed write left under object_store's staging
    /// names (`part-….parquet#3`), which the store's listings never show; relative to the
    /// table's folder.
    staging: Vec<(std::path::PathBuf, u64)>,
    retention_hours: f64,
    minimum_hours: f64,
    check_retention: bool,
}

impl VacuumPlan {
    /// The metrics of this plan, as a dry run reports them.
    pub fn metrics(&self, dry_run: bool) -> VacuumMetrics {
        VacuumMetrics {
            dry_run,
            files: self
                .files
                .iter()
                .map(|(p, _)| p.to_string())
                .chain(self.staging.iter().map(|(p, _)| p.display().to_string()))
                .collect(),
            retention_hours: self.retention_hours,
        }
    }
}

/// Plans a VACUUM of `table` (already opened at the version it reads).
pub async fn plan(
    name: &str,
    table: &DeltaTable,
    retain_hours: Option<f64>,
    check_retention: bool,
) -> Result<VacuumPlan> {
    let minimum = table
        .snapshot()
        .map(|s| s.table_config().deleted_file_retention_duration())
        .map_err(on_table(name))?;
    let minimum_hours = minimum.as_secs_f64() / 3600.0;
    let hours = retain_hours.unwrap_or(minimum_hours);
    if hours < 0.0 {
        return Err(LakeError::BadStatement(
            "RETAIN needs 0 hours or more".into(),
        ));
    }
    if check_retention && hours < minimum_hours {
        return Err(LakeError::BadStatement(format!(
            "VACUUM {}: RETAIN {hours} HOURS is under the table's minimum of {minimum_hours} hours \
             (delta.deletedFileRetentionDuration); files still needed by time travel or by \
             running readers could be deleted. To do it anyway, run SET \
             lakeshell.vacuum.retention_check = false first",
            name
        )));
    }
    let ahead = test_hours_ahead();
    let dry_run = |hours: f64, mode: VacuumMode| {
        let builder = table
            .clone()
            .vacuum()
            .with_retention_period(chrono::Duration::milliseconds((hours * 3_600_000.0) as i64))
            .with_enforce_retention_duration(false)
            .with_mode(mode)
            .with_dry_run(true);
        match ahead {
            Some(h) => builder.with_clock(Arc::new(Ahead(h))),
            None => builder,
        }
    };
    // Removed files past the retention, and files no version ever referenced (left by a write
    // that was killed or failed) once they are past it and at least IN_FLIGHT_HOURS old, so a
    // write still running never loses the files it has not committed yet.
    // A full dry run lists the removed files past its retention too, so a second, lite one is
    // needed only when the retention is under the window.
    let (_, unreferenced) = dry_run(hours.max(IN_FLIGHT_HOURS), VacuumMode::Full)
        .await
        .map_err(on_table(name))?;
    let mut candidates = unreferenced.files_deleted;
    if hours < IN_FLIGHT_HOURS {
        let (_, removed) = dry_run(hours, VacuumMode::Lite)
            .await
            .map_err(on_table(name))?;
        candidates.extend(removed.files_deleted);
        candidates.sort();
        candidates.dedup();
    }
    // delta-rs lists every tombstone past retention, including files an earlier VACUUM already
    // deleted: keep those that exist, with their sizes.
    let store = table.log_store().object_store(None);
    let files = futures::stream::iter(candidates)
        .map(|f| {
            let store = store.clone();
            async move {
                let path = Path::parse(&f).unwrap_or_else(|_| Path::from(f.as_str()));
                match store.head(&path).await {
                    Ok(meta) => Ok(Some((path, meta.size))),
                    Err(object_store::Error::NotFound { .. }) => Ok(None),
                    Err(e) => Err(e),
                }
            }
        })
        .buffered(16)
        .try_filter_map(|f| async move { Ok(f) })
        .try_collect()
        .await?;
    let staging = match table.log_store().root_url().to_file_path() {
        Ok(dir) => {
            let ahead = std::time::Duration::from_secs_f64(ahead.unwrap_or(0.0).max(0.0) * 3600.0);
            let age = std::time::Duration::from_secs_f64(hours.max(IN_FLIGHT_HOURS) * 3600.0);
            let cutoff = std::time::SystemTime::now() + ahead - age;
            tokio::task::spawn_blocking(move || stale_staging_files(&dir, cutoff))
                .await
                .unwrap_or_default()
        }
        Err(()) => vec![],
    };
    Ok(VacuumPlan {
        files,
        staging,
        retention_hours: hours,
        minimum_hours,
        check_retention,
    })
}

/// Test-only: `LAKESHELL_TEST_VACUUM_HOURS_AHEAD=n` plans VACUUM as if it ran `n` hours from
/// now, so tests can check on object stores (whose files cannot be aged) that VACUUM removes
/// what killed writes left.
fn test_hours_ahead() -> Option<f64> {
    std::env::var("LAKESHELL_TEST_VACUUM_HOURS_AHEAD")
        .ok()?
        .parse()
        .ok()
}

/// A clock that many hours ahead of the system's.
#[derive(Debug)]
struct Ahead(f64);

impl deltalake::operations::vacuum::Clock for Ahead {
    fn current_timestamp_millis(&self) -> i64 {
        chrono::Utc::now().timestamp_millis() + (self.0 * 3_600_000.0) as i64
    }
}

/// Files under `dir` named as a file still being written and last modified before `cutoff`,
/// relative to `dir`: object_store's local store writes `name#N` before renaming it to `name`
/// (data files, and checkpoints in `_delta_log`), and lakeshell's durable store writes a commit
/// to `_delta_log/.N.json.<uuid>.staging` before linking it to `N.json`. Only the top of
/// `_delta_log` is looked at there, and nothing else in it.
fn stale_staging_files(
    dir: &std::path::Path,
    cutoff: std::time::SystemTime,
) -> Vec<(std::path::PathBuf, u64)> {
    let log = dir.join("_delta_log");
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        let in_log = d == log;
        for e in entries.flatten() {
            let path = e.path();
            // Not following links: a linked folder is not the table's to clean.
            let Ok(kind) = e.file_type() else { continue };
            let Ok(meta) = e.metadata() else { continue };
            if kind.is_dir() {
                if !in_log {
                    pending.push(path);
                }
                continue;
            }
            let name = e.file_name().to_string_lossy().into_owned();
            let half_written = name
                .rsplit_once('#')
                .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            let commit_staging = in_log && name.starts_with('.') && name.ends_with(".staging");
            let staging = kind.is_file() && (half_written || commit_staging);
            let old = meta.modified().is_ok_and(|m| m < cutoff);
            if staging && old {
                if let Ok(rel) = path.strip_prefix(dir) {
                    found.push((rel.to_path_buf(), meta.len()));
                }
            }
        }
    }
    found.sort();
    found
}

/// Times VACUUM END is committed again on the newest version after losing a race.
const END_ATTEMPTS: usize = 5;

/// Deletes the planned files between a VACUUM START and a VACUUM END commit.
pub async fn execute(
    table: &DeltaTable,
    commit: Commit<'_>,
    plan: VacuumPlan,
) -> Result<VacuumMetrics> {
    let metrics = plan.metrics(false);
    if plan.files.is_empty() && plan.staging.is_empty() {
        return Ok(metrics);
    }
    if let Some(pause) = super::test_pause_duration() {
        tokio::time::sleep(pause).await;
    }
    let read_version = table.version();
    let log_store = table.log_store();
    let snapshot = table.snapshot().map_err(on_table(commit.table))?;
    let mut start_props = commit_metadata(commit.sql, read_version);
    start_props.push((
        "operationMetrics".into(),
        json!({
            "numFilesToDelete": plan.files.len(),
            "sizeOfDataToDelete": plan.files.iter().map(|(_, s)| *s).chain(plan.staging.iter().map(|(_, s)| *s)).sum::<u64>(),
        }),
    ));
    let start_props = CommitProperties::default().with_metadata(start_props);
    let start = CommitBuilder::from(start_props)
        .build(
            Some(snapshot),
            log_store.clone(),
            DeltaOperation::VacuumStart {
                retention_check_enabled: plan.check_retention,
                specified_retention_millis: Some((plan.retention_hours * 3_600_000.0) as i64),
                default_retention_millis: (plan.minimum_hours * 3_600_000.0) as i64,
            },
        )
        .await;
    let start = match start {
        Ok(s) => s,
        Err(e) => {
            // VACUUM deletes nothing before its START commit: it may always plan again.
            return Err(super::explain_failure(
                commit.table,
                &log_store,
                read_version,
                Retry::Always,
                e,
            )
            .await);
        }
    };
    if let Ok(root) = log_store.root_url().to_file_path() {
        for (rel, _) in &plan.staging {
            let file = root.join(rel);
            match std::fs::remove_file(&file) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(LakeError::Io {
                        action: "delete",
                        path: Some(file),
                        source: e,
                    }
                    .on_table(commit.table))
                }
            }
        }
    }
    let store = log_store.object_store(None);
    let deleted: std::result::Result<Vec<Path>, object_store::Error> = store
        .delete_stream(futures::stream::iter(plan.files.into_iter().map(|(p, _)| Ok(p))).boxed())
        .map(|r| match r {
            Err(object_store::Error::NotFound { path, .. }) => Ok(Path::from(path)),
            other => other,
        })
        .try_collect()
        .await;
    let (status, count) = match &deleted {
        Ok(d) => ("COMPLETED", d.len() + plan.staging.len()),
        Err(_) => ("FAILED", 0),
    };
    let mut end_props = commit_metadata(commit.sql, read_version);
    end_props.push((
        "operationMetrics".into(),
        json!({ "numDeletedFiles": count, "numVacuumedDirectories": 0 }),
    ));
    // VACUUM END changes neither rows nor metadata, but delta-rs's checker refuses it after
    // a concurrent DELETE or MERGE ("deleted data this operation read"): commit it again on
    // the newest version, a few times, rather than fail a VACUUM whose files are gone.
    let mut on = start.snapshot().clone();
    let mut attempt = 0;
    loop {
        let end = CommitBuilder::from(CommitProperties::default().with_metadata(end_props.clone()))
            .build(
                Some(&on),
                log_store.clone(),
                DeltaOperation::VacuumEnd {
                    status: status.into(),
                },
            )
            .await;
        match end {
            Ok(_) => break,
            Err(e) if attempt < END_ATTEMPTS => {
                attempt += 1;
                let mut latest = table.clone();
                if latest.update_state().await.is_err() {
                    return Err(LakeError::from(e).on_table(commit.table));
                }
                on = latest.snapshot().map_err(on_table(commit.table))?.clone();
            }
            Err(e) => {
                return Err(super::explain_failure(
                    commit.table,
                    &log_store,
                    read_version,
                    Retry::Always,
                    e,
                )
                .await)
            }
        }
    }
    deleted.map_err(|e| LakeError::from(e).on_table(commit.table))?;
    Ok(metrics)
}
