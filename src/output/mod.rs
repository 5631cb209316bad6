//! Renders results into any `Write`: tables (comfy-table, cell text from Arrow's formatter),
//! CSV, TSV, JSON, NDJSON and Markdown. Knows nothing of Delta; a write's metrics arrive as a
//! row like any other.

pub mod progress;
mod table;

use std::io::Write;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::{RecordBatch, StringArray, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema};

use crate::delta::WriteMetrics;
use crate::engine::{Outcome, Rows};
use crate::error::{LakeError, Result};

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
            other => Err(LakeError::Usage(format!(
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
    Ok(Rows {
        schema,
        batches: vec![batch],
        total_rows: 1,
    })
}

/// Prints one statement's outcome.
pub fn print_outcome(
    out: &mut dyn Write,
    outcome: &Outcome,
    opts: &PrintOptions,
    elapsed: Duration,
) -> Result<()> {
    match outcome {
        Outcome::Rows(rows) => print_rows(out, rows, opts, elapsed),
        Outcome::Write(m) => {
            if opts.quiet {
                return Ok(());
            }
            print_rows(
                out,
                &write_metrics_rows(m)?,
                &PrintOptions {
                    max_rows: None,
                    ..opts.clone()
                },
                elapsed,
            )?;
            if opts.format.is_for_people() {
                for n in &m.notes {
                    writeln!(out, "note: {n}")?;
                }
            }
            Ok(())
        }
        Outcome::Check(report) => print_rows(
            out,
            &report.rows,
            &PrintOptions {
                max_rows: None,
                ..opts.clone()
            },
            elapsed,
        ),
        Outcome::Message(msg) => {
            if opts.quiet || !opts.format.is_for_people() {
                return Ok(());
            }
            writeln!(out, "{msg}")?;
            Ok(())
        }
    }
}

/// Prints rows in the chosen format.
pub fn print_rows(
    out: &mut dyn Write,
    rows: &Rows,
    opts: &PrintOptions,
    elapsed: Duration,
) -> Result<()> {
    let shown_rows = |limit: Option<usize>| -> Vec<RecordBatch> {
        let mut left = limit.unwrap_or(usize::MAX);
        let mut out = Vec::new();
        for b in &rows.batches {
            if left == 0 {
                break;
            }
            let take = left.min(b.num_rows());
            out.push(b.slice(0, take));
            left -= take;
        }
        out
    };
    match opts.format {
        Format::Table | Format::Markdown => {
            let batches = shown_rows(opts.max_rows);
            let shown: usize = batches.iter().map(|b| b.num_rows()).sum();
            let text = table::render(&rows.schema, &batches, opts.format == Format::Markdown)?;
            writeln!(out, "{text}")?;
            if !opts.quiet {
                writeln!(
                    out,
                    "{}",
                    footer(rows.total_rows, shown, opts.timing.then_some(elapsed))
                )?;
            }
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
            if rows.batches.is_empty() {
                w.write(&flat(&RecordBatch::new_empty(Arc::clone(&rows.schema)))?)?;
            }
            for b in &rows.batches {
                w.write(&flat(b)?)?;
            }
        }
        Format::Json => {
            let mut w = datafusion::arrow::json::ArrayWriter::new(&mut *out);
            let refs: Vec<&RecordBatch> = rows.batches.iter().collect();
            w.write_batches(&refs)?;
            w.finish()?;
            if rows.total_rows == 0 {
                write!(out, "[]")?;
            }
            writeln!(out)?;
        }
        Format::NdJson => {
            let mut w = datafusion::arrow::json::LineDelimitedWriter::new(&mut *out);
            let refs: Vec<&RecordBatch> = rows.batches.iter().collect();
            w.write_batches(&refs)?;
            w.finish()?;
        }
    }
    Ok(())
}

/// Prints an error as one line: `error: file:line: statement: cause`.
pub fn print_error(err: &mut dyn Write, e: &LakeError) {
    let _ = writeln!(err, "error: {}", crate::error::one_line(&e.to_string()));
}

/// The closing line of a pipeline run (on stderr, so stdout stays data).
pub fn print_run_summary(err: &mut dyn Write, line: &str) {
    let _ = writeln!(err, "{line}");
}

/// "3 rows (0.012 s)", or "1000 rows, 40 shown (\maxrows N to see more)".
pub fn footer(total: usize, shown: usize, elapsed: Option<Duration>) -> String {
    let noun = if total == 1 { "row" } else { "rows" };
    let mut s = format!("{total} {noun}");
    if shown < total {
        s.push_str(&format!(
            ", {shown} shown (\\maxrows N or \\maxrows 0 for all)"
        ));
    }
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
        assert_eq!(footer(1, 1, None), "1 row");
        assert_eq!(
            footer(100, 40, None),
            "100 rows, 40 shown (\\maxrows N or \\maxrows 0 for all)"
        );
        assert_eq!(
            footer(0, 0, Some(Duration::from_millis(12))),
            "0 rows (0.012 s)"
        );
    }
}
