//! Where expectation figures land: the quarantine table beside a target (`<table>_quarantine`,
//! the rows a DROP ROW expectation held back) and `lakeshell.quality_results` (one row per
//! expectation per check or enforced write). Both are written only after the target's own
//! commit succeeded, and carry the run id and the target version it produced.
//!
//! A quarantined row is kept once: its `_quarantine_key` (a hash of the row and the
//! expectations it broke) makes a re-run that drops the same row again add nothing.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::catalog::TableEntry;
use crate::error::{LakeError, Result};

/// The schema holding lakeshell's own tables in the warehouse.
pub const SYSTEM_SCHEMA: &str = "lakeshell";
/// `lakeshell.quality_results`.
pub const QUALITY_RESULTS: &str = "quality_results";

/// The quarantine table beside `target`: the same location and name with `_quarantine`.
pub fn quarantine_entry(target: &TableEntry) -> Result<TableEntry> {
    let mut url = target.url.clone();
    let path = url.path().trim_end_matches('/').to_string();
    if path.is_empty() {
        return Err(LakeError::BadLocation(format!(
            "{}: a table at the root of a bucket has no place beside it for a quarantine table",
            target.name
        )));
    }
    url.set_path(&format!("{path}_quarantine"));
    Ok(TableEntry {
        name: format!("{}_quarantine", target.name.trim_end_matches('/')),
        url,
        options: target.options.clone(),
        external: target.external,
    })
}

fn utc_micros() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// The column that identifies a quarantined row.
pub const QUARANTINE_KEY: &str = "_quarantine_key";

/// FNV-1a, 64 bits: stable across builds and platforms, unlike std's hasher.
fn fnv1a(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Quarantine rows: the held-back rows (with their `_expectations`), plus the run, the target
/// version, the time and the row's key; a row repeated within the write is kept once.
pub fn quarantine_batches(
    held: &[RecordBatch],
    run_id: &str,
    version: u64,
    at_micros: i64,
) -> Result<Vec<RecordBatch>> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for b in held {
        let keys: Vec<String> = (0..b.num_rows())
            .map(|i| fnv1a(&crate::delta::constraints::describe_row(b, i)))
            .collect();
        let first: Vec<bool> = keys.iter().map(|k| seen.insert(k.clone())).collect();
        let keep = datafusion::arrow::array::BooleanArray::from(first.clone());
        let b = &datafusion::arrow::compute::filter_record_batch(b, &keep)?;
        let keys: Vec<&str> = keys
            .iter()
            .zip(&first)
            .filter(|(_, f)| **f)
            .map(|(k, _)| k.as_str())
            .collect();
        let n = b.num_rows();
        let mut fields: Vec<Arc<Field>> = b.schema().fields().iter().cloned().collect();
        fields.push(Arc::new(Field::new("_run_id", DataType::Utf8, false)));
        fields.push(Arc::new(Field::new(
            "_target_version",
            DataType::Int64,
            false,
        )));
        fields.push(Arc::new(Field::new("_quarantined_at", utc_micros(), false)));
        fields.push(Arc::new(Field::new(QUARANTINE_KEY, DataType::Utf8, false)));
        let mut columns: Vec<ArrayRef> = b.columns().to_vec();
        columns.push(Arc::new(StringArray::from(vec![run_id; n])));
        columns.push(Arc::new(Int64Array::from(vec![version as i64; n])));
        columns.push(Arc::new(
            TimestampMicrosecondArray::from(vec![at_micros; n]).with_timezone("UTC"),
        ));
        columns.push(Arc::new(StringArray::from(keys)));
        out.push(RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            columns,
        )?);
    }
    Ok(out)
}

/// One expectation's figures from a check or an enforced write.
#[derive(Debug, Clone, PartialEq)]
pub struct QualityRow {
    pub run_id: String,
    pub table: String,
    /// The version checked, or the version the write committed.
    pub version: Option<u64>,
    pub expectation: String,
    /// The expectation as written (`EXPECT ... ON VIOLATION ...`).
    pub rule: String,
    /// `CHECK`, or the write's operation (`INSERT`, `MERGE`, ...).
    pub source: String,
    /// `warn`, `drop` or `fail`.
    pub action: String,
    pub rows_checked: Option<u64>,
    pub rows_failed: Option<u64>,
    /// `pass`, `warn` or `fail`.
    pub status: String,
    /// A few failing rows, or what a table-level check found.
    pub detail: String,
    pub at_micros: i64,
}

/// The schema of `lakeshell.quality_results`.
pub fn quality_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("run_id", DataType::Utf8, false),
        Field::new("checked_at", utc_micros(), false),
        Field::new("table_name", DataType::Utf8, false),
        Field::new("table_version", DataType::Int64, true),
        Field::new("expectation", DataType::Utf8, false),
        Field::new("rule", DataType::Utf8, false),
        Field::new("source", DataType::Utf8, false),
        Field::new("action", DataType::Utf8, false),
        Field::new("rows_checked", DataType::Int64, true),
        Field::new("rows_failed", DataType::Int64, true),
        Field::new("status", DataType::Utf8, false),
        Field::new("detail", DataType::Utf8, false),
    ]))
}

/// Quality rows as one batch of [`quality_schema`].
pub fn quality_batch(rows: &[QualityRow]) -> Result<RecordBatch> {
    let s = |f: fn(&QualityRow) -> &str| -> ArrayRef {
        Arc::new(StringArray::from(rows.iter().map(f).collect::<Vec<_>>()))
    };
    let i = |f: fn(&QualityRow) -> Option<u64>| -> ArrayRef {
        Arc::new(Int64Array::from(
            rows.iter()
                .map(|r| f(r).map(|v| v as i64))
                .collect::<Vec<_>>(),
        ))
    };
    let columns: Vec<ArrayRef> = vec![
        s(|r| &r.run_id),
        Arc::new(
            TimestampMicrosecondArray::from(rows.iter().map(|r| r.at_micros).collect::<Vec<_>>())
                .with_timezone("UTC"),
        ),
        s(|r| &r.table),
        i(|r| r.version),
        s(|r| &r.expectation),
        s(|r| &r.rule),
        s(|r| &r.source),
        s(|r| &r.action),
        i(|r| r.rows_checked),
        i(|r| r.rows_failed),
        s(|r| &r.status),
        s(|r| &r.detail),
    ];
    Ok(RecordBatch::try_new(quality_schema(), columns)?)
}
