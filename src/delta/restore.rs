//! `RESTORE TABLE t TO VERSION AS OF n | TIMESTAMP AS OF ts` over delta-rs's restore: a new
//! commit whose files are those of the old version.
//!
//! The old version's files that the current one lacks are re-added, so they must still exist:
//! they are looked up before anything is committed, and a VACUUM that could delete them while
//! the RESTORE runs makes the commit fail ([`super::commit_check`]) rather than reference a
//! missing file.

use std::collections::HashSet;

use deltalake::DeltaTable;
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStoreExt;

use super::history::{self, AsOf};
use super::{commit_properties, on_table, Commit, Retry, WriteMetrics};
use crate::error::{LakeError, Result};

/// Restores `table` (opened at its latest version) to `to`.
pub async fn restore(table: DeltaTable, commit: Commit<'_>, to: AsOf) -> Result<WriteMetrics> {
    let version = history::resolve(&table, to).await?;
    if let Some(pause) = super::test_pause_duration() {
        tokio::time::sleep(pause).await;
    }
    check_files_exist(commit.table, &table, version).await?;
    let read_version = table.version();
    let log_store = table.log_store();
    let builder = table
        .restore()
        .with_version_to_restore(version)
        .with_commit_properties(commit_properties(commit.sql, read_version));
    let (table, metrics) = match builder.await {
        Ok(done) => done,
        Err(e) => {
            return Err(super::explain_failure(
                commit.table,
                &log_store,
                read_version,
                Retry::IfDataFree,
                e,
            )
            .await)
        }
    };
    let mut m = WriteMetrics::new(
        commit.table,
        &format!("RESTORE to version {version}"),
        table.version(),
    );
    m.files_added = metrics.num_restored_file as u64;
    m.files_removed = metrics.num_removed_file as u64;
    Ok(m)
}

/// Fails, naming a file, when a file of `version` that the current version lacks is gone.
async fn check_files_exist(name: &str, table: &DeltaTable, version: u64) -> Result<()> {
    if table.version() == Some(version) {
        return Ok(());
    }
    let current: HashSet<String> = table
        .snapshot()
        .map_err(on_table(name))?
        .log_data()
        .iter()
        .map(|f| f.path().into_owned())
        .collect();
    let mut old = table.clone();
    old.load_version(version).await.map_err(on_table(name))?;
    let readded: Vec<object_store::path::Path> = old
        .snapshot()
        .map_err(on_table(name))?
        .log_data()
        .iter()
        .filter(|f| !current.contains(f.path().as_ref()))
        .map(|f| f.object_store_path())
        .collect();
    let store = table.object_store();
    let missing = futures::stream::iter(readded)
        .map(|p| {
            let store = store.clone();
            async move {
                match store.head(&p).await {
                    Err(object_store::Error::NotFound { .. }) => Ok(Some(p)),
                    Err(e) => Err(e),
                    Ok(_) => Ok(None),
                }
            }
        })
        .buffered(16)
        .try_filter_map(|p| async move { Ok(p) })
        .boxed()
        .try_next()
        .await?;
    match missing {
        None => Ok(()),
        Some(p) => Err(LakeError::Version(format!(
            "RESTORE {name}: data file {p} of version {version} is gone (VACUUM deletes the files of old versions), so that version can no longer be restored; nothing was written"
        ))),
    }
}
