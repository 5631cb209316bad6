//! `INSERT`, `UPDATE`, `DELETE` and `INSERT ... REPLACE WHERE` on Delta tables.
//!
//! - INSERT plans its query on its own and matches the columns to the table's by position (or by
//!   the column list), as Databricks does; every column reaches lakeshell's constraint check
//!   nullable, so a NULL in a NOT NULL column is reported by name.
//! - UPDATE and DELETE: delta-rs takes plain predicates, so the statement's expressions are
//!   planned over a scan of the target (the snapshot the change commits on), uncorrelated
//!   subqueries in them are run first and replaced by their results (`id IN (SELECT ...)`
//!   becomes `id IN (1, 2)`), and the resulting expressions go to delta-rs's builders.

use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, ScalarValue, TableReference};
use datafusion::datasource::provider_as_source;
use datafusion::logical_expr::expr::InList;
use datafusion::logical_expr::{cast, lit, Expr, LogicalPlan, LogicalPlanBuilder, Subquery};
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{
    AssignmentTarget, Delete, Expr as SqlExpr, FromTable, Ident, Insert, ObjectName, Query,
    Statement as SQLStatement, TableFactor, TableObject, TableWithJoins, Update,
};

use super::plan::Opened;
use super::{served_name, Engine, ExecOptions, Outcome};
use crate::catalog::TableEntry;
use crate::delta::write::{write, WriteMode, WriteRequest};
use crate::delta::Commit;
use crate::error::{LakeError, Result};
use crate::sql::ReplaceWhereStatement;

/// The target table of an UPDATE or DELETE, with the alias the statement gave it.
/// A column as a statement names it, as the table names it: the last part of the name,
/// unquoted names lower-cased.
fn column_name(name: &ObjectName) -> String {
    name.0
        .last()
        .and_then(|p| p.as_ident())
        .map(|i| {
            if i.quote_style.is_some() {
                i.value.clone()
            } else {
                i.value.to_ascii_lowercase()
            }
        })
        .unwrap_or_default()
}

/// An UPDATE's `SET col = expr` pairs: the column as the table names it (unquoted names
/// lower-cased) and the expression.
pub(super) fn assignments(u: &Update) -> Result<Vec<(String, SqlExpr)>> {
    let mut out = Vec::new();
    for a in &u.assignments {
        let AssignmentTarget::ColumnName(c) = &a.target else {
            return Err(LakeError::Unsupported(
                "UPDATE SET (a, b) = ...: set one column at a time".into(),
            ));
        };
        out.push((column_name(c), a.value.clone()));
    }
    Ok(out)
}

pub(super) fn target_of<'a>(
    t: &'a TableWithJoins,
    statement: &str,
) -> Result<(&'a ObjectName, Option<&'a Ident>)> {
    if !t.joins.is_empty() {
        return Err(LakeError::Unsupported(format!(
            "{statement} with a join: use MERGE INTO to change rows from another table"
        )));
    }
    match &t.relation {
        TableFactor::Table { name, alias, .. } => Ok((name, alias.as_ref().map(|a| &a.name))),
        other => Err(LakeError::Unsupported(format!(
            "{statement} of {other}: name a Delta table"
        ))),
    }
}

/// The qualifier a statement's columns use for its table: its alias, or its name as written.
fn qualifier(name: &ObjectName, alias: Option<&Ident>) -> TableReference {
    let norm = |i: &Ident| {
        if i.quote_style.is_some() {
            i.value.clone()
        } else {
            i.value.to_ascii_lowercase()
        }
    };
    if let Some(a) = alias {
        return TableReference::bare(norm(a));
    }
    let parts: Vec<String> = name
        .0
        .iter()
        .filter_map(|p| p.as_ident())
        .map(norm)
        .collect();
    match parts.as_slice() {
        [t] => TableReference::bare(t.as_str()),
        [s, t] => TableReference::partial(s.as_str(), t.as_str()),
        [c, s, t] => TableReference::full(c.as_str(), s.as_str(), t.as_str()),
        _ => TableReference::bare(name.to_string()),
    }
}

fn commit<'a>(entry: &'a TableEntry, sql: &'a str) -> Commit<'a> {
    Commit {
        table: &entry.name,
        sql: Some(sql),
    }
}

