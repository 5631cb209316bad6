//! `lakeshell docs [DIR] --out site/`: a static HTML picture of the warehouse, in the spirit of
//! `dbt docs`, with no server, no script and no network: one `index.html`.
//!
//! What it shows comes from what lakeshell already knows:
//! - the lineage graph of a pipeline folder, files and tables, from the same dependency
//!   inference `run` uses ([`crate::pipeline::plan`]);
//! - each table's schema, partitioning, current version and history (`\d`, `DESCRIBE DETAIL`,
//!   `DESCRIBE HISTORY`);
//! - its expectations' pass, warn and fail over time, from `lakeshell.quality_results`;
//! - the last runs from `lakeshell.run_log`, failures first in colour.
//!
//! Gathering is here; `html.rs` draws it.

mod html;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

use crate::engine::{Engine, ExecOptions, Outcome};
use crate::error::{LakeError, Result};
use crate::pipeline::plan::{self, PipelineFile};

/// Rows of a result as text, by column name.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    fn of(batches: &[RecordBatch]) -> Result<Table> {
        let mut t = Table::default();
        let options = FormatOptions::default().with_null("");
        for b in batches {
            if t.columns.is_empty() {
                t.columns = b
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| f.name().clone())
                    .collect();
            }
            let formatters = b
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            for r in 0..b.num_rows() {
                t.rows
                    .push(formatters.iter().map(|f| f.value(r).to_string()).collect());
            }
        }
        Ok(t)
    }

    /// The value of `column` in row `r`.
    pub fn get(&self, r: usize, column: &str) -> &str {
        self.columns
            .iter()
            .position(|c| c == column)
            .and_then(|i| self.rows.get(r).and_then(|row| row.get(i)))
            .map(String::as_str)
            .unwrap_or("")
    }
}

/// One pipeline file in the graph.
#[derive(Debug, Clone)]
pub struct FileNode {
    pub name: String,
    pub reads: BTreeSet<String>,
    pub writes: BTreeSet<String>,
}

/// One table of the warehouse, as the page shows it.
#[derive(Debug, Clone, Default)]
pub struct TablePage {
    pub name: String,
    /// None when the table does not exist (yet).
    pub columns: Option<Table>,
    pub detail: Option<Table>,
    pub history: Option<Table>,
    /// Rows of `lakeshell.quality_results` for the table, oldest first.
    pub quality: Table,
}

/// Everything the site shows.
#[derive(Debug, Clone, Default)]
pub struct Site {
    pub warehouse: String,
    pub generated_at: String,
    pub pipeline: Option<String>,
    pub files: Vec<FileNode>,
    pub tables: Vec<TablePage>,
    /// Statements of the last runs, newest run first.
    pub runs: Table,
}

/// Runs of the run log shown.
const RUNS: usize = 10;
/// Commits of a table's history shown.
const HISTORY: usize = 30;

/// Rows of one statement lakeshell writes itself, or None when it fails (a table not there).
async fn rows(engine: &Engine, sql: &str) -> Option<Table> {
    match engine.execute(sql, &ExecOptions::default()).await {
        Ok(Outcome::Rows(r)) => Table::of(&r.collect().await.ok()?).ok(),
        _ => None,
    }
}

fn sql_text(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Gathers the site for the pipeline in `dir` (when given) and every table of the warehouse.
pub async fn gather(engine: &Engine, dir: Option<&Path>) -> Result<Site> {
    let mut site = Site {
        warehouse: crate::catalog::display_url(engine.warehouse().root()),
        generated_at: engine.now().format("%Y-%m-%d %H:%M UTC").to_string(),
        ..Site::default()
    };
    let mut names: BTreeSet<String> = BTreeSet::new();
    if let Some(dir) = dir {
        let substitute = |s: &str| engine.substitute(s).ok();
        let files = crate::pipeline::expand(&[dir.to_path_buf()])?
            .into_iter()
            .map(|p| PipelineFile::load(p, &substitute))
            .collect::<Result<Vec<_>>>()?;
        for f in plan::order(files)? {
            names.extend(f.reads.iter().chain(&f.writes).cloned());
            site.files.push(FileNode {
                name: f.name,
                reads: f.reads,
                writes: f.writes,
            });
        }
        site.pipeline = Some(dir.display().to_string());
    }
    for t in engine.list_tables(None).await? {
        names.insert(t.name);
    }
    for name in names {
        // Files read by path (`'landing/orders.csv'`) are in the graph only.
        if is_path(&name)
            || name.starts_with(&format!("{}.", crate::expectations::results::SYSTEM_SCHEMA))
        {
            continue;
        }
        let quoted = sql_text(&name);
        let mut page = TablePage {
            name: name.clone(),
            ..TablePage::default()
        };
        page.detail = rows(engine, &format!("DESCRIBE DETAIL {name}")).await;
        if page.detail.is_some() {
            if let Ok(Outcome::Rows(r)) = engine.describe_table(&name).await {
                page.columns = r.collect().await.ok().and_then(|b| Table::of(&b).ok());
            }
            page.history = rows(engine, &format!("DESCRIBE HISTORY {name} LIMIT {HISTORY}")).await;
        }
        page.quality = rows(
            engine,
            &format!(
                "SELECT checked_at, table_version, expectation, rule, action, rows_checked, rows_failed, status, detail FROM {}.{} WHERE table_name = {quoted} ORDER BY checked_at, expectation",
                crate::expectations::results::SYSTEM_SCHEMA,
                crate::expectations::results::QUALITY_RESULTS
            ),
        )
        .await
        .unwrap_or_default();
        site.tables.push(page);
    }
    site.runs = rows(
        engine,
        &format!(
            "SELECT l.run_id, l.pipeline, l.file, l.line, l.statement, l.status, l.table_name, l.table_version, l.rows_affected, l.started_at, l.duration_ms, l.error \
             FROM {s}.{r} AS l JOIN (SELECT run_id, min(started_at) AS began FROM {s}.{r} GROUP BY run_id ORDER BY began DESC LIMIT {RUNS}) AS last ON l.run_id = last.run_id \
             ORDER BY last.began DESC, l.started_at, l.file, l.line",
            s = crate::expectations::results::SYSTEM_SCHEMA,
            r = crate::pipeline::RUN_LOG
        ),
    )
    .await
    .unwrap_or_default();
    Ok(site)
}

/// A name that is a file or folder read by path rather than a table.
pub fn is_path(name: &str) -> bool {
    name.contains('/') || name.contains('\\')
}

/// Writes the site into `out` (created when missing) and returns the page's path.
pub fn write(site: &Site, out: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(out).map_err(|e| LakeError::write(out, e))?;
    let page = out.join("index.html");
    std::fs::write(&page, html::page(site)).map_err(|e| LakeError::write(&page, e))?;
    Ok(page)
}
