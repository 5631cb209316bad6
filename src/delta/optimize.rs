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

/// OPTIMIZE's WHERE names partition columns only.
fn check_filters(
    table: &deltalake::DeltaTable,
    name: &str,
    filters: &[PartitionFilter],
) -> Result<Vec<String>> {
    let partitions = table
        .snapshot()
        .map_err(on_table(name))?
        .metadata()
        .partition_columns()
        .to_vec();
    if let Some(f) = filters.iter().find(|f| !partitions.contains(&f.column)) {
        return Err(crate::error::LakeError::BadStatement(format!(
            "OPTIMIZE WHERE takes partition columns only, and {} is not one of {}'s ({})",
            f.column,
            name,
            if partitions.is_empty() {
                "it has none".to_string()
            } else {
                partitions.join(", ")
            }
        )));
    }
    Ok(partitions)
}

/// Files OPTIMIZE would rewrite into one new file (a bin, as delta-rs calls it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OptimizeBin {
    /// `day=2024-01-01/...`, empty for an unpartitioned table.
    pub partition: String,
    /// Each file's path in the table and its size in bytes.
    pub files: Vec<(String, u64)>,
}

/// What `OPTIMIZE` would do to `table`, committing nothing: delta-rs's planner, step by step.
/// Compaction takes each partition's files under the target size in the log's order (newest
/// first), fills bins up to the target size, and leaves out bins of one file; Z-order rewrites
/// every file of each partition.
pub async fn plan(
    table: &deltalake::DeltaTable,
    name: &str,
    filters: &[PartitionFilter],
    zorder: bool,
) -> Result<Vec<OptimizeBin>> {
    use deltalake::table::config::TablePropertiesExt;
    use futures::StreamExt;
    let partitions = check_filters(table, name, filters)?;
    let state = table.snapshot().map_err(on_table(name))?;
    let target = state.snapshot().table_properties().target_file_size().get();
    let log_store = table.log_store();
    // Per partition, in the log's order, each file as a candidate (path, bytes), or None for a
    // file past the target size.
    type Candidates = Vec<Option<(String, u64)>>;
    let mut by_partition: Vec<(String, Candidates)> = Vec::new();
    let mut files = state.snapshot().file_views(log_store.as_ref(), None);
    while let Some(file) = files.next().await {
        let file = file.map_err(on_table(name))?;
        let values = file.partition_values_map();
        if !filters
            .iter()
            .all(|f| f.holds(values.get(&f.column).cloned().flatten()))
        {
            continue;
        }
        let partition = partitions
            .iter()
            .map(|p| {
                let v = values.get(p).cloned().flatten();
                format!(
                    "{p}={}",
                    v.as_deref().unwrap_or("__HIVE_DEFAULT_PARTITION__")
                )
            })
            .collect::<Vec<_>>()
            .join("/");
        let size = file.size().max(0) as u64;
        // A file past the target size is left alone, and breaks the run of files around it.
        let candidate = (zorder || size <= target).then(|| (file.path().to_string(), size));
        match by_partition.iter_mut().find(|(p, _)| *p == partition) {
            Some((_, list)) => list.push(candidate),
            None => by_partition.push((partition, vec![candidate])),
        }
    }
    let mut bins = Vec::new();
    for (partition, list) in by_partition {
        if zorder {
            bins.push(OptimizeBin {
                partition,
                files: list.into_iter().flatten().collect(),
            });
            continue;
        }
        let mut current = OptimizeBin {
            partition: partition.clone(),
            files: Vec::new(),
        };
        let mut flush = |bin: &mut OptimizeBin| {
            let full = std::mem::replace(
                bin,
                OptimizeBin {
                    partition: partition.clone(),
                    files: Vec::new(),
                },
            );
            if full.files.len() > 1 {
                bins.push(full);
            }
        };
        for file in list {
            match file {
                None => flush(&mut current),
                Some((path, size)) => {
                    let bytes: u64 = current.files.iter().map(|(_, b)| b).sum();
                    if !current.files.is_empty() && bytes + size > target {
                        flush(&mut current);
                    }
                    current.files.push((path, size));
                }
            }
        }
        flush(&mut current);
    }
    Ok(bins)
}

impl PartitionFilter {
    /// Whether a file whose partition value is `value` is one the filter takes.
    fn holds(&self, value: Option<String>) -> bool {
        let Some(value) = value else {
            return self.op == "!=" || self.op == "not in";
        };
        let cmp = |other: &String| match (value.parse::<f64>(), other.parse::<f64>()) {
            (Ok(a), Ok(b)) => a.partial_cmp(&b),
            _ => Some(value.as_str().cmp(other.as_str())),
        };
        let first = self.values.first();
        use std::cmp::Ordering::*;
        match self.op.as_str() {
            "in" => self.values.iter().any(|v| cmp(v) == Some(Equal)),
            "not in" => !self.values.iter().any(|v| cmp(v) == Some(Equal)),
            op => {
                let Some(ord) = first.and_then(cmp) else {
                    return false;
                };
                match op {
                    "=" => ord == Equal,
                    "!=" => ord != Equal,
                    "<" => ord == Less,
                    "<=" => ord != Greater,
                    ">" => ord == Greater,
                    ">=" => ord != Less,
                    _ => false,
                }
            }
        }
    }
}

/// Optimizes `table` (opened at the version it compacts).
pub async fn optimize(
    state: &SessionState,
    table: deltalake::DeltaTable,
    commit: Commit<'_>,
    filters: &[PartitionFilter],
    zorder_by: Vec<String>,
) -> Result<OptimizeMetrics> {
    check_filters(&table, commit.table, filters)?;
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