impl Engine {
    /// `INSERT INTO | OVERWRITE t [(cols)] query`.
    pub(super) async fn insert(
        &self,
        ins: Insert,
        sql: &str,
        opts: &ExecOptions,
    ) -> Result<Outcome> {
        let TableObject::TableName(name) = &ins.table else {
            return Err(LakeError::Unsupported(
                "INSERT INTO a table function".into(),
            ));
        };
        let Some(source) = &ins.source else {
            return Err(LakeError::Unsupported(
                "INSERT without a query or VALUES".into(),
            ));
        };
        if ins.partitioned.is_some() || !ins.after_columns.is_empty() || ins.on.is_some() {
            return Err(LakeError::Unsupported(
                "INSERT with PARTITION, ON CONFLICT or ON DUPLICATE KEY: use INSERT ... REPLACE WHERE or MERGE INTO".into(),
            ));
        }
        let (mode, operation) = if ins.overwrite {
            (WriteMode::Overwrite, "INSERT OVERWRITE")
        } else {
            (WriteMode::Append, "INSERT")
        };
        let target = self.entry_for(name).await?;
        let columns: Vec<String> = ins.columns.iter().map(column_name).collect();
        let (mut m, enforcement) = super::retry::retrying(|| async {
            let opened = Opened::default();
            let table = self
                .open_and_serve(&opened, &target, served_name(name)?)
                .await?;
            let query = self.plan_query(&opened, source).await?;
            let input = fit_to_table(query, &table, &target.name, &columns)?;
            let input = self.run_for_write(input, opts).await?;
            let (input, enforcement) = self.enforced(input, &target, &table, &[])?;
            let req = WriteRequest {
                table,
                commit: commit(&target, sql),
                mode,
                partition_by: vec![],
                properties: vec![],
                comment: None,
                operation,
                replace_where: None,
                merge_schema: false,
                extra: Default::default(),
            };
            Ok((write(&self.state(), input, req).await?, enforcement))
        })
        .await?;
        self.record_enforcement(&target, &mut m, enforcement)
            .await?;
        Ok(Outcome::Write(m))
    }

    /// Plans a query (an INSERT's, a CTAS's, REPLACE WHERE's) with what `opened` serves.
    pub(super) async fn plan_query(&self, opened: &Opened, query: &Query) -> Result<LogicalPlan> {
        let stmt = DFStatement::Statement(Box::new(SQLStatement::Query(Box::new(query.clone()))));
        self.plan_statement(opened, stmt).await
    }

    pub(super) async fn delete(&self, d: Delete, sql: &str) -> Result<Outcome> {
        let tables = match &d.from {
            FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => t,
        };
        let [target] = tables.as_slice() else {
            return Err(LakeError::Unsupported(
                "DELETE from several tables: delete from one table at a time".into(),
            ));
        };
        if d.using.is_some() || d.limit.is_some() || !d.order_by.is_empty() {
            return Err(LakeError::Unsupported(
                "DELETE with USING, ORDER BY or LIMIT: use a WHERE predicate, or MERGE INTO".into(),
            ));
        }
        let (name, alias) = target_of(target, "DELETE")?;
        let entry = self.entry_for(name).await?;
        let whole = DFStatement::Statement(Box::new(SQLStatement::Delete(d.clone())));
        let m = super::retry::retrying(|| async {
            let opened = Opened::default();
            let table = self
                .open_and_serve(&opened, &entry, served_name(name)?)
                .await?;
            self.serve_references(&opened, &whole).await?;
            let (_, predicate) = self
                .plan_over_target(
                    &opened,
                    &table,
                    &entry,
                    qualifier(name, alias),
                    &[],
                    d.selection.as_ref(),
                )
                .await?;
            crate::delta::delete::delete(&self.state(), table, commit(&entry, sql), predicate).await
        })
        .await?;
        Ok(Outcome::Write(m))
    }

