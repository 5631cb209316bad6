//! `RESTORE`, `OPTIMIZE`, `VACUUM`, `FSCK REPAIR TABLE`, and `ALTER TABLE`: resolves the table,
//! turns the statement's SQL into what the Delta operation takes, and returns figures as rows.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, BooleanArray, Float64Array, StringArray, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::sql::sqlparser::ast::{BinaryOperator, ColumnDef, ColumnOption, Expr};

use super::{rows, Engine, Outcome};
use crate::delta::optimize::PartitionFilter;
use crate::error::{LakeError, Result};
use crate::sql::alter::AlterAction;
use crate::sql::{AlterTableStatement, MaintenanceStatement};

/// `WHERE` of OPTIMIZE as delta-rs partition filters: `col op literal` and `col [NOT] IN (...)`
/// joined by AND.
fn partition_filters(e: &Expr, out: &mut Vec<PartitionFilter>) -> Result<()> {
    let bad = || {
        LakeError::Invalid(format!(
            "OPTIMIZE WHERE takes partition-column comparisons joined by AND (col = 'x', col IN ('a', 'b')), not {e}"
        ))
    };
    let column = |x: &Expr| match x {
        Expr::Identifier(i) => Some(i.value.clone()),
        Expr::CompoundIdentifier(p) => p.last().map(|i| i.value.clone()),
        _ => None,
    };
    let value = |x: &Expr| match x {
        Expr::Value(v) => match &v.value {
            datafusion::sql::sqlparser::ast::Value::SingleQuotedString(s) => Some(s.clone()),
            datafusion::sql::sqlparser::ast::Value::Number(n, _) => Some(n.clone()),
            datafusion::sql::sqlparser::ast::Value::Boolean(b) => Some(b.to_string()),
            _ => None,
        },
        _ => None,
    };
    match e {
        Expr::Nested(inner) => partition_filters(inner, out),
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            partition_filters(left, out)?;
            partition_filters(right, out)
        }
        Expr::BinaryOp { left, op, right } => {
            let op = match op {
                BinaryOperator::Eq => "=",
                BinaryOperator::NotEq => "!=",
                BinaryOperator::Lt => "<",
                BinaryOperator::LtEq => "<=",
                BinaryOperator::Gt => ">",
                BinaryOperator::GtEq => ">=",
                _ => return Err(bad()),
            };
            out.push(PartitionFilter {
                column: column(left).ok_or_else(bad)?,
                op: op.into(),
                values: vec![value(right).ok_or_else(bad)?],
            });
            Ok(())
        }
        Expr::InList {
            expr,
            list,
            negated,
        } => {
            out.push(PartitionFilter {
                column: column(expr).ok_or_else(bad)?,
                op: if *negated { "not in" } else { "in" }.into(),
                values: list
                    .iter()
                    .map(|v| value(v).ok_or_else(bad))
                    .collect::<Result<_>>()?,
            });
            Ok(())
        }
        _ => Err(bad()),
    }
}

