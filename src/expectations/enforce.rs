//! Row conditions enforced on the rows of a write, before delta-rs sees them: every row is
//! tested against every row expectation; a row that breaks a DROP ROW expectation is held back
//! (with the names of all the expectations it broke) for the quarantine table; a FAIL
//! expectation over its threshold fails the write, so nothing is committed; WARN rows are kept
//! and counted. A condition that is NULL for a row counts as broken, as a filter would drop it.
//! DROP ROW expectations are applied first; WARN and FAIL ones count only the rows kept, since
//! a dropped row never reaches the table.

use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{
    Array, ArrayRef, BooleanArray, ListBuilder, RecordBatch, StringBuilder,
};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::DFSchema;
use datafusion::error::DataFusionError;
use datafusion::execution::context::SessionState;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use futures::StreamExt;

use crate::error::{LakeError, Result};
use crate::sql::expectation::{Action, Check, Status, Threshold};
use crate::sql::Expectation;

/// The name of the quarantine column listing the expectations a row broke.
pub const BROKEN_COLUMN: &str = "_expectations";

/// What enforcement saw during one write.
#[derive(Debug, Default)]
pub struct Enforcement {
    /// The table written.
    pub table: String,
    /// The row expectations enforced, with the rows each saw and the rows that broke it.
    pub expectations: Vec<Figures>,
    /// Rows the write was given.
    pub rows_checked: u64,
    /// Rows held back, with the [`BROKEN_COLUMN`] list.
    pub quarantined: Vec<RecordBatch>,
}

impl Enforcement {
    /// Rows held back for the quarantine table.
    pub fn rows_quarantined(&self) -> u64 {
        self.quarantined.iter().map(|b| b.num_rows() as u64).sum()
    }

    /// One line per expectation that any row broke, for the user.
    pub fn notes(&self, quarantine: &str) -> Vec<String> {
        self.expectations
            .iter()
            .filter(|f| f.failed > 0)
            .map(|f| {
                let (e, failed) = (&f.expectation, f.failed);
                let what = match e.action {
                    Action::Drop => format!("dropped {failed} row(s), kept in {quarantine}"),
                    Action::Warn | Action::Fail => format!("{failed} row(s) kept with a warning"),
                };
                format!("expectation {} on {}: {what}", e.name.value, self.table)
            })
            .collect()
    }
}

/// One expectation's figures.
#[derive(Debug, Clone)]
pub struct Figures {
    pub expectation: Expectation,
    /// Rows tested: all rows for DROP ROW, the rows kept for WARN and FAIL.
    pub checked: u64,
    pub failed: u64,
}

/// Shared between the stream and the caller, who reads it once the write is done.
pub type Shared = Arc<Mutex<Enforcement>>;

/// Wraps `input` so the row expectations among `expectations` are enforced on it.
pub fn enforce(
    state: &SessionState,
    input: SendableRecordBatchStream,
    table: &str,
    expectations: &[Expectation],
) -> Result<(SendableRecordBatchStream, Shared)> {
    let rows: Vec<&Expectation> = expectations.iter().filter(|e| e.is_row_check()).collect();
    let shared: Shared = Arc::new(Mutex::new(Enforcement {
        table: table.to_string(),
        expectations: rows
            .iter()
            .map(|e| Figures {
                expectation: (*e).clone(),
                checked: 0,
                failed: 0,
            })
            .collect(),
        ..Default::default()
    }));
    if rows.is_empty() {
        return Ok((input, shared));
    }
    let schema = input.schema();
    let df_schema = DFSchema::try_from(schema.as_ref().clone())?;
    let mut compiled: Vec<Arc<dyn PhysicalExpr>> = Vec::new();
    for e in &rows {
        let Check::Condition(cond) = &e.check else {
            continue;
        };
        let text = cond.to_string();
        let expr = state
            .create_logical_expr(&text, &df_schema)
            .map_err(|err| {
                LakeError::BadStatement(format!(
                    "expectation {} on {table} ({text}) cannot be checked on the rows written: {}",
                    e.name.value,
                    LakeError::from(err)
                ))
            })?;
        compiled.push(state.create_physical_expr(expr, &df_schema)?);
    }
    let quarantine_schema = Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .cloned()
            .chain(std::iter::once(Arc::new(Field::new(
                BROKEN_COLUMN,
                DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
                false,
            ))))
            .collect::<Vec<_>>(),
    ));
    let state_in = Arc::clone(&shared);
    let mapped = input.map(move |batch| {
        let batch = batch?;
        apply(&batch, &compiled, &state_in, &quarantine_schema).map_err(|e| match e {
            LakeError::DataFusion(d) => d,
            other => DataFusionError::External(Box::new(other)),
        })
    });
    let state_end = Arc::clone(&shared);
    let tail = futures::stream::once(async move { finish(&state_end) })
        .filter_map(|r| async move { r.err().map(Err) });
    let out = RecordBatchStreamAdapter::new(schema, mapped.chain(tail));
    Ok((Box::pin(out), shared))
}

