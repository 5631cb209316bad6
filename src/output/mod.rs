//! Renders outcomes into any `Write`, batch by batch as they stream in: tables (comfy-table,
//! cell text from Arrow's formatter), CSV, TSV, JSON, NDJSON and Markdown. Knows Arrow and
//! [`crate::outcome`], nothing of Delta or the engine; a write's metrics arrive as a row like any
//! other.
//!
//! Only the table formats hold rows back, to lay out their columns: the first and the last of
//! them up to the row limit, while the rest stream past and are counted.

pub mod chart;
pub mod progress;
mod table;

use std::collections::VecDeque;
use std::io::{IsTerminal, Write};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::{RecordBatch, StringArray, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use futures::StreamExt;

use crate::error::{LakeError, Result};
use crate::outcome::{Outcome, Rows, WriteMetrics};
pub use table::{type_name, Expanded};

/// Rows a table shows on a terminal unless told otherwise (DuckDB's default too).
pub const TERMINAL_ROWS: usize = 40;

/// The terminal results are printed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Screen {
    pub width: usize,
    pub height: usize,
}

/// The terminal standard output is, if it is one with a known size.
pub fn screen() -> Option<Screen> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    match crossterm::terminal::size() {
        Ok((w, h)) if w > 0 => Some(Screen {
            width: w as usize,
            height: h as usize,
        }),
        _ => None,
    }
}

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
    /// Rows shown before a result is cut (table and markdown only): the first and the last
    /// ones. `Some(0)` shows all; None is [`TERMINAL_ROWS`] on a terminal and all elsewhere.
    pub max_rows: Option<usize>,
    /// Show elapsed time in the footer.
    pub timing: bool,
    /// Print results only: no messages, footers or write metrics.
    pub quiet: bool,
    /// Column types under the names (on a terminal).
    pub types: bool,
    /// Expanded display (`\x`).
    pub expanded: Expanded,
    /// The terminal printed to; None for a pipe or a file, which are never cut.
    pub screen: Option<Screen>,
}

impl PrintOptions {
    /// Rows shown before the middle ones are elided; None shows all.
    pub fn row_limit(&self) -> Option<usize> {
        match self.max_rows {
            Some(0) => None,
            Some(n) => Some(n),
            None => self.screen.map(|_| TERMINAL_ROWS),
        }
    }
}