    pub(super) async fn update(&self, u: Update, sql: &str) -> Result<Outcome> {
        if u.from.is_some() || u.limit.is_some() {
            return Err(LakeError::Unsupported(
                "UPDATE ... FROM or LIMIT: use MERGE INTO to update rows from another table".into(),
            ));
        }
        let (name, alias) = target_of(&u.table, "UPDATE")?;
        let entry = self.entry_for(name).await?;
        let (columns, values): (Vec<String>, Vec<SqlExpr>) = assignments(&u)?.into_iter().unzip();
        let whole = DFStatement::Statement(Box::new(SQLStatement::Update(u.clone())));
        let relation = u.table.relation.to_string();
        let set: Vec<(String, String)> = columns
            .iter()
            .cloned()
            .zip(values.iter().map(|v| v.to_string()))
            .collect();
        let selection = u.selection.as_ref().map(|s| s.to_string());
        let m = super::retry::retrying(|| async {
            let opened = Opened::default();
            let table = self
                .open_and_serve(&opened, &entry, served_name(name)?)
                .await?;
            check_columns(&table, &entry.name, &columns, "UPDATE")?;
            self.serve_references(&opened, &whole).await?;
            let (exprs, predicate) = self
                .plan_over_target(
                    &opened,
                    &table,
                    &entry,
                    qualifier(name, alias),
                    &values,
                    u.selection.as_ref(),
                )
                .await?;
            let assignments = columns.iter().cloned().zip(exprs).collect();
            let updated = crate::delta::update::update(
                &self.state(),
                table.clone(),
                commit(&entry, sql),
                assignments,
                predicate,
            )
            .await;
            match updated {
                Err(e) if !matches!(e, LakeError::Conflict(_)) => {
                    // delta-rs refuses rows that break a constraint without naming it: the
                    // updated rows are computed again and each constraint checked on its own.
                    let broken = self
                        .explain_violation(
                            &opened,
                            &table,
                            &entry,
                            &relation,
                            &set,
                            selection.as_deref(),
                        )
                        .await;
                    Err(broken.unwrap_or(e))
                }
                done => done,
            }
        })
        .await?;
        Ok(Outcome::Write(m))
    }

    /// Which constraint an UPDATE broke, and a row that breaks it: the updated rows are
    /// computed as a query (over the snapshot the UPDATE read) and each constraint is checked on
    /// its own. Nothing when no constraint is broken (or the table has none).
    async fn explain_violation(
        &self,
        opened: &Opened,
        table: &deltalake::DeltaTable,
        entry: &TableEntry,
        relation: &str,
        set: &[(String, String)],
        selection: Option<&str>,
    ) -> Option<LakeError> {
        let rules = crate::delta::constraints::rules(table);
        if rules.is_empty() {
            return None;
        }
        let snapshot = table.snapshot().ok()?;
        let mut projection = Vec::new();
        for f in snapshot.schema().fields() {
            let col = Ident::with_quote('"', f.name());
            match set.iter().find(|(c, _)| c == f.name()) {
                Some((_, v)) => projection.push(format!("{v} AS {col}")),
                None => projection.push(format!("{col}")),
            }
        }
        let filter = selection.map(|s| format!(" WHERE {s}")).unwrap_or_default();
        for (name, check) in rules {
            let sql = format!(
                "SELECT * FROM (SELECT {} FROM {relation}{filter}) AS updated WHERE NOT coalesce(({check}), false) LIMIT 1",
                projection.join(", ")
            );
            let Ok(batches) = self.collect_sql_in(opened, &sql).await else {
                continue;
            };
            if let Some(b) = batches.iter().find(|b| b.num_rows() > 0) {
                return Some(LakeError::Constraint(format!(
                    "UPDATE {}: {name} ({check}) violated by updated row {}; nothing was written",
                    entry.name,
                    crate::delta::constraints::describe_row(b, 0)
                )));
            }
        }
        None
    }

