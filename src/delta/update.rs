//! `UPDATE t SET col = expr, ... [WHERE predicate]` over delta-rs's update. Expressions arrive
//! as DataFusion expressions with any subqueries already evaluated to literals.

use std::sync::Arc;

use datafusion::execution::context::SessionState;
use datafusion::logical_expr::Expr;
use deltalake::DeltaTable;

use super::{commit_properties, guarded, Commit, Retry, WriteMetrics};
use crate::error::Result;

/// Sets `assignments` on the rows of `table` matching `predicate` (all rows when None).
pub async fn update(
    state: &SessionState,
    table: DeltaTable,
    commit: Commit<'_>,
    assignments: Vec<(String, Expr)>,
    predicate: Option<Expr>,
) -> Result<WriteMetrics> {
    let read_version = table.version();
    let log_store = table.log_store();
    let mut builder = table
        .update()
        .with_session_state(Arc::new(state.clone()))
        .with_commit_properties(commit_properties(commit.sql, read_version));
    for (col, e) in assignments {
        builder = builder.with_update(col, e);
    }
    if let Some(p) = predicate {
        builder = builder.with_predicate(p);
    }
    if let Some(h) = super::test_pause() {
        builder = builder.with_custom_execute_handler(h);
    }
    let (table, metrics) = match guarded(commit.table, builder).await? {
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
    let mut m = WriteMetrics::new(commit.table, "UPDATE", table.version());
    m.rows_updated = metrics.num_updated_rows as u64;
    m.rows_copied = metrics.num_copied_rows as u64;
    m.files_added = metrics.num_added_files as u64;
    m.files_removed = metrics.num_removed_files as u64;
    Ok(m)
}
