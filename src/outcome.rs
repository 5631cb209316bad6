//! What a statement produced, as data: rows, the summary of a write, a message, or what a CHECK
//! found. The engine returns an [`Outcome`]; `output/` renders it and knows nothing else of the
//! engine, besides Arrow. Rows arrive as a stream, so a result is rendered batch by batch and
//! never held whole.

use std::fmt;
use std::pin::Pin;
use std::time::Duration;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use futures::Stream;

use crate::error::Result;

/// A stream of result batches.
pub type BatchStream = Pin<Box<dyn Stream<Item = Result<RecordBatch>> + Send>>;

/// What a statement produced.
#[derive(Debug)]
pub enum Outcome {
    /// Rows of a query.
    Rows(Rows),
    /// What a write did.
    Write(WriteMetrics),
    /// A statement that returns no rows, with a line for the user.
    Message(String),
    /// What `CHECK` found.
    Check(CheckReport),
}

/// Query results: a schema and the batches still to come.
pub struct Rows {
    pub schema: SchemaRef,
    pub batches: BatchStream,
    /// Lines for the user under the table (a diff's counts, what a dry run would do).
    pub notes: Vec<String>,
}

impl Rows {
    /// Rows already in hand (DESCRIBE, OPTIMIZE's figures, a CHECK report).
    pub fn from_batches(schema: SchemaRef, batches: Vec<RecordBatch>) -> Rows {
        Rows {
            schema,
            batches: Box::pin(futures::stream::iter(batches.into_iter().map(Ok))),
            notes: Vec::new(),
        }
    }

    /// The same rows with `notes` under them.
    pub fn with_notes(mut self, notes: Vec<String>) -> Rows {
        self.notes = notes;
        self
    }
}

impl Rows {
    /// Every batch, read to the end (for tests and lakeshell's own small results).
    pub async fn collect(self) -> Result<Vec<RecordBatch>> {
        futures::TryStreamExt::try_collect(self.batches).await
    }
}

impl fmt::Debug for Rows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rows")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

/// What a write did: one row of figures, the same columns for every kind of write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteMetrics {
    /// `schema.table` or the location written.
    pub table: String,
    /// `CREATE TABLE AS SELECT`, `INSERT`, `UPDATE`, `MERGE` ...
    pub operation: String,
    /// The table version the write committed (the unchanged version when nothing was committed).
    pub version: u64,
    pub rows_inserted: u64,
    pub rows_updated: u64,
    pub rows_deleted: u64,
    /// Unchanged rows rewritten because they shared a file with changed ones.
    pub rows_copied: u64,
    pub files_added: u64,
    pub files_removed: u64,
    /// Lines for the user about the write (expectations that rows broke).
    pub notes: Vec<String>,
}

impl WriteMetrics {
    /// Figures for `operation` on `table`, all zero.
    pub fn new(table: &str, operation: &str, version: Option<u64>) -> Self {
        WriteMetrics {
            table: table.to_string(),
            operation: operation.to_string(),
            version: version.unwrap_or_default(),
            ..Default::default()
        }
    }
}

/// What `CHECK` found: its rows for the user, and the expectations whose status is `fail`.
#[derive(Debug)]
pub struct CheckReport {
    pub table: String,
    pub rows: Rows,
    pub failed: Vec<String>,
}

/// A reading of a running statement's progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressSnapshot {
    pub rows_scanned: u64,
    pub bytes_scanned: u64,
    pub elapsed: Duration,
    /// What a maintenance statement is doing (`OPTIMIZE sales.orders: compacting 412 files`).
    pub task: Option<String>,
}
