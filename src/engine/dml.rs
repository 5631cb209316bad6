//! `UPDATE`, `DELETE` and `INSERT ... REPLACE WHERE` on Delta tables.
//!
//! delta-rs takes plain predicates, so the statement is planned by DataFusion as a query over
//! the target (`SELECT <new values> FROM t WHERE <predicate>`), uncorrelated subqueries in it
//! are run first and replaced by their results (`id IN (SELECT ...)` becomes `id IN (1, 2)`),
//! and the resulting expressions go to delta-rs's builders.

use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, ScalarValue};
use datafusion::logical_expr::expr::InList;
use datafusion::logical_expr::{lit, Expr, LogicalPlan, Subquery};
use datafusion::sql::sqlparser::ast::{
    AssignmentTarget, Delete, FromTable, ObjectName, TableFactor, TableWithJoins, Update,
};

use super::{Engine, ExecOptions, Outcome};
use crate::delta::write::{write, WriteMode, WriteRequest};
use crate::error::{LakeError, Result};
use crate::sql::ReplaceWhereStatement;

/// The target table of an UPDATE or DELETE, with the alias the statement gave it.
fn target_of(t: &TableWithJoins, statement: &str) -> Result<(ObjectName, String)> {
    if !t.joins.is_empty() {
        return Err(LakeError::Unsupported(format!(
            "{statement} with a join: use MERGE INTO to change rows from another table"
        )));
    }
    match &t.relation {
        TableFactor::Table { name, .. } => Ok((name.clone(), t.relation.to_string())),
        other => Err(LakeError::Unsupported(format!(
            "{statement} of {other}: name a Delta table"
        ))),
    }
}

impl Engine {
    pub(super) async fn delete(&self, d: Delete, raw: &str) -> Result<Outcome> {
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
        let (name, relation) = target_of(target, "DELETE")?;
        let entry = self.entry_for(&name).await?;
        let m = super::retry::retrying(|| async {
            let predicate = match &d.selection {
                None => None,
                Some(sel) => {
                    let (_, filter) = self
                        .plan_over_target(&relation, &["1".to_string()], Some(&sel.to_string()))
                        .await?;
                    filter
                }
            };
            crate::delta::delete::delete(&self.state(), &entry, predicate, raw).await
        })
        .await?;
        Ok(Outcome::Write(m))
    }

