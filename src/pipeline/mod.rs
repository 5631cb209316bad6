//! `lakeshell run`: a pipeline's SQL files in dependency order ([`plan`]), a part of it with
//! `--select`, a report (`--report run.json`) and one row per statement in `lakeshell.run_log`.
//! The first failure stops the run; what had not run yet is reported as skipped; exit code 1.

pub mod plan;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{
    ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use serde::Serialize;

use crate::engine::Step;
use crate::error::{LakeError, Result};
use crate::expectations::results::SYSTEM_SCHEMA;
use crate::output;
use crate::shell::{origin, Next, Shell};
use crate::sql::split::Piece;
use plan::PipelineFile;

/// `lakeshell.run_log`.
pub const RUN_LOG: &str = "run_log";

/// How to run a pipeline.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// `--select`: files by name, stem or table written; `x+` downstream, `+x` upstream.
    pub select: Vec<String>,
    /// `--report FILE`: write the run's report as JSON.
    pub report: Option<PathBuf>,
    /// `--full-refresh`: `incremental(...)` reads whole tables.
    pub full_refresh: bool,
    pub continue_on_error: bool,
}

/// One statement of a run.
#[derive(Debug, Clone, Serialize)]
pub struct StatementRecord {
    pub file: String,
    pub line: usize,
    pub statement: String,
    /// `ok`, `failed` or `skipped`.
    pub status: String,
    pub table: Option<String>,
    pub version: Option<u64>,
    pub rows_affected: Option<u64>,
    pub started_at: Option<String>,
    pub duration_ms: Option<f64>,
    pub error: Option<String>,
}

/// One file of a run.
#[derive(Debug, Clone, Serialize)]
pub struct FileRecord {
    pub file: String,
    /// `ok`, `failed` or `skipped`.
    pub status: String,
    /// Why a file was skipped: downstream of the failed file, or the run stopped before it.
    pub skipped_because: Option<String>,
    pub reads: Vec<String>,
    pub writes: Vec<String>,
}

/// What `--report` writes.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub run_id: String,
    pub pipeline: String,
    /// `ok` or `failed`.
    pub status: String,
    pub started_at: String,
    pub duration_ms: f64,
    pub full_refresh: bool,
    pub now: String,
    pub files: Vec<FileRecord>,
    pub statements: Vec<StatementRecord>,
}

/// Folders expand to their `.sql` files in name order; files stay as given.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| LakeError::read(p, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "sql"))
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(LakeError::Pipeline(format!(
                    "{} holds no .sql files",
                    p.display()
                )));
            }
            out.extend(files);
        } else if p.exists() {
            out.push(p.clone());
        } else {
            return Err(LakeError::read(
                p,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            ));
        }
    }
    Ok(out)
}

/// The pipeline's name: its folder's name.
fn pipeline_name(paths: &[PathBuf]) -> String {
    let dir = match paths {
        [p] if p.is_dir() => Some(p.as_path()),
        _ => paths.first().and_then(|p| p.parent()),
    };
    dir.and_then(|d| std::fs::canonicalize(d).ok())
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().to_string()))
        .unwrap_or_else(|| "pipeline".into())
}

fn first_line(piece: &Piece) -> String {
    origin("", piece).first_line
}

fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Runs a pipeline and returns the exit code: 0 when every statement succeeded, 1 otherwise.
pub async fn run(shell: &mut Shell, paths: &[PathBuf], opts: &RunOptions) -> Result<i32> {
    let (code, report) = run_once(shell, paths, opts).await?;
    if let Some(path) = &opts.report {
        write_report(path, &report)?;
    }
    if !shell.print.quiet {
        output::print_run_summary(&mut std::io::stderr(), &summary(&report));
    }
    Ok(code)
}

/// One element of a `--for-each` run: its variables and how its run went.
#[derive(Debug, Clone, Serialize)]
pub struct ElementRecord {
    pub element: usize,
    pub vars: std::collections::BTreeMap<String, String>,
    /// `ok`, `failed` or `skipped` (after a failure with `--fail-fast`).
    pub status: String,
    pub error: Option<String>,
    pub run: Option<RunReport>,
}

