//! `MERGE INTO`: resolves the target, plans the source, expands `UPDATE SET *` / `INSERT *` to
//! the target's columns and hands the MERGE to delta-rs. When delta-rs refuses it, the cause is
//! found and named: one target row updated or deleted by several source rows (with the ON
//! columns' values of one such row), or a row that breaks a constraint. Insert-only MERGEs
//! allow duplicate source rows, as in Databricks. The target is opened once per attempt: the
//! ambiguity check, the source (when it reads the target) and delta-rs's merge read the same
//! snapshot.

use std::sync::Arc;

use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::common::TableReference;
use datafusion::dataframe::DataFrame;
use datafusion::datasource::provider_as_source;
use datafusion::functions_aggregate::expr_fn::count;
use datafusion::functions_window::expr_fn::row_number;
use datafusion::logical_expr::{col, lit, Expr, LogicalPlanBuilder};
use datafusion::sql::sqlparser::ast::{Ident, ObjectName, TableFactor};

use super::plan::Opened;
use super::{served_name, Engine, Outcome};
use crate::catalog::TableEntry;
use crate::delta::merge::{Clause, MergePlan};
use crate::delta::{Commit, WriteMetrics};
use crate::error::{LakeError, Result};
use crate::expectations::enforce::Shared;
use crate::sql::merge::{MergeAction, MergeKind, MergeStatement};

pub(super) fn alias_of(tf: &TableFactor) -> Option<String> {
    match tf {
        TableFactor::Table { alias, name, .. } => {
            Some(alias.as_ref().map(|a| a.name.value.clone()).or_else(|| {
                name.0
                    .last()
                    .and_then(|p| p.as_ident())
                    .map(|i| i.value.clone())
            })?)
        }
        TableFactor::Derived { alias, .. } => alias.as_ref().map(|a| a.name.value.clone()),
        _ => None,
    }
}

fn quoted(alias: &str, col: &str) -> String {
    format!(
        "{}.{}",
        Ident::with_quote('"', alias),
        Ident::with_quote('"', col)
    )
}

const ROW: &str = "__lakeshell_row";

/// A MERGE planned and not yet committed.
pub(super) struct PlannedMerge {
    /// The tables the plan reads, opened once.
    pub opened: Opened,
    /// The target, at the version the MERGE read.
    pub table: deltalake::DeltaTable,
    pub plan: MergePlan,
    /// What the target's row expectations held back from the source.
    pub enforcement: Option<Shared>,
    /// The source as a query, for explaining a refusal.
    pub source_query: datafusion::sql::sqlparser::ast::Query,
}

impl Engine {
    pub(super) async fn merge(&self, mut stmt: MergeStatement, sql: &str) -> Result<Outcome> {
        // delta-rs takes the conditions and values as SQL text: variables go in first.
        let vars = self.variables();
        let put = |e: &mut datafusion::sql::sqlparser::ast::Expr| -> Result<()> {
            super::variables::refuse_at_variables(e)?;
            super::variables::put_in(e, &vars)
        };
        put(&mut stmt.on)?;
        for c in &mut stmt.clauses {
            if let Some(p) = &mut c.predicate {
                put(p)?;
            }
            match &mut c.action {
                crate::sql::merge::MergeAction::Update(sets) => {
                    for a in sets {
                        put(&mut a.value)?;
                    }
                }
                crate::sql::merge::MergeAction::Insert { values, .. } => {
                    for v in values {
                        put(v)?;
                    }
                }
                _ => {}
            }
        }
        let TableFactor::Table { name, .. } = &stmt.target else {
            return Err(LakeError::Unsupported(
                "MERGE INTO needs a Delta table as target".into(),
            ));
        };
        let entry = self.entry_for(name).await?;
        let target_alias = alias_of(&stmt.target).unwrap_or_else(|| "target".into());
        let source_alias = alias_of(&stmt.source).ok_or_else(|| {
            LakeError::BadStatement(
                "MERGE: give the source subquery an alias: USING (SELECT ...) AS s".into(),
            )
        })?;
        let (mut m, enforcement) = super::retry::retrying(|| {
            self.merge_once(&stmt, name, &entry, &target_alias, &source_alias, sql)
        })
        .await?;
        if let Some(e) = enforcement {
            self.record_enforcement(&entry, &mut m, e).await?;
        }
        Ok(Outcome::Write(m))
    }

