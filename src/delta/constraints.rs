//! `ALTER TABLE t ADD CONSTRAINT name CHECK (expr)` and `DROP CONSTRAINT` over delta-rs, and the
//! table's constraints as `(name, expression)` for naming a violated one.

use std::sync::Arc;

use datafusion::execution::context::SessionState;
use deltalake::DeltaTable;

use super::{commit_properties, on_table, Commit, WriteMetrics};
use crate::error::{LakeError, Result};

/// The table's CHECK constraints: `(name, SQL expression)`, from `delta.constraints.*`.
pub fn check_constraints(table: &DeltaTable) -> Vec<(String, String)> {
    let Ok(state) = table.snapshot() else {
        return vec![];
    };
    let mut out: Vec<(String, String)> = state
        .metadata()
        .configuration()
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("delta.constraints.")
                .map(|n| (n.to_string(), v.clone()))
        })
        .collect();
    out.sort();
    out
}

/// Every rule a written row must hold, one at a time: `(what, SQL condition)` for each CHECK
/// constraint and each NOT NULL column.
pub fn rules(table: &DeltaTable) -> Vec<(String, String)> {
    let mut rules: Vec<(String, String)> = check_constraints(table)
        .into_iter()
        .map(|(n, e)| (format!("CHECK constraint {n}"), e))
        .collect();
    if let Ok(snapshot) = table.snapshot() {
        for f in snapshot.schema().fields() {
            if !f.is_nullable() {
                rules.push((
                    format!("NOT NULL constraint on {}", f.name()),
                    format!("\"{}\" IS NOT NULL", f.name()),
                ));
            }
        }
    }
    rules
}

/// Adds a CHECK constraint; delta-rs checks the existing rows first.
pub async fn add(
    state: &SessionState,
    table: DeltaTable,
    commit: Commit<'_>,
    name: &str,
    check: &str,
) -> Result<WriteMetrics> {
    let read = table.version();
    let table = table
        .add_constraint()
        .with_constraint(name, check)
        .with_session_state(Arc::new(state.clone()))
        .with_commit_properties(commit_properties(commit.sql, read))
        .await
        .map_err(on_table(commit.table))?;
    Ok(WriteMetrics::new(
        commit.table,
        "ADD CONSTRAINT",
        table.version(),
    ))
}

/// Drops a CHECK constraint.
pub async fn drop(
    table: DeltaTable,
    commit: Commit<'_>,
    name: &str,
    if_exists: bool,
) -> Result<WriteMetrics> {
    let read = table.version();
    let table = table
        .drop_constraints()
        .with_constraint(name)
        .with_raise_if_not_exists(!if_exists)
        .with_commit_properties(commit_properties(commit.sql, read))
        .await
        .map_err(on_table(commit.table))?;
    Ok(WriteMetrics::new(
        commit.table,
        "DROP CONSTRAINT",
        table.version(),
    ))
}

/// Wraps `input` so every batch is checked against the table's constraints one at a time
/// before delta-rs sees it: a violation fails the write (nothing is committed) with the
/// constraint's name, its expression and the first violating row. delta-rs checks all
/// constraints together and names none.
pub fn checked(
    state: &SessionState,
    table: &DeltaTable,
    input: datafusion::execution::SendableRecordBatchStream,
) -> Result<datafusion::execution::SendableRecordBatchStream> {
    use datafusion::arrow::array::Array;
    use datafusion::common::DFSchema;
    use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
    use futures::StreamExt;

    let schema = input.schema();
    let df_schema = DFSchema::try_from(schema.as_ref().clone())?;
    let mut rules = rules(table);
    // Generated columns the input left NULL (INSERT without them) get their expression's value;
    // a value the input gave is kept, and delta-rs checks it matches.
    let mut generated = Vec::new();
    if let Ok(snapshot) = table.snapshot() {
        for f in snapshot.schema().fields() {
            let Some(deltalake::kernel::MetadataValue::String(text)) =
                f.metadata().get("delta.generationExpression")
            else {
                continue;
            };
            let Ok(index) = schema.index_of(f.name()) else {
                continue;
            };
            let expr = state.create_logical_expr(text, &df_schema)?;
            let physical = state.create_physical_expr(expr, &df_schema)?;
            generated.push((index, physical));
            rules.push((
                format!("generated column {}", f.name()),
                format!("\"{}\" IS NOT DISTINCT FROM ({text})", f.name()),
            ));
        }
    }
    let mut checks = Vec::new();
    for (name, text) in rules {
        // A constraint over columns the input lacks is left to delta-rs.
        let Ok(expr) = state.create_logical_expr(&text, &df_schema) else {
            continue;
        };
        let physical = state.create_physical_expr(expr, &df_schema)?;
        checks.push((name, text, physical));
    }
    if checks.is_empty() && generated.is_empty() {
        return Ok(input);
    }
    let out_schema = std::sync::Arc::clone(&schema);
    let stream = input.map(move |batch| {
        let mut batch = batch?;
        if !generated.is_empty() {
            use datafusion::arrow::compute::{cast, is_not_null, kernels::zip::zip};
            let mut columns = batch.columns().to_vec();
            for (index, expr) in &generated {
                let given = &columns[*index];
                let computed = expr.evaluate(&batch)?.into_array(batch.num_rows())?;
                let computed = cast(&computed, given.data_type())?;
                columns[*index] = zip(&is_not_null(given)?, given, &computed)?;
            }
            batch = datafusion::arrow::array::RecordBatch::try_new(
                std::sync::Arc::clone(&out_schema),
                columns,
            )?;
        }
        for (name, text, check) in &checks {
            let values = check.evaluate(&batch)?.into_array(batch.num_rows())?;
            let Some(values) = values
                .as_any()
                .downcast_ref::<datafusion::arrow::array::BooleanArray>()
            else {
                continue;
            };
            if let Some(row) = (0..values.len()).find(|&i| values.is_null(i) || !values.value(i)) {
                let err = LakeError::Constraint(format!(
                    "{name} ({text}) violated by row {}; nothing was written",
                    describe_row(&batch, row)
                ));
                return Err(datafusion::error::DataFusionError::External(Box::new(err)));
            }
        }
        Ok(batch)
    });
    Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
}

/// `{id: 3, amount: -5}`.
pub fn describe_row(batch: &datafusion::arrow::array::RecordBatch, row: usize) -> String {
    use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
    let opts = FormatOptions::default().with_null("NULL");
    let parts: Vec<String> = batch
        .schema()
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(f, col)| {
            let v = ArrayFormatter::try_new(col.as_ref(), &opts)
                .map(|fmt| fmt.value(row).to_string())
                .unwrap_or_else(|_| "?".into());
            format!("{}: {v}", f.name())
        })
        .collect();
    format!("{{{}}}", parts.join(", "))
}
