//! `OPTIMIZE t [WHERE partition predicate] [ZORDER BY (cols)]` over delta-rs's optimize: small
//! files are compacted (or rewritten in Z-order) into larger ones in one commit.

use std::sync::Arc;

use datafusion::execution::context::SessionState;
use deltalake::operations::optimize::OptimizeType;
use deltalake::{FilterOp, FilterValue};

use super::{commit_properties, on_table, Commit, Retry};
use crate::error::Result;

/// A partition filter: column, operator (`=`, `!=`, `<`, `<=`, `>`, `>=`, `in`, `not in`) and
/// value(s), as partition values are written (strings).
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionFilter {
    pub column: String,
    pub op: String,
    pub values: Vec<String>,
}

/// What OPTIMIZE did.
#[derive(Debug, Clone, Default)]
pub struct OptimizeMetrics {
    pub version: u64,
    pub files_removed: u64,
    pub files_added: u64,
    pub bytes_removed: u64,
    pub bytes_added: u64,
    pub partitions_optimized: u64,
    pub files_considered: u64,
}

/// Optimizes `table` (opened at the version it compacts).
pub async fn optimize(
    state: &SessionState,
    table: deltalake::DeltaTable,
    commit: Commit<'_>,
    filters: &[PartitionFilter],
    zorder_by: Vec<String>,
) -> Result<OptimizeMetrics> {
    let partitions = table
        .snapshot()
        .map_err(on_table(commit.table))?
        .metadata()
        .partition_columns()
        .to_vec();
    if let Some(f) = filters.iter().find(|f| !partitions.contains(&f.column)) {
        return Err(crate::error::LakeError::BadStatement(format!(
            "OPTIMIZE WHERE takes partition columns only, and {} is not one of {}'s ({})",
            f.column,
            commit.table,
            if partitions.is_empty() {
                "it has none".to_string()
            } else {
                partitions.join(", ")
            }
        )));
    }
    let literals: Vec<(&str, FilterOp, FilterValue)> = filters
        .iter()
        .map(|f| {
            let value = if f.op.ends_with("in") {
                FilterValue::Set(f.values.iter().map(String::as_str).collect())
            } else {
                FilterValue::Scalar(f.values.first().map(String::as_str).unwrap_or_default())
            };
            deltalake::filter_literal(&f.column, &f.op, value)
        })
        .collect::<std::result::Result<_, _>>()
        .map_err(on_table(commit.table))?;
    let kind = if zorder_by.is_empty() {
        OptimizeType::Compact
    } else {
        OptimizeType::ZOrder(zorder_by)
    };
    let read_version = table.version();
    let log_store = table.log_store();
    let mut builder = table
        .optimize()
        .with_type(kind)
        .with_filters(&literals)
        .with_session_state(Arc::new(state.clone()))
        .with_commit_properties(commit_properties(commit.sql, read_version));
    if let Some(h) = super::test_pause() {
        builder = builder.with_custom_execute_handler(h);
    }
    // OPTIMIZE changes no rows: after losing to another writer it may always plan again.
    let (table, metrics) = match builder.await {
        Ok(done) => done,
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
    };
    Ok(OptimizeMetrics {
        version: table.version().unwrap_or_default(),
        files_removed: metrics.num_files_removed,
        files_added: metrics.num_files_added,
        bytes_removed: metrics.files_removed.total_size.max(0) as u64,
        bytes_added: metrics.files_added.total_size.max(0) as u64,
        partitions_optimized: metrics.partitions_optimized,
        files_considered: metrics.total_considered_files as u64,
    })
}