/// `--for-each FILE`: a JSON array of objects, or a TOML file whose first array of tables
/// (`[[sources]]`) holds them; each element's fields are `${name}`s for one run.
pub fn for_each_elements(path: &Path) -> Result<Vec<Vec<(String, String)>>> {
    let text = std::fs::read_to_string(path).map_err(|e| LakeError::read(path, e))?;
    let bad = |e: String| LakeError::Flag(format!("--for-each {}: {e}", path.display()));
    let json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let value: serde_json::Value = if json {
        serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?
    } else {
        let t: toml::Table =
            toml::from_str(&text).map_err(|e| bad(crate::error::one_line(&e.to_string())))?;
        let first = t.into_iter().find_map(|(_, v)| match v {
            toml::Value::Array(a) if a.iter().all(toml::Value::is_table) => Some(a),
            _ => None,
        });
        serde_json::to_value(first.unwrap_or_default()).map_err(|e| bad(e.to_string()))?
    };
    let serde_json::Value::Array(items) = value else {
        return Err(bad(
            "not an array of elements ([{...}, ...] or [[name]] tables)".into(),
        ));
    };
    if items.is_empty() {
        return Err(bad("no elements".into()));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, v)| match v {
            serde_json::Value::Object(m) => crate::sql::vars::scalar_pairs(m)
                .map_err(|e| bad(format!("element {}: {e}", i + 1))),
            other => Err(bad(format!("element {} is {other}, not an object", i + 1))),
        })
        .collect()
}

/// Runs `paths` once per element, each element's fields as `${name}`s (`overrides`, the
/// `--var`s, still win). A failed element is reported and the others still run, unless
/// `fail_fast`; exit code 1 if any failed.
pub async fn run_for_each(
    shell: &mut Shell,
    paths: &[PathBuf],
    opts: &RunOptions,
    elements: &[Vec<(String, String)>],
    overrides: &[(String, String)],
    fail_fast: bool,
) -> Result<i32> {
    let base = shell.engine.vars_snapshot()?;
    let mut records = Vec::with_capacity(elements.len());
    let mut stop = false;
    for (i, element) in elements.iter().enumerate() {
        let vars: std::collections::BTreeMap<String, String> = element.iter().cloned().collect();
        if stop {
            records.push(ElementRecord {
                element: i + 1,
                vars,
                status: "skipped".into(),
                error: None,
                run: None,
            });
            continue;
        }
        shell.engine.restore_vars(base.clone())?;
        shell.engine.set_vars(element)?;
        shell.engine.set_vars(overrides)?;
        let once = RunOptions {
            report: None,
            ..opts.clone()
        };
        let (status, error, run) = match run_once(shell, paths, &once).await {
            Ok((code, report)) => {
                let status = if code == 0 { "ok" } else { "failed" };
                if !shell.print.quiet {
                    output::print_run_summary(
                        &mut std::io::stderr(),
                        &format!("element {}: {}", i + 1, summary(&report)),
                    );
                }
                (status, None, Some(report))
            }
            Err(e) => {
                let e = LakeError::Pipeline(format!("--for-each element {}: {e}", i + 1));
                output::print_error(&mut std::io::stderr(), &e);
                ("failed", Some(crate::error::one_line(&e.to_string())), None)
            }
        };
        if status == "failed" && fail_fast {
            stop = true;
        }
        records.push(ElementRecord {
            element: i + 1,
            vars,
            status: status.into(),
            error,
            run,
        });
    }
    shell.engine.restore_vars(base)?;
    let failed: Vec<String> = records
        .iter()
        .filter(|r| r.status == "failed")
        .map(|r| r.element.to_string())
        .collect();
    if let Some(path) = &opts.report {
        let text = serde_json::to_string_pretty(&serde_json::json!({ "elements": records }))
            .map_err(|e| LakeError::Internal(format!("run report: {e}")))?;
        std::fs::write(path, text + "\n").map_err(|e| LakeError::write(path, e))?;
    }
    if !shell.print.quiet {
        let skipped = records.iter().filter(|r| r.status == "skipped").count();
        output::print_run_summary(
            &mut std::io::stderr(),
            &format!(
                "for-each: {} element(s), {} ok, {} failed{}{}",
                records.len(),
                records.len() - failed.len() - skipped,
                failed.len(),
                if failed.is_empty() {
                    String::new()
                } else {
                    format!(" (element {})", failed.join(", "))
                },
                if skipped > 0 {
                    format!(", {skipped} skipped after --fail-fast")
                } else {
                    String::new()
                }
            ),
        );
    }
    Ok(i32::from(!failed.is_empty()))
}