    /// Plans the MERGE on the target's latest version and commits it.
    async fn merge_once(
        &self,
        stmt: &MergeStatement,
        name: &ObjectName,
        entry: &TableEntry,
        target_alias: &str,
        source_alias: &str,
        sql: &str,
    ) -> Result<(WriteMetrics, Option<Shared>)> {
        let PlannedMerge {
            opened,
            table,
            plan,
            enforcement,
            source_query,
        } = self
            .plan_merge(stmt, name, entry, target_alias, source_alias)
            .await?;
        let source = plan.source.clone();
        let commit = Commit {
            table: &entry.name,
            sql: Some(sql),
        };
        match crate::delta::merge::merge(&self.state(), table.clone(), commit, plan).await {
            Ok(m) => Ok((m, enforcement)),
            Err(LakeError::Conflict(c)) => Err(LakeError::Conflict(c)),
            Err(e) => {
                // delta-rs refuses an ambiguous MERGE and rows that break a constraint, but
                // names neither the row nor the constraint: find them, over the same snapshots.
                self.check_unique_matches(&opened, stmt, &table, entry, target_alias, &source)
                    .await?;
                match self
                    .explain_merge_violation(&opened, &table, entry, stmt, &source_query)
                    .await
                {
                    Some(broken) => Err(broken),
                    None => Err(e),
                }
            }
        }
    }

    /// What a MERGE is to do, planned on the target's latest version: the source (its rows
    /// expectations enforced), the clauses with `*` expanded. The commit and `MERGE ... DRY
    /// RUN` both start from it.
    pub(super) async fn plan_merge(
        &self,
        stmt: &MergeStatement,
        name: &ObjectName,
        entry: &TableEntry,
        target_alias: &str,
        source_alias: &str,
    ) -> Result<PlannedMerge> {
        let source_alias = source_alias.to_string();
        let target_alias = target_alias.to_string();
        let opened = Opened::default();
        let table = self
            .open_and_serve(&opened, entry, served_name(name)?)
            .await?;
        let target_cols: Vec<String> = table
            .snapshot()
            .map_err(crate::delta::on_table(&entry.name))?
            .schema()
            .fields()
            .map(|f| f.name().to_string())
            .collect();
        let mut source_tf = stmt.source.clone();
        self.take_versions_in(&opened, &mut source_tf).await?;
        let source_query = crate::sql::select_all_from(source_tf)?;
        let source_plan = self.plan_query(&opened, &source_query).await?;
        let source = DataFrame::new(self.state(), source_plan);
        let (source, enforcement) = self.enforce_source(source, entry, &table).await?;
        let source_cols: Vec<String> = source
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().to_string())
            .collect();