fn lock(shared: &Shared) -> Result<std::sync::MutexGuard<'_, Enforcement>> {
    shared
        .lock()
        .map_err(|_| LakeError::Internal("expectation figures lock poisoned".into()))
}

fn apply(
    batch: &RecordBatch,
    compiled: &[Arc<dyn PhysicalExpr>],
    shared: &Shared,
    quarantine_schema: &Arc<Schema>,
) -> Result<RecordBatch> {
    let n = batch.num_rows();
    let mut broken: Vec<Vec<bool>> = Vec::with_capacity(compiled.len());
    for expr in compiled {
        let values = expr.evaluate(batch)?.into_array(n)?;
        let values = values
            .as_any()
            .downcast_ref::<BooleanArray>()
            .ok_or_else(|| {
                LakeError::BadStatement("an expectation's condition is not boolean".into())
            })?;
        broken.push(
            (0..n)
                .map(|r| values.is_null(r) || !values.value(r))
                .collect(),
        );
    }
    let mut st = lock(shared)?;
    st.rows_checked += n as u64;
    let mut drop = vec![false; n];
    for (i, rows) in broken.iter().enumerate() {
        if st.expectations[i].expectation.action == Action::Drop {
            for (d, b) in drop.iter_mut().zip(rows) {
                *d |= *b;
            }
        }
    }
    let kept = drop.iter().filter(|d| !**d).count() as u64;
    for (i, rows) in broken.iter().enumerate() {
        let f = &mut st.expectations[i];
        if f.expectation.action == Action::Drop {
            f.checked += n as u64;
            f.failed += rows.iter().filter(|b| **b).count() as u64;
            continue;
        }
        f.checked += kept;
        let failing: Vec<usize> = (0..n).filter(|r| rows[*r] && !drop[*r]).collect();
        f.failed += failing.len() as u64;
        if let (Action::Fail, Some(Threshold::Rows(limit))) =
            (f.expectation.action, f.expectation.fail_threshold())
        {
            if f.failed > limit {
                let row = failing.first().copied().unwrap_or_default();
                return Err(fail_error(
                    &f.expectation,
                    f.failed,
                    None,
                    Some(batch_row(batch, row)),
                ));
            }
        }
    }
    if !drop.iter().any(|d| *d) {
        return Ok(batch.clone());
    }
    let mut names = ListBuilder::new(StringBuilder::new());
    for r in (0..n).filter(|r| drop[*r]) {
        for (i, rows) in broken.iter().enumerate() {
            if rows[r] {
                names
                    .values()
                    .append_value(&st.expectations[i].expectation.name.value);
            }
        }
        names.append(true);
    }
    let mask = BooleanArray::from(drop.clone());
    let held = filter_record_batch(batch, &mask)?;
    let mut columns: Vec<ArrayRef> = held.columns().to_vec();
    columns.push(Arc::new(names.finish()));
    st.quarantined.push(RecordBatch::try_new(
        Arc::clone(quarantine_schema),
        columns,
    )?);
    let keep = BooleanArray::from(drop.iter().map(|d| !d).collect::<Vec<_>>());
    Ok(filter_record_batch(batch, &keep)?)
}

/// After the last row: thresholds that need the total (percentages).
fn finish(shared: &Shared) -> std::result::Result<(), DataFusionError> {
    let st = lock(shared).map_err(|e| DataFusionError::External(Box::new(e)))?;
    for f in &st.expectations {
        let e = &f.expectation;
        if e.fail_threshold().is_some() && e.status(f.failed, f.checked) == Status::Fail {
            return Err(DataFusionError::External(Box::new(fail_error(
                e,
                f.failed,
                Some(f.checked),
                None,
            ))));
        }
    }
    Ok(())
}

fn batch_row(batch: &RecordBatch, row: usize) -> String {
    crate::delta::constraints::describe_row(batch, row)
}

fn fail_error(
    e: &Expectation,
    failed: u64,
    checked: Option<u64>,
    row: Option<String>,
) -> LakeError {
    let of = checked.map(|c| format!(" of {c}")).unwrap_or_default();
    let limit = e
        .fail_threshold()
        .map(|t| format!(" (FAIL IF {t})"))
        .unwrap_or_default();
    let example = row.map(|r| format!(", e.g. {r}")).unwrap_or_default();
    LakeError::Expectation(format!(
        "expectation {} {} failed on {failed}{of} row(s){limit}{example}; nothing was written",
        e.name.value, e.check
    ))
}
