//! Runs tests/slt/*.slt against the real engine: each file gets a fresh session on its own
//! temporary warehouse. Variables available in files: ${FIXTURES}, ${CORPUS}, ${TMP}.
//! `LAKESHELL_SLT_COMPLETE=1 cargo test slt` rewrites expected results.

use std::collections::HashMap;

use async_trait::async_trait;
use lakeshell::engine::{Engine, ExecOptions, Outcome};
use lakeshell::output::write_metrics_rows;
use sqllogictest::{DBOutput, DefaultColumnType};

use super::common;

struct Db {
    engine: Engine,
}

#[derive(Debug)]
struct SltError(String);
impl std::fmt::Display for SltError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for SltError {}

#[async_trait]
impl sqllogictest::AsyncDB for Db {
    type Error = SltError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SltError> {
        let outcome = self
            .engine
            .execute(sql, &ExecOptions::default())
            .await
            .map_err(|e| SltError(e.to_string()))?;
        let rows = match outcome {
            Outcome::Rows(r) => r,
            Outcome::Write(m) => write_metrics_rows(&m).map_err(|e| SltError(e.to_string()))?,
            Outcome::Message(_) => return Ok(DBOutput::StatementComplete(0)),
            // As the shell does: a CHECK whose failing expectations failed is an error.
            Outcome::Check(c) if !c.failed.is_empty() => {
                return Err(SltError(format!(
                    "{}: expectation(s) failed: {}",
                    c.table,
                    c.failed.join(", ")
                )))
            }
            Outcome::Check(c) => c.rows,
        };
        let width = rows.schema.fields().len();
        let batches = rows.collect().await.map_err(|e| SltError(e.to_string()))?;
        let cells: Vec<Vec<String>> = common::format_rows(&batches)
            .into_iter()
            .map(|r| {
                r.split(" | ")
                    .map(|c| {
                        if c.is_empty() {
                            "(empty)".to_string()
                        } else {
                            normalize(c)
                        }
                    })
                    .collect()
            })
            .collect();
        Ok(DBOutput::Rows {
            types: vec![DefaultColumnType::Any; width],
            rows: cells,
        })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "lakeshell"
    }
}

/// Values that change from run to run: commit times, table ids, timings, file names.
fn normalize(cell: &str) -> String {
    use std::sync::LazyLock;
    static RULES: LazyLock<Vec<(regex::Regex, &str)>> = LazyLock::new(|| {
        [
            (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "<ts>"),
            (
                r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                "<uuid>",
            ),
            (
                r#""(\w+_time_ms|\w+TimeMs|num_retries)":\d+"#,
                r#""$1":<n>"#,
            ),
            (r"/tmp/[^ ]*?/lakehouse/", "<wh>/"),
            (r"/tmp/\.tmp\w+", "<tmp>"),
        ]
        .into_iter()
        .map(|(p, r)| (regex::Regex::new(p).expect("pattern"), r))
        .collect()
    });
    let mut s = cell.to_string();
    for (re, rep) in RULES.iter() {
        s = re.replace_all(&s, *rep).into_owned();
    }
    s
}

#[tokio::test(flavor = "multi_thread")]
async fn slt_files() {
    let dir = common::repo().join("tests/slt");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let complete = std::env::var("LAKESHELL_SLT_COMPLETE").is_ok();
    let mut failed = Vec::new();
    for file in files {
        let tmp = tempfile::tempdir().unwrap();
        let vars = HashMap::from([
            (
                "FIXTURES".to_string(),
                common::fixtures().display().to_string(),
            ),
            ("CORPUS".to_string(), common::corpus().display().to_string()),
            ("TMP".to_string(), tmp.path().display().to_string()),
        ]);
        let wh = tmp.path().join("lakehouse");
        let mut runner = sqllogictest::Runner::new(move || {
            let engine = common::engine(&wh, vars.clone());
            async move { Ok::<_, SltError>(Db { engine }) }
        });
        let result = if complete {
            runner
                .update_test_file(
                    &file,
                    " ",
                    sqllogictest::default_validator,
                    sqllogictest::default_normalizer,
                    sqllogictest::default_column_validator,
                )
                .await
                .map_err(|e| e.to_string())
        } else {
            runner
                .run_file_async(&file)
                .await
                .map_err(|e| e.display(true).to_string())
        };
        match result {
            Ok(()) => println!("slt ok: {}", file.display()),
            Err(e) => failed.push(format!("{}:\n{e}", file.display())),
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
}