    /// Plans `exprs` and `predicate` over a scan of `table` whose columns are qualified by
    /// `qualifier`, and returns them cast to their columns' types, subqueries evaluated and
    /// columns unqualified, ready for delta-rs.
    async fn plan_over_target(
        &self,
        opened: &Opened,
        table: &deltalake::DeltaTable,
        entry: &TableEntry,
        qualifier: TableReference,
        exprs: &[SqlExpr],
        predicate: Option<&SqlExpr>,
    ) -> Result<(Vec<Expr>, Option<Expr>)> {
        let provider = crate::catalog::provider::provider_of(table, &entry.name).await?;
        let scan =
            LogicalPlanBuilder::scan(qualifier, provider_as_source(provider), None)?.build()?;
        let mut plan = LogicalPlanBuilder::from(scan.clone());
        if let Some(p) = predicate {
            let p = self
                .plan_exprs_over(opened, &scan, std::slice::from_ref(p))?
                .remove(0);
            plan = plan.filter(p)?;
        }
        let planned = self.plan_exprs_over(opened, &scan, exprs)?;
        let plan = if planned.is_empty() {
            plan.project(vec![lit(1)])?
        } else {
            plan.project(planned)?
        }
        .build()?;
        let state = self.state();
        let plan = state
            .analyzer()
            .execute_and_check(plan, state.config_options(), |_, _| {})?;
        let LogicalPlan::Projection(projection) = &plan else {
            return Err(LakeError::Internal(
                "planned UPDATE is not a projection".into(),
            ));
        };
        let mut filter = None;
        let mut input = projection.input.as_ref();
        loop {
            match input {
                LogicalPlan::Filter(f) => {
                    filter = Some(f.predicate.clone());
                    input = f.input.as_ref();
                }
                LogicalPlan::SubqueryAlias(a) => input = a.input.as_ref(),
                _ => break,
            }
        }
        let filter = match filter {
            Some(f) => Some(self.inline_subqueries(unqualify(f)?).await?),
            None => None,
        };
        let mut out = Vec::new();
        if !exprs.is_empty() {
            for e in &projection.expr {
                let e = match e {
                    Expr::Alias(a) => a.expr.as_ref().clone(),
                    other => other.clone(),
                };
                out.push(self.inline_subqueries(unqualify(e)?).await?);
            }
        }
        Ok((out, filter))
    }

