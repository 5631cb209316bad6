//! The one statement runner the REPL, `-c`, stdin, `run` and `check` share: a script is split
//! into pieces ([`crate::sql::split`], the one place that tells SQL from a backslash command),
//! and each piece runs here: SQL through the engine, with progress on a terminal, Ctrl-C to
//! cancel and the result streamed to `output/`; a meta command here.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use crate::engine::{Engine, ExecOptions, Outcome, Progress};
use crate::error::{LakeError, Origin, Result};
use crate::meta::{self, Meta};
use crate::output::progress::ProgressLine;
use crate::output::{self, PrintOptions};
use crate::sql::split::{split, Piece};
use crate::sql::LakeStatement;

/// What the caller should do after a piece ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Continue,
    Quit,
}

/// What one statement did, for a pipeline's report and run log, and for completion.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Effect {
    /// The table written or checked.
    pub table: Option<String>,
    /// The version the statement committed (or checked).
    pub version: Option<u64>,
    /// Rows inserted, updated and deleted by a write; rows returned by a query.
    pub rows: Option<u64>,
    /// The statement may have changed which tables exist (for completion).
    pub changed: bool,
}

/// Session state around the engine: output settings and destination.
pub struct Shell {
    /// Shared with the prompt's completion, which reads table versions while no statement runs.
    pub engine: Arc<Engine>,
    pub print: PrintOptions,
    /// Show the live progress line (on a terminal only).
    pub progress: bool,
    /// Run CHECK and SET only (`lakeshell check`).
    pub checks_only: bool,
    /// Results taller than the screen go through a pager (`\pager`).
    pub pager: bool,
    redirect: Option<File>,
    /// The first rows of the last result, for `\chart`.
    last: Arc<std::sync::Mutex<Option<LastResult>>>,
}

/// The schema and first [`LAST_ROWS`] rows of the last query's result.
type LastResult = (
    datafusion::arrow::datatypes::SchemaRef,
    Vec<datafusion::arrow::array::RecordBatch>,
);

/// Rows of a result kept for `\chart`.
const LAST_ROWS: usize = 10_000;

impl Shell {
    pub fn new(engine: Engine, print: PrintOptions, progress: bool) -> Self {
        Shell {
            engine: Arc::new(engine),
            print,
            progress,
            checks_only: false,
            pager: false,
            redirect: None,
            last: Default::default(),
        }
    }

    /// The print options for the next result: laid out for the terminal unless results go to
    /// a file or a pipe.
    fn print_options(&self) -> PrintOptions {
        PrintOptions {
            screen: match self.redirect {
                Some(_) => None,
                None => output::screen(),
            },
            ..self.print.clone()
        }
    }

