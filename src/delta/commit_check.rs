//! lakeshell's own commit check, in front of every Delta log store.
//!
//! delta-rs 1.1 resolves a commit that lost the race for its version by checking it against
//! the commits that won, but its checker skips `remove` actions marked `dataChange = false`
//! in both of its removed-file checks. Two OPTIMIZEs of the same files then both commit, and
//! every row is in the table twice; a `DELETE FROM t` (no WHERE, so no read predicate) after an
//! OPTIMIZE removes the compacted-away files and leaves the new one alive. Spark's checker
//! does not filter removals this way.
//!
//! So every log store delta-rs builds is wrapped ([`install`]): before a commit is written at
//! version `v`, the commits between the version the writer read (`readVersion`, which
//! [`super::commit_properties`] records in every lakeshell commit) and `v` are read, and the
//! commit is refused when
//! - a winning commit removed a file this one removes, whatever its `dataChange`
//!   ([`Refusal::RemovedTwice`]);
//! - it is a RESTORE, which re-adds old files, and a VACUUM started since it read the table, or
//!   was still deleting when it did ([`Refusal::VacuumStarted`], [`Refusal::VacuumRunning`]);
//! - it is a VACUUM START and a RESTORE re-added files since the VACUUM planned
//!   ([`Refusal::Restored`]).
//!
//! A refusal reaches delta-rs as a log-store error, so nothing is written; the engine decides
//! whether to run the statement again (`explain_failure` in `delta/mod.rs`).
//!
//! The wrapper also recognises its own commit after a lost acknowledgement: when the PUT of
//! version `v` reports that `v` exists and the commit there carries this commit's id, the
//! commit is done, and it is not retried at `v + 1` as a second copy.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use deltalake::kernel::transaction::TransactionError;
use deltalake::logstore::{
    logstore_factories, CommitOrBytes, LogStore, LogStoreConfig, LogStoreFactory, ObjectStoreRef,
    StorageConfig,
};
use deltalake::{DeltaResult, ObjectStore};
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStoreExt;
use serde_json::Value;
use url::Url;
use uuid::Uuid;

/// How far back before its read version a RESTORE looks for a VACUUM that has not ended.
const VACUUM_LOOKBACK: u64 = 100;

/// The commit-info key that carries a commit's own id.
pub const COMMIT_ID: &str = "lakeshell.commitId";

/// What one commit does, as far as conflicts go.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CommitSummary {
    /// `commitInfo.operation` (`WRITE`, `OPTIMIZE`, `VACUUM START`, ...).
    pub operation: Option<String>,
    /// `commitInfo.readVersion`: the version the writer read.
    pub read_version: Option<u64>,
    /// lakeshell's id for the commit (`lakeshell.commitId` in commitInfo).
    pub commit_id: Option<String>,
    /// The engine that wrote it (`engine`, else `engineInfo`).
    pub writer: Option<String>,
    /// Paths of the files the commit removes, percent-decoded.
    pub removed: HashSet<String>,
    /// An add or remove with `dataChange = true`: the table's rows changed.
    pub changes_data: bool,
    /// A metaData or protocol action: the schema, properties or protocol changed.
    pub changes_metadata: bool,
}

impl CommitSummary {
    /// Reads the actions of one commit file (newline-delimited JSON).
    pub fn parse(bytes: &[u8]) -> Self {
        let mut s = CommitSummary::default();
        for line in bytes.split(|b| *b == b'\n') {
            let Ok(Value::Object(action)) = serde_json::from_slice::<Value>(line) else {
                continue;
            };
            if let Some(info) = action.get("commitInfo") {
                s.operation = info
                    .get("operation")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                s.read_version = info.get("readVersion").and_then(Value::as_u64);
                s.commit_id = info
                    .get(COMMIT_ID)
                    .and_then(Value::as_str)
                    .map(str::to_string);
                s.writer = ["engine", "engineInfo"]
                    .iter()
                    .find_map(|k| info.get(*k).and_then(Value::as_str))
                    .map(str::to_string);
            }
            if let Some(add) = action.get("add") {
                s.changes_data |= data_change(add);
            }
            if let Some(remove) = action.get("remove") {
                s.changes_data |= data_change(remove);
                if let Some(p) = remove.get("path").and_then(Value::as_str) {
                    s.removed.insert(decoded(p));
                }
            }
            if action.contains_key("metaData") || action.contains_key("protocol") {
                s.changes_metadata = true;
            }
        }
        s
    }

