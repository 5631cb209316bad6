//! Renders outcomes into any `Write`, batch by batch as they stream in: tables (comfy-table,
//! cell text from Arrow's formatter), CSV, TSV, JSON, NDJSON and Markdown. Knows Arrow and
//! [`crate::outcome`], nothing of Delta or the engine; a write's metrics arrive as a row like any
//! other.
//!
//! Only the table formats hold rows back, to lay out their columns: up to `max_rows` of them
//! (and one batch more, to tell whether there are more); the query is not read further.

pub mod progress;
mod table;

use std::io::Write;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::{RecordBatch, StringArray, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use futures::StreamExt;

use crate::error::{LakeError, Result};
use crate::outcome::{Outcome, Rows, WriteMetrics};

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Table,
    Csv,
    Tsv,
    Json,
    NdJson,
    Markdown,
}

impl FromStr for Format {
    type Err = LakeError;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "table" => Ok(Format::Table),
            "csv" => Ok(Format::Csv),
            "tsv" => Ok(Format::Tsv),
            "json" => Ok(Format::Json),
            "ndjson" | "jsonl" => Ok(Format::NdJson),
            "markdown" | "md" => Ok(Format::Markdown),
            other => Err(LakeError::Flag(format!(
                "unknown format {other}: use table, csv, tsv, json, ndjson or markdown"
            ))),
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            Format::Table => "table",
            Format::Csv => "csv",
            Format::Tsv => "tsv",
            Format::Json => "json",
            Format::NdJson => "ndjson",
            Format::Markdown => "markdown",
        };
        f.write_str(s)
    }
}

impl Format {
    /// Formats meant for people get footers and messages; the others carry data only.
    pub fn is_for_people(self) -> bool {
        matches!(self, Format::Table | Format::Markdown)
    }
}

/// How to print.
#[derive(Debug, Clone)]
pub struct PrintOptions {
    pub format: Format,
    /// Rows shown before a result is cut (table and markdown only). None shows all.
    pub max_rows: Option<usize>,
    /// Show elapsed time in the footer.
    pub timing: bool,
    /// Print results only: no messages, footers or write metrics.
    pub quiet: bool,
}

impl Default for PrintOptions {
    fn default() -> Self {
        PrintOptions {
            format: Format::Table,
            max_rows: Some(40),
            timing: true,
            quiet: false,
        }
    }
}

/// A write's metrics as a one-row result.
pub fn write_metrics_rows(m: &WriteMetrics) -> Result<Rows> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("table", DataType::Utf8, false),
        Field::new("operation", DataType::Utf8, false),
        Field::new("version", DataType::UInt64, false),
        Field::new("rows_inserted", DataType::UInt64, false),
        Field::new("rows_updated", DataType::UInt64, false),
        Field::new("rows_deleted", DataType::UInt64, false),
        Field::new("rows_copied", DataType::UInt64, false),
        Field::new("files_added", DataType::UInt64, false),
        Field::new("files_removed", DataType::UInt64, false),
    ]));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(StringArray::from(vec![m.table.as_str()])),
            Arc::new(StringArray::from(vec![m.operation.as_str()])),
            Arc::new(UInt64Array::from(vec![m.version])),
            Arc::new(UInt64Array::from(vec![m.rows_inserted])),
            Arc::new(UInt64Array::from(vec![m.rows_updated])),
            Arc::new(UInt64Array::from(vec![m.rows_deleted])),
            Arc::new(UInt64Array::from(vec![m.rows_copied])),
            Arc::new(UInt64Array::from(vec![m.files_added])),
            Arc::new(UInt64Array::from(vec![m.files_removed])),
        ],
    )?;
    Ok(Rows::from_batches(schema, vec![batch]))
}

/// What printing an outcome saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Printed {
    /// Rows printed, or read to print them.
    pub rows: u64,
}

/// Prints one statement's outcome; `started` is when the statement began (for the footer).
pub async fn print_outcome(
    out: &mut dyn Write,
    outcome: Outcome,
    opts: &PrintOptions,
    started: Instant,
) -> Result<Printed> {
    let all = PrintOptions {
        max_rows: None,
        ..opts.clone()
    };
    match outcome {
        Outcome::Rows(rows) => print_rows(out, rows, opts, started).await,
        Outcome::Write(m) => {
            if opts.quiet {
                return Ok(Printed::default());
            }
            print_rows(out, write_metrics_rows(&m)?, &all, started).await?;
            if opts.format.is_for_people() {
                for n in &m.notes {
                    writeln!(out, "note: {n}")?;
                }
            }
            Ok(Printed::default())
        }
        Outcome::Check(report) => print_rows(out, report.rows, &all, started).await,
        Outcome::Message(msg) => {
            if !opts.quiet && opts.format.is_for_people() {
                writeln!(out, "{msg}")?;
            }
            Ok(Printed::default())
        }
    }
}

