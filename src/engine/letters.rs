//! Dead letters: records a load set aside (they did not parse, or did not fit), kept in a Delta
//! table with the one schema every dead-letter table shares: `record` (the text as it came),
//! `source` (the file or the page's URL), `line` (files) or `page` (APIs), `error`,
//! `rejected_at`, `run_id` and `target` (the table the statement wrote, if any).
//!
//! COPY INTO writes its letters right after its rows commit. `read_files(..., dead_letter =>
//! 't')` and `read_api(..., dead_letter => 't')` are read before planning, so theirs wait here
//! and are written only when the statement that read them succeeds, and dropped when it fails.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};

use super::Engine;
use crate::catalog::TableName;
use crate::error::{LakeError, Result};

/// One record set aside.
#[derive(Debug, Clone)]
pub(crate) struct Letter {
    pub record: String,
    pub source: String,
    pub line: Option<i64>,
    pub page: Option<i64>,
    pub error: String,
}

/// Letters waiting for their statement to succeed: the dead-letter table and its rows.
pub(crate) type Pending = Vec<(String, Vec<Letter>)>;

/// The letters as one batch of the dead-letter schema.
pub(crate) fn batch(letters: &[Letter], target: Option<&str>, run_id: &str) -> Result<RecordBatch> {
    let n = letters.len();
    let now = chrono::Utc::now().timestamp_micros();
    let schema = Arc::new(Schema::new(vec![
        Field::new("record", DataType::Utf8, true),
        Field::new("source", DataType::Utf8, true),
        Field::new("line", DataType::Int64, true),
        Field::new("page", DataType::Int64, true),
        Field::new("error", DataType::Utf8, true),
        Field::new(
            "rejected_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        Field::new("run_id", DataType::Utf8, true),
        Field::new("target", DataType::Utf8, true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            letters.iter().map(|l| l.record.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            letters.iter().map(|l| l.source.as_str()),
        )),
        Arc::new(Int64Array::from_iter(letters.iter().map(|l| l.line))),
        Arc::new(Int64Array::from_iter(letters.iter().map(|l| l.page))),
        Arc::new(StringArray::from_iter_values(
            letters.iter().map(|l| l.error.as_str()),
        )),
        Arc::new(TimestampMicrosecondArray::from(vec![now; n]).with_timezone("UTC")),
        Arc::new(StringArray::from(vec![run_id; n])),
        Arc::new(StringArray::from(vec![target; n])),
    ];
    Ok(RecordBatch::try_new(schema, columns)?)
}

impl Engine {
    /// Appends `letters` to the dead-letter table `table`.
    pub(super) async fn keep_letters(
        &self,
        table: &str,
        letters: &[Letter],
        target: Option<&str>,
    ) -> Result<()> {
        if letters.is_empty() {
            return Ok(());
        }
        let entry = self
            .warehouse
            .resolve_for_write(&TableName::from_text(table)?)
            .await?;
        let b = batch(letters, target, &self.run_id)?;
        self.append_rows(&entry, vec![b], "DEAD LETTER").await?;
        Ok(())
    }

    /// Keeps `letters` for `table` until the statement succeeds.
    pub(super) fn letters_after(&self, table: &str, letters: Vec<Letter>) -> Result<()> {
        if letters.is_empty() {
            return Ok(());
        }
        self.letters
            .lock()
            .map_err(|_| LakeError::Internal("dead letters lock poisoned".into()))?
            .push((table.to_string(), letters));
        Ok(())
    }

    /// Writes the letters of the statement that just succeeded.
    pub(super) async fn write_pending_letters(&self, target: Option<&str>) -> Result<()> {
        let pending: Pending = match self.letters.lock() {
            Ok(mut p) => std::mem::take(&mut *p),
            Err(_) => return Ok(()),
        };
        for (table, letters) in pending {
            self.keep_letters(&table, &letters, target)
                .await
                .map_err(|e| {
                    LakeError::PartlyWritten(format!(
                        "the statement succeeded, but its {} rejected record(s) could not be kept in {table}: {e}",
                        letters.len()
                    ))
                })?;
        }
        Ok(())
    }

    /// Forgets the letters of a statement that failed.
    pub(super) fn drop_pending_letters(&self) {
        if let Ok(mut p) = self.letters.lock() {
            p.clear();
        }
    }
}