    /// True for a commit that changed neither rows nor metadata (OPTIMIZE, VACUUM START/END,
    /// an empty commit): whatever read the table before it reads the same rows after it.
    pub fn data_free(&self) -> bool {
        !self.changes_data && !self.changes_metadata
    }

    fn is(&self, operation: &str) -> bool {
        self.operation.as_deref() == Some(operation)
    }
}

/// `dataChange` of an add or remove; a writer that omits it is taken to change data.
fn data_change(action: &Value) -> bool {
    action
        .get("dataChange")
        .and_then(Value::as_bool)
        .unwrap_or(true)
}

fn decoded(path: &str) -> String {
    percent_encoding::percent_decode_str(path)
        .decode_utf8_lossy()
        .into_owned()
}

/// Why lakeshell refused a commit. The version is the competing commit's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("version {version} already removed {file}, which this commit removes too")]
    RemovedTwice { version: u64, file: String },
    #[error("version {version} is a VACUUM that may have deleted files this RESTORE re-adds")]
    VacuumStarted { version: u64 },
    #[error("the VACUUM started at version {version} has not finished, and may be deleting files this RESTORE re-adds")]
    VacuumRunning { version: u64 },
    #[error("version {version} is a RESTORE that re-added files this VACUUM planned to delete")]
    Restored { version: u64 },
}

impl Refusal {
    /// The competing commit's version.
    pub fn version(&self) -> u64 {
        match self {
            Refusal::RemovedTwice { version, .. }
            | Refusal::VacuumStarted { version }
            | Refusal::VacuumRunning { version }
            | Refusal::Restored { version } => *version,
        }
    }
}

/// lakeshell's rules for `txn` against the commits that won since it read the table
/// (`winners`, oldest first), and the VACUUM still open when it read, if any.
pub fn refusal(
    txn: &CommitSummary,
    winners: &[(u64, CommitSummary)],
    open_vacuum: Option<u64>,
) -> Option<Refusal> {
    for (version, w) in winners {
        let version = *version;
        if let Some(file) = txn.removed.intersection(&w.removed).min() {
            return Some(Refusal::RemovedTwice {
                version,
                file: file.clone(),
            });
        }
        if txn.is("RESTORE") && w.is("VACUUM START") {
            return Some(Refusal::VacuumStarted { version });
        }
        if txn.is("VACUUM START") && w.is("RESTORE") {
            return Some(Refusal::Restored { version });
        }
    }
    match open_vacuum {
        Some(version) if txn.is("RESTORE") => Some(Refusal::VacuumRunning { version }),
        _ => None,
    }
}

/// The commits `from..to` (to excluded) of a log store, oldest first; a missing one is
/// skipped.
pub async fn summaries(
    log_store: &dyn LogStore,
    from: u64,
    to: u64,
) -> DeltaResult<Vec<(u64, CommitSummary)>> {
    futures::stream::iter(from..to)
        .map(|v| async move {
            let bytes = log_store.read_commit_entry(v).await?;
            Ok::<_, deltalake::DeltaTableError>(bytes.map(|b| (v, CommitSummary::parse(&b))))
        })
        .buffered(16)
        .try_filter_map(|x| async move { Ok(x) })
        .try_collect()
        .await
}

/// The version of a VACUUM START at or before `read` that no VACUUM END follows (up to
/// `read`), looking back [`VACUUM_LOOKBACK`] commits.
async fn open_vacuum(log_store: &dyn LogStore, read: u64) -> DeltaResult<Option<u64>> {
    let from = read.saturating_sub(VACUUM_LOOKBACK);
    let commits = summaries(log_store, from, read + 1).await?;
    for (v, c) in commits.iter().rev() {
        if c.is("VACUUM END") {
            return Ok(None);
        }
        if c.is("VACUUM START") {
            return Ok(Some(*v));
        }
    }
    Ok(None)
}

