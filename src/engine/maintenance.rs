//! `RESTORE`, `OPTIMIZE`, `VACUUM`, `FSCK REPAIR TABLE`, `CONVERT TO DELTA` and each `ALTER TABLE`
//! action: resolves the table, opens it once, turns the statement's SQL into what the Delta
//! operation takes, and returns figures as rows. The dispatch in `engine/mod.rs` calls one
//! function here per statement kind.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, BooleanArray, Float64Array, StringArray, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::sql::sqlparser::ast::{BinaryOperator, ColumnDef, ColumnOption, Expr};

use datafusion::sql::sqlparser::ast::{Ident, ObjectName};

use super::{rows, Engine, ExecOptions, Outcome};
use crate::catalog::TableEntry;
use crate::delta::optimize::PartitionFilter;
use crate::delta::{columns, constraints, properties, Commit};
use crate::error::{LakeError, Result};
use crate::sql::maintenance::VersionSpec;
use crate::sql::Expectation;

/// `WHERE` of OPTIMIZE as delta-rs partition filters: `col op literal` and `col [NOT] IN (...)`
/// joined by AND.
pub(super) fn partition_filters(e: &Expr, out: &mut Vec<PartitionFilter>) -> Result<()> {
    let bad = || {
        LakeError::BadStatement(format!(
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

/// The number of live files of an opened table, for progress lines.
fn live(t: &deltalake::DeltaTable) -> usize {
    t.snapshot().map(|s| s.log_data().num_files()).unwrap_or(0)
}

fn task(opts: &ExecOptions, t: String) {
    if let Some(p) = &opts.progress {
        p.set_task(t);
    }
}

fn commit<'a>(entry: &'a TableEntry, sql: &'a str) -> Commit<'a> {
    Commit {
        table: &entry.name,
        sql: Some(sql),
    }
}

impl Engine {
    /// `RESTORE TABLE t TO VERSION AS OF n | TIMESTAMP AS OF ts`.
    pub(super) async fn restore(
        &self,
        table: &ObjectName,
        to: &VersionSpec,
        sql: &str,
        opts: &ExecOptions,
    ) -> Result<Outcome> {
        let entry = self.entry_for(table).await?;
        let to = self.version_spec(to).await?;
        task(opts, format!("RESTORE {} to {to}", entry.name));
        let m = super::retry::retrying(|| async {
            let table = self.warehouse.open(&entry).await?;
            crate::delta::restore::restore(table, commit(&entry, sql), to).await
        })
        .await?;
        Ok(Outcome::Write(m))
    }

    /// `OPTIMIZE t [WHERE partition predicate] [ZORDER BY (cols)]`.
    pub(super) async fn optimize(
        &self,
        table: &ObjectName,
        predicate: Option<&Expr>,
        zorder_by: &[Ident],
        sql: &str,
        opts: &ExecOptions,
    ) -> Result<Outcome> {
        let entry = self.entry_for(table).await?;
        let mut filters = Vec::new();
        if let Some(p) = predicate {
            partition_filters(p, &mut filters)?;
        }
        let cols: Vec<String> = zorder_by.iter().map(|c| c.value.clone()).collect();
        let m = super::retry::retrying(|| async {
            let table = self.warehouse.open(&entry).await?;
            task(
                opts,
                format!(
                    "OPTIMIZE {}: {} {} files",
                    entry.name,
                    if cols.is_empty() {
                        "compacting"
                    } else {
                        "Z-ordering"
                    },
                    live(&table)
                ),
            );
            crate::delta::optimize::optimize(
                &self.state(),
                table,
                commit(&entry, sql),
                &filters,
                cols.clone(),
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

    /// `VACUUM t [RETAIN n HOURS] [DRY RUN]`: planned once; the files listed are the files
    /// deleted.
    pub(super) async fn vacuum(
        &self,
        table: &ObjectName,
        retain_hours: Option<f64>,
        dry_run: bool,
        sql: &str,
        opts: &ExecOptions,
    ) -> Result<Outcome> {
        use crate::delta::vacuum;
        let entry = self.entry_for(table).await?;
        let check = self.setting_bool(
            "spark.databricks.delta.retentiondurationcheck.enabled",
            true,
        ) && self.setting_bool("lakeshell.vacuum.retention_check", true);
        let m = super::retry::retrying(|| async {
            let table = self.warehouse.open(&entry).await?;
            task(
                opts,
                format!(
                    "VACUUM {}: finding files no version needs among {} live ones",
                    entry.name,
                    live(&table)
                ),
            );
            let plan = vacuum::plan(&entry.name, &table, retain_hours, check).await?;
            if dry_run {
                return Ok(plan.metrics(true));
            }
            vacuum::execute(&table, commit(&entry, sql), plan).await
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

    /// `FSCK REPAIR TABLE t [DRY RUN]`.
    pub(super) async fn fsck(
        &self,
        table: &ObjectName,
        dry_run: bool,
        sql: &str,
        opts: &ExecOptions,
    ) -> Result<Outcome> {
        let entry = self.entry_for(table).await?;
        let table = self.warehouse.open(&entry).await?;
        task(
            opts,
            format!("FSCK {}: checking {} files", entry.name, live(&table)),
        );
        let m = crate::delta::fsck::fsck(table, commit(&entry, sql), dry_run).await?;
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

    /// `CONVERT TO DELTA parquet.`path` [PARTITIONED BY (...)]`.
    pub(super) async fn convert(
        &self,
        location: &str,
        partitioned_by: &[ColumnDef],
        sql: &str,
    ) -> Result<Outcome> {
        let entry = self.warehouse.at_location(location)?;
        let fields = self.struct_fields(partitioned_by).await?;
        Ok(Outcome::Write(
            crate::delta::convert::convert(
                &entry.url,
                crate::catalog::options::for_store(&entry.options),
                commit(&entry, sql),
                fields,
            )
            .await?,
        ))
    }

    /// `ALTER TABLE t ADD CONSTRAINT name CHECK (...)`.
    pub(super) async fn add_constraint(
        &self,
        table: &ObjectName,
        name: &Ident,
        check: &Expr,
        sql: &str,
    ) -> Result<Outcome> {
        let entry = self.entry_for(table).await?;
        let table = self.warehouse.open(&entry).await?;
        Ok(Outcome::Write(
            constraints::add(
                &self.state(),
                table,
                commit(&entry, sql),
                &name.value,
                &check.to_string(),
            )
            .await?,
        ))
    }

    /// `ALTER TABLE t DROP CONSTRAINT [IF EXISTS] name`: a CHECK constraint or an expectation.
    pub(super) async fn drop_constraint(
        &self,
        table: &ObjectName,
        name: &Ident,
        if_exists: bool,
        sql: &str,
    ) -> Result<Outcome> {
        let entry = self.entry_for(table).await?;
        let table = self.warehouse.open(&entry).await?;
        let key = format!("{}{}", crate::expectations::PROPERTY_PREFIX, name.value);
        let is_expectation = table
            .snapshot()
            .map_err(crate::delta::on_table(&entry.name))?
            .metadata()
            .configuration()
            .contains_key(&key);
        let m = if is_expectation {
            let mut m =
                properties::update(table, commit(&entry, sql), &[], &[key], "DROP EXPECTATION")
                    .await?;
            m.notes.push(format!(
                "expectation {} is no longer enforced on {}",
                name.value, entry.name
            ));
            m
        } else {
            constraints::drop(table, commit(&entry, sql), &name.value, if_exists).await?
        };
        Ok(Outcome::Write(m))
    }

    /// `ALTER TABLE t SET TBLPROPERTIES (...)`.
    pub(super) async fn set_properties(
        &self,
        table: &ObjectName,
        props: &[(String, String)],
        sql: &str,
    ) -> Result<Outcome> {
        let entry = self.entry_for(table).await?;
        let table = self.warehouse.open(&entry).await?;
        Ok(Outcome::Write(
            properties::set(table, commit(&entry, sql), props).await?,
        ))
    }

    /// `ALTER TABLE t UNSET TBLPROPERTIES [IF EXISTS] (...)`.
    pub(super) async fn unset_properties(
        &self,
        table: &ObjectName,
        keys: &[String],
        if_exists: bool,
        sql: &str,
    ) -> Result<Outcome> {
        let entry = self.entry_for(table).await?;
        let table = self.warehouse.open(&entry).await?;
        Ok(Outcome::Write(
            properties::unset(table, commit(&entry, sql), keys, if_exists).await?,
        ))
    }

    /// `ALTER TABLE t ADD COLUMNS (...)`.
    pub(super) async fn add_columns(
        &self,
        table: &ObjectName,
        cols: &[ColumnDef],
        sql: &str,
    ) -> Result<Outcome> {
        let entry = self.entry_for(table).await?;
        let fields = self.struct_fields(cols).await?;
        let table = self.warehouse.open(&entry).await?;
        let schema = table
            .snapshot()
            .map_err(crate::delta::on_table(&entry.name))?
            .snapshot()
            .arrow_schema();
        for f in &fields {
            if let Some(have) = schema
                .fields()
                .iter()
                .find(|h| h.name().eq_ignore_ascii_case(f.name()))
            {
                return Err(LakeError::BadStatement(format!(
                    "ALTER TABLE {}: the table already has a column {} ({}); add a column of another name",
                    entry.name,
                    have.name(),
                    have.data_type()
                )));
            }
        }
        Ok(Outcome::Write(
            columns::add(table, commit(&entry, sql), fields).await?,
        ))
    }

    /// `ALTER TABLE t ALTER COLUMN c DROP NOT NULL`.
    pub(super) async fn drop_not_null(
        &self,
        table: &ObjectName,
        column: &Ident,
        sql: &str,
    ) -> Result<Outcome> {
        let entry = self.entry_for(table).await?;
        let table = self.warehouse.open(&entry).await?;
        Ok(Outcome::Write(
            columns::drop_not_null(table, commit(&entry, sql), &column.value).await?,
        ))
    }

    /// `ALTER TABLE t ADD CONSTRAINT name EXPECT ...`: a row condition must plan over the
    /// table's columns; existing rows are not tested (CHECK does that).
    pub(super) async fn add_expectation(
        &self,
        table: &ObjectName,
        e: &Expectation,
        sql: &str,
    ) -> Result<Outcome> {
        let entry = self.entry_for(table).await?;
        Ok(Outcome::Write(
            self.attach_expectation(&entry, e, sql).await?,
        ))
    }

    /// `ALTER TABLE t ADD CONSTRAINT name EXPECT ...`: a row condition must plan over the
    /// table's columns; existing rows are not tested (CHECK does that).
    async fn attach_expectation(
        &self,
        entry: &TableEntry,
        e: &Expectation,
        sql: &str,
    ) -> Result<crate::delta::WriteMetrics> {
        let table = self.warehouse.open(entry).await?;
        let snapshot = table
            .snapshot()
            .map_err(crate::delta::on_table(&entry.name))?;
        let key = crate::expectations::property(e);
        if snapshot
            .metadata()
            .configuration()
            .keys()
            .any(|k| k.eq_ignore_ascii_case(&format!("delta.constraints.{}", e.name.value)))
        {
            return Err(LakeError::BadStatement(format!(
                "{}: a CHECK constraint is already named {}",
                entry.name, e.name.value
            )));
        }
        if let crate::sql::expectation::Check::Condition(c) = &e.check {
            let schema = datafusion::common::DFSchema::try_from(
                snapshot.snapshot().arrow_schema().as_ref().clone(),
            )?;
            self.plan_expr(c, &schema).map_err(|err| {
                LakeError::BadStatement(format!(
                    "expectation {} on {}: {err}",
                    e.name.value, entry.name
                ))
            })?;
        }
        let mut m =
            properties::update(table, commit(entry, sql), &[key], &[], "ADD EXPECTATION").await?;
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
        use datafusion::logical_expr::ExprSchemable;
        use datafusion::sql::sqlparser::ast::{CastKind, Expr as SqlExpr, Value};
        let empty = datafusion::common::DFSchema::empty();
        let mut out = Vec::new();
        for c in cols {
            use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
            // The SQL type, as DataFusion maps it.
            let cast = SqlExpr::Cast {
                kind: CastKind::Cast,
                expr: Box::new(SqlExpr::value(Value::Null)),
                data_type: c.data_type.clone(),
                array: false,
                format: None,
            };
            let arrow = self.plan_expr(&cast, &empty)?.get_type(&empty)?;
            let dt: deltalake::kernel::DataType = (&arrow)
                .try_into_kernel()
                .map_err(|e| LakeError::BadStatement(format!("column {}: {e}", c.name)))?;
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
            let name = if c.name.quote_style.is_some() {
                c.name.value.clone()
            } else {
                c.name.value.to_ascii_lowercase()
            };
            let field = deltalake::kernel::StructField::new(name, dt, nullable).with_metadata(meta);
            out.push(field);
        }
        Ok(out)
    }
}
