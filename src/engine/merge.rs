//! `MERGE INTO`: resolves the target, turns the source into a DataFrame, expands
//! `UPDATE SET *` / `INSERT *` to the target's columns, and refuses (before writing anything) a
//! MERGE where one target row would be updated or deleted by several source rows, naming the
//! ON columns' values of one such row. Insert-only MERGEs allow duplicate source rows, as in
//! Databricks.

use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::dataframe::DataFrame;
use datafusion::sql::sqlparser::ast::{Expr, Ident, TableFactor};

use super::{Engine, Outcome};
use crate::delta::merge::{Clause, MergePlan};
use crate::error::{LakeError, Result};
use crate::sql::merge::{MergeAction, MergeKind, MergeStatement};

fn alias_of(tf: &TableFactor) -> Option<String> {
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

impl Engine {
    pub(super) async fn merge(&self, mut stmt: MergeStatement, raw: &str) -> Result<Outcome> {
        let TableFactor::Table { name, .. } = &stmt.target else {
            return Err(LakeError::Unsupported(
                "MERGE INTO needs a Delta table as target".into(),
            ));
        };
        let name = name.clone();
        let entry = self.entry_for(&name).await?;
        let target_alias = alias_of(&stmt.target).unwrap_or_else(|| "target".into());
        self.travel(&mut stmt.source).await?;
        let source_alias = alias_of(&stmt.source).ok_or_else(|| {
            LakeError::Usage(
                "MERGE: give the source subquery an alias: USING (SELECT ...) AS s".into(),
            )
        })?;
        let (mut m, enforcement) = super::retry::retrying(|| {
            self.merge_once(&stmt, &name, &entry, &target_alias, &source_alias, raw)
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
        name: &datafusion::sql::sqlparser::ast::ObjectName,
        entry: &crate::catalog::TableEntry,
        target_alias: &str,
        source_alias: &str,
        raw: &str,
    ) -> Result<(
        crate::delta::WriteMetrics,
        Option<crate::expectations::enforce::Shared>,
    )> {
        let source_alias = source_alias.to_string();
        let target_alias = target_alias.to_string();
        let table = crate::delta::open(entry).await?;
        let target_cols: Vec<String> = table
            .snapshot()
            .map_err(crate::delta::on_table(entry))?
            .schema()
            .fields()
            .map(|f| f.name().to_string())
            .collect();
        let source_sql = format!("SELECT * FROM {}", stmt.source);
        let source: DataFrame = self
            .ctx
            .execute_logical_plan(self.plan_sql(&source_sql).await?)
            .await?;
        let (source, enforcement) = self.enforce_source(source, entry).await?;
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
                    return Err(LakeError::Invalid(format!(
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
                        return Err(LakeError::Invalid(format!(
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
            super::dml::check_columns(entry, &named, "MERGE INTO").await?;
        }
        self.check_unique_matches(stmt, &name.to_string(), &target_alias, &entry.name)
            .await?;
        let plan = MergePlan {
            source,
            source_alias,
            target_alias,
            on: stmt.on.to_string(),
            clauses,
            schema_evolution: stmt.schema_evolution,
        };
        match crate::delta::merge::merge(&self.state(), entry, plan, raw).await {
            Ok(m) => Ok((m, enforcement)),
            Err(e) if e.to_string().contains("Invalid data found") => {
                Err(self.explain_preview(entry, "MERGE INTO", e).await)
            }
            Err(e) => Err(e),
        }
    }

    /// The target's row expectations, enforced on the MERGE source's rows (by column name)
    /// before delta-rs merges them. The source is read once into memory for this, so the rows
    /// dropped are exactly those held back.
    async fn enforce_source(
        &self,
        source: DataFrame,
        entry: &crate::catalog::TableEntry,
    ) -> Result<(DataFrame, Option<crate::expectations::enforce::Shared>)> {
        let expectations = self.attached_expectations(entry).await?;
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
            LakeError::Invalid(format!(
                "MERGE into {}: the source must have the columns its expectations name ({e})",
                entry.name
            ))
        })?;
        let schema = stream.schema();
        let batches: Vec<datafusion::arrow::array::RecordBatch> =
            futures::TryStreamExt::try_collect(stream).await?;
        let table = datafusion::datasource::MemTable::try_new(schema, vec![batches])?;
        Ok((
            self.ctx.read_table(std::sync::Arc::new(table))?,
            Some(shared),
        ))
    }

    /// Fails when an UPDATE or DELETE clause would apply to one target row for several source
    /// rows, showing the target's ON columns for one such row.
    async fn check_unique_matches(
        &self,
        stmt: &MergeStatement,
        target_name: &str,
        target_alias: &str,
        display_name: &str,
    ) -> Result<()> {
        let changing: Vec<&Option<Expr>> = stmt
            .clauses
            .iter()
            .filter(|c| c.kind == MergeKind::Matched)
            .map(|c| &c.predicate)
            .collect();
        if changing.is_empty() {
            return Ok(());
        }
        let filter = if changing.iter().any(|p| p.is_none()) {
            String::new()
        } else {
            let parts: Vec<String> = changing
                .iter()
                .filter_map(|p| p.as_ref().map(|e| format!("({e})")))
                .collect();
            format!(" WHERE {}", parts.join(" OR "))
        };
        // The target's columns named in ON, to show the user which row is ambiguous.
        let mut on_cols: Vec<String> = Vec::new();
        let _ = datafusion::sql::sqlparser::ast::visit_expressions(&stmt.on, |e| {
            if let Expr::CompoundIdentifier(parts) = e {
                if parts.len() == 2 && parts[0].value.eq_ignore_ascii_case(target_alias) {
                    let c = format!("{}.{}", Ident::with_quote('"', target_alias), parts[1]);
                    if !on_cols.contains(&c) {
                        on_cols.push(c);
                    }
                }
            }
            std::ops::ControlFlow::<()>::Continue(())
        });
        let mut select = on_cols.clone();
        select.push("count(*) AS matches".into());
        let mut group = vec!["\"__lakeshell_row\"".to_string()];
        group.extend(on_cols.iter().cloned());
        let sql = format!(
            "SELECT {} FROM (SELECT *, row_number() OVER () AS \"__lakeshell_row\" FROM {target_name}) AS {} JOIN {} ON {}{filter} GROUP BY {} HAVING count(*) > 1 LIMIT 1",
            select.join(", "),
            Ident::with_quote('"', target_alias),
            stmt.source,
            stmt.on,
            group.join(", ")
        );
        let batches = self.collect_sql(&sql).await?;
        let Some(b) = batches.iter().find(|b| b.num_rows() > 0) else {
            return Ok(());
        };
        let opts = FormatOptions::default().with_null("NULL");
        let mut shown = Vec::new();
        for (i, c) in on_cols.iter().enumerate() {
            let v = ArrayFormatter::try_new(b.column(i).as_ref(), &opts)
                .map(|f| f.value(0).to_string())
                .unwrap_or_default();
            shown.push(format!("{} = {v}", c.replace('"', "")));
        }
        let count = ArrayFormatter::try_new(b.column(on_cols.len()).as_ref(), &opts)
            .map(|f| f.value(0).to_string())
            .unwrap_or_default();
        Err(LakeError::Invalid(format!(
            "MERGE into {display_name}: {count} source rows match the same target row ({}), so the update or delete is ambiguous; nothing was written. Make the source unique on the ON columns (for example with ROW_NUMBER() or DISTINCT)",
            if shown.is_empty() { stmt.on.to_string() } else { shown.join(", ") }
        )))
    }
}