impl Default for PrintOptions {
    fn default() -> Self {
        PrintOptions {
            format: Format::Table,
            max_rows: None,
            timing: true,
            quiet: false,
            types: true,
            expanded: Expanded::Off,
            screen: None,
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
        max_rows: Some(0),
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
    let notes = std::mem::take(&mut rows.notes);
    match opts.format {
        Format::Table | Format::Markdown => {
            let limit = opts.row_limit();
            let mut kept = Kept::new(limit);
            while let Some(b) = rows.batches.next().await {
                kept.push(b?);
            }
            let schema = Arc::clone(&rows.schema);
            drop(rows);
            let total = kept.total;
            let (head, tail) = kept.shown();
            let head = table::cells(&head)?;
            let tail = tail.map(|t| table::cells(&t)).transpose()?;
            let layout = table::Layout {
                width: opts.screen.map(|s| s.width),
                types: opts.types && opts.screen.is_some(),
                expanded: opts.expanded,
                markdown: opts.format == Format::Markdown,
            };
            let drawn = table::render(&schema, &head, tail.as_deref(), &layout);
            writeln!(out, "{}", drawn.text)?;
            if !opts.quiet {
                let shown = head.len() + tail.as_ref().map_or(0, Vec::len);
                let elapsed = opts.timing.then(|| started.elapsed());
                let columns = (schema.fields().len(), drawn.columns_shown);
                writeln!(out, "{}", footer(total, shown, columns, elapsed))?;
                for n in &notes {
                    writeln!(out, "{n}")?;
                }
            }
            count = total as u64;
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

/// The rows a table shows: all of them up to `limit`; past it the first `limit - limit / 2`
/// and the last `limit / 2`, while the rows between are only counted.
struct Kept {
    limit: Option<usize>,
    head: Vec<RecordBatch>,
    head_rows: usize,
    tail: VecDeque<RecordBatch>,
    tail_rows: usize,
    total: usize,
}

impl Kept {
    fn new(limit: Option<usize>) -> Self {
        Kept {
            limit,
            head: Vec::new(),
            head_rows: 0,
            tail: VecDeque::new(),
            tail_rows: 0,
            total: 0,
        }
    }

    fn push(&mut self, b: RecordBatch) {
        let n = b.num_rows();
        self.total += n;
        let Some(limit) = self.limit else {
            self.head.push(b);
            return;
        };
        let take = limit.saturating_sub(self.head_rows).min(n);
        if take > 0 {
            self.head.push(b.slice(0, take));
            self.head_rows += take;
        }
        if take < n {
            self.tail.push_back(b.slice(take, n - take));
            self.tail_rows += n - take;
            let keep = limit / 2;
            while let Some(front) = self.tail.front() {
                if self.tail_rows - front.num_rows() < keep {
                    break;
                }
                self.tail_rows -= front.num_rows();
                self.tail.pop_front();
            }
        }
    }

    /// The first rows, and the last ones when rows between were elided.
    fn shown(self) -> (Vec<RecordBatch>, Option<Vec<RecordBatch>>) {
        let Some(limit) = self.limit.filter(|_| !self.tail.is_empty()) else {
            return (self.head, None);
        };
        let keep = limit / 2;
        let first = first_rows(&self.head, limit - keep);
        let mut rest: Vec<RecordBatch> = Vec::new();
        let mut skip = limit - keep;
        for b in &self.head {
            let s = skip.min(b.num_rows());
            skip -= s;
            if s < b.num_rows() {
                rest.push(b.slice(s, b.num_rows() - s));
            }
        }
        rest.extend(self.tail);
        (first, Some(last_rows(&rest, keep)))
    }
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

/// The last `n` rows of `batches`.
fn last_rows(batches: &[RecordBatch], n: usize) -> Vec<RecordBatch> {
    let mut left = n;
    let mut out = Vec::new();
    for b in batches.iter().rev() {
        if left == 0 {
            break;
        }
        let take = left.min(b.num_rows());
        out.push(b.slice(b.num_rows() - take, take));
        left -= take;
    }
    out.reverse();
    out
}

/// Shows `text` on the terminal: through `$PAGER` (or `less -S`) when it is taller than the
/// screen, else directly. A pager quit early is not an error.
pub fn page(text: &[u8], screen: Screen) -> Result<()> {
    let lines = text.iter().filter(|b| **b == b'\n').count();
    let mut stdout = std::io::stdout().lock();
    if lines < screen.height {
        stdout.write_all(text)?;
        return Ok(stdout.flush()?);
    }
    let command = std::env::var("PAGER")
        .ok()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| "less -S".into());
    let mut child = std::process::Command::new("sh")
        .args(["-c", &command])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| {
            LakeError::Prompt(format!(
                "cannot start the pager {command:?}: {e}; set $PAGER or \\pager off"
            ))
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        match stdin.write_all(text) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e.into()),
            _ => {}
        }
    }
    child.wait()?;
    Ok(())
}

/// Prints a line as it is (a statement coming back from the editor, a setting's new value).
pub fn print_echo(out: &mut dyn Write, line: &str) {
    let _ = writeln!(out, "{line}");
}

/// Prints numbered entries, one per line (`\\history`), numbered from 1.
pub fn print_numbered<'a>(out: &mut dyn Write, entries: impl Iterator<Item = (usize, &'a String)>) {
    for (i, e) in entries {
        let _ = writeln!(out, "{:>5}  {}", i + 1, e.replace('\n', "\n       "));
    }
}

/// Prints an error as one line: `error: file:line: statement: cause`.
pub fn print_error(err: &mut dyn Write, e: &LakeError) {
    let _ = writeln!(err, "error: {}", crate::error::one_line(&e.to_string()));
}

/// The closing line of a pipeline run (on stderr, so stdout stays data).
pub fn print_run_summary(err: &mut dyn Write, line: &str) {
    let _ = writeln!(err, "{line}");
}

/// `1,234` for 1234.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// "3 rows (0.012 s)", or when rows or columns were elided
/// "1,000,000 rows (40 shown), 12 columns (8 shown) (0.012 s)".
pub fn footer(
    total: usize,
    shown: usize,
    (columns, columns_shown): (usize, usize),
    elapsed: Option<Duration>,
) -> String {
    let noun = |n: usize, one: &str, many: &str| {
        format!("{} {}", thousands(n), if n == 1 { one } else { many })
    };
    let mut s = noun(total, "row", "rows");
    if shown < total {
        s.push_str(&format!(" ({} shown)", thousands(shown)));
    }
    if columns_shown < columns {
        s.push_str(&format!(
            ", {} ({} shown)",
            noun(columns, "column", "columns"),
            thousands(columns_shown)
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
        assert_eq!(footer(1, 1, (2, 2), None), "1 row");
        assert_eq!(
            footer(1_000_000, 40, (12, 8), None),
            "1,000,000 rows (40 shown), 12 columns (8 shown)"
        );
        assert_eq!(
            footer(0, 0, (1, 1), Some(Duration::from_millis(12))),
            "0 rows (0.012 s)"
        );
    }

    fn numbers(n: i64) -> RecordBatch {
        use datafusion::arrow::array::Int64Array;
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from_iter_values(0..n))]).unwrap()
    }

    #[test]
    fn long_results_keep_the_first_and_last_rows() {
        let mut kept = Kept::new(Some(10));
        for b in [numbers(7), numbers(7), numbers(100)] {
            kept.push(b);
        }
        assert_eq!(kept.total, 114);
        let (head, tail) = kept.shown();
        let text = |bs: &[RecordBatch]| table::cells(bs).unwrap().concat().join(",");
        assert_eq!(text(&head), "0,1,2,3,4");
        assert_eq!(text(&tail.unwrap()), "95,96,97,98,99");
        // Within the limit: all rows, nothing elided.
        let mut kept = Kept::new(Some(10));
        kept.push(numbers(10));
        let (head, tail) = kept.shown();
        assert_eq!(head.iter().map(|b| b.num_rows()).sum::<usize>(), 10);
        assert!(tail.is_none());
    }
}
