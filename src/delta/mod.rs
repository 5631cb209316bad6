//! Delta operations, one file each, over delta-rs builders: the bottom layer. An operation takes
//! a table already opened (by the catalog) and what its commit records ([`Commit`]), and returns
//! its figures as data; nothing here prints, opens tables by name or parses SQL.
//!
//! - [`mod@write`]: append, overwrite, replace-where and create-as-select from a DataFusion plan.
//! - [`delete`], [`update`], [`merge`]: row-level changes.
//! - [`history`]: the commit log and versions in time; [`restore`]: going back to a version.
//! - [`optimize`], [`vacuum`], [`fsck`]: maintenance.
//! - [`constraints`], [`properties`], [`columns`]: ALTER TABLE.
//! - [`create`]: CREATE TABLE with columns; [`convert`]: CONVERT TO DELTA.
//! - [`stats`]: figures from the files' statistics, without reading data.
//! - [`commit_check`]: lakeshell's own check of every commit against the ones that won.

pub mod columns;
pub mod commit_check;
pub mod constraints;
pub mod convert;
pub mod crash_points;
pub mod create;
pub mod delete;
pub mod durable;
pub mod fsck;
pub mod history;
pub mod merge;
pub mod optimize;
pub mod properties;
pub mod restore;
pub mod source;
pub mod stats;
pub mod update;
pub mod vacuum;
pub mod write;

pub use crate::outcome::WriteMetrics;
pub use history::AsOf;

use crate::error::LakeError;

/// What an operation's commit records besides its actions, and the table's name for errors.
#[derive(Debug, Clone, Copy)]
pub struct Commit<'a> {
    /// The table as the user names it (`schema.table`, or its location).
    pub table: &'a str,
    /// The statement as written, secrets already redacted, recorded as `sqlText`.
    pub sql: Option<&'a str>,
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
pub(crate) fn test_pause_duration() -> Option<std::time::Duration> {
    let ms: u64 = std::env::var("LAKESHELL_TEST_PAUSE_BEFORE_WRITE_MS")
        .ok()?
        .parse()
        .ok()?;
    Some(std::time::Duration::from_millis(ms))
}

/// The test pause as a delta-rs execute handler, for the builders that take one.
pub(crate) fn test_pause() -> Option<std::sync::Arc<dyn deltalake::operations::CustomExecuteHandler>>
{
    Some(std::sync::Arc::new(
        PauseBeforeWrite(test_pause_duration()?),
    ))
}

/// Whether a statement that lost a commit race may run again on the new version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Its outcome does not depend on the rows it read: a blind append, OPTIMIZE, VACUUM.
    Always,
    /// Only when every winning commit left the rows as they were (OPTIMIZE, VACUUM).
    IfDataFree,
}

/// A failed write, explained: when another writer committed a conflicting change while this
/// statement ran, say which version it was, and whether the statement may run again. delta-rs
/// has already retried what its conflict rules allow; [`commit_check`] refuses what they miss.
pub(crate) async fn explain_failure(
    table: &str,
    log_store: &deltalake::logstore::LogStoreRef,
    read_version: Option<u64>,
    retry: Retry,
    e: deltalake::DeltaTableError,
) -> LakeError {
    use deltalake::kernel::transaction::TransactionError;
    let deltalake::DeltaTableError::Transaction { source } = &e else {
        return LakeError::from(e).on_table(table);
    };
    let refused = match source {
        TransactionError::LogStoreError { source, .. } => {
            match source.downcast_ref::<commit_check::Refusal>() {
                Some(r) => Some(r.clone()),
                None => return LakeError::from(e).on_table(table),
            }
        }
        TransactionError::CommitConflict(_)
        | TransactionError::VersionAlreadyExists(_)
        | TransactionError::MaxCommitAttempts(_) => None,
        _ => return LakeError::from(e).on_table(table),
    };
    let read = read_version.unwrap_or_default();
    let winners = match log_store.get_latest_version(read).await {
        Ok(latest) => commit_check::summaries(log_store.as_ref(), read + 1, latest + 1)
            .await
            .unwrap_or_default(),
        Err(_) => vec![],
    };
    let version = refused
        .as_ref()
        .map(|r| r.version())
        .or_else(|| winners.first().map(|(v, _)| *v));
    let competing = version.map(|v| {
        let w = winners.iter().find(|(wv, _)| *wv == v).map(|(_, c)| c);
        format!(
            "version {v} ({} by {})",
            w.and_then(|c| c.operation.clone())
                .unwrap_or_else(|| "a write".into()),
            w.and_then(|c| c.writer.clone())
                .unwrap_or_else(|| "another engine".into())
        )
    });
    let data_free = winners.iter().all(|(_, c)| c.data_free());
    let cause = match &refused {
        Some(r) => r.to_string(),
        None => clean_cause(e),
    };
    LakeError::Conflict(Box::new(crate::error::Conflict {
        table: table.to_string(),
        competing,
        cause,
        retry: retry == Retry::Always || data_free,
    }))
}