/// One run of the pipeline, its exit code and report (written by the caller).
async fn run_once(
    shell: &mut Shell,
    paths: &[PathBuf],
    opts: &RunOptions,
) -> Result<(i32, RunReport)> {
    let started = Instant::now();
    let started_at = chrono::Utc::now();
    let pipeline = pipeline_name(paths);
    let substitute = |s: &str| shell.engine.substitute(s).ok();
    let files = expand(paths)?
        .into_iter()
        .map(|p| PipelineFile::load(p, &substitute))
        .collect::<Result<Vec<_>>>()?;
    let files = plan::select(plan::order(files)?, &opts.select)?;

    let mut statements: Vec<StatementRecord> = Vec::new();
    let mut file_records: Vec<FileRecord> = Vec::new();
    let mut failures = 0usize;
    let mut stopped = false;
    let mut failed_file: Option<(usize, String)> = None;
    for (index, f) in files.iter().enumerate() {
        let file = f.path.display().to_string();
        let mut status = if stopped { "skipped" } else { "ok" };
        shell.engine.set_step(Some(Step {
            pipeline: pipeline.clone(),
            file: f.name.clone(),
            full_refresh: opts.full_refresh,
            target: String::new(),
        }));
        for (piece, parsed) in f.pieces.iter().zip(&f.statements) {
            let mut rec = StatementRecord {
                file: file.clone(),
                line: piece.line(),
                statement: first_line(piece),
                status: "skipped".into(),
                table: None,
                version: None,
                rows_affected: None,
                started_at: None,
                duration_ms: None,
                error: None,
            };
            if stopped {
                statements.push(rec);
                continue;
            }
            let at = chrono::Utc::now();
            let t0 = Instant::now();
            let result = shell.run_planned(piece, parsed.clone()).await;
            rec.started_at = Some(rfc3339(at));
            rec.duration_ms = Some(t0.elapsed().as_secs_f64() * 1000.0);
            match result {
                Ok((facts, next)) => {
                    rec.status = "ok".into();
                    rec.table = facts.table;
                    rec.version = facts.version;
                    rec.rows_affected = facts.rows;
                    statements.push(rec);
                    if next == Next::Quit {
                        stopped = true;
                    }
                }
                Err(e) => {
                    let e = e.at(origin(&file, piece));
                    output::print_error(&mut std::io::stderr(), &e);
                    rec.status = "failed".into();
                    rec.error = Some(crate::error::one_line(&e.to_string()));
                    statements.push(rec);
                    status = "failed";
                    failures += 1;
                    if failed_file.is_none() {
                        failed_file = Some((index, f.name.clone()));
                    }
                    if !opts.continue_on_error {
                        stopped = true;
                    }
                }
            }
        }
        let skipped_because = match (&failed_file, status) {
            (Some((at, name)), "skipped") => {
                Some(if plan::downstream(&files, *at)?.contains(&index) {
                    format!("downstream of {name}, which failed")
                } else {
                    format!("the run stopped when {name} failed")
                })
            }
            _ => None,
        };
        file_records.push(FileRecord {
            file,
            status: status.into(),
            skipped_because,
            reads: f.reads.iter().cloned().collect(),
            writes: f.writes.iter().cloned().collect(),
        });
    }
    shell.engine.set_step(None);

    let report = RunReport {
        run_id: shell.engine.run_id().to_string(),
        pipeline,
        status: if failures > 0 { "failed" } else { "ok" }.into(),
        started_at: rfc3339(started_at),
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        full_refresh: opts.full_refresh,
        now: rfc3339(shell.engine.now()),
        files: file_records,
        statements,
    };
    let mut code = i32::from(failures > 0);
    if let Err(e) = append_run_log(shell, &report).await {
        output::print_error(
            &mut std::io::stderr(),
            &LakeError::PartlyWritten(format!(
                "the run finished, but {SYSTEM_SCHEMA}.{RUN_LOG} was not written: {e}"
            )),
        );
        code = 1;
    }
    Ok((code, report))
}

fn write_report(path: &Path, report: &RunReport) -> Result<()> {
    let text = serde_json::to_string_pretty(report)
        .map_err(|e| LakeError::Internal(format!("run report: {e}")))?;
    std::fs::write(path, text + "\n").map_err(|e| LakeError::write(path, e))
}