/// Wraps every log store factory delta-rs has registered (local files, memory, S3, Azure,
/// GCS) so that each log store it builds checks commits as described above, and writes local
/// tables durably. Runs once.
pub fn install() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let registry = logstore_factories();
        let current: Vec<(Url, Arc<dyn LogStoreFactory>)> = registry
            .iter()
            .map(|e| (e.key().clone(), Arc::clone(e.value())))
            .collect();
        for (scheme, inner) in current {
            registry.insert(scheme, Arc::new(CheckedFactory { inner }));
        }
    });
}

struct CheckedFactory {
    inner: Arc<dyn LogStoreFactory>,
}

impl LogStoreFactory for CheckedFactory {
    fn with_options(
        &self,
        prefixed_store: ObjectStoreRef,
        root_store: ObjectStoreRef,
        location: &Url,
        options: &StorageConfig,
    ) -> DeltaResult<Arc<dyn LogStore>> {
        // Local tables are written durably (see [`super::durable`]).
        let (prefixed_store, root_store) = match location.to_file_path() {
            Ok(dir) if location.scheme() == "file" => (
                Arc::new(super::durable::Durable::new(prefixed_store, dir)) as ObjectStoreRef,
                Arc::new(super::durable::Durable::new(root_store, "/".into())) as ObjectStoreRef,
            ),
            _ => (prefixed_store, root_store),
        };
        // Test-only crash points, when LAKESHELL_TEST_CRASH_AT is set.
        let (prefixed_store, root_store) = (
            super::crash_points::wrap(prefixed_store),
            super::crash_points::wrap(root_store),
        );
        let inner = self
            .inner
            .with_options(prefixed_store, root_store, location, options)?;
        Ok(Arc::new(CheckedLogStore { inner }))
    }
}

/// The object store's error under delta-rs's wording of a failed commit write.
fn store_error(e: &TransactionError) -> String {
    match e {
        TransactionError::ObjectStore { source } => source.to_string(),
        other => other.to_string(),
    }
}

/// A log store that checks each commit before the one it wraps writes it.
struct CheckedLogStore {
    inner: Arc<dyn LogStore>,
}

impl CheckedLogStore {
    async fn commit_bytes(
        &self,
        commit: &CommitOrBytes,
        operation_id: Uuid,
    ) -> Result<Bytes, TransactionError> {
        match commit {
            CommitOrBytes::LogBytes(b) => Ok(b.clone()),
            CommitOrBytes::TmpCommit(path) => Ok(self
                .inner
                .object_store(Some(operation_id))
                .get(path)
                .await?
                .bytes()
                .await?),
        }
    }

    async fn check(&self, version: u64, txn: &CommitSummary) -> Result<(), TransactionError> {
        let Some(read) = txn.read_version else {
            return Ok(());
        };
        let restore = txn.is("RESTORE");
        if version <= read + 1 && !restore {
            return Ok(());
        }
        let failed = |e: deltalake::DeltaTableError| TransactionError::LogStoreError {
            msg: format!("cannot read the commits since version {read}: {e}"),
            source: Box::new(e),
        };
        let winners = summaries(self.inner.as_ref(), read + 1, version)
            .await
            .map_err(failed)?;
        let open = if restore {
            open_vacuum(self.inner.as_ref(), read)
                .await
                .map_err(failed)?
        } else {
            None
        };
        match refusal(txn, &winners, open) {
            None => Ok(()),
            Some(r) => Err(TransactionError::LogStoreError {
                msg: r.to_string(),
                source: Box::new(r),
            }),
        }
    }
}

#[async_trait::async_trait]
impl LogStore for CheckedLogStore {
    fn name(&self) -> String {
        // delta-rs passes commit bytes (rather than a temporary file) to the stores it knows by
        // name: keep the wrapped store's.
        self.inner.name()
    }

