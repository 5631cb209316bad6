//! A table's commit history, read from `_delta_log` (`DESCRIBE HISTORY`), and the version that
//! was current at a point in time (`TIMESTAMP AS OF`).
//!
//! delta-rs's `history()` drops commits without a `commitInfo` and does not say which version
//! each entry is, so the log is listed here: one entry per commit file, newest first.

use deltalake::DeltaTable;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use serde_json::Value;

use crate::error::{LakeError, Result};

/// Which version of a table a read wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AsOf {
    /// A table version.
    Version(u64),
    /// The latest version committed at or before this time (milliseconds since the epoch, UTC).
    Timestamp(i64),
}

impl std::fmt::Display for AsOf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use chrono::TimeZone;
        match self {
            AsOf::Version(v) => write!(f, "version {v}"),
            AsOf::Timestamp(ms) => match chrono::Utc.timestamp_millis_opt(*ms).single() {
                Some(t) => write!(f, "timestamp {}", t.format("%Y-%m-%d %H:%M:%S%.3f UTC")),
                None => write!(f, "timestamp {ms}"),
            },
        }
    }
}

/// The version `as_of` names in `table` (opened at its latest version).
pub async fn resolve(table: &DeltaTable, as_of: AsOf) -> Result<u64> {
    match as_of {
        AsOf::Version(v) => {
            check_version(table, v)?;
            Ok(v)
        }
        AsOf::Timestamp(ms) => version_at(table, ms).await,
    }
}

/// One commit of a table.
#[derive(Debug, Clone)]
pub struct HistoryEntry {
    pub version: u64,
    /// Commit time in milliseconds since the epoch: the in-commit timestamp, else the
    /// commitInfo timestamp, else the commit file's modification time.
    pub timestamp: i64,
    /// The commit's `commitInfo` action (`null` when the writer wrote none).
    pub info: Value,
}

impl HistoryEntry {
    /// A string field of commitInfo.
    pub fn text(&self, key: &str) -> Option<String> {
        match self.info.get(key)? {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    }
}

/// The version of a commit file's path (`_delta_log/00000000000000000003.json`), or None for
/// any other file of the log.
pub(crate) fn commit_version(path: &Path) -> Option<u64> {
    let name = path.filename()?;
    let stem = name.strip_suffix(".json")?;
    (stem.len() == 20 && stem.bytes().all(|b| b.is_ascii_digit()))
        .then(|| stem.parse().ok())
        .flatten()
}

/// Commits of `table` up to its loaded version, newest first, at most `limit`.
pub async fn read_history(table: &DeltaTable, limit: Option<usize>) -> Result<Vec<HistoryEntry>> {
    let latest = table.version().unwrap_or_default();
    let store = table.log_store().object_store(None);
    let log = Path::from("_delta_log");
    let mut commits: Vec<(u64, object_store::ObjectMeta)> = store
        .list(Some(&log))
        .try_filter_map(|m| async move { Ok(commit_version(&m.location).map(|v| (v, m))) })
        .try_collect()
        .await?;
    commits.retain(|(v, _)| *v <= latest);
    commits.sort_by_key(|c| std::cmp::Reverse(c.0));
    if let Some(n) = limit {
        commits.truncate(n);
    }
    futures::stream::iter(commits)
        .map(|(version, meta)| {
            let store = store.clone();
            async move {
                let bytes = store.get(&meta.location).await?.bytes().await?;
                let info = commit_info(&bytes);
                let timestamp = info
                    .get("inCommitTimestamp")
                    .and_then(Value::as_i64)
                    .or_else(|| info.get("timestamp").and_then(Value::as_i64))
                    .unwrap_or_else(|| meta.last_modified.timestamp_millis());
                Ok::<_, LakeError>(HistoryEntry {
                    version,
                    timestamp,
                    info,
                })
            }
        })
        .buffered(16)
        .try_collect()
        .await
}

fn commit_info(bytes: &[u8]) -> Value {
    for line in bytes.split(|b| *b == b'\n') {
        if let Ok(Value::Object(mut action)) = serde_json::from_slice::<Value>(line) {
            if let Some(info) = action.remove("commitInfo") {
                return info;
            }
        }
    }
    Value::Null
}

/// The latest version committed at or before `ms`. A time before the first available commit is
/// an error; a time after the latest commit reads the latest version.
pub async fn version_at(table: &DeltaTable, ms: i64) -> Result<u64> {
    let history = read_history(table, None).await?;
    if let Some(found) = history.iter().find(|e| e.timestamp <= ms) {
        return Ok(found.version);
    }
    match history.last() {
        Some(first) => Err(LakeError::Version(format!(
            "{} is before the earliest available version ({} at {}); DESCRIBE HISTORY lists the versions",
            AsOf::Timestamp(ms),
            first.version,
            AsOf::Timestamp(first.timestamp)
                .to_string()
                .trim_start_matches("timestamp ")
        ))),
        None => Err(LakeError::Version("the table has no commits".into())),
    }
}

/// Checks that `version` is within the table's history.
pub fn check_version(table: &DeltaTable, version: u64) -> Result<()> {
    let latest = table.version().unwrap_or_default();
    if version > latest {
        return Err(LakeError::Version(format!(
            "version {version} does not exist: the latest version is {latest}; DESCRIBE HISTORY lists the versions"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_files_only() {
        assert_eq!(
            commit_version(&Path::from("_delta_log/00000000000000000012.json")),
            Some(12)
        );
        assert_eq!(
            commit_version(&Path::from(
                "_delta_log/00000000000000000010.checkpoint.parquet"
            )),
            None
        );
        assert_eq!(
            commit_version(&Path::from("_delta_log/_last_checkpoint")),
            None
        );
    }

    #[test]
    fn finds_commit_info_line() {
        let log =
            b"{\"protocol\":{}}\n{\"commitInfo\":{\"operation\":\"WRITE\",\"timestamp\":5}}\n";
        assert_eq!(commit_info(log)["operation"], "WRITE");
        assert_eq!(commit_info(b"{\"add\":{}}"), Value::Null);
    }
}
