//! The one executor that the REPL, `-c`, `run` and stdin share: runs a statement or meta
//! command, shows progress on a terminal, cancels on Ctrl-C, and hands results to `output/`.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use crate::engine::{Engine, ExecOptions, Outcome, Progress};
use crate::error::{LakeError, Origin, Result};
use crate::meta::{self, Meta};
use crate::output::progress::ProgressLine;
use crate::output::{self, Format, PrintOptions};
use crate::sql::split::{split, Piece};

/// What the caller should do after a piece ran.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    Continue,
    Quit,
}

/// A statement's effect on the names completion offers.
#[derive(Debug, PartialEq, Eq)]
pub enum Changed {
    Nothing,
    Tables,
}

/// What one statement did, for a pipeline's report and run log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// The table written or checked.
    pub table: Option<String>,
    /// The version the statement committed (or checked).
    pub version: Option<u64>,
    /// Rows inserted, updated and deleted by a write; rows returned by a query.
    pub rows: Option<u64>,
    /// The tables this statement wrote or changed (for completion).
    pub changed: bool,
}

/// Session state around the engine: output settings and destination.
pub struct Shell {
    pub engine: Engine,
    pub print: PrintOptions,
    /// Show the live progress line (on a terminal only).
    pub progress: bool,
    redirect: Option<File>,
}

impl Shell {
    pub fn new(engine: Engine, print: PrintOptions, progress: bool) -> Self {
        Shell {
            engine,
            print,
            progress,
            redirect: None,
        }
    }

    fn out(&mut self) -> Box<dyn Write + '_> {
        match &mut self.redirect {
            Some(f) => Box::new(f),
            None => Box::new(std::io::stdout().lock()),
        }
    }

    /// Runs one SQL statement and prints its outcome.
    pub async fn run_sql(&mut self, raw: &str) -> Result<Changed> {
        Ok(if self.run_sql_facts(raw).await?.changed {
            Changed::Tables
        } else {
            Changed::Nothing
        })
    }

    /// Runs one SQL statement, prints its outcome and says what it did. A CHECK whose failing
    /// expectations failed is an error, after its rows are shown.
    pub async fn run_sql_facts(&mut self, raw: &str) -> Result<Facts> {
        let progress = Arc::new(Progress::default());
        let line = ProgressLine::start(Arc::clone(&progress), self.progress && !self.print.quiet);
        let keep_rows = match self.print.format {
            Format::Table | Format::Markdown => self.print.max_rows,
            _ => None,
        };
        let opts = ExecOptions {
            keep_rows,
            progress: Some(progress),
        };
        let started = Instant::now();
        let result = tokio::select! {
            r = self.engine.execute(raw, &opts) => r,
            _ = tokio::signal::ctrl_c() => Err(LakeError::Cancelled),
        };
        line.finish().await;
        let outcome = result?;
        let facts = match &outcome {
            Outcome::Write(m) => Facts {
                table: Some(m.table.clone()),
                version: Some(m.version),
                rows: Some(m.rows_inserted + m.rows_updated + m.rows_deleted),
                changed: true,
            },
            Outcome::Message(_) => Facts {
                changed: true,
                ..Default::default()
            },
            Outcome::Rows(r) => Facts {
                rows: Some(r.total_rows as u64),
                ..Default::default()
            },
            Outcome::Check(c) => Facts {
                table: Some(c.table.clone()),
                rows: Some(c.rows.total_rows as u64),
                ..Default::default()
            },
        };
        let print = self.print.clone();
        let mut out = self.out();
        output::print_outcome(&mut *out, &outcome, &print, started.elapsed())?;
        out.flush()?;
        if let Outcome::Check(c) = &outcome {
            if !c.failed.is_empty() {
                return Err(LakeError::Expectation(format!(
                    "{}: expectation(s) failed: {}",
                    c.table,
                    c.failed.join(", ")
                )));
            }
        }
        Ok(facts)
    }

    /// Runs one meta command.
    pub async fn run_meta(&mut self, line: &str) -> Result<Next> {
        let started = Instant::now();
        let outcome = match Meta::parse(line)? {
            Meta::Help => {
                let mut out = self.out();
                write!(out, "{}", meta::help())?;
                return Ok(Next::Continue);
            }
            Meta::Quit => return Ok(Next::Quit),
            Meta::ListTables(pattern) => {
                self.engine.list_tables_outcome(pattern.as_deref()).await?
            }
            Meta::Describe(name) => self.engine.describe_table(&name).await?,
            Meta::Timing(on) => {
                self.print.timing = on.unwrap_or(!self.print.timing);
                Outcome::Message(format!(
                    "timing {}",
                    if self.print.timing { "on" } else { "off" }
                ))
            }
            Meta::Format(f) => {
                self.print.format = f;
                Outcome::Message(format!("format {f}"))
            }
            Meta::MaxRows(n) => {
                self.print.max_rows = (n > 0).then_some(n);
                Outcome::Message(if n == 0 {
                    "maxrows: all rows".into()
                } else {
                    format!("maxrows {n}")
                })
            }
            Meta::Include(path) => {
                Box::pin(self.run_file(&path, false)).await?;
                return Ok(Next::Continue);
            }
            Meta::Output(path) => {
                self.redirect = match &path {
                    Some(p) => Some(File::create(p).map_err(|e| {
                        LakeError::Usage(format!("cannot write {}: {e}", p.display()))
                    })?),
                    None => None,
                };
                return Ok(Next::Continue);
            }
        };
        let print = PrintOptions {
            max_rows: None,
            ..self.print.clone()
        };
        let mut out = self.out();
        output::print_outcome(&mut *out, &outcome, &print, started.elapsed())?;
        Ok(Next::Continue)
    }

    /// Runs a piece of a script.
    pub async fn run_piece(&mut self, piece: &Piece) -> Result<Next> {
        match piece {
            Piece::Sql { text, .. } => self.run_sql(text).await.map(|_| Next::Continue),
            Piece::Meta { text, .. } => self.run_meta(text).await,
        }
    }

    /// Runs every statement of `text`, which came from `source`. Stops at the first failure
    /// unless `continue_on_error`; returns whether all succeeded, or the first error.
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
                Ok(Next::Quit) => return Ok((Next::Quit, failures)),
                Ok(Next::Continue) => {}
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
        let text = std::fs::read_to_string(path)
            .map_err(|e| LakeError::Usage(format!("cannot read {}: {e}", path.display())))?;
        self.run_text(&path.display().to_string(), &text, continue_on_error)
            .await
    }
}

/// Where a piece is, for errors.
pub fn origin(source: &str, piece: &Piece) -> Origin {
    let text = match piece {
        Piece::Sql { text, .. } | Piece::Meta { text, .. } => text,
    };
    let first = text.lines().next().unwrap_or_default().trim();
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