    /// Runs each uncorrelated subquery in `e` and puts its result in its place.
    async fn inline_subqueries(&self, e: Expr) -> Result<Expr> {
        let mut subqueries: Vec<Subquery> = Vec::new();
        e.apply(|x| {
            match x {
                Expr::InSubquery(s) => subqueries.push(s.subquery.clone()),
                Expr::ScalarSubquery(s) => subqueries.push(s.clone()),
                Expr::Exists(s) => subqueries.push(s.subquery.clone()),
                _ => {}
            }
            Ok(TreeNodeRecursion::Continue)
        })?;
        if subqueries.is_empty() {
            return Ok(e);
        }
        let mut results: Vec<(Subquery, Vec<ScalarValue>)> = Vec::new();
        for s in subqueries {
            if !s.outer_ref_columns.is_empty() {
                return Err(LakeError::Unsupported(
                    "a correlated subquery in UPDATE or DELETE: rewrite it with IN (SELECT ...) or as MERGE INTO"
                        .into(),
                ));
            }
            let batches = self
                .ctx
                .execute_logical_plan(s.subquery.as_ref().clone())
                .await?
                .collect()
                .await?;
            let mut values = Vec::new();
            for b in &batches {
                for i in 0..b.num_rows() {
                    values.push(ScalarValue::try_from_array(b.column(0), i)?);
                }
            }
            results.push((s, values));
        }
        let find = |s: &Subquery| -> Vec<ScalarValue> {
            results
                .iter()
                .find(|(q, _)| q == s)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let out = e.transform_up(|x| {
            Ok(match x {
                Expr::InSubquery(s) => {
                    let list = find(&s.subquery).into_iter().map(lit).collect();
                    Transformed::yes(Expr::InList(InList::new(s.expr, list, s.negated)))
                }
                Expr::ScalarSubquery(s) => {
                    let values = find(&s);
                    if values.len() > 1 {
                        return Err(datafusion::error::DataFusionError::Execution(
                            "a scalar subquery returned more than one row".into(),
                        ));
                    }
                    let value = match values.into_iter().next() {
                        Some(v) => v,
                        None => {
                            let t = s.subquery.schema().field(0).data_type().clone();
                            ScalarValue::try_from(&t)?
                        }
                    };
                    Transformed::yes(lit(value))
                }
                Expr::Exists(ex) => {
                    let any = !find(&ex.subquery).is_empty();
                    Transformed::yes(lit(any != ex.negated))
                }
                other => Transformed::no(other),
            })
        })?;
        Ok(out.data)
    }

    pub(super) async fn replace_where(
        &self,
        stmt: ReplaceWhereStatement,
        sql: &str,
        opts: &ExecOptions,
    ) -> Result<Outcome> {
        let entry = self.entry_for(&stmt.table).await?;
        let (mut m, enforcement) = super::retry::retrying(|| async {
            let opened = Opened::default();
            let table = self
                .open_and_serve(&opened, &entry, served_name(&stmt.table)?)
                .await?;
            let query = self.plan_query(&opened, &stmt.query).await?;
            let input = fit_to_table(query, &table, &entry.name, &[])?;
            let input = self.run_for_write(input, opts).await?;
            let (input, enforcement) = self.enforced(input, &entry, &table, &[])?;
            let req = WriteRequest {
                table,
                commit: commit(&entry, sql),
                mode: WriteMode::Overwrite,
                partition_by: vec![],
                properties: vec![],
                comment: None,
                operation: "INSERT REPLACE WHERE",
                replace_where: Some(stmt.predicate.to_string()),
                merge_schema: false,
                extra: Default::default(),
            };
            Ok((write(&self.state(), input, req).await?, enforcement))
        })
        .await?;
        self.record_enforcement(&entry, &mut m, enforcement).await?;
        Ok(Outcome::Write(m))
    }
}

/// `query`'s columns matched to `table`'s: by position, or to the named `columns` (the others
/// NULL), each cast to its column's type and named as it. Every column is nullable here:
/// lakeshell's constraint check, not the plan, refuses a NULL in a NOT NULL column, naming it.
pub(super) fn fit_to_table(
    query: LogicalPlan,
    table: &deltalake::DeltaTable,
    name: &str,
    columns: &[String],
) -> Result<LogicalPlan> {
    let schema = table
        .snapshot()
        .map_err(crate::delta::on_table(name))?
        .snapshot()
        .arrow_schema();
    let given: Vec<Expr> = query
        .schema()
        .columns()
        .into_iter()
        .map(Expr::Column)
        .collect();
    let targets: Vec<&str> = if columns.is_empty() {
        schema.fields().iter().map(|f| f.name().as_str()).collect()
    } else {
        columns.iter().map(String::as_str).collect()
    };
    if given.len() != targets.len() {
        return Err(LakeError::BadStatement(format!(
            "INSERT into {name}: the query gives {} column(s) and {} {} expected ({}); list the columns, INSERT INTO t (a, b) SELECT ...",
            given.len(),
            targets.len(),
            if targets.len() == 1 { "is" } else { "are" },
            targets.join(", ")
        )));
    }
    if let Some(c) = columns.iter().find(|c| schema.field_with_name(c).is_err()) {
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        return Err(LakeError::BadStatement(format!(
            "INSERT into {name}: no column {c}; its columns are {}",
            names.join(", ")
        )));
    }
    let mut projection = Vec::new();
    for f in schema.fields() {
        let e = match targets.iter().position(|t| *t == f.name()) {
            Some(i) => given[i].clone(),
            None => lit(ScalarValue::Null),
        };
        projection.push(cast(e, f.data_type().clone()).alias(f.name()));
    }
    Ok(LogicalPlanBuilder::from(query)
        .project(projection)?
        .build()?)
}

/// Fails unless every column in `columns` is one of the table's (delta-rs would ignore it).
pub(super) fn check_columns(
    table: &deltalake::DeltaTable,
    name: &str,
    columns: &[String],
    statement: &str,
) -> Result<()> {
    let names: Vec<String> = table
        .snapshot()
        .map_err(crate::delta::on_table(name))?
        .schema()
        .fields()
        .map(|f| f.name().to_string())
        .collect();
    for c in columns {
        if !names.iter().any(|n| n == c) {
            return Err(LakeError::BadStatement(format!(
                "{statement} {name}: no column {c}; its columns are {}",
                names.join(", ")
            )));
        }
    }
    Ok(())
}

/// Columns without their table qualifier: delta-rs resolves against the bare table schema.
fn unqualify(e: Expr) -> Result<Expr> {
    Ok(e.transform_up(|x| {
        Ok(match x {
            Expr::Column(c) if c.relation.is_some() => {
                Transformed::yes(Expr::Column(Column::new_unqualified(c.name)))
            }
            other => Transformed::no(other),
        })
    })?
    .data)
}