    async fn refresh(&self) -> DeltaResult<()> {
        self.inner.refresh().await
    }

    async fn read_commit_entry(&self, version: u64) -> DeltaResult<Option<Bytes>> {
        self.inner.read_commit_entry(version).await
    }

    async fn write_commit_entry(
        &self,
        version: u64,
        commit_or_bytes: CommitOrBytes,
        operation_id: Uuid,
    ) -> Result<(), TransactionError> {
        let txn = CommitSummary::parse(&self.commit_bytes(&commit_or_bytes, operation_id).await?);
        self.check(version, &txn).await?;
        match self
            .inner
            .write_commit_entry(version, commit_or_bytes, operation_id)
            .await
        {
            Err(TransactionError::VersionAlreadyExists(v)) if txn.commit_id.is_some() => {
                // A PUT retried after its acknowledgement was lost finds its own commit.
                let ours = match self.inner.read_commit_entry(v).await {
                    Ok(Some(existing)) => {
                        let existing = CommitSummary::parse(&existing);
                        existing.commit_id == txn.commit_id && existing.operation == txn.operation
                    }
                    _ => false,
                };
                if ours {
                    Ok(())
                } else {
                    Err(TransactionError::VersionAlreadyExists(v))
                }
            }
            Err(e @ TransactionError::ObjectStore { .. }) => {
                // The PUT failed as far as the client knows (retries spent, a connection
                // closed before the answer), but it may have landed: the log says which.
                match self.inner.read_commit_entry(version).await {
                    Ok(Some(existing)) => {
                        let existing = CommitSummary::parse(&existing);
                        if txn.commit_id.is_some() && existing.commit_id == txn.commit_id {
                            Ok(())
                        } else {
                            Err(TransactionError::VersionAlreadyExists(version))
                        }
                    }
                    Ok(None) => Err(TransactionError::LogStoreError {
                        msg: format!(
                            "nothing was committed (writing version {version} failed: {})",
                            store_error(&e)
                        ),
                        source: Box::new(e),
                    }),
                    Err(read) => Err(TransactionError::LogStoreError {
                        msg: format!(
                            "the outcome of the commit of version {version} is unknown (writing it \
                             failed: {}; reading it back failed: {read}); DESCRIBE HISTORY shows \
                             whether it landed",
                            store_error(&e)
                        ),
                        source: Box::new(e),
                    }),
                }
            }
            other => other,
        }
    }

    async fn abort_commit_entry(
        &self,
        version: u64,
        commit_or_bytes: CommitOrBytes,
        operation_id: Uuid,
    ) -> Result<(), TransactionError> {
        self.inner
            .abort_commit_entry(version, commit_or_bytes, operation_id)
            .await
    }

    async fn get_latest_version(&self, start_version: u64) -> DeltaResult<u64> {
        self.inner.get_latest_version(start_version).await
    }

    fn object_store(&self, operation_id: Option<Uuid>) -> Arc<dyn ObjectStore> {
        self.inner.object_store(operation_id)
    }

    fn root_object_store(&self, operation_id: Option<Uuid>) -> Arc<dyn ObjectStore> {
        self.inner.root_object_store(operation_id)
    }

    fn to_uri(&self, location: &deltalake::Path) -> String {
        self.inner.to_uri(location)
    }

    fn root_url(&self) -> &Url {
        self.inner.root_url()
    }

    fn log_path(&self) -> &deltalake::Path {
        self.inner.log_path()
    }

    fn transaction_url(&self, operation_id: Option<Uuid>) -> DeltaResult<Url> {
        self.inner.transaction_url(operation_id)
    }

    async fn is_delta_table_location(&self) -> DeltaResult<bool> {
        self.inner.is_delta_table_location().await
    }

    fn config(&self) -> &LogStoreConfig {
        self.inner.config()
    }

