//! Delta operations, one file each, over delta-rs builders. Nothing here prints; each operation
//! returns its metrics as data.
//!
//! - [`write`]: append, overwrite, replace-where and create-as-select from a DataFusion plan.
//! - [`delete`], [`update`], [`merge`]: row-level changes.
//! - [`history`]: the commit log; [`restore`]: going back to a version.
//! - [`optimize`], [`vacuum`], [`fsck`]: maintenance.
//! - [`constraints`], [`properties`], [`columns`]: ALTER TABLE.
//! - [`create`]: CREATE TABLE with columns; [`convert`]: CONVERT TO DELTA.

pub mod columns;
pub mod constraints;
pub mod convert;
pub mod create;
pub mod delete;
pub mod fsck;
pub mod history;
pub mod merge;
pub mod optimize;
pub mod properties;
pub mod restore;
pub mod source;
pub mod update;
pub mod vacuum;
pub mod write;

use deltalake::DeltaTable;

use crate::catalog::{open_delta, TableEntry};
use crate::error::{LakeError, Result};

/// Opens the latest version of a table for a change.
pub async fn open(entry: &TableEntry) -> Result<DeltaTable> {
    open_delta(&entry.url, &entry.options)
        .await
        .map_err(|e| e.on_table(entry.name.clone()))
}

/// Test-only: `LAKESHELL_TEST_PAUSE_BEFORE_WRITE_MS` makes every write wait after it has read
/// the table's version and before it writes, so tests can make two writers really overlap.
#[derive(Debug)]
struct PauseBeforeWrite(std::time::Duration);

#[async_trait::async_trait]
impl deltalake::operations::CustomExecuteHandler for PauseBeforeWrite {
    async fn pre_execute(
        &self,
        _: &deltalake::logstore::LogStoreRef,
        _: uuid::Uuid,
    ) -> deltalake::DeltaResult<()> {
        tokio::time::sleep(self.0).await;
        Ok(())
    }
    async fn post_execute(
        &self,
        _: &deltalake::logstore::LogStoreRef,
        _: uuid::Uuid,
    ) -> deltalake::DeltaResult<()> {
        Ok(())
    }
    async fn before_post_commit_hook(
        &self,
        _: &deltalake::logstore::LogStoreRef,
        _: bool,
        _: uuid::Uuid,
    ) -> deltalake::DeltaResult<()> {
        Ok(())
    }
    async fn after_post_commit_hook(
        &self,
        _: &deltalake::logstore::LogStoreRef,
        _: bool,
        _: uuid::Uuid,
    ) -> deltalake::DeltaResult<()> {
        Ok(())
    }
}

/// The test pause, when `LAKESHELL_TEST_PAUSE_BEFORE_WRITE_MS` is set.
pub(crate) fn test_pause() -> Option<std::sync::Arc<dyn deltalake::operations::CustomExecuteHandler>>
{
    let ms: u64 = std::env::var("LAKESHELL_TEST_PAUSE_BEFORE_WRITE_MS")
        .ok()?
        .parse()
        .ok()?;
    Some(std::sync::Arc::new(PauseBeforeWrite(
        std::time::Duration::from_millis(ms),
    )))
}

/// A failed write, explained: when another writer committed a conflicting change while this
/// statement ran, say which version it was. delta-rs has already retried what the Delta
/// conflict rules allow (appends over appends, changes to different files).
pub(crate) async fn explain_failure(
    entry: &TableEntry,
    read_version: Option<u64>,
    e: deltalake::DeltaTableError,
) -> LakeError {
    use deltalake::kernel::transaction::TransactionError;
    let conflict = matches!(
        &e,
        deltalake::DeltaTableError::Transaction {
            source: TransactionError::CommitConflict(_)
                | TransactionError::VersionAlreadyExists(_)
                | TransactionError::MaxCommitAttempts(_)
        }
    );
    if !conflict {
        return LakeError::from(e).on_table(entry.name.clone());
    }
    let cause = LakeError::from(e).to_string();
    let competing = match open(entry).await {
        Ok(t) => history::read_history(&t, None)
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|h| read_version.is_none_or(|r| h.version > r))
            .min_by_key(|h| h.version),
        Err(_) => None,
    };
    let who = match competing {
        Some(h) => format!(
            "version {} ({} by {}) was committed by another writer",
            h.version,
            h.text("operation").unwrap_or_else(|| "a write".into()),
            h.text("engine")
                .or_else(|| h.text("engineInfo"))
                .unwrap_or_else(|| "another engine".into())
        ),
        None => "another writer committed".to_string(),
    };
    LakeError::Conflict(format!(
        "{}: conflicting write: {who} while this statement ran, and the Delta conflict rules do not allow both ({cause}); nothing was written, run the statement again",
        entry.name
    ))
}

/// Wraps a delta-rs failure with the table's name.
pub(crate) fn on_table(
    entry: &TableEntry,
) -> impl Fn(deltalake::DeltaTableError) -> LakeError + '_ {
    move |e| LakeError::from(e).on_table(entry.name.clone())
}

use serde_json::json;

/// The name and version lakeshell records as the engine in every commit.
pub fn engine_info() -> String {
    format!("lakeshell/{}", env!("CARGO_PKG_VERSION"))
}

/// Commit metadata: the statement as written (secrets redacted) and lakeshell's name.
pub fn commit_properties(sql: Option<&str>) -> deltalake::kernel::transaction::CommitProperties {
    let mut meta = vec![
        ("clientVersion".to_string(), json!(engine_info())),
        ("engine".to_string(), json!(engine_info())),
    ];
    if let Some(sql) = sql {
        meta.push((
            "sqlText".to_string(),
            json!(crate::sql::redact::redact_sql(sql)),
        ));
    }
    deltalake::kernel::transaction::CommitProperties::default().with_metadata(meta)
}

/// What a write did: one row of figures, the same columns for every kind of write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteMetrics {
    /// `schema.table` or the location written.
    pub table: String,
    /// `CREATE TABLE AS SELECT`, `INSERT`, `UPDATE`, `MERGE` ...
    pub operation: String,
    /// The table version the write committed (the unchanged version when nothing was committed).
    pub version: u64,
    pub rows_inserted: u64,
    pub rows_updated: u64,
    pub rows_deleted: u64,
    /// Unchanged rows rewritten because they shared a file with changed ones.
    pub rows_copied: u64,
    pub files_added: u64,
    pub files_removed: u64,
    /// Lines for the user about the write (expectations that rows broke).
    pub notes: Vec<String>,
}

impl WriteMetrics {
    /// Figures for `operation` on `entry`, all zero.
    pub fn new(entry: &TableEntry, operation: &str, version: Option<u64>) -> Self {
        WriteMetrics {
            table: entry.name.clone(),
            operation: operation.to_string(),
            version: version.unwrap_or_default(),
            ..Default::default()
        }
    }
}