impl Engine {
    pub(super) async fn maintenance(
        &self,
        stmt: MaintenanceStatement,
        raw: &str,
        opts: &super::ExecOptions,
    ) -> Result<Outcome> {
        let task = |t: String| {
            if let Some(p) = &opts.progress {
                p.set_task(t);
            }
        };
        let live =
            |t: &deltalake::DeltaTable| t.snapshot().map(|s| s.log_data().num_files()).unwrap_or(0);
        match stmt {
            MaintenanceStatement::Restore { table, to } => {
                let entry = self.entry_for(&table).await?;
                let to = self.version_spec(&to).await?;
                task(format!("RESTORE {} to {to}", entry.name));
                let m = super::retry::retrying(|| crate::delta::restore::restore(&entry, to, raw))
                    .await?;
                Ok(Outcome::Write(m))
            }
            MaintenanceStatement::Optimize {
                table,
                predicate,
                zorder_by,
            } => {
                let entry = self.entry_for(&table).await?;
                let mut filters = Vec::new();
                if let Some(p) = &predicate {
                    partition_filters(p, &mut filters)?;
                }
                let cols: Vec<String> = zorder_by.iter().map(|c| c.value.clone()).collect();
                let m = super::retry::retrying(|| async {
                    let table = crate::delta::open(&entry).await?;
                    task(format!(
                        "OPTIMIZE {}: {} {} files",
                        entry.name,
                        if cols.is_empty() {
                            "compacting"
                        } else {
                            "Z-ordering"
                        },
                        live(&table)
                    ));
                    crate::delta::optimize::optimize(
                        &self.state(),
                        &entry,
                        table,
                        &filters,
                        cols.clone(),
                        raw,
                    )
                    .await
                })
                .await?;
                let u = |v: u64| Arc::new(UInt64Array::from(vec![v])) as ArrayRef;
                rows(
                    vec![
                        Field::new("table", DataType::Utf8, false),
                        Field::new("version", DataType::UInt64, false),
                        Field::new("files_removed", DataType::UInt64, false),
                        Field::new("files_added", DataType::UInt64, false),
                        Field::new("bytes_removed", DataType::UInt64, false),
                        Field::new("bytes_added", DataType::UInt64, false),
                        Field::new("partitions_optimized", DataType::UInt64, false),
                        Field::new("files_considered", DataType::UInt64, false),
                    ],
                    vec![
                        Arc::new(StringArray::from(vec![entry.name.clone()])),
                        u(m.version),
                        u(m.files_removed),
                        u(m.files_added),
                        u(m.bytes_removed),
                        u(m.bytes_added),
                        u(m.partitions_optimized),
                        u(m.files_considered),
                    ],
                )
            }
            MaintenanceStatement::Vacuum {
                table,
                retain_hours,
                dry_run,
            } => {
                let entry = self.entry_for(&table).await?;
                let check = self.setting_bool(
                    "spark.databricks.delta.retentionDurationCheck.enabled",
                    true,
                ) && self.setting_bool("lakeshell.vacuum.retention_check", true);
                use crate::delta::vacuum;
                let m = super::retry::retrying(|| async {
                    let table = crate::delta::open(&entry).await?;
                    task(format!(
                        "VACUUM {}: finding files no version needs among {} live ones",
                        entry.name,
                        live(&table)
                    ));
                    let plan = vacuum::plan(&entry, &table, retain_hours, check).await?;
                    if dry_run {
                        return Ok(plan.metrics(true));
                    }
                    vacuum::execute(&entry, &table, plan, raw).await
                })
                .await?;
                let root = crate::catalog::display_url(&entry.url);
                let root = root.trim_end_matches('/');
                let n = m.files.len();
                rows(
                    vec![
                        Field::new("path", DataType::Utf8, false),
                        Field::new("dry_run", DataType::Boolean, false),
                        Field::new("retention_hours", DataType::Float64, false),
                    ],
                    vec![
                        Arc::new(StringArray::from_iter_values(
                            m.files.iter().map(|f| format!("{root}/{f}")),
                        )),
                        Arc::new(BooleanArray::from(vec![m.dry_run; n])),
                        Arc::new(Float64Array::from(vec![m.retention_hours; n])),
                    ],
                )
            }
            MaintenanceStatement::Fsck { table, dry_run } => {
                let entry = self.entry_for(&table).await?;
                let table = crate::delta::open(&entry).await?;
                task(format!(
                    "FSCK {}: checking {} files",
                    entry.name,
                    live(&table)
                ));
                let m = crate::delta::fsck::fsck(&entry, table, dry_run, raw).await?;
                let n = m.files_removed.len();
                rows(
                    vec![
                        Field::new("dataFilePath", DataType::Utf8, false),
                        Field::new("dataFileMissing", DataType::Boolean, false),
                        Field::new("removedFromLog", DataType::Boolean, false),
                    ],
                    vec![
                        Arc::new(StringArray::from(m.files_removed.clone())),
                        Arc::new(BooleanArray::from(vec![true; n])),
                        Arc::new(BooleanArray::from(vec![!m.dry_run; n])),
                    ],
                )
            }
            MaintenanceStatement::Convert {
                location,
                partitioned_by,
                ..
            } => {
                let url = crate::catalog::parse_location(&location)?;
                let entry = crate::catalog::TableEntry {
                    name: location.clone(),
                    url,
                    options: self.warehouse.options().clone(),
                    external: true,
                };
                let fields = self.struct_fields(&partitioned_by).await?;
                Ok(Outcome::Write(
                    crate::delta::convert::convert(&entry, fields, raw).await?,
                ))
            }
        }
    }