    fn out(&mut self) -> Box<dyn Write + '_> {
        match &mut self.redirect {
            Some(f) => Box::new(BufWriter::new(f)),
            None => Box::new(BufWriter::new(std::io::stdout().lock())),
        }
    }

    /// Runs one piece of a script: a SQL statement or a meta command.
    pub async fn run_piece(&mut self, piece: &Piece) -> Result<(Effect, Next)> {
        self.run_planned(piece, None).await
    }

    /// The same, for a statement a pipeline plan has already parsed (`parsed`).
    pub async fn run_planned(
        &mut self,
        piece: &Piece,
        parsed: Option<LakeStatement>,
    ) -> Result<(Effect, Next)> {
        match piece {
            Piece::Sql { text, .. } => Ok((self.run_sql(text, parsed).await?, Next::Continue)),
            Piece::Meta { text, .. } => Ok((Effect::default(), self.run_meta(text).await?)),
        }
    }

    /// Runs one SQL statement (parsed here unless `parsed`) and prints its outcome as it
    /// streams in. A CHECK whose failing expectations failed is an error, after its rows are
    /// shown.
    async fn run_sql(&mut self, raw: &str, parsed: Option<LakeStatement>) -> Result<Effect> {
        let progress = Arc::new(Progress::default());
        let read = Arc::clone(&progress);
        let line = ProgressLine::start(
            Arc::new(move || read.snapshot()),
            self.progress && !self.print.quiet,
        );
        let opts = ExecOptions {
            progress: Some(progress),
            checks_only: self.checks_only,
        };
        let started = Instant::now();
        let print = self.print_options();
        // A pager takes the whole text, so it is rendered here first (table formats hold
        // a bounded number of rows anyway).
        let paging = match print.screen {
            Some(screen) if self.pager && print.format.is_for_people() => Some(screen),
            _ => None,
        };
        let mut paged: Vec<u8> = Vec::new();
        let paged_out = &mut paged;
        let engine = &*self.engine;
        let redirect = &mut self.redirect;
        let last = Arc::clone(&self.last);
        let work = async {
            let outcome = match parsed {
                Some(stmt) => engine.execute_parsed(raw, stmt, &opts).await?,
                None => engine.execute(raw, &opts).await?,
            };
            let mut effect = match &outcome {
                Outcome::Write(m) => Effect {
                    table: Some(m.table.clone()),
                    version: Some(m.version),
                    rows: Some(m.rows_inserted + m.rows_updated + m.rows_deleted),
                    changed: true,
                },
                Outcome::Message(_) => Effect {
                    changed: true,
                    ..Default::default()
                },
                Outcome::Rows(_) => Effect::default(),
                Outcome::Check(c) => Effect {
                    table: Some(c.table.clone()),
                    ..Default::default()
                },
            };
            let failed = match &outcome {
                Outcome::Check(c) if !c.failed.is_empty() => Some(format!(
                    "{}: expectation(s) failed: {}",
                    c.table,
                    c.failed.join(", ")
                )),
                _ => None,
            };
            let counts_rows = matches!(outcome, Outcome::Rows(_) | Outcome::Check(_));
            let outcome = match outcome {
                Outcome::Rows(rows) => Outcome::Rows(keep_first_rows(rows, &last)),
                other => other,
            };
            let mut out: Box<dyn Write> = match (paging, redirect) {
                (Some(_), _) => Box::new(paged_out),
                (None, Some(f)) => Box::new(BufWriter::new(f)),
                (None, None) => Box::new(BufWriter::new(std::io::stdout().lock())),
            };
            let printed = output::print_outcome(&mut *out, outcome, &print, started).await?;
            out.flush()?;
            if counts_rows {
                effect.rows = Some(printed.rows);
            }
            match failed {
                Some(f) => Err(LakeError::Expectation(f)),
                None => Ok(effect),
            }
        };
        let result = tokio::select! {
            r = work => r,
            _ = tokio::signal::ctrl_c() => Err(LakeError::Cancelled),
        };
        line.finish().await;
        if let Some(screen) = paging {
            output::page(&paged, screen)?;
        }
        match result {
            Err(e) => Err(self.engine.explain(e).await),
            ok => ok,
        }
    }

    /// Runs one meta command.
    async fn run_meta(&mut self, line: &str) -> Result<Next> {
        let started = Instant::now();
        let outcome = match Meta::parse(line)? {
            Meta::Help => {
                let mut out = self.out();
                write!(out, "{}", meta::help())?;
                out.flush()?;
                return Ok(Next::Continue);
            }
            Meta::Quit => return Ok(Next::Quit),
            Meta::ListTables(pattern) => {
                self.engine.list_tables_outcome(pattern.as_deref()).await?
            }
            Meta::Describe(name) => self.engine.describe_table(&name).await?,
            Meta::Timing(on) => {
                self.print.timing = on.unwrap_or(!self.print.timing);
                Outcome::Message(format!("timing {}", on_off(self.print.timing)))
            }
            Meta::Format(f) => {
                self.print.format = f;
                Outcome::Message(format!("format {f}"))
            }
            Meta::MaxRows(n) => {
                self.print.max_rows = Some(n);
                Outcome::Message(if n == 0 {
                    "maxrows: all rows".into()
                } else {
                    format!("maxrows {n}")
                })
            }
            Meta::Include(path) => {
                let (next, _) = Box::pin(self.run_file(&path, false)).await?;
                return Ok(next);
            }
            Meta::Types(on) => {
                self.print.types = on.unwrap_or(!self.print.types);
                Outcome::Message(format!("types {}", on_off(self.print.types)))
            }
            Meta::Expanded(x) => {
                use output::Expanded;
                self.print.expanded = x.unwrap_or(match self.print.expanded {
                    Expanded::Off => Expanded::On,
                    _ => Expanded::Off,
                });
                Outcome::Message(format!(
                    "expanded display {}",
                    match self.print.expanded {
                        Expanded::On => "on",
                        Expanded::Off => "off",
                        Expanded::Auto => "auto",
                    }
                ))
            }
            Meta::Pager(on) => {
                self.pager = on.unwrap_or(!self.pager);
                Outcome::Message(format!("pager {}", on_off(self.pager)))
            }
            Meta::Diff {
                table,
                from,
                to,
                key,
            } => {
                let quote = |s: &str| s.replace('\'', "''");
                let key = key
                    .map(|k| format!(", key => '{}'", quote(&k)))
                    .unwrap_or_default();
                let sql = format!(
                    "SELECT * FROM table_diff('{}', {from}, {to}{key})",
                    quote(&table)
                );
                self.run_sql(&sql, None).await?;
                return Ok(Next::Continue);
            }
            Meta::Chart { label, value } => {
                let last = self.last.lock().ok().and_then(|l| l.clone());
                let Some((schema, batches)) = last else {
                    return Err(LakeError::MetaCommand(
                        "\\chart draws the last result: run a query first, e.g. SELECT region, sum(revenue) AS revenue FROM sales GROUP BY region".into(),
                    ));
                };
                let width = output::screen().map_or(80, |s| s.width);
                let text = output::chart::bars(&schema, &batches, &label, &value, width)?;
                let mut out = self.out();
                write!(out, "{text}")?;
                out.flush()?;
                return Ok(Next::Continue);
            }
            Meta::Highlight(_) | Meta::History(_) | Meta::Edit => {
                return Err(LakeError::MetaCommand(format!(
                    "{} works at the interactive prompt only",
                    line.split_whitespace().next().unwrap_or(line)
                )))
            }
            Meta::Output(path) => {
                self.redirect = match &path {
                    Some(p) => Some(File::create(p).map_err(|e| LakeError::write(p, e))?),
                    None => None,
                };
                return Ok(Next::Continue);
            }
        };
        let print = PrintOptions {
            max_rows: Some(0),
            ..self.print_options()
        };
        let mut out = self.out();
        output::print_outcome(&mut *out, outcome, &print, started).await?;
        out.flush()?;
        Ok(Next::Continue)
    }

    /// Runs every statement of `text`, which came from `source`. Stops at the first failure
    /// unless `continue_on_error`; returns whether to quit and how many failed, or the first
    /// error.
    pub async fn run_text(
        &mut self,
        source: &str,
        text: &str,
        continue_on_error: bool,
    ) -> Result<(Next, usize)> {
        let pieces = split(text).map_err(|e| {
            e.at(Origin {
                source: source.into(),
                line: 1,
                first_line: String::new(),
            })
        })?;
        let mut failures = 0;
        for piece in &pieces {
            match self.run_piece(piece).await {
                Ok((_, Next::Quit)) => return Ok((Next::Quit, failures)),
                Ok((_, Next::Continue)) => {}
                Err(e) if e.is_broken_pipe() => return Ok((Next::Quit, failures)),
                Err(e) => {
                    let e = e.at(origin(source, piece));
                    if !continue_on_error {
                        return Err(e);
                    }
                    output::print_error(&mut std::io::stderr(), &e);
                    failures += 1;
                }
            }
        }
        Ok((Next::Continue, failures))
    }

    /// Runs a script file (`run FILE`, `\i FILE`).
    pub async fn run_file(
        &mut self,
        path: &Path,
        continue_on_error: bool,
    ) -> Result<(Next, usize)> {
        let text = std::fs::read_to_string(path).map_err(|e| LakeError::read(path, e))?;
        self.run_text(&path.display().to_string(), &text, continue_on_error)
            .await
    }
}