    pub(super) async fn update(&self, u: Update, raw: &str) -> Result<Outcome> {
        if u.from.is_some() || u.limit.is_some() {
            return Err(LakeError::Unsupported(
                "UPDATE ... FROM or LIMIT: use MERGE INTO to update rows from another table".into(),
            ));
        }
        let (name, relation) = target_of(&u.table, "UPDATE")?;
        let entry = self.entry_for(&name).await?;
        let mut columns = Vec::new();
        let mut values = Vec::new();
        for a in &u.assignments {
            let AssignmentTarget::ColumnName(c) = &a.target else {
                return Err(LakeError::Unsupported(
                    "UPDATE SET (a, b) = ...: set one column at a time".into(),
                ));
            };
            let col =
                c.0.last()
                    .and_then(|p| p.as_ident())
                    .map(|i| {
                        if i.quote_style.is_some() {
                            i.value.clone()
                        } else {
                            i.value.to_ascii_lowercase()
                        }
                    })
                    .unwrap_or_default();
            columns.push(col);
            values.push(a.value.to_string());
        }
        check_columns(&entry, &columns, "UPDATE").await?;
        let selection = u.selection.as_ref().map(|s| s.to_string());
        let updated = super::retry::retrying(|| async {
            let (exprs, predicate) = self
                .plan_over_target(&relation, &values, selection.as_deref())
                .await?;
            let assignments = columns.iter().cloned().zip(exprs).collect();
            crate::delta::update::update(&self.state(), &entry, assignments, predicate, raw).await
        })
        .await;
        match updated {
            Ok(m) => Ok(Outcome::Write(m)),
            Err(e) if e.to_string().contains("Invalid data found") => {
                let set: Vec<(String, String)> = columns.into_iter().zip(values).collect();
                let first = self
                    .explain_violation(&entry, &relation, &set, selection.as_deref())
                    .await;
                match first {
                    Some(named) => Err(named),
                    None => Err(self.explain_preview(&entry, "UPDATE", e).await),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Which constraint an UPDATE broke, and a row that breaks it: the updated rows are
    /// computed again as a query and each constraint is checked on its own.
    async fn explain_violation(
        &self,
        entry: &crate::catalog::TableEntry,
        relation: &str,
        set: &[(String, String)],
        selection: Option<&str>,
    ) -> Option<LakeError> {
        let table = crate::delta::open(entry).await.ok()?;
        let snapshot = table.snapshot().ok()?;
        let rules = crate::delta::constraints::rules(&table);
        let mut projection = Vec::new();
        for f in snapshot.schema().fields() {
            let col = datafusion::sql::sqlparser::ast::Ident::with_quote('"', f.name());
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
            let Ok(batches) = self.collect_sql(&sql).await else {
                continue;
            };
            if let Some(b) = batches.iter().find(|b| b.num_rows() > 0) {
                return Some(LakeError::Invalid(format!(
                    "UPDATE {}: {name} ({check}) violated by updated row {}; nothing was written",
                    entry.name,
                    crate::delta::constraints::describe_row(b, 0)
                )));
            }
        }
        None
    }

    /// delta-rs's "Invalid data found" error names no constraint; it previews the rows it
    /// refused. Each constraint is evaluated on the first previewed row to name the one broken.
    pub(super) async fn explain_preview(
        &self,
        entry: &crate::catalog::TableEntry,
        statement: &str,
        e: LakeError,
    ) -> LakeError {
        let text = e.to_string();
        let Some(at) = text.find("Preview of invalid data:") else {
            return e;
        };
        // The preview is a pretty table folded onto one line: "| a | b | | 1 | x |".
        let cells: Vec<String> = text[at..]
            .split('|')
            .map(|c| c.trim().to_string())
            .filter(|c| !c.starts_with('+') && !c.contains("Preview"))
            .collect();
        let Ok(table) = crate::delta::open(entry).await else {
            return e;
        };
        let Ok(snapshot) = table.snapshot() else {
            return e;
        };
        let fields: Vec<(String, String)> = snapshot
            .schema()
            .fields()
            .map(|f| (f.name().to_string(), f.data_type().to_string()))
            .collect();
        let n = fields.len();
        // Header cells, then the first refused row's cells (a NULL shows as an empty cell).
        if cells.len() < 2 * n || cells[..n].iter().zip(&fields).any(|(h, (f, _))| h != f) {
            return e;
        }
        let row: Vec<&String> = cells[n..2 * n].iter().collect();
        let arrow = snapshot.snapshot().arrow_schema();
        let values: Vec<String> = arrow
            .fields()
            .iter()
            .zip(&row)
            .map(|(f, v)| {
                let col = datafusion::sql::sqlparser::ast::Ident::with_quote('"', f.name());
                if v.is_empty()
                    && !matches!(f.data_type(), datafusion::arrow::datatypes::DataType::Utf8)
                {
                    format!("arrow_cast(NULL, '{}') AS {col}", f.data_type())
                } else {
                    format!(
                        "arrow_cast({}, '{}') AS {col}",
                        datafusion::sql::sqlparser::ast::Value::SingleQuotedString(v.to_string()),
                        f.data_type()
                    )
                }
            })
            .collect();
        let rules = crate::delta::constraints::rules(&table);
        let shown: Vec<String> = fields
            .iter()
            .zip(&row)
            .map(|((f, _), v)| format!("{f}: {}", if v.is_empty() { "NULL" } else { v }))
            .collect();
        for (name, check) in rules {
            let sql = format!(
                "SELECT coalesce(({check}), false) AS ok FROM (SELECT {}) AS refused",
                values.join(", ")
            );
            let Ok(batches) = self.collect_sql(&sql).await else {
                continue;
            };
            let broken = batches.first().is_some_and(|b| {
                b.column(0)
                    .as_any()
                    .downcast_ref::<datafusion::arrow::array::BooleanArray>()
                    .is_some_and(|a| a.len() == 1 && !a.value(0))
            });
            if broken {
                return LakeError::Invalid(format!(
                    "{statement} {}: {name} ({check}) violated by row {{{}}}; nothing was written",
                    entry.name,
                    shown.join(", ")
                ));
            }
        }
        e
    }

    /// Plans `SELECT <exprs> FROM <relation> [WHERE <predicate>]` and returns the expressions,
    /// cast to their target columns' types, and the predicate, with subqueries evaluated and
    /// columns unqualified, ready for delta-rs.
    async fn plan_over_target(
        &self,
        relation: &str,
        exprs: &[String],
        predicate: Option<&str>,
    ) -> Result<(Vec<Expr>, Option<Expr>)> {
        let mut sql = format!("SELECT {} FROM {relation}", exprs.join(", "));
        if let Some(p) = predicate {
            sql.push_str(&format!(" WHERE {p}"));
        }
        let plan = self.plan_sql(&sql).await?;
        let state = self.state();
        let plan = state
            .analyzer()
            .execute_and_check(plan, state.config_options(), |_, _| {})?;
        let LogicalPlan::Projection(projection) = &plan else {
            return Err(LakeError::Unsupported(format!(
                "this statement shape ({sql})"
            )));
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
        for e in &projection.expr {
            let e = match e {
                Expr::Alias(a) => a.expr.as_ref().clone(),
                other => other.clone(),
            };
            out.push(self.inline_subqueries(unqualify(e)?).await?);
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
        raw: &str,
        opts: &ExecOptions,
    ) -> Result<Outcome> {
        let entry = self.entry_for(&stmt.table).await?;
        let mut query = stmt.query;
        self.travel(query.as_mut()).await?;
        let plan = self
            .state()
            .statement_to_plan(datafusion::sql::parser::Statement::Statement(Box::new(
                datafusion::sql::sqlparser::ast::Statement::Query(query),
            )))
            .await
            .map_err(|e| self.explain_error(e))?;
        let (mut m, enforcement) = super::retry::retrying(|| async {
            let input = self.run_for_write(plan.clone(), opts).await?;
            let (input, enforcement) = self.enforced(input, &entry, &[]).await?;
            let req = WriteRequest {
                target: &entry,
                mode: WriteMode::Overwrite,
                partition_by: vec![],
                properties: vec![],
                comment: None,
                sql: Some(raw),
                operation: "INSERT REPLACE WHERE",
                replace_where: Some(stmt.predicate.to_string()),
                merge_schema: false,
            };
            Ok((write(&self.state(), input, req).await?, enforcement))
        })
        .await?;
        self.record_enforcement(&entry, &mut m, enforcement).await?;
        Ok(Outcome::Write(m))
    }
}

/// Fails unless every column in `columns` is one of the table's (delta-rs would ignore it).
pub(super) async fn check_columns(
    entry: &crate::catalog::TableEntry,
    columns: &[String],
    statement: &str,
) -> Result<()> {
    let table = crate::delta::open(entry).await?;
    let names: Vec<String> = table
        .snapshot()
        .map_err(crate::delta::on_table(entry))?
        .schema()
        .fields()
        .map(|f| f.name().to_string())
        .collect();
    for c in columns {
        if !names.iter().any(|n| n == c) {
            return Err(LakeError::Invalid(format!(
                "{statement} {}: no column {c}; its columns are {}",
                entry.name,
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