/// Prints rows in the chosen format, as they arrive.
pub async fn print_rows(
    out: &mut dyn Write,
    mut rows: Rows,
    opts: &PrintOptions,
    started: Instant,
) -> Result<Printed> {
    let mut count = 0u64;
    match opts.format {
        Format::Table | Format::Markdown => {
            let limit = opts.max_rows.unwrap_or(usize::MAX);
            let mut held: Vec<RecordBatch> = Vec::new();
            let mut read = 0usize;
            while read <= limit {
                match rows.batches.next().await {
                    Some(b) => {
                        let b = b?;
                        read += b.num_rows();
                        held.push(b);
                    }
                    None => break,
                }
            }
            // Past the limit, one batch more tells whether the rows end here.
            let complete = read <= limit
                || match rows.batches.next().await {
                    None => true,
                    Some(b) => {
                        read += b?.num_rows();
                        false
                    }
                };
            let schema = Arc::clone(&rows.schema);
            drop(rows);
            let shown_batches = first_rows(&held, limit);
            let shown: usize = shown_batches.iter().map(|b| b.num_rows()).sum();
            let text = table::render(&schema, &shown_batches, opts.format == Format::Markdown)?;
            writeln!(out, "{text}")?;
            if !opts.quiet {
                let total = complete.then_some(read);
                let elapsed = opts.timing.then(|| started.elapsed());
                writeln!(out, "{}", footer(total, shown, elapsed))?;
            }
            count = read as u64;
        }
        Format::Csv | Format::Tsv => {
            let delimiter = if opts.format == Format::Csv {
                b','
            } else {
                b'\t'
            };
            let mut w = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .with_delimiter(delimiter)
                .build(&mut *out);
            let mut any = false;
            while let Some(b) = rows.batches.next().await {
                let b = b?;
                count += b.num_rows() as u64;
                w.write(&flat(&b)?)?;
                any = true;
            }
            if !any {
                w.write(&flat(&RecordBatch::new_empty(Arc::clone(&rows.schema)))?)?;
            }
        }
        Format::Json => {
            let mut w = datafusion::arrow::json::ArrayWriter::new(&mut *out);
            while let Some(b) = rows.batches.next().await {
                let b = b?;
                count += b.num_rows() as u64;
                w.write(&b)?;
            }
            w.finish()?;
            drop(w);
            if count == 0 {
                write!(out, "[]")?;
            }
            writeln!(out)?;
        }
        Format::NdJson => {
            let mut w = datafusion::arrow::json::LineDelimitedWriter::new(&mut *out);
            while let Some(b) = rows.batches.next().await {
                let b = b?;
                count += b.num_rows() as u64;
                w.write(&b)?;
            }
            w.finish()?;
        }
    }
    Ok(Printed { rows: count })
}

/// The first `limit` rows of `batches`.
fn first_rows(batches: &[RecordBatch], limit: usize) -> Vec<RecordBatch> {
    let mut left = limit;
    let mut out = Vec::new();
    for b in batches {
        if left == 0 {
            break;
        }
        let take = left.min(b.num_rows());
        out.push(b.slice(0, take));
        left -= take;
    }
    out
}

/// Prints an error as one line: `error: file:line: statement: cause`.
pub fn print_error(err: &mut dyn Write, e: &LakeError) {
    let _ = writeln!(err, "error: {}", crate::error::one_line(&e.to_string()));
}

/// The closing line of a pipeline run (on stderr, so stdout stays data).
pub fn print_run_summary(err: &mut dyn Write, line: &str) {
    let _ = writeln!(err, "{line}");
}

/// "3 rows (0.012 s)", "1000 rows, 40 shown (...)", or, when the query was not read to its end,
/// "40 rows shown, more not read (...)".
pub fn footer(total: Option<usize>, shown: usize, elapsed: Option<Duration>) -> String {
    let noun = |n: usize| if n == 1 { "row" } else { "rows" };
    let mut s = match total {
        Some(t) if shown < t => format!(
            "{t} {}, {shown} shown (\\maxrows N or \\maxrows 0 for all)",
            noun(t)
        ),
        Some(t) => format!("{t} {}", noun(t)),
        None => format!(
            "{shown} {} shown, more not read (\\maxrows N or \\maxrows 0 for all)",
            noun(shown)
        ),
    };
    if let Some(e) = elapsed {
        s.push_str(&format!(" ({:.3} s)", e.as_secs_f64()));
    }
    s
}

/// CSV has no nested values: lists, structs and maps are written as their text (`[a, b]`),
/// as the table format shows them.
fn flat(batch: &RecordBatch) -> Result<RecordBatch> {
    use datafusion::arrow::array::{ArrayRef, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
    if !batch
        .schema()
        .fields()
        .iter()
        .any(|f| f.data_type().is_nested())
    {
        return Ok(batch.clone());
    }
    let opts = FormatOptions::default();
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (f, c) in batch.schema().fields().iter().zip(batch.columns()) {
        if !f.data_type().is_nested() {
            fields.push(f.as_ref().clone());
            columns.push(Arc::clone(c));
            continue;
        }
        let fmt = ArrayFormatter::try_new(c.as_ref(), &opts)?;
        let text: StringArray = (0..c.len())
            .map(|i| (!c.is_null(i)).then(|| fmt.value(i).to_string()))
            .collect();
        fields.push(Field::new(f.name(), DataType::Utf8, true));
        columns.push(Arc::new(text));
    }
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_and_print() {
        for f in ["table", "csv", "tsv", "json", "ndjson", "markdown"] {
            assert_eq!(f.parse::<Format>().unwrap().to_string(), f);
        }
        assert!("xml".parse::<Format>().is_err());
    }

    #[test]
    fn footer_says_when_cut() {
        assert_eq!(footer(Some(1), 1, None), "1 row");
        assert_eq!(
            footer(Some(100), 40, None),
            "100 rows, 40 shown (\\maxrows N or \\maxrows 0 for all)"
        );
        assert_eq!(
            footer(None, 40, None),
            "40 rows shown, more not read (\\maxrows N or \\maxrows 0 for all)"
        );
        assert_eq!(
            footer(Some(0), 0, Some(Duration::from_millis(12))),
            "0 rows (0.012 s)"
        );
    }
}