fn on_off(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

/// Where a piece is, for errors.
pub fn origin(source: &str, piece: &Piece) -> Origin {
    let text = match piece {
        Piece::Sql { text, .. } | Piece::Meta { text, .. } => text,
    };
    // Secrets written in the statement are never shown with its error.
    let first = crate::sql::redact::redact_sql(text.lines().next().unwrap_or_default().trim());
    let first = first.as_str();
    let first_line = if first.chars().count() > 60 {
        format!("{}...", first.chars().take(57).collect::<String>())
    } else {
        first.to_string()
    };
    Origin {
        source: source.to_string(),
        line: piece.line(),
        first_line,
    }
}

/// `rows`, passing through, with their first [`LAST_ROWS`] rows kept in `last` for `\chart`.
fn keep_first_rows(
    rows: crate::outcome::Rows,
    last: &Arc<std::sync::Mutex<Option<LastResult>>>,
) -> crate::outcome::Rows {
    use futures::StreamExt;
    if let Ok(mut l) = last.lock() {
        *l = Some((Arc::clone(&rows.schema), Vec::new()));
    }
    let last = Arc::clone(last);
    let mut kept = 0usize;
    let batches = rows.batches.map(move |b| {
        if let (Ok(batch), Ok(mut l)) = (&b, last.lock()) {
            if kept < LAST_ROWS {
                let take = batch.num_rows().min(LAST_ROWS - kept);
                kept += take;
                if let Some((_, keep)) = l.as_mut() {
                    keep.push(batch.slice(0, take));
                }
            }
        }
        b
    });
    crate::outcome::Rows {
        schema: rows.schema,
        batches: Box::pin(batches),
        notes: rows.notes,
    }
}