fn clean_cause(e: deltalake::DeltaTableError) -> String {
    LakeError::from(e).to_string()
}

/// Awaits one of delta-rs's operations on `table`, a panic inside it (a bug in delta-rs, such as
/// its SQL printer failing on `note IN (TIMESTAMP '2024-01-01 10:00:00', region)`) coming back
/// as one line: the process, and the REPL, go on. Nothing is half-committed by a panic: a
/// commit is one file, written or not.
pub(crate) async fn guarded<T>(
    table: &str,
    op: impl std::future::IntoFuture<Output = deltalake::DeltaResult<T>>,
) -> Result<deltalake::DeltaResult<T>, LakeError> {
    crate::error::caught_panics(op.into_future()).await.map_err(|msg| {
        let msg = crate::error::one_line(&msg);
        LakeError::Unsupported(if msg.contains("formatting trait implementation returned an error") {
            format!("{table}: delta-rs cannot record this statement's condition in the commit as SQL; compare values of one type (cast explicitly) or use plain comparisons")
        } else {
            format!("{table}: delta-rs failed on this statement ({msg}, a bug in delta-rs); the table is at its last committed version")
        })
    })
}

/// Wraps a delta-rs failure with the table's name.
pub(crate) fn on_table(table: &str) -> impl Fn(deltalake::DeltaTableError) -> LakeError + '_ {
    move |e| LakeError::from(e).on_table(table)
}

/// The name and version lakeshell records as the engine in every commit.
pub fn engine_info() -> String {
    format!("lakeshell/{}", env!("CARGO_PKG_VERSION"))
}

/// The environment target this process writes for (`--target prod`), set once at start.
static TARGET: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Records `name` as the target in every commit's info from now on (`lakeshell.target`).
pub fn set_target(name: &str) {
    let _ = TARGET.set(name.to_string());
}

/// The environment target set at start, if any.
pub fn target() -> Option<&'static str> {
    TARGET.get().map(String::as_str)
}

/// Commit metadata: the statement as written (secrets already redacted), lakeshell's name, the
/// version the statement read (`readVersion`, which [`commit_check`] checks the commit
/// against) and an id of the commit's own.
pub fn commit_properties(
    sql: Option<&str>,
    read_version: Option<u64>,
) -> deltalake::kernel::transaction::CommitProperties {
    deltalake::kernel::transaction::CommitProperties::default()
        .with_metadata(commit_metadata(sql, read_version))
}

/// The commit-info entries of [`commit_properties`].
pub fn commit_metadata(
    sql: Option<&str>,
    read_version: Option<u64>,
) -> Vec<(String, serde_json::Value)> {
    let mut meta = vec![
        (
            "clientVersion".to_string(),
            serde_json::json!(engine_info()),
        ),
        ("engine".to_string(), serde_json::json!(engine_info())),
        (
            commit_check::COMMIT_ID.to_string(),
            serde_json::json!(uuid::Uuid::new_v4().to_string()),
        ),
    ];
    if let Some(v) = read_version {
        meta.push(("readVersion".to_string(), serde_json::json!(v)));
    }
    if let Some(sql) = sql {
        meta.push(("sqlText".to_string(), serde_json::json!(sql)));
    }
    if let Some(t) = target() {
        meta.push(("lakeshell.target".to_string(), serde_json::json!(t)));
    }
    meta
}