    fn object_store_url(&self) -> datafusion::datasource::object_store::ObjectStoreUrl {
        self.inner.object_store_url()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(operation: &str, read: u64, actions: &[&str]) -> CommitSummary {
        let mut text = format!(
            "{{\"commitInfo\":{{\"operation\":\"{operation}\",\"readVersion\":{read},\"{COMMIT_ID}\":\"c1\"}}}}\n"
        );
        for a in actions {
            text.push_str(a);
            text.push('\n');
        }
        CommitSummary::parse(text.as_bytes())
    }

    const REMOVE_A_COMPACTION: &str =
        r#"{"remove":{"path":"part%3D1/a.parquet","dataChange":false}}"#;
    const REMOVE_A_DELETE: &str = r#"{"remove":{"path":"part%3D1/a.parquet","dataChange":true}}"#;
    const REMOVE_B: &str = r#"{"remove":{"path":"b.parquet","dataChange":false}}"#;
    const ADD_C_COMPACTION: &str = r#"{"add":{"path":"c.parquet","dataChange":false}}"#;

    #[test]
    fn summaries_read_what_conflicts_need() {
        let c = commit("OPTIMIZE", 4, &[REMOVE_A_COMPACTION, ADD_C_COMPACTION]);
        assert_eq!(c.operation.as_deref(), Some("OPTIMIZE"));
        assert_eq!(c.read_version, Some(4));
        assert_eq!(c.commit_id.as_deref(), Some("c1"));
        assert!(c.removed.contains("part=1/a.parquet"));
        assert!(c.data_free());
        let d = commit("DELETE", 4, &[REMOVE_A_DELETE]);
        assert!(!d.data_free());
        let m = commit("SET TBLPROPERTIES", 4, &[r#"{"metaData":{}}"#]);
        assert!(!m.data_free());
    }

    // The bug of delta-rs 1.1.3's checker (its own test expects both to commit).
    #[test]
    fn two_compactions_of_one_file_do_not_both_commit() {
        let first = commit("OPTIMIZE", 4, &[REMOVE_A_COMPACTION, ADD_C_COMPACTION]);
        let second = commit("OPTIMIZE", 4, &[REMOVE_A_COMPACTION]);
        assert_eq!(
            refusal(&second, &[(5, first)], None),
            Some(Refusal::RemovedTwice {
                version: 5,
                file: "part=1/a.parquet".into()
            })
        );
    }

    #[test]
    fn a_delete_after_a_compaction_of_its_files_does_not_commit() {
        let optimize = commit("OPTIMIZE", 4, &[REMOVE_A_COMPACTION, ADD_C_COMPACTION]);
        let delete = commit("DELETE", 4, &[REMOVE_A_DELETE]);
        assert!(matches!(
            refusal(&delete, &[(5, optimize)], None),
            Some(Refusal::RemovedTwice { version: 5, .. })
        ));
    }

    #[test]
    fn compactions_of_other_files_both_commit() {
        let first = commit("OPTIMIZE", 4, &[REMOVE_A_COMPACTION]);
        let second = commit("OPTIMIZE", 4, &[REMOVE_B]);
        assert_eq!(refusal(&second, &[(5, first)], None), None);
        let append = commit(
            "WRITE",
            4,
            &[r#"{"add":{"path":"n.parquet","dataChange":true}}"#],
        );
        assert_eq!(refusal(&second, &[(5, append)], None), None);
    }

    #[test]
    fn restore_and_vacuum_exclude_each_other() {
        let restore = commit("RESTORE", 4, &[r#"{"add":{"path":"old.parquet"}}"#]);
        let start = commit("VACUUM START", 4, &[]);
        assert_eq!(
            refusal(&restore, &[(5, start.clone())], None),
            Some(Refusal::VacuumStarted { version: 5 })
        );
        assert_eq!(
            refusal(&start, &[(5, restore.clone())], None),
            Some(Refusal::Restored { version: 5 })
        );
        assert_eq!(
            refusal(&restore, &[], Some(3)),
            Some(Refusal::VacuumRunning { version: 3 })
        );
        let delete = commit("DELETE", 4, &[REMOVE_A_DELETE]);
        assert_eq!(refusal(&delete, &[], Some(3)), None);
    }
}
