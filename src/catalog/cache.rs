//! Table snapshots kept across a session's statements. Opening a Delta table replays its log (a
//! checkpoint and the commits after it); a session that reads the same tables statement after
//! statement (an analyst's prompt, a pipeline) keeps each table's latest snapshot and brings it
//! up to date with the commits made since, which is one listing of the log instead of a replay.
//!
//! A kept snapshot is trusted only while the commit file of its version is the one it was read
//! from (same modification time): a table dropped and written again by another process starts
//! from a full replay.

use std::collections::HashMap;
use std::sync::Mutex;

use deltalake::DeltaTable;
use object_store::ObjectStoreExt;

use crate::error::Result;

/// The latest snapshot of each table a session opened, by location.
#[derive(Debug, Default)]
pub struct TableCache {
    enabled: bool,
    tables: Mutex<HashMap<String, Kept>>,
}

#[derive(Debug, Clone)]
struct Kept {
    table: DeltaTable,
    /// When the commit file of the kept version was last modified.
    commit_modified: i64,
}

impl TableCache {
    /// A cache that keeps snapshots when `enabled`, and otherwise opens every table anew.
    pub fn new(enabled: bool) -> Self {
        TableCache {
            enabled,
            tables: Mutex::default(),
        }
    }

    /// The latest version of the table at `key`: the kept snapshot brought up to date, or
    /// `load()` when none is kept (or it cannot be trusted).
    pub async fn latest<F, Fut>(&self, key: &str, load: F) -> Result<DeltaTable>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<DeltaTable>>,
    {
        if !self.enabled {
            return load().await;
        }
        let kept = self.tables.lock().ok().and_then(|t| t.get(key).cloned());
        if let Some(kept) = kept {
            if commit_modified(&kept.table).await == Some(kept.commit_modified) {
                let mut table = kept.table;
                if table.update_incremental(None).await.is_ok() {
                    self.keep(key, &table).await;
                    return Ok(table);
                }
            }
        }
        let table = load().await?;
        self.keep(key, &table).await;
        Ok(table)
    }

    async fn keep(&self, key: &str, table: &DeltaTable) {
        let Some(commit_modified) = commit_modified(table).await else {
            return;
        };
        if let Ok(mut t) = self.tables.lock() {
            t.insert(
                key.to_string(),
                Kept {
                    table: table.clone(),
                    commit_modified,
                },
            );
        }
    }

    /// Forgets the table at `key` (it was dropped).
    pub fn forget(&self, key: &str) {
        if let Ok(mut t) = self.tables.lock() {
            t.remove(key);
        }
    }
}

/// When the commit file of `table`'s version was last modified, in milliseconds.
async fn commit_modified(table: &DeltaTable) -> Option<i64> {
    let version = table.version()?;
    let path = deltalake::logstore::commit_uri_from_version(Some(version));
    let meta = table
        .log_store()
        .object_store(None)
        .head(&path)
        .await
        .ok()?;
    Some(meta.last_modified.timestamp_millis())
}