    pub(super) async fn alter(&self, stmt: AlterTableStatement, raw: &str) -> Result<Outcome> {
        let entry = self.entry_for(&stmt.table).await?;
        use crate::delta::{columns, constraints, properties};
        let m = match stmt.action {
            AlterAction::AddConstraint { name, check } => {
                constraints::add(&self.state(), &entry, &name.value, &check.to_string(), raw)
                    .await?
            }
            AlterAction::AddExpectation(e) => self.attach_expectation(&entry, &e, raw).await?,
            AlterAction::DropConstraint { name, if_exists } => {
                let key = format!("{}{}", crate::expectations::PROPERTY_PREFIX, name.value);
                let table = crate::delta::open(&entry).await?;
                let is_expectation = table
                    .snapshot()
                    .map_err(crate::delta::on_table(&entry))?
                    .metadata()
                    .configuration()
                    .contains_key(&key);
                if is_expectation {
                    let mut m =
                        properties::update(&entry, &[], &[key], raw, "DROP EXPECTATION").await?;
                    m.notes.push(format!(
                        "expectation {} is no longer enforced on {}",
                        name.value, entry.name
                    ));
                    m
                } else {
                    constraints::drop(&entry, &name.value, if_exists, raw).await?
                }
            }
            AlterAction::SetProperties(p) => properties::set(&entry, &p, raw).await?,
            AlterAction::UnsetProperties { keys, if_exists } => {
                properties::unset(&entry, &keys, if_exists, raw).await?
            }
            AlterAction::AddColumns(cols) => {
                let fields = self.struct_fields(&cols).await?;
                columns::add(&entry, fields, raw).await?
            }
            AlterAction::DropNotNull(c) => columns::drop_not_null(&entry, &c.value, raw).await?,
        };
        Ok(Outcome::Write(m))
    }

    /// `ALTER TABLE t ADD CONSTRAINT name EXPECT ...`: a row condition must plan over the
    /// table's columns; existing rows are not tested (CHECK does that).
    async fn attach_expectation(
        &self,
        entry: &crate::catalog::TableEntry,
        e: &crate::sql::Expectation,
        raw: &str,
    ) -> Result<crate::delta::WriteMetrics> {
        let table = crate::delta::open(entry).await?;
        let snapshot = table.snapshot().map_err(crate::delta::on_table(entry))?;
        let key = crate::expectations::property(e);
        if snapshot
            .metadata()
            .configuration()
            .keys()
            .any(|k| k.eq_ignore_ascii_case(&format!("delta.constraints.{}", e.name.value)))
        {
            return Err(LakeError::Invalid(format!(
                "{}: a CHECK constraint is already named {}",
                entry.name, e.name.value
            )));
        }
        if let crate::sql::expectation::Check::Condition(c) = &e.check {
            let url = crate::catalog::display_url(&entry.url);
            let sql = format!("SELECT * FROM delta.`{url}` WHERE {c} LIMIT 0");
            self.plan_sql(&sql).await.map_err(|err| {
                LakeError::Invalid(format!(
                    "expectation {} on {}: {err}",
                    e.name.value, entry.name
                ))
            })?;
        }
        let mut m =
            crate::delta::properties::update(entry, &[key], &[], raw, "ADD EXPECTATION").await?;
        m.notes.push(format!(
            "expectation {} is attached to {}: {}",
            e.name.value,
            entry.name,
            if e.is_row_check() {
                "INSERT, CREATE TABLE AS and MERGE enforce it, and CHECK evaluates it"
            } else {
                "CHECK and lakeshell check evaluate it over the whole table"
            }
        ));
        Ok(m)
    }

    /// Delta fields for column definitions: types through DataFusion's SQL type mapping,
    /// `NOT NULL`, `COMMENT` and `GENERATED ALWAYS AS (expr)`.
    pub(super) async fn struct_fields(
        &self,
        cols: &[ColumnDef],
    ) -> Result<Vec<deltalake::kernel::StructField>> {
        if cols.is_empty() {
            return Ok(vec![]);
        }
        let casts: Vec<String> = cols
            .iter()
            .map(|c| format!("CAST(NULL AS {}) AS {}", c.data_type, c.name))
            .collect();
        let plan = self
            .plan_sql(&format!("SELECT {}", casts.join(", ")))
            .await?;
        let schema = plan.schema();
        let mut out = Vec::new();
        for (c, f) in cols.iter().zip(schema.fields()) {
            use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
            let dt: deltalake::kernel::DataType = f
                .data_type()
                .try_into_kernel()
                .map_err(|e| LakeError::Invalid(format!("column {}: {e}", c.name)))?;
            let mut nullable = true;
            let mut meta: Vec<(String, String)> = Vec::new();
            for o in &c.options {
                match &o.option {
                    ColumnOption::NotNull => nullable = false,
                    ColumnOption::Null => nullable = true,
                    ColumnOption::Comment(text) => meta.push(("comment".into(), text.to_string())),
                    ColumnOption::Generated {
                        generation_expr: Some(e),
                        ..
                    } => meta.push(("delta.generationExpression".into(), e.to_string())),
                    other => {
                        return Err(LakeError::Unsupported(format!(
                            "column option {other} on {}",
                            c.name
                        )))
                    }
                }
            }
            let field = deltalake::kernel::StructField::new(f.name().clone(), dt, nullable)
                .with_metadata(meta);
            out.push(field);
        }
        Ok(out)
    }
}