        let all_from_source = |what: &str| -> Result<Vec<(String, String)>> {
            let mut set = Vec::new();
            for c in &target_cols {
                if source_cols.iter().any(|s| s == c) {
                    set.push((c.clone(), quoted(&source_alias, c)));
                } else if !stmt.schema_evolution {
                    return Err(LakeError::BadStatement(format!(
                        "MERGE {what}: the source has no column {c} of {}; list the columns, or select it in the source",
                        entry.name
                    )));
                }
            }
            if stmt.schema_evolution {
                for c in source_cols.iter().filter(|c| !target_cols.contains(c)) {
                    set.push((c.clone(), quoted(&source_alias, c)));
                }
            }
            Ok(set)
        };
        let assignments =
            |a: &[datafusion::sql::sqlparser::ast::Assignment]| -> Vec<(String, String)> {
                a.iter()
                    .map(|a| {
                        let col = match &a.target {
                            datafusion::sql::sqlparser::ast::AssignmentTarget::ColumnName(n) => {
                                n.0.last()
                                    .and_then(|p| p.as_ident())
                                    .map(|i| i.value.clone())
                                    .unwrap_or_default()
                            }
                            other => other.to_string(),
                        };
                        (col, a.value.to_string())
                    })
                    .collect()
            };
        let mut clauses = Vec::new();
        for c in &stmt.clauses {
            let predicate = c.predicate.as_ref().map(|p| p.to_string());
            clauses.push(match (&c.kind, &c.action) {
                (MergeKind::Matched, MergeAction::UpdateAll) => Clause::MatchedUpdate {
                    predicate,
                    set: all_from_source("UPDATE SET *")?,
                },
                (MergeKind::Matched, MergeAction::Update(a)) => Clause::MatchedUpdate {
                    predicate,
                    set: assignments(a),
                },
                (MergeKind::Matched, MergeAction::Delete) => Clause::MatchedDelete { predicate },
                (MergeKind::NotMatched, MergeAction::InsertAll) => Clause::NotMatchedInsert {
                    predicate,
                    set: all_from_source("INSERT *")?,
                },
                (MergeKind::NotMatched, MergeAction::Insert { columns, values }) => {
                    let cols: Vec<String> = if columns.is_empty() {
                        target_cols.clone()
                    } else {
                        columns.iter().map(|c| c.value.clone()).collect()
                    };
                    if cols.len() != values.len() {
                        return Err(LakeError::BadStatement(format!(
                            "MERGE INSERT: {} columns but {} values",
                            cols.len(),
                            values.len()
                        )));
                    }
                    Clause::NotMatchedInsert {
                        predicate,
                        set: cols
                            .into_iter()
                            .zip(values.iter().map(|v| v.to_string()))
                            .collect(),
                    }
                }
                (MergeKind::NotMatchedBySource, MergeAction::Update(a)) => Clause::BySourceUpdate {
                    predicate,
                    set: assignments(a),
                },
                (MergeKind::NotMatchedBySource, MergeAction::Delete) => {
                    Clause::BySourceDelete { predicate }
                }
                (_, action) => {
                    return Err(LakeError::Unsupported(format!("MERGE clause {action:?}")))
                }
            });
        }
        if !stmt.schema_evolution {
            let mut named: Vec<String> = Vec::new();
            for c in &clauses {
                if let Clause::MatchedUpdate { set, .. }
                | Clause::NotMatchedInsert { set, .. }
                | Clause::BySourceUpdate { set, .. } = c
                {
                    named.extend(set.iter().map(|(col, _)| col.clone()));
                }
            }
            super::dml::check_columns(&table, &entry.name, &named, "MERGE INTO")?;
        }
        let plan = MergePlan {
            source,
            source_alias,
            target_alias,
            on: stmt.on.to_string(),
            clauses,
            schema_evolution: stmt.schema_evolution,
        };
        Ok(PlannedMerge {
            opened,
            table,
            plan,
            enforcement,
            source_query,
        })
    }

    /// The target's row expectations, enforced on the MERGE source's rows (by column name)
    /// before delta-rs merges them. The source is read once into memory for this, so the rows
    /// dropped are exactly those held back.
    async fn enforce_source(
        &self,
        source: DataFrame,
        entry: &TableEntry,
        table: &deltalake::DeltaTable,
    ) -> Result<(DataFrame, Option<Shared>)> {
        let expectations = crate::expectations::of_table(table)?;
        if !expectations.iter().any(|e| e.is_row_check()) {
            return Ok((source, None));
        }
        let stream = source.execute_stream().await?;
        let (stream, shared) = crate::expectations::enforce::enforce(
            &self.state(),
            stream,
            &entry.name,
            &expectations,
        )
        .map_err(|e| {
            LakeError::BadStatement(format!(
                "MERGE into {}: the source must have the columns its expectations name ({e})",
                entry.name
            ))
        })?;
        let schema = stream.schema();
        let batches: Vec<datafusion::arrow::array::RecordBatch> =
            futures::TryStreamExt::try_collect(stream).await?;
        let table = datafusion::datasource::MemTable::try_new(schema, vec![batches])?;
        Ok((self.ctx.read_table(Arc::new(table))?, Some(shared)))
    }

    /// Fails when an UPDATE or DELETE clause would apply to one target row for several source
    /// rows, showing the target's ON columns for one such row. Planned from the target's
    /// snapshot and the planned source, not from SQL text.
    async fn check_unique_matches(
        &self,
        opened: &Opened,
        stmt: &MergeStatement,
        table: &deltalake::DeltaTable,
        entry: &TableEntry,
        target_alias: &str,
        source: &DataFrame,
    ) -> Result<()> {
        let changing: Vec<_> = stmt
            .clauses
            .iter()
            .filter(|c| c.kind == MergeKind::Matched)
            .map(|c| c.predicate.clone())
            .collect();
        if changing.is_empty() {
            return Ok(());
        }
        let source_alias = alias_of(&stmt.source).unwrap_or_else(|| "source".into());
        let provider = crate::catalog::provider::provider_of(table, &entry.name).await?;
        let target = LogicalPlanBuilder::scan(
            TableReference::bare(target_alias),
            provider_as_source(provider),
            None,
        )?
        .window(vec![row_number().alias(ROW)])?
        .build()?;
        let source_plan = LogicalPlanBuilder::from(source.logical_plan().clone())
            .alias(source_alias.as_str())?
            .build()?;
        let both = LogicalPlanBuilder::from(target)
            .cross_join(source_plan)?
            .build()?;
        let on = self
            .plan_exprs_over(opened, &both, std::slice::from_ref(&stmt.on))?
            .remove(0);
        let mut plan = LogicalPlanBuilder::from(both.clone()).filter(on.clone())?;
        if changing.iter().all(|p| p.is_some()) {
            let predicates: Vec<_> = changing.into_iter().flatten().collect();
            let any = self
                .plan_exprs_over(opened, &both, &predicates)?
                .into_iter()
                .reduce(Expr::or);
            if let Some(any) = any {
                plan = plan.filter(any)?;
            }
        }
        // The target's columns named in ON, to show the user which row is ambiguous.
        let mut on_cols: Vec<datafusion::common::Column> = Vec::new();
        for c in on.column_refs() {
            if c.relation
                .as_ref()
                .is_some_and(|r| r.table() == target_alias)
                && !on_cols.contains(c)
            {
                on_cols.push(c.clone());
            }
        }
        let mut group = vec![col(ROW)];
        group.extend(on_cols.iter().cloned().map(Expr::Column));
        let found = plan
            .aggregate(group, vec![count(lit(1)).alias("matches")])?
            .filter(col("matches").gt(lit(1i64)))?
            .limit(0, Some(1))?
            .build()?;
        let batches = self
            .ctx
            .execute_logical_plan(found)
            .await?
            .collect()
            .await?;
        let Some(b) = batches.iter().find(|b| b.num_rows() > 0) else {
            return Ok(());
        };
        let opts = FormatOptions::default().with_null("NULL");
        let value = |i: usize| {
            ArrayFormatter::try_new(b.column(i).as_ref(), &opts)
                .map(|f| f.value(0).to_string())
                .unwrap_or_default()
        };
        let shown: Vec<String> = on_cols
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{target_alias}.{} = {}", c.name, value(i + 1)))
            .collect();
        Err(LakeError::AmbiguousMerge(format!(
            "MERGE into {}: {} source rows match the same target row ({}), so the update or delete is ambiguous; nothing was written. Make the source unique on the ON columns (for example with ROW_NUMBER() or DISTINCT)",
            entry.name,
            value(on_cols.len() + 1),
            if shown.is_empty() { stmt.on.to_string() } else { shown.join(", ") }
        )))
    }

    /// Which constraint the MERGE breaks, and a row that breaks it: each MATCHED UPDATE
    /// and NOT MATCHED INSERT clause's rows are computed over the snapshots the MERGE reads, and
    /// each constraint is checked on them. Nothing when none is broken (or there are none).
    async fn explain_merge_violation(
        &self,
        opened: &Opened,
        table: &deltalake::DeltaTable,
        entry: &TableEntry,
        stmt: &MergeStatement,
        source: &datafusion::sql::sqlparser::ast::Query,
    ) -> Option<LakeError> {
        let rules = crate::delta::constraints::rules(table);
        if rules.is_empty() {
            return None;
        }
        let fields: Vec<String> = table
            .snapshot()
            .ok()?
            .schema()
            .fields()
            .map(|f| f.name().to_string())
            .collect();
        let target_alias = alias_of(&stmt.target).unwrap_or_else(|| "target".into());
        let source_alias = alias_of(&stmt.source)?;
        let target = format!(
            "{} AS {}",
            served_name_sql(&stmt.target)?,
            Ident::with_quote('"', &target_alias)
        );
        let source = format!("({source}) AS {}", Ident::with_quote('"', &source_alias));
        let mut candidates = Vec::new();
        for c in &stmt.clauses {
            let predicate = c
                .predicate
                .as_ref()
                .map(|p| format!(" AND ({p})"))
                .unwrap_or_default();
            let projection = |set: &[(String, String)], fallback: &dyn Fn(&str) -> String| {
                fields
                    .iter()
                    .map(|f| {
                        let v = set
                            .iter()
                            .find(|(c, _)| c == f)
                            .map(|(_, v)| v.clone())
                            .unwrap_or_else(|| fallback(f));
                        format!("{v} AS {}", Ident::with_quote('"', f))
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            match (&c.kind, &c.action) {
                (MergeKind::Matched, MergeAction::Update(a)) => {
                    let set: Vec<(String, String)> = a
                        .iter()
                        .map(|a| {
                            (
                                a.target
                                    .to_string()
                                    .rsplit('.')
                                    .next()
                                    .unwrap_or_default()
                                    .to_string(),
                                a.value.to_string(),
                            )
                        })
                        .collect();
                    let keep = |f: &str| quoted(&target_alias, f);
                    candidates.push(format!(
                        "SELECT {} FROM {target} JOIN {source} ON ({}){predicate}",
                        projection(&set, &keep),
                        stmt.on
                    ));
                }
                (MergeKind::Matched, MergeAction::UpdateAll) => {
                    let keep = |f: &str| quoted(&source_alias, f);
                    candidates.push(format!(
                        "SELECT {} FROM {target} JOIN {source} ON ({}){predicate}",
                        projection(&[], &keep),
                        stmt.on
                    ));
                }
                (MergeKind::NotMatched, MergeAction::InsertAll) => {
                    let take = |f: &str| quoted(&source_alias, f);
                    candidates.push(format!(
                        "SELECT {} FROM {source} WHERE NOT EXISTS (SELECT 1 FROM {target} WHERE {}){predicate}",
                        projection(&[], &take),
                        stmt.on
                    ));
                }
                _ => {}
            }
        }
        for (name, check) in rules {
            for q in &candidates {
                let sql = format!(
                    "SELECT * FROM ({q}) AS merged WHERE NOT coalesce(({check}), false) LIMIT 1"
                );
                let Ok(batches) = self.collect_sql_in(opened, &sql).await else {
                    continue;
                };
                if let Some(b) = batches.iter().find(|b| b.num_rows() > 0) {
                    return Some(LakeError::Constraint(format!(
                        "MERGE INTO {}: {name} ({check}) violated by row {}; nothing was written",
                        entry.name,
                        crate::delta::constraints::describe_row(b, 0)
                    )));
                }
            }
        }
        None
    }
}

/// The target of a MERGE as SQL, for lakeshell's own explaining queries.
fn served_name_sql(tf: &TableFactor) -> Option<String> {
    match tf {
        TableFactor::Table { name, .. } => Some(name.to_string()),
        _ => None,
    }
}
