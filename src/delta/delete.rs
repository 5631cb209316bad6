//! `DELETE FROM t [WHERE predicate]` over delta-rs's delete. The predicate arrives as a
//! DataFusion expression with any subqueries already evaluated to literals.

use std::sync::Arc;

use datafusion::execution::context::SessionState;
use datafusion::logical_expr::Expr;
use deltalake::DeltaTable;

use super::{commit_properties, guarded, Commit, Retry, WriteMetrics};
use crate::error::Result;

/// Deletes the rows of `table` matching `predicate` (all rows when None).
pub async fn delete(
    state: &SessionState,
    table: DeltaTable,
    commit: Commit<'_>,
    predicate: Option<Expr>,
) -> Result<WriteMetrics> {
    let read_version = table.version();
    let log_store = table.log_store();
    let mut builder = table
        .delete()
        .with_session_state(Arc::new(state.clone()))
        .with_commit_properties(commit_properties(commit.sql, read_version));
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
    let mut m = WriteMetrics::new(commit.table, "DELETE", table.version());
    m.rows_deleted = metrics.num_deleted_rows.unwrap_or_default() as u64;
    m.rows_copied = metrics.num_copied_rows as u64;
    m.files_added = metrics.num_added_files as u64;
    m.files_removed = metrics.num_removed_files as u64;
    Ok(m)
}
