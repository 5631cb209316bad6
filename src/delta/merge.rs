//! `MERGE INTO` over delta-rs's merge builder. The engine has already expanded `UPDATE SET *`
//! and `INSERT *` into column lists, checked for ambiguous matches, and turned the source into a
//! DataFrame; expressions are SQL text over the `target` and `source` aliases.

use std::sync::Arc;

use datafusion::execution::context::SessionState;
use datafusion::prelude::DataFrame;

use super::{commit_properties, guarded, on_table, Commit, Retry, WriteMetrics};
use crate::error::Result;

/// One clause, ready for delta-rs.
#[derive(Debug, Clone)]
pub enum Clause {
    MatchedUpdate {
        predicate: Option<String>,
        set: Vec<(String, String)>,
    },
    MatchedDelete {
        predicate: Option<String>,
    },
    NotMatchedInsert {
        predicate: Option<String>,
        set: Vec<(String, String)>,
    },
    BySourceUpdate {
        predicate: Option<String>,
        set: Vec<(String, String)>,
    },
    BySourceDelete {
        predicate: Option<String>,
    },
}

/// A MERGE, ready for delta-rs.
pub struct MergePlan {
    pub source: DataFrame,
    pub source_alias: String,
    pub target_alias: String,
    pub on: String,
    pub clauses: Vec<Clause>,
    pub schema_evolution: bool,
}

/// Merges into `table`.
pub async fn merge(
    state: &SessionState,
    table: deltalake::DeltaTable,
    commit: Commit<'_>,
    plan: MergePlan,
) -> Result<WriteMetrics> {
    let read_version = table.version();
    let log_store = table.log_store();
    let mut b = table
        .merge(plan.source, plan.on)
        .with_source_alias(plan.source_alias)
        .with_target_alias(plan.target_alias)
        .with_merge_schema(plan.schema_evolution)
        .with_session_state(Arc::new(state.clone()))
        .with_commit_properties(commit_properties(commit.sql, read_version));
    let err = on_table(commit.table);
    for clause in plan.clauses {
        b = match clause {
            Clause::MatchedUpdate { predicate, set } => b
                .when_matched_update(|mut u| {
                    if let Some(p) = predicate {
                        u = u.predicate(p);
                    }
                    for (c, e) in set {
                        u = u.update(c, e);
                    }
                    u
                })
                .map_err(&err)?,
            Clause::MatchedDelete { predicate } => b
                .when_matched_delete(|mut d| {
                    if let Some(p) = predicate {
                        d = d.predicate(p);
                    }
                    d
                })
                .map_err(&err)?,
            Clause::NotMatchedInsert { predicate, set } => b
                .when_not_matched_insert(|mut i| {
                    if let Some(p) = predicate {
                        i = i.predicate(p);
                    }
                    for (c, e) in set {
                        i = i.set(c, e);
                    }
                    i
                })
                .map_err(&err)?,
            Clause::BySourceUpdate { predicate, set } => b
                .when_not_matched_by_source_update(|mut u| {
                    if let Some(p) = predicate {
                        u = u.predicate(p);
                    }
                    for (c, e) in set {
                        u = u.update(c, e);
                    }
                    u
                })
                .map_err(&err)?,
            Clause::BySourceDelete { predicate } => b
                .when_not_matched_by_source_delete(|mut d| {
                    if let Some(p) = predicate {
                        d = d.predicate(p);
                    }
                    d
                })
                .map_err(&err)?,
        };
    }
    if let Some(h) = super::test_pause() {
        b = b.with_custom_execute_handler(h);
    }
    let (table, metrics) = match guarded(commit.table, b).await? {
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
    let mut m = WriteMetrics::new(commit.table, "MERGE", table.version());
    m.rows_inserted = metrics.num_target_rows_inserted as u64;
    m.rows_updated = metrics.num_target_rows_updated as u64;
    m.rows_deleted = metrics.num_target_rows_deleted as u64;
    m.rows_copied = metrics.num_target_rows_copied as u64;
    m.files_added = metrics.num_target_files_added as u64;
    m.files_removed = metrics.num_target_files_removed as u64;
    Ok(m)
}