/// One line for the person watching: what ran, what failed, what was skipped.
pub fn summary(r: &RunReport) -> String {
    let count = |s: &str| r.statements.iter().filter(|x| x.status == s).count();
    let secs = r.duration_ms / 1000.0;
    let mut line = format!(
        "run {} of {}: {} file(s), {} statement(s) ok",
        &r.run_id[..8.min(r.run_id.len())],
        r.pipeline,
        r.files.len(),
        count("ok")
    );
    if let Some(f) = r.statements.iter().find(|s| s.status == "failed") {
        line.push_str(&format!(", failed at {}:{}", f.file, f.line));
    }
    let skipped: Vec<&str> = r
        .files
        .iter()
        .filter(|f| f.status == "skipped")
        .map(|f| f.file.as_str())
        .collect();
    if !skipped.is_empty() {
        line.push_str(&format!(", skipped {}", skipped.join(", ")));
    } else if count("skipped") > 0 {
        line.push_str(&format!(", {} statement(s) skipped", count("skipped")));
    }
    line.push_str(&format!(" ({secs:.1} s)"));
    line
}

async fn append_run_log(shell: &Shell, r: &RunReport) -> Result<()> {
    let n = r.statements.len();
    if n == 0 {
        return Ok(());
    }
    let micros = |s: &Option<String>| {
        s.as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp_micros())
    };
    let text = |f: &dyn Fn(&StatementRecord) -> Option<String>| -> ArrayRef {
        Arc::new(StringArray::from(
            r.statements.iter().map(f).collect::<Vec<_>>(),
        ))
    };
    let schema = Arc::new(Schema::new(vec![
        Field::new("run_id", DataType::Utf8, false),
        Field::new("pipeline", DataType::Utf8, false),
        Field::new("file", DataType::Utf8, false),
        Field::new("line", DataType::Int64, false),
        Field::new("statement", DataType::Utf8, false),
        Field::new("status", DataType::Utf8, false),
        Field::new("table_name", DataType::Utf8, true),
        Field::new("table_version", DataType::Int64, true),
        Field::new("rows_affected", DataType::Int64, true),
        Field::new(
            "started_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        Field::new("duration_ms", DataType::Int64, true),
        Field::new("error", DataType::Utf8, true),
        Field::new("target", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from(vec![r.run_id.as_str(); n])),
            Arc::new(StringArray::from(vec![r.pipeline.as_str(); n])),
            text(&|s| Some(s.file.clone())),
            Arc::new(Int64Array::from_iter_values(
                r.statements.iter().map(|s| s.line as i64),
            )),
            text(&|s| Some(s.statement.clone())),
            text(&|s| Some(s.status.clone())),
            text(&|s| s.table.clone()),
            Arc::new(Int64Array::from(
                r.statements
                    .iter()
                    .map(|s| s.version.map(|v| v as i64))
                    .collect::<Vec<_>>(),
            )),
            Arc::new(Int64Array::from(
                r.statements
                    .iter()
                    .map(|s| s.rows_affected.map(|v| v as i64))
                    .collect::<Vec<_>>(),
            )),
            Arc::new(
                TimestampMicrosecondArray::from(
                    r.statements
                        .iter()
                        .map(|s| micros(&s.started_at))
                        .collect::<Vec<_>>(),
                )
                .with_timezone("UTC"),
            ),
            Arc::new(Int64Array::from(
                r.statements
                    .iter()
                    .map(|s| s.duration_ms.map(|d| d.round() as i64))
                    .collect::<Vec<_>>(),
            )),
            text(&|s| s.error.clone()),
            text(&|_| crate::delta::target().map(str::to_string)),
        ],
    )?;
    let entry = shell
        .engine
        .warehouse()
        .resolve_for_write(&crate::catalog::TableName::Warehouse {
            schema: SYSTEM_SCHEMA.into(),
            table: RUN_LOG.into(),
        })
        .await?;
    shell
        .engine
        .append_rows(&entry, vec![batch], "RUN LOG")
        .await?;
    Ok(())
}

/// `lakeshell check FILE...`: runs every CHECK statement of the files (SET and meta commands
/// are allowed too), going on past failures; exit code 1 when any expectation failed.
pub async fn check(shell: &mut Shell, paths: &[PathBuf]) -> Result<i32> {
    let mut failed = 0usize;
    for path in expand(paths)? {
        let source = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|e| LakeError::read(&path, e))?;
        let pieces = crate::sql::split::split(&text)?;
        for piece in &pieces {
            shell.checks_only = true;
            let result = shell.run_piece(piece).await;
            shell.checks_only = false;
            if let Err(e) = result {
                output::print_error(&mut std::io::stderr(), &e.at(origin(&source, piece)));
                failed += 1;
            }
        }
    }
    Ok(i32::from(failed > 0))
}
