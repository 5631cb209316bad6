//! `ALTER TABLE t SET TBLPROPERTIES (...)` over delta-rs, and `UNSET TBLPROPERTIES`, which
//! delta-rs has no builder for: a metadata-only commit without the keys.

use std::collections::HashMap;

use deltalake::kernel::transaction::CommitBuilder;
use deltalake::kernel::{Action, MetadataExt};
use deltalake::protocol::DeltaOperation;
use deltalake::DeltaTable;

use super::{commit_properties, on_table, Commit, WriteMetrics};
use crate::error::{LakeError, Result};

/// Sets properties.
pub async fn set(
    table: DeltaTable,
    commit: Commit<'_>,
    properties: &[(String, String)],
) -> Result<WriteMetrics> {
    let read = table.version();
    let props: HashMap<String, String> = properties.iter().cloned().collect();
    let table = table
        .set_tbl_properties()
        .with_properties(props)
        .with_raise_if_not_exists(false)
        .with_commit_properties(commit_properties(commit.sql, read))
        .await
        .map_err(on_table(commit.table))?;
    Ok(WriteMetrics::new(
        commit.table,
        "SET TBLPROPERTIES",
        table.version(),
    ))
}

/// Removes properties; a missing key is an error unless `if_exists`.
pub async fn unset(
    table: DeltaTable,
    commit: Commit<'_>,
    keys: &[String],
    if_exists: bool,
) -> Result<WriteMetrics> {
    let snapshot = table.snapshot().map_err(on_table(commit.table))?;
    if !if_exists {
        if let Some(k) = keys
            .iter()
            .find(|k| !snapshot.metadata().configuration().contains_key(*k))
        {
            return Err(LakeError::BadStatement(format!(
                "{}: property {k} is not set (UNSET TBLPROPERTIES IF EXISTS ignores missing keys)",
                commit.table
            )));
        }
    }
    update(table, commit, &[], keys, "UNSET TBLPROPERTIES").await
}

/// Sets `set` and removes `remove` in one metadata-only commit (attaching and detaching
/// expectations together, so a CREATE OR REPLACE leaves exactly the declared ones).
pub async fn update(
    table: DeltaTable,
    commit: Commit<'_>,
    set: &[(String, String)],
    remove: &[String],
    operation_name: &str,
) -> Result<WriteMetrics> {
    let read = table.version();
    let snapshot = table.snapshot().map_err(on_table(commit.table))?;
    let mut metadata = snapshot.metadata().clone();
    for k in remove {
        if metadata.configuration().contains_key(k) {
            metadata = metadata
                .remove_config_key(k)
                .map_err(|e| LakeError::BadStatement(format!("{}: {e}", commit.table)))?;
        }
    }
    for (k, v) in set {
        metadata = metadata
            .add_config_key(k.clone(), v.clone())
            .map_err(|e| LakeError::BadStatement(format!("{}: {e}", commit.table)))?;
    }
    // Removed keys are recorded with an empty value, as UNSET TBLPROPERTIES always has.
    let operation = DeltaOperation::SetTableProperties {
        properties: set
            .iter()
            .cloned()
            .chain(remove.iter().map(|k| (k.clone(), String::new())))
            .collect(),
    };
    let finalized = CommitBuilder::from(commit_properties(commit.sql, read))
        .with_actions(vec![Action::Metadata(metadata)])
        .build(Some(snapshot), table.log_store(), operation)
        .await
        .map_err(on_table(commit.table))?;
    Ok(WriteMetrics::new(
        commit.table,
        operation_name,
        Some(finalized.version()),
    ))
}
